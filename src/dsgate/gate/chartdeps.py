"""A chart's local dependencies (`repository: file://...` in Chart.yaml): where they are, and whether
the copies `helm dependency build` packaged into the chart's charts/ directory are current.

The repository's charts depend on the library chart charts/dsgate-common this way, and charts/*/charts/
is not committed: every render, package and install of a chart directory first builds its local
dependencies when they are missing or older than their sources (as `make` decides), so a fresh clone
renders, and an edit of the library reaches the charts that use it. Builds are serialised per chart
(an exclusive lock on its Chart.yaml), so parallel renders never see a half-written charts/.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc

FILE_SCHEME = "file://"


def local_dependencies(chart: Path) -> list[tuple[str, Path]]:
    """(name, directory) of each of CHART's `file://` dependencies; [] for a chart without any, or
    one whose Chart.yaml does not read (helm reports it when it renders). Every render asks (see
    render.build_dependencies): Chart.yaml is parsed once per content, known by its size and mtime."""
    try:
        st = (chart / "Chart.yaml").stat()
    except OSError:
        return []
    return list(_dependencies(chart, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=256)
def _dependencies(chart: Path, mtime_ns: int, size: int) -> tuple[tuple[str, Path], ...]:
    try:
        meta = yamlc.safe_load((chart / "Chart.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ()
    deps = meta.get("dependencies") if isinstance(meta, dict) else None
    out = []
    for dep in deps or ():
        if isinstance(dep, dict) and str(dep.get("repository", "")).startswith(FILE_SCHEME):
            out.append((str(dep.get("name")), chart / str(dep["repository"])[len(FILE_SCHEME) :]))
    return tuple(out)


def _newest(paths: Iterator[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def stale(chart: Path) -> bool:
    """Whether CHART's charts/ lacks a local dependency, or holds one older than its sources (any file
    of the dependency's directory, when there is one, CHART's Chart.yaml and Chart.lock)."""
    deps = local_dependencies(chart)
    if not deps:
        return False
    sources = _newest(iter([chart / "Chart.yaml", chart / "Chart.lock"]))
    for name, source in deps:
        built = [p for p in (chart / "charts").glob(f"{name}-*.tgz") if p.is_file()]
        if not built:
            return True  # helm builds it, or names the missing directory
        if source.is_dir() and min(p.stat().st_mtime for p in built) < max(sources, _newest(source.rglob("*"))):
            return True  # without its source (a copied chart) the packaged copy is what there is
    return False


@contextlib.contextmanager
def locked(chart: Path) -> Iterator[None]:
    """An exclusive lock on CHART's Chart.yaml for the duration (other dsgate processes wait)."""
    with (chart / "Chart.yaml").open("rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@functools.lru_cache(maxsize=256)
def _yaml_file(path: Path, mtime_ns: int, size: int) -> Any:
    """PATH parsed, once per content (size and mtime): every build of an overlay reads its bases again."""
    return yamlc.safe_load(path.read_text()) or {}


def kustomize_charts(directory: Path, seen: set[Path] | None = None) -> list[Path]:
    """The local chart directories the kustomization in DIRECTORY, and every local kustomization it
    includes (resources, components), inflate with helmCharts (chartHome/name)."""
    seen = set() if seen is None else seen
    directory = directory.resolve()
    if directory in seen:
        return []
    seen.add(directory)
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            try:
                st = (directory / name).stat()
                doc = _yaml_file(directory / name, st.st_mtime_ns, st.st_size)
            except (OSError, yaml.YAMLError):
                return []  # kustomize reports it
            break
    else:
        return []
    if not isinstance(doc, dict):
        return []
    charts = []
    home = directory / str((doc.get("helmGlobals") or {}).get("chartHome") or "charts")
    for entry in doc.get("helmCharts") or ():
        if isinstance(entry, dict) and (home / str(entry.get("name", ""))).joinpath("Chart.yaml").is_file():
            charts.append(home / str(entry["name"]))
    for ref in [*(doc.get("resources") or ()), *(doc.get("components") or ()), *(doc.get("bases") or ())]:
        if isinstance(ref, str) and "://" not in ref and (directory / ref).is_dir():
            charts += kustomize_charts(directory / ref, seen)
    return list(dict.fromkeys(charts))
