"""Render sources to documents with the real helm and kustomize binaries."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dsgate.documents import Provenance, Render, parse_stream
from dsgate.tools import tool_path
from dsgate.versions import kubernetes_version, pinned

# helm binary name per helm major: "helm" is v4 (default), "helm3" the compatibility build.
HELM_TOOLS = {"v4": "helm", "v3": "helm3"}


class RenderError(RuntimeError):
    """helm or kustomize failed; carries the tool's own stderr."""


def helm_template_text(
    chart: Path,
    *,
    values: dict[str, Any] | None = None,
    values_files: Sequence[Path] = (),
    release: str = "dsgate",
    namespace: str = "dsgate-system",
    kube_version: str | None = None,
    api_versions: Sequence[str] = (),
    helm: str = "v4",
    show_only: Sequence[str] = (),
) -> str:
    """Run `helm template` and return its stdout; raise RenderError with helm's stderr."""
    cmd = [str(tool_path(HELM_TOOLS[helm])), "template", release, str(chart), "--namespace", namespace]
    cmd += ["--kube-version", kube_version or kubernetes_version()]
    for path in values_files:
        cmd += ["--values", str(path)]
    if values is not None:
        cmd += ["--values", "-"]
    for api in api_versions:
        cmd += ["--api-versions", api]
    for tmpl in show_only:
        cmd += ["--show-only", tmpl]
    proc = subprocess.run(
        cmd,
        input=json.dumps(values) if values is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RenderError(f"helm template {chart} failed: {proc.stderr.strip()}")
    return proc.stdout


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
    text = helm_template_text(chart, values=values, values_files=values_files, helm=helm, kube_version=kube_version, **kwargs)
    prov = Provenance(
        source=str(chart),
        kind="chart",
        scenario=scenario or ",".join(p.name for p in values_files) or "default",
        helm_version=pinned()["HELM_VERSION" if helm == "v4" else "HELM3_VERSION"],
        kube_version=kube_version or kubernetes_version(),
    )
    docs = parse_stream(text, f"helm template {chart} ({prov.scenario})", prov)
    return Render(provenance=prov, documents=docs)


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
