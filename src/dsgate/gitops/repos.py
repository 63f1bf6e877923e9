"""Where a GitOps source's files are on this machine: `--repo URL=PATH` (`repos:` in dsgate.yaml),
with the repository being checked mapping to itself."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.gitops.objects import FLUX_HELM, FLUX_KUSTOMIZE, GitOpsError

_SCP = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")


def normalize(url: str) -> str:
    """URL in a form where https, ssh and scp-style spellings of one repository compare equal."""
    text = url.strip()
    scp = _SCP.match(text)
    if scp and "://" not in text:
        text = f"{scp.group(1)}/{scp.group(2)}"
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text, flags=re.I)
    text = re.sub(r"^[^/@]+@", "", text)  # user@
    text = text.rstrip("/")
    text = text.removesuffix(".git")
    host, _, rest = text.partition("/")
    return f"{host.lower()}/{rest}" if rest else host.lower()


def parse_mapping(items: Iterable[str]) -> dict[str, Path]:
    """`URL=PATH` strings as a mapping; raise GitOpsError on a malformed one."""
    out: dict[str, Path] = {}
    for item in items:
        url, sep, path = item.rpartition("=")
        if not sep or not url or not path:
            raise GitOpsError(
                f"--repo {item!r}: expected URL=PATH (a repository URL and the local checkout that holds it)"
            )
        out[url] = Path(path)
    return out


@dataclass(frozen=True)
class Settings:
    """Where charts and repositories are on this machine."""

    charts: tuple[Path, ...] = ()
    repos: tuple[str, ...] = ()  # URL=PATH
    clusters: tuple[str, ...] = ()  # NAME=SERVER: clusters Argo CD knows besides the repository's cluster Secrets

    def mapping(self) -> dict[str, Path]:
        return parse_mapping(self.repos)


@dataclass
class Repos:
    """Local checkouts of the repositories GitOps objects name."""

    root: Path  # the repository being checked
    mapping: Mapping[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._norm = {normalize(url): path for url, path in self.mapping.items()}

    def local(self, url: str) -> Path | None:
        """The checkout mapped to URL, if any."""
        return self._norm.get(normalize(url))

    def git(self, url: str) -> Path:
        """A Git repository's checkout: its mapping, else the repository being checked."""
        return self.local(url) or self.root


def _fixed(path: str) -> str:
    """PATH up to its first segment with a wildcard; "" when nothing fixed is left."""
    fixed: list[str] = []
    for segment in path.split("/"):
        if any(c in segment for c in "*?["):
            break
        fixed.append(segment)
    text = "/".join(fixed).strip("/")
    return "" if text in ("", ".") else text


def _argo_paths(doc: dict[str, Any]) -> list[str]:
    """The repository paths an Argo CD Application or ApplicationSet names (source paths, git
    generator directories up to their first wildcard), templated ones left out."""
    out: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif key == "path" and isinstance(node, str) and "{{" not in node and _fixed(node):
            out.append(_fixed(node))

    walk(doc.get("spec"))
    return out


def _flux_paths(entry: Path) -> list[str]:  # noqa: C901  # one branch per Flux object and chart source kind whose path can name the repository root
    """spec.path of every Flux Kustomization, and the chart path of every HelmRelease whose chart is a
    path in a GitRepository, in ENTRY's YAML files (a cheap pre-read)."""
    paths: list[str] = []
    files = (
        [entry]
        if entry.is_file()
        else sorted(p for p in entry.rglob("*") if p.suffix in (".yaml", ".yml") and ".git" not in p.parts)
    )
    for path in files:
        try:
            docs: list[Any] = list(yamlc.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        for doc in docs:
            if (
                isinstance(doc, dict)
                and str(doc.get("apiVersion", "")).startswith(FLUX_KUSTOMIZE + "/")
                and doc.get("kind") == "Kustomization"
            ):
                spec = doc.get("spec") or {}
                external = (
                    isinstance(spec, dict)
                    and isinstance(spec.get("sourceRef"), dict)
                    and spec["sourceRef"].get("kind") == "ExternalArtifact"
                )
                if (
                    isinstance(spec, dict) and isinstance(spec.get("path"), str) and not external
                ):  # an artifact's paths are not the repository's
                    paths.append(spec["path"])
            elif (
                isinstance(doc, dict)
                and str(doc.get("apiVersion", "")).startswith("source.extensions.fluxcd.io/")
                and doc.get("kind") == "ArtifactGenerator"
            ):
                for artifact in (doc.get("spec") or {}).get("artifacts") or []:
                    for op in artifact.get("copy") or [] if isinstance(artifact, dict) else []:
                        source = str(op.get("from", "")) if isinstance(op, dict) else ""
                        fixed = _fixed(source.split("/", 1)[1]) if source.startswith("@") and "/" in source else ""
                        if fixed:
                            paths.append(fixed)
            elif (
                isinstance(doc, dict)
                and str(doc.get("apiVersion", "")).startswith(FLUX_HELM + "/")
                and doc.get("kind") == "HelmRelease"
            ):
                chart = ((doc.get("spec") or {}).get("chart") or {}).get("spec") or {}
                ref = chart.get("sourceRef") if isinstance(chart, dict) else None
                if isinstance(ref, dict) and ref.get("kind") == "GitRepository" and isinstance(chart.get("chart"), str):
                    paths.append(chart["chart"])
            elif isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
                paths.extend(_argo_paths(doc))
    return paths


def find_root(entry: Path) -> Path:
    """The root of the repository ENTRY belongs to: the nearest directory at or above ENTRY where the
    paths of ENTRY's Flux Kustomizations and GitRepository charts exist (Flux resolves them from the
    source's root), else the directory holding `clusters/` for a `clusters/<name>` entry, else the
    nearest one with a .git, else ENTRY's directory."""
    start = (entry if entry.is_dir() else entry.parent).resolve()
    paths = _flux_paths(entry)
    for test in (all, any) if paths else ():
        for directory in (start, *start.parents):
            if test((directory / p).exists() for p in paths):
                return directory
    if start.parent.name == "clusters":  # clusters/<name>: flux bootstrap's layout, the repository is above clusters/
        return start.parent.parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start
