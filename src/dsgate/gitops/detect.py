"""Find GitOps entry points: a `clusters/<name>` directory of a Flux repository, or a directory whose
YAML holds Flux or Argo CD objects. Imports nothing from the gate (sources.py calls it)."""

from __future__ import annotations

import re
from pathlib import Path

_MARKER = re.compile(r"^apiVersion:\s*['\"]?(?:kustomize|helm)\.toolkit\.fluxcd\.io/|^apiVersion:\s*['\"]?argoproj\.io/", re.M)
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
    if holds_gitops(directory, recursive=False) or (top and (directory / "flux-system").is_dir() and holds_gitops(directory / "flux-system")):
        return [directory]
    return []
