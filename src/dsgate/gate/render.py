"""Render sources to documents with the real helm and kustomize binaries."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsgate.gate.documents import Converter, Document, Provenance, Render, documents_from, parse_stream, read_stream, unconvertible
from dsgate.tools import tool_path
from dsgate.versions import kubernetes_version, pinned

# helm binary name per helm major: "helm" is v4 (default), "helm3" the compatibility build.
HELM_TOOLS = {"v4": "helm", "v3": "helm3"}
RELEASE_NAMESPACE = "dsgate-system"  # the namespace the gate renders every chart release into


class RenderError(RuntimeError):
    """helm or kustomize failed; carries the tool's own stderr."""


# Characters YAML forbids raw in a stream (C1 controls, DEL, BOM, non-characters): escaped in values.
_YAML_FORBIDDEN = re.compile("[\x7f-\x9f\ufeff\ufffe\uffff]")


def values_json(values: dict[str, Any]) -> str:
    """VALUES as JSON that helm's YAML reader accepts: UTF-8 as is (astral characters must not become
    surrogate escapes, which helm rejects), characters YAML forbids raw as \\u escapes."""
    return _YAML_FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(values, ensure_ascii=False))


@dataclass(frozen=True)
class Template:
    """What `helm template` printed, and, from helm-batch, its documents already converted to JSON
    objects by sigs.k8s.io/yaml (kubectl's conversion) as (first line, object) pairs."""

    text: str
    objects: list[tuple[int, Any]] | None = None
    conversion_error: str = ""  # helm-batch could not convert the text (objects is None)


def helm_template(
    chart: Path,
    *,
    values: dict[str, Any] | None = None,
    values_files: Sequence[Path] = (),
    release: str = "dsgate",
    namespace: str = RELEASE_NAMESPACE,
    kube_version: str | None = None,
    api_versions: Sequence[str] = (),
    helm: str = "v4",
    show_only: Sequence[str] = (),
    batch: HelmBatch | None = None,
    include_crds: bool = False,
) -> Template:
    """Run `helm template`; raise RenderError with helm's stderr.

    With BATCH (helm v4 only) the same command runs in a long-lived helm-batch process, which also
    converts the output's documents.
    """
    args = ["template", release, str(chart), "--namespace", namespace]
    args += ["--kube-version", kube_version or kubernetes_version()]
    for path in values_files:
        args += ["--values", str(path)]
    for api in api_versions:
        args += ["--api-versions", api]
    for tmpl in show_only:
        args += ["--show-only", tmpl]
    if include_crds:
        args.append("--include-crds")
    if batch is not None and helm == "v4":
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="dsgate-values-") as fh:
            if values is not None:
                fh.write(values_json(values))
                fh.flush()
                args += ["--values", fh.name]
            answer = batch.run(args)
        if answer.code != 0:
            raise RenderError(f"helm template {chart} failed: {answer.stderr.strip()}")
        return Template(answer.stdout, answer.objects, answer.conversion_error)
    if values is not None:
        args += ["--values", "-"]
    proc = subprocess.run(
        [str(tool_path(HELM_TOOLS[helm])), *args],
        input=values_json(values) if values is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RenderError(f"helm template {chart} failed: {proc.stderr.strip()}")
    return Template(proc.stdout)


def local_dependencies(chart: Path) -> list[str]:
    """Names of CHART's dependencies that live beside it (`repository: file://...`)."""
    try:
        meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []  # helm reports a broken Chart.yaml when it renders
    deps = meta.get("dependencies") if isinstance(meta, dict) else None
    return [str(d.get("name")) for d in deps or () if isinstance(d, dict) and str(d.get("repository", "")).startswith("file://")]


def build_dependencies(chart: Path) -> None:
    """`helm dependency build --skip-refresh` for a chart with file:// dependencies, as chart-testing
    does before it lints: packages them into charts/ (offline; no repository is refreshed).
    Raise RenderError with helm's message when it fails."""
    if not local_dependencies(chart):
        return
    proc = subprocess.run(
        [str(tool_path("helm")), "dependency", "build", "--skip-refresh", str(chart)], capture_output=True, text=True, check=False, timeout=300
    )
    if proc.returncode != 0:
        raise RenderError(f"helm dependency build {chart} failed: {proc.stderr.strip()}; fix the dependencies in {chart / 'Chart.yaml'}")


def helm_template_text(chart: Path, **kwargs: Any) -> str:
    """Run `helm template` (arguments as helm_template) and return its stdout."""
    return helm_template(chart, **kwargs).text


def documents_of(rendered: Template, origin: str, provenance: Provenance, convert: Converter | None = None) -> list[Document]:
    """RENDERED's documents: helm-batch's conversion when it made one, else the text read as
    read_stream reads it (through CONVERT when given: the helm v3 binary's output too)."""
    if rendered.objects is not None:
        return documents_from(rendered.objects, origin, provenance)
    if rendered.conversion_error:
        raise unconvertible(rendered.text, origin, provenance, rendered.conversion_error)
    return read_stream(rendered.text, origin, provenance, convert)


def render_chart(
    chart: Path,
    *,
    values: dict[str, Any] | None = None,
    values_files: Sequence[Path] = (),
    scenario: str = "",
    helm: str = "v4",
    kube_version: str | None = None,
    **kwargs: Any,
) -> Render:
    """Render a chart to documents with provenance."""
    rendered = helm_template(chart, values=values, values_files=values_files, helm=helm, kube_version=kube_version, **kwargs)
    prov = Provenance(
        source=str(chart),
        kind="chart",
        scenario=scenario or ",".join(p.name for p in values_files) or "default",
        helm_version=pinned()["HELM_VERSION" if helm == "v4" else "HELM3_VERSION"],
        kube_version=kube_version or kubernetes_version(),
    )
    return Render(provenance=prov, documents=documents_of(rendered, f"helm template {chart} ({prov.scenario})", prov))


def kustomize_build_text(directory: Path) -> str:
    """Run `kustomize build --enable-helm` with the pinned helm v4; raise RenderError on failure."""
    cmd = [
        str(tool_path("kustomize")),
        "build",
        "--enable-helm",
        "--helm-command",
        str(tool_path("helm")),
        str(directory),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RenderError(f"kustomize build {directory} failed: {proc.stderr.strip()}")
    return proc.stdout


def render_kustomization(directory: Path) -> Render:
    """Build a kustomization to documents with provenance."""
    text = kustomize_build_text(directory)
    prov = Provenance(source=str(directory), kind="kustomize", overlay=str(directory), helm_version=pinned()["HELM_VERSION"])
    return Render(provenance=prov, documents=parse_stream(text, f"kustomize build {directory}", prov))


def dump(objs: Sequence[dict[str, Any]]) -> str:
    """Serialise objects back to a YAML stream (for fixtures and mutation tests)."""
    return yaml.safe_dump_all(objs, sort_keys=False)


@dataclass(frozen=True)
class BatchAnswer:
    code: int
    stdout: str
    stderr: str
    objects: list[tuple[int, Any]] | None  # None: no conversion (a failed render, or stdout did not convert)
    conversion_error: str = ""


class HelmBatch:
    """A pool of long-lived helm-batch processes (helm v4's own command tree, one process start),
    which also read YAML streams as kubectl reads them (`convert`).

    `run(args)` is thread-safe; each call borrows one process. Output is helm's: tests prove it
    byte-identical to the helm binary on every scenario.
    """

    def __init__(self, size: int = 2) -> None:
        import queue

        binary = str(tool_path("helm-batch"))
        self._procs = [
            subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1) for _ in range(size)
        ]
        self._free: queue.SimpleQueue[subprocess.Popen[str]] = queue.SimpleQueue()
        for proc in self._procs:
            self._free.put(proc)

    def _ask(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        proc = self._free.get()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                raise RenderError(f"helm-batch exited with code {proc.wait()} while {what}")
            answer: dict[str, Any] = json.loads(line)
            return answer
        finally:
            self._free.put(proc)

    @staticmethod
    def _objects(answer: dict[str, Any]) -> list[tuple[int, Any]]:
        return [(int(d["line"]), d["object"]) for d in answer.get("documents") or ()]

    def run(self, args: Sequence[str]) -> BatchAnswer:
        """Run one helm command; a successful answer carries stdout's documents as kubectl reads them."""
        answer = self._ask({"args": list(args), "documents": True}, f"rendering {' '.join(args)}")
        code, error = int(answer["code"]), str(answer.get("documents_error") or "")
        objects = self._objects(answer) if code == 0 and not error else None
        return BatchAnswer(code, str(answer["stdout"]), str(answer["stderr"]), objects, error)

    def convert(self, text: str) -> list[tuple[int, Any]] | str:
        """TEXT's documents as kubectl reads them (sigs.k8s.io/yaml), or why they do not convert."""
        answer = self._ask({"yaml": text}, "converting YAML")
        error = answer.get("documents_error")
        return str(error) if error else self._objects(answer)

    def close(self) -> None:
        for proc in self._procs:
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> HelmBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
