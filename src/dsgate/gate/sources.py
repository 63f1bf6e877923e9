"""Discover what to gate under the paths a user names: charts, kustomizations, plain YAML.

A symbolic link met while walking a named directory must resolve inside that directory: one that
leads outside it (to /etc/hostname, or to another checkout) is refused, naming the link, before
anything reads it. Inside a chart, helm's own rules apply (helm loads the chart); inside a
kustomization, kustomize's load restrictor does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsgate.config import CONFIG_NAME
from dsgate.gate.documents import DocumentError, read_text, safe_load
from dsgate.limits import LimitError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis"}


class SourceError(RuntimeError):
    """A path cannot be gated (missing, empty, unreadable)."""


@dataclass(frozen=True)
class Source:
    """One thing to render: a chart, a kustomization, or a set of plain YAML files."""

    kind: str  # "chart" | "kustomize" | "files" | "gitops"
    path: Path
    files: tuple[Path, ...] = ()  # for kind == "files"
    extra_values: tuple[Path, ...] = field(default=())  # -f files for charts, layered under every scenario
    release: str = ""  # dsgate.yaml sources: releaseName: its charts' release name ("" the cluster model's)
    namespace: str = ""  # dsgate.yaml sources: namespace: where its documents without one land ("" the cluster model's)

    def scenarios(self) -> list[tuple[str, tuple[Path, ...]]]:
        """(scenario name, values files) for a chart: its defaults and every ci/*-values.yaml.

        The -f files are layered under every scenario, in the order given, as `helm template -f A -f B
        -f ci/x-values.yaml` layers them: the default scenario is values.yaml plus the -f files, and a
        ci file applies on top (it exists to test the settings it names, so it wins over a -f file
        that sets the same key). A chart that renders nothing without a required value is gateable
        with `-f`."""
        if self.kind != "chart":
            return []
        out: list[tuple[str, tuple[Path, ...]]] = [("default", self.extra_values)]
        for path in sorted((self.path / "ci").glob("*-values.yaml")):
            name = path.name.removesuffix("-values.yaml")
            if name != "default":
                out.append((name, (*self.extra_values, path)))
        return out


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of DIRECTORY, if it has one."""
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def is_component(directory: Path) -> bool:
    """A kustomize Component cannot be built alone; it is gated through what uses it."""
    path = kustomization_file(directory)
    if path is None:
        return False
    try:
        doc = safe_load(read_text(path), str(path)) or {}
    except (DocumentError, LimitError):
        return False  # a broken file is reported when the build fails
    return isinstance(doc, dict) and doc.get("kind") == "Component"


def _gitops(directory: Path, top: bool) -> list[Source]:
    from dsgate.gitops.detect import entries  # a Flux or Argo CD repository: gated as its clusters apply it

    return [Source("gitops", path) for path in entries(directory, top)]


def _inside(root: Path, entries: Iterable[Path]) -> list[Path]:
    """ENTRIES, sorted; SourceError for a symbolic link that resolves outside ROOT."""
    out = sorted(entries)
    for entry in out:
        if entry.is_symlink() and not entry.resolve().is_relative_to(root):
            raise SourceError(f"{entry}: symbolic link to {entry.resolve()}, outside the checked directory {root}; refusing to follow it")
    return out


def is_library_chart(chart: Path) -> bool:
    """Whether CHART's Chart.yaml says `type: library` (helm refuses to render or install one)."""
    try:
        meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False  # helm reports the broken Chart.yaml when it renders
    return isinstance(meta, dict) and meta.get("type") == "library"


def _walk(directory: Path, extra_values: tuple[Path, ...], top: bool = False, root: Path | None = None, seen: set[Path] | None = None) -> Iterable[Source]:
    root = root or directory.resolve()
    seen = set() if seen is None else seen
    if directory.resolve() in seen:
        return  # a link back to a directory already walked
    seen.add(directory.resolve())
    if gitops := _gitops(directory, top):
        yield from gitops
        return
    if (directory / "Chart.yaml").is_file():
        if not is_library_chart(directory):  # a library renders nothing itself: its users render it
            yield Source("chart", directory, extra_values=extra_values)
        return
    if kustomization_file(directory) is not None:
        if not is_component(directory):
            yield Source("kustomize", directory)
        # overlays may live below a base; keep walking, but never into the chart cache kustomize writes
        for child in _inside(root, (p for p in directory.iterdir() if p.is_dir() and p.name not in SKIP_DIRS | {"charts"})):
            yield from _walk(child, extra_values, root=root, seen=seen)
        return
    # dsgate's own configuration (dsgate.yaml, at a repository's root) is never a manifest
    files = tuple(
        _inside(root, (p for p in directory.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES and not p.name.startswith(".") and p.name != CONFIG_NAME))
    )
    if files:
        yield Source("files", directory, files=files)
    for child in _inside(root, (p for p in directory.iterdir() if p.is_dir() and p.name not in SKIP_DIRS and not p.name.startswith("."))):
        yield from _walk(child, extra_values, root=root, seen=seen)


def _without_gitops_inputs(top: Path, found: list[Source]) -> list[Source]:
    """FOUND without the YAML files a GitOps entry under TOP reads as input (Helm value files named by
    `$ref/...`, git files generator files): they are values, never manifests."""
    if not any(s.kind == "gitops" for s in found):
        return found
    from dsgate.gitops.detect import consumed_files

    consumed = consumed_files(top)
    out: list[Source] = []
    for source in found:
        if source.kind == "files":
            kept = tuple(f for f in source.files if f.resolve() not in consumed)
            if not kept:
                continue
            source = Source("files", source.path, files=kept)
        out.append(source)
    return out


def discover(paths: Sequence[Path], extra_values: Sequence[Path] = ()) -> list[Source]:
    """Every source under PATHS; raises SourceError for a missing path or one that yields nothing."""
    sources: list[Source] = []
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path}: no such file or directory")
        if path.is_file():
            if path.suffix not in YAML_SUFFIXES and path.name not in KUSTOMIZATION_FILES:
                raise SourceError(f"{path}: not a YAML file, chart or kustomization directory")
            found = [Source("kustomize", path.parent)] if path.name in KUSTOMIZATION_FILES else [Source("files", path, files=(path,))]
        else:
            found = _without_gitops_inputs(path, list(_walk(path, tuple(extra_values), top=True)))
        if not found and path.is_dir() and is_library_chart(path):
            raise SourceError(f"{path}: a library chart (type: library) renders nothing itself; check the charts that depend on it")
        if not found:
            raise SourceError(f"{path}: holds no chart, kustomization or YAML file; nothing to gate")
        sources.extend(found)
    return sources
