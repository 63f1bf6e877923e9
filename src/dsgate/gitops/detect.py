"""Find GitOps entry points: a `clusters/<name>` directory of a Flux repository, or a directory whose
YAML holds Flux or Argo CD objects. Imports nothing from the gate (sources.py calls it)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc

_MARKER = re.compile(
    r"^apiVersion:\s*['\"]?(?:kustomize|helm)\.toolkit\.fluxcd\.io/|^apiVersion:\s*['\"]?argoproj\.io/", re.M
)
_FLUX = re.compile(r"^apiVersion:\s*['\"]?(?:kustomize|helm)\.toolkit\.fluxcd\.io/", re.M)
_ARGO = re.compile(r"^\s*apiVersion:\s*['\"]?argoproj\.io/", re.M)
_TEMPLATE = re.compile(r"\{\{[^}]*\}\}")
_SKIP = {".git", ".venv", "node_modules", "__pycache__", "charts"}


def _yaml_files(directory: Path, recursive: bool) -> list[Path]:
    if not recursive:
        return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    out: list[Path] = []
    for path in sorted(directory.iterdir()):
        if path.is_dir() and path.name not in _SKIP and not path.name.startswith("."):
            out.extend(_yaml_files(path, True))
        elif path.is_file() and path.suffix in (".yaml", ".yml"):
            out.append(path)
    return out


def holds_gitops(directory: Path, recursive: bool = True) -> bool:
    """DIRECTORY's YAML files declare a Flux Kustomization/HelmRelease or an Argo CD object."""
    for path in _yaml_files(directory, recursive):
        try:
            if _MARKER.search(path.read_text(errors="replace")):
                return True
        except OSError:
            continue
    return False


def entries(directory: Path, top: bool) -> list[Path]:
    """The GitOps entry points at DIRECTORY: each `clusters/<name>` of a Flux repository; else
    DIRECTORY itself when its own YAML files are GitOps objects, or, for a path the user named (TOP),
    when its `flux-system/` is (a cluster directory)."""
    clusters = directory / "clusters"
    if clusters.is_dir():
        found = [d for d in sorted(clusters.iterdir()) if d.is_dir() and holds_gitops(d)]
        if found:
            return found
    if directory.name == "charts":
        return []
    if holds_gitops(directory, recursive=False) or (
        top and (directory / "flux-system").is_dir() and holds_gitops(directory / "flux-system")
    ):
        return [directory]
    return []


def _mentions(directory: Path, pattern: re.Pattern[str], recursive: bool) -> bool:
    for path in _yaml_files(directory, recursive):
        try:
            if pattern.search(path.read_text(errors="replace")):
                return True
        except OSError:
            continue
    return False


def argo_entry(directory: Path) -> bool:
    """DIRECTORY is an Argo CD entry point: its own YAML files hold Argo CD objects and nothing below
    it is a Flux object. Argo CD (a root Application's directory source, or kubectl apply -f) reads
    only its own files, never the directories below it (chart templates, values, other apps' paths)."""
    return directory.is_dir() and _mentions(directory, _ARGO, False) and not _mentions(directory, _FLUX, True)


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    try:
        for doc in yamlc.safe_load_all(path.read_text(errors="replace")):
            if isinstance(doc, dict):
                yield doc
    except (OSError, yaml.YAMLError):
        return


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _map(app.get("spec"))
    if app.get("kind") == "ApplicationSet":
        spec = _map(_map(spec.get("template")).get("spec"))
    found = [spec.get("source"), *(spec.get("sources") or [])]
    return [s for s in found if isinstance(s, dict)]


def _generator_files(appset: dict[str, Any]) -> list[str]:
    """The git files generator paths of APPSET, nested generators included."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            git = node.get("git")
            if isinstance(git, dict):
                out.extend(str(f.get("path", "")) for f in git.get("files") or [] if isinstance(f, dict))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk((appset.get("spec") or {}).get("generators"))
    return out


def consumed_files(top: Path) -> set[Path]:  # noqa: C901  # one branch per place an Argo CD object names an input file (valueFiles, $ref, git files generators)
    """YAML files under TOP that Argo CD reads as input, not as manifests: Helm value files an
    Application names (`$ref/...`, or a path relative to its chart such as `../../values/x.yaml`;
    templated parts of an ApplicationSet's match any name), and the files of git files generators. They are never gated as manifests."""
    top = top.resolve()
    out: set[Path] = set()
    for path in _yaml_files(top, True) if top.is_dir() else []:
        try:
            if not _ARGO.search(path.read_text(errors="replace")):
                continue
        except OSError:
            continue
        for doc in _documents(path):
            if not str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
                continue
            wanted: list[str] = []
            for source in _sources(doc):
                for name in _map(source.get("helm")).get("valueFiles") or []:
                    text = str(name)
                    if text.startswith("$") and "/" in text:
                        wanted.append(text.split("/", 1)[1])
                    elif isinstance(source.get("path"), str) and not source.get("chart"):
                        wanted.append(
                            os.path.normpath(f"{source['path']}/{text}")
                        )  # relative to the chart path, maybe ../values/
            if doc.get("kind") == "ApplicationSet":
                wanted.extend(_generator_files(doc))
            for rel in wanted:
                pattern = _TEMPLATE.sub("*", rel).lstrip("/")
                # the repository root is TOP or a directory between TOP and the file naming it
                for base in [top, *(d for d in path.resolve().parents if d.is_relative_to(top) and d != top)]:
                    out.update(p.resolve() for p in base.glob(pattern) if p.is_file())
    return out
