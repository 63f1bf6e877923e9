"""Render sources to documents with the real helm and kustomize binaries.

Every render runs under the limits (dsgate.limits): a time limit, a memory limit (the kernel's
data-segment limit on helm-batch, helm and kustomize, see os_limits; in helm-batch also Go's own
limit, which makes its collector work to stay under it), and a cap on the bytes it prints. A render that crosses one fails alone, naming the
chart and scenario; helm-batch is restarted and the other renders go on.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import yaml

from dsgate import procs, rundir
from dsgate.errors import DsgateError
from dsgate.gate import chartdeps, helmshim
from dsgate.gate.documents import Converter, Document, Provenance, decode, documents_from, read_stream, unconvertible
from dsgate.limits import LimitError, Limits
from dsgate.tools import ToolMissing, tool_path
from dsgate.versions import kubernetes_version

# helm binary name per helm major: "helm" is v4 (default), "helm3" the compatibility build.
HELM_TOOLS = {"v4": "helm", "v3": "helm3"}
# and the helm-batch build of each (helm's command tree in one long-lived process; HelmBatch)
BATCH_TOOLS = {"v4": "helm-batch", "v3": "helm3-batch"}
RELEASE_NAME = "dsgate"  # the release name charts are rendered with (the cluster model's default, see clustermodel)
RELEASE_NAMESPACE = "dsgate-system"  # the namespace charts are rendered into (idem)


class RenderError(DsgateError):
    """helm or kustomize failed; carries the tool's own stderr."""


class RenderKilled(RenderError):
    """A render crossed a limit and was stopped; the gate names the render (chart and scenario)."""


def os_limits(limits: Limits, *binaries: str) -> procs.OsLimits:
    """The kernel's limit on a render tool's memory (see procs.OsLimits), enforced by the kernel, not
    polled: the data segment (RLIMIT_DATA: every private writable mapping, Go's heap, stacks and runtime
    structures) may grow to three quarters of renderMemory, less the size of the largest of BINARIES
    (the tool and what it runs), whose code is resident too. The quarter is headroom for what the
    kernel does not count: a mapping made over an existing one (Go maps its heap over address space it
    reserved earlier) adds only the pages it does not overlap. Measured on helm v3 and v4 with
    templates that allocate 0.2-1.2 GB at once (`until N`): under a 768 MiB data limit the resident peak
    reached at most 973 MiB, and the allocation that crossed the limit was refused (Go: "out of
    memory"). So the whole resident memory of a render stays under renderMemory.

    RLIMIT_AS is not used: the Go runtime reserves about 1.2 GiB of address space at start (helm-batch,
    idle: 1.26 GiB virtual, 48 MiB resident) and helm fails with 200 MB in use under a 1 GiB RLIMIT_AS,
    so an address-space limit would refuse legitimate renders. A cgroup (memory.max) would be exact and
    bound a tool and its children together, but needs cgroup v2 with a delegated subtree, which CI
    runners and containers seldom give (this project's machine has cgroup v1). With RLIMIT_DATA each
    process of a tree (kustomize and the helm it runs for helmCharts) has the limit on its own."""
    code = max((os.path.getsize(b) for b in binaries if os.path.isfile(b)), default=0)
    return procs.OsLimits(memory=max(limits.render_memory * 3 // 4 - code, limits.render_memory // 4))


def run_render_tool(cmd: Sequence[str], limits: Limits | None = None) -> subprocess.CompletedProcess[str]:
    """CMD (kustomize, helm) as a render: offline, under LIMITS' time and memory, cancellable; text output."""
    limits = limits or Limits()
    return procs.run_text(cmd, timeout=limits.render_seconds, limits=os_limits(limits, cmd[0]))


def killed(what: str, limits: Limits, name: str) -> RenderKilled:
    """WHAT was stopped for crossing limit NAME (render_seconds or render_memory): one message for
    helm-batch, helm and kustomize alike."""
    crossed = {"render_seconds": "ran longer than", "render_memory": "used more memory than"}[name]
    key = Limits.key(name)
    return RenderKilled(
        f"{what} was killed: it {crossed} the limit {key}={getattr(limits, name)}; raise 'limits: {{{key}: N}}' in dsgate.yaml if it is legitimate"
    )


def run_tool(cmd: Sequence[str], what: str, limits: Limits, input: str | None = None, runs: Sequence[str] = ()) -> str:
    """Run a render tool under LIMITS (RUNS: the binaries it starts itself); its stdout (UTF-8, at most
    render_size bytes), else RenderError."""
    try:
        proc = procs.run(
            cmd,
            input=input.encode() if input is not None else None,
            timeout=limits.render_seconds,
            limits=os_limits(limits, cmd[0], *runs),
            offline=True,
        )
    except procs.Timeout:
        raise killed(what, limits, "render_seconds") from None
    stderr = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0:
        if "out of memory" in stderr or "cannot allocate memory" in stderr:
            raise killed(what, limits, "render_memory")
        raise RenderError(f"{what} failed: {stderr}")
    if len(proc.stdout) > limits.render_size:
        raise RenderKilled(str(limits.exceeded(what, "render_size", f"{len(proc.stdout)} bytes of output")))
    return decode(proc.stdout, what)


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


class TemplateOptions(TypedDict, total=False):
    """What `helm template` is asked for, besides the chart (every key optional)."""

    values: dict[str, Any] | None  # values given inline (a JSON values file, after the values files)
    values_files: Sequence[Path]
    release: str  # default RELEASE_NAME
    namespace: str  # default RELEASE_NAMESPACE
    kube_version: str | None  # default: the pinned Kubernetes version
    api_versions: Sequence[str]
    helm: str  # "v4" (default) or "v3"
    show_only: Sequence[str]
    include_crds: bool


def helm_template(
    chart: Path, *, batch: HelmBatch | None = None, limits: Limits | None = None, **options: Unpack[TemplateOptions]
) -> Template:
    """Run `helm template` on CHART with OPTIONS; raise RenderError with helm's stderr.

    With BATCH (when it serves the helm major) the same command runs in a long-lived helm-batch
    process, which also converts the output's documents. A chart directory's local dependencies are built first when
    they are missing or stale (build_dependencies).
    """
    values, helm = options.get("values"), options.get("helm", "v4")
    release, namespace = options.get("release", RELEASE_NAME), options.get("namespace", RELEASE_NAMESPACE)
    kube_version, include_crds = options.get("kube_version"), options.get("include_crds", False)
    values_files, api_versions, show_only = (
        options.get("values_files", ()),
        options.get("api_versions", ()),
        options.get("show_only", ()),
    )
    build_dependencies(chart)
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
    if batch is not None and batch.serves(helm):
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="dsgate-values-", dir=rundir.path()) as fh:
            if values is not None:
                fh.write(values_json(values))
                fh.flush()
                args += ["--values", fh.name]
            answer = batch.run(args, helm)
        if answer.code != 0:
            raise RenderError(f"helm template {chart} failed: {answer.stderr.strip()}")
        return Template(answer.stdout, answer.objects, answer.conversion_error)
    if values is not None:
        args += ["--values", "-"]
    text = run_tool(
        [str(tool_path(HELM_TOOLS[helm])), *args],
        f"helm template {chart}",
        limits or Limits(),
        values_json(values) if values is not None else None,
    )
    return Template(text)


def build_dependencies(chart: Path) -> None:
    """`helm dependency build --skip-refresh` for a chart with file:// dependencies, as chart-testing
    does before it lints, when they are missing or older than their sources (chartdeps.stale): packages
    them into charts/ (offline; no repository is refreshed). Raise RenderError with helm's message when
    it fails."""
    if not chartdeps.local_dependencies(chart):
        return
    with chartdeps.locked(chart):
        if not chartdeps.stale(chart):
            return
        limits = Limits()
        try:  # offline, cancellable and limited like a render
            proc = procs.run(
                [str(tool_path("helm")), "dependency", "build", "--skip-refresh", str(chart)],
                timeout=limits.render_seconds,
                limits=os_limits(limits, str(tool_path("helm"))),
                offline=True,
            )
        except procs.Timeout:
            raise killed(f"helm dependency build {chart}", limits, "render_seconds") from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise RenderError(
            f"helm dependency build {chart} failed: {stderr}; fix the dependencies in {chart / 'Chart.yaml'}"
        )


def helm_template_text(
    chart: Path, *, batch: HelmBatch | None = None, limits: Limits | None = None, **options: Unpack[TemplateOptions]
) -> str:
    """Run `helm template` (arguments as helm_template) and return its stdout."""
    return helm_template(chart, batch=batch, limits=limits, **options).text


def documents_of(
    rendered: Template,
    origin: str,
    provenance: Provenance,
    convert: Converter | None = None,
    limits: Limits | None = None,
) -> list[Document]:
    """RENDERED's documents: helm-batch's conversion when it made one, else the text read as
    read_stream reads it (through CONVERT when given: the helm v3 binary's output too)."""
    if rendered.objects is not None:
        return documents_from(rendered.objects, origin, provenance)
    if rendered.conversion_error:
        raise unconvertible(rendered.text, origin, provenance, rendered.conversion_error, limits)
    return read_stream(rendered.text, origin, provenance, convert, limits)


def kustomize_build_text(directory: Path, limits: Limits | None = None) -> str:
    """Run `kustomize build --enable-helm` with the pinned helm v4; raise RenderError on failure.

    Only what kustomize does by default: no --enable-exec, no --enable-alpha-plugins, and the load
    restrictor stays LoadRestrictionsRootOnly (files outside the kustomization's root are refused).
    Local charts it inflates (helmCharts) get their local dependencies built first: kustomize does not.
    Its helm command answers kustomize's `helm version --short` without a helm process (helmshim)."""
    for chart in chartdeps.kustomize_charts(directory):
        build_dependencies(chart)
    helm = tool_path("helm")
    cmd = [
        str(tool_path("kustomize")),
        "build",
        "--enable-helm",
        "--helm-command",
        str(helmshim.helm_command(helm)),
        str(directory),
    ]
    return run_tool(cmd, f"kustomize build {directory}", limits or Limits(), runs=[str(helm)])  # kustomize runs helm


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
    which also read YAML streams as kubectl reads them (`convert`), and of helm3-batch processes
    (helm v3's) when that is built.

    `run(args)` is thread-safe; each call borrows one process. Output is helm's: tests prove it
    byte-identical to the helm binary on every scenario. A process that exits during a request
    (its watchdog ended a render over its time or memory limit) fails that request alone and is
    replaced, so the other renders go on.
    """

    # helm-batch's watchdog exit codes (hack/helm-batch/main.go)
    EXIT_TIME, EXIT_MEMORY = 124, 125

    def __init__(self, size: int = 2, limits: Limits | None = None) -> None:
        import queue

        self.limits = limits or Limits()
        self._size = size
        # helm v4's renders and every YAML conversion; helm v3's renders too when helm3-batch is built
        # (else they run the helm3 binary), its processes started by the first v3 render
        self._binaries = {"v4": str(tool_path(BATCH_TOOLS["v4"]))}
        with contextlib.suppress(ToolMissing):
            self._binaries["v3"] = str(tool_path(BATCH_TOOLS["v3"]))
        self._closing = threading.Event()
        self._procs: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self._free: dict[str, queue.SimpleQueue[subprocess.Popen[str]]] = {
            m: queue.SimpleQueue() for m in self._binaries
        }
        self._started = {m: 0 for m in self._binaries}
        self._started["v4"] = size
        for _ in range(size):
            self._free["v4"].put(self._start("v4"))

    def serves(self, helm: str) -> bool:
        """Whether HELM's renders (v4, v3) run in this pool."""
        return helm in self._binaries

    def _borrow(self, helm: str) -> subprocess.Popen[str]:
        """A free process of HELM's pool: a new one while the pool is below its size, else the next one
        freed. None is started once the pool is stopping; a pool that never started one refuses then
        (waiting would be for ever)."""
        with self._lock:
            if self._closing.is_set() and self._started[helm] == 0:
                raise RenderKilled(f"{BATCH_TOOLS[helm]} was stopped with the run")
            grow = not self._closing.is_set() and self._free[helm].empty() and self._started[helm] < self._size
            self._started[helm] += grow
        if not grow:
            return self._free[helm].get()
        try:
            return self._start(helm)
        except BaseException:  # not started: the pool may start one again, or nobody would ever free one
            with self._lock:
                self._started[helm] -= 1
            raise

    def _start(self, helm: str) -> subprocess.Popen[str]:
        binary = self._binaries[helm]
        kernel = os_limits(self.limits, binary)  # Go's own limit is the kernel's: its collector works to stay under it
        env = {
            **os.environ,
            "HELM_BATCH_MEMORY": str(kernel.memory),
            "HELM_BATCH_SECONDS": str(self.limits.render_seconds),
        }
        proc: subprocess.Popen[str] = procs.popen(
            [binary],
            kernel,
            offline=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )
        with self._lock:
            self._procs.append(proc)
        return proc

    def _died(self, proc: subprocess.Popen[str], what: str, helm: str) -> RenderKilled:
        code = proc.wait()
        procs.forget(proc)
        if code == self.EXIT_TIME:
            return killed(what, self.limits, "render_seconds")
        if code == self.EXIT_MEMORY or code == 2:  # 2: the Go runtime's own "out of memory" under the kernel's limit
            return killed(what, self.limits, "render_memory")
        return RenderKilled(f"{what} was killed: {BATCH_TOOLS[helm]} exited with code {code}")

    def _ask(self, request: dict[str, Any], what: str, helm: str = "v4") -> dict[str, Any]:
        request["limits"] = {
            "bytes": self.limits.render_size,
            "documents": self.limits.documents,
            "depth": self.limits.depth,
        }
        proc = self._borrow(helm)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                error = self._died(proc, what, helm)
                if not self._closing.is_set():
                    proc = self._start(helm)  # the run goes on with a fresh process
                raise error
            answer: dict[str, Any] = json.loads(line)
            if answer.get("code") == 3 and str(answer.get("stderr", "")).startswith("limit "):
                raise self._limit(str(answer["stderr"]), what)
            return answer
        finally:
            self._free[helm].put(proc)

    def _limit(self, stderr: str, what: str) -> LimitError:
        """helm-batch's refusal 'limit NAME: detail' as the gate's limit message (WHAT empty: the
        caller puts the file name in front)."""
        name, _, detail = stderr.removeprefix("limit ").partition(": ")
        field = {"bytes": "render_size", "documents": "documents", "depth": "depth"}.get(name, "render_size")
        return self.limits.exceeded(what, field, detail.strip())

    @staticmethod
    def _objects(answer: dict[str, Any]) -> list[tuple[int, Any]]:
        return [(int(d["line"]), d["object"]) for d in answer.get("documents") or ()]

    def run(self, args: Sequence[str], helm: str = "v4") -> BatchAnswer:
        """Run one command of helm major HELM; a successful answer carries stdout's documents as kubectl reads them."""
        try:
            answer = self._ask(
                {"args": list(args), "documents": True},
                f"helm {args[0]} {args[2] if len(args) > 2 else ''}".strip(),
                helm,
            )
        except LimitError as exc:
            raise RenderKilled(str(exc)) from None
        code, error = int(answer["code"]), str(answer.get("documents_error") or "")
        objects = self._objects(answer) if code == 0 and not error else None
        return BatchAnswer(code, str(answer["stdout"]), str(answer["stderr"]), objects, error)

    def convert(self, text: str) -> list[tuple[int, Any]] | str:
        """TEXT's documents as kubectl reads them (sigs.k8s.io/yaml), or why they do not convert."""
        answer = self._ask({"yaml": text}, "")
        error = answer.get("documents_error")
        return str(error) if error else self._objects(answer)

    def abort(self) -> None:
        """Kill every process now (cancellation); no replacement is started."""
        self._closing.set()
        with self._lock:
            for proc in self._procs:
                procs.kill(proc)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            alive = list(self._procs)
        for proc in alive:
            if proc.stdin:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                procs.kill(proc)
            procs.forget(proc)

    def __enter__(self) -> HelmBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
