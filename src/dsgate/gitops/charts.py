"""The offline chart store: chart packages and unpacked charts in local directories.

`--charts DIR` (repeatable; `charts:` in dsgate.yaml) names directories laid out as `helm pull`
writes them (`<chart>-<version>.tgz`) or holding unpacked charts (a directory with a Chart.yaml, at
DIR or one level below). A version constraint picks the highest matching version present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsgate import yamlc
from dsgate.errors import DsgateError
from dsgate.gitops.objects import GitOpsError
from dsgate.gitops.semver import ConstraintError, highest

_PACKAGE = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tgz$")


CHARTS_HINT = "put the chart package (helm pull writes <chart>-<version>.tgz) or the unpacked chart in a directory named with --charts DIR (charts: in dsgate.yaml)"


class ChartNotFound(DsgateError, LookupError):
    """No chart of that name and version constraint is in the store."""


@dataclass(frozen=True)
class Missing:
    """One chart a HelmRelease or Application installs that is not in the store."""

    what: str  # the chain naming the HelmRelease or Application
    chart: str
    constraint: str
    url: str
    reason: str

    def within(self, prefix: str) -> Missing:
        """This chart, its chain led by PREFIX (the objects that produced the HelmRelease)."""
        if not prefix or self.what.startswith(prefix):
            return self
        return Missing(f"{prefix} → {self.what}", self.chart, self.constraint, self.url, self.reason)

    def text(self) -> str:
        return f"{self.what}: chart {self.chart!r} version {self.constraint!r} from {self.url} not found offline ({self.reason}"


class MissingCharts(GitOpsError):
    """Charts not in the store: every one a run needs, named in one line."""

    def __init__(self, missing: Sequence[Missing], dirs: Sequence[Path]) -> None:
        self.missing, self.dirs = tuple(missing), tuple(dirs)
        searched = ", ".join(str(d) for d in dirs) or "no --charts directory given"
        if len(self.missing) == 1:
            text = f"{self.missing[0].text()}; searched: {searched}); {CHARTS_HINT}"
        else:
            each = "; ".join(f"[{i}] {m.text()})" for i, m in enumerate(self.missing, 1))
            text = f"{len(self.missing)} charts not found offline: {each}; searched: {searched}; {CHARTS_HINT}"
        super().__init__(text)

    def within(self, prefix: str) -> MissingCharts:
        return MissingCharts([m.within(prefix) for m in self.missing], self.dirs)

    @staticmethod
    def merged(errors: Sequence[MissingCharts]) -> MissingCharts:
        return MissingCharts([m for e in errors for m in e.missing], errors[0].dirs)


@dataclass
class ChartStore:
    dirs: Sequence[Path] = ()
    _index: dict[str, dict[str, Path]] | None = field(default=None, repr=False)

    def index(self) -> dict[str, dict[str, Path]]:
        """chart name -> version -> package or chart directory (first directory listed wins)."""
        if self._index is None:
            index: dict[str, dict[str, Path]] = {}
            for root in self.dirs:
                if not root.is_dir():
                    continue
                for path in sorted(root.iterdir()):
                    m = _PACKAGE.match(path.name)
                    if m and path.is_file():
                        index.setdefault(m.group("name"), {}).setdefault(m.group("version").lstrip("v"), path)
                for chart_yaml in sorted([*root.glob("Chart.yaml"), *root.glob("*/Chart.yaml")]):
                    meta = chart_metadata(chart_yaml.parent)
                    if meta:
                        index.setdefault(meta[0], {}).setdefault(meta[1].lstrip("v"), chart_yaml.parent)
            self._index = index
        return self._index

    def require(self, what: str, name: str, constraint: str, url: str) -> Path:
        """find(NAME, CONSTRAINT), or MissingCharts naming WHAT (the HelmRelease or Application) and URL."""
        try:
            return self.find(name, constraint)
        except ChartNotFound as exc:
            raise MissingCharts([Missing(what, name, constraint or "*", url, str(exc))], self.dirs) from exc

    def find(self, name: str, constraint: str) -> Path:
        """The highest version of chart NAME that CONSTRAINT allows; raise ChartNotFound."""
        versions = self.index().get(name, {})
        try:
            best = highest(list(versions), constraint or "*")
        except ConstraintError as exc:
            raise ChartNotFound(f"version constraint '{constraint}' does not parse: {exc}") from exc
        if best is None:
            present = ", ".join(sorted(versions)) or "none"
            raise ChartNotFound(f"no version matching '{constraint or '*'}' (present: {present})")
        return versions[best]


_MISSING_DEPS = re.compile(r"found in Chart\.yaml, but missing in charts/ directory: ([^\n]+)")


def missing_dependencies(what: str, chart: Path, error: str, dirs: Sequence[Path]) -> MissingCharts | None:
    """The dependencies helm's ERROR says CHART lacks (Argo CD and helm-controller fetch them online),
    as missing charts naming WHAT; None when ERROR is about something else."""
    m = _MISSING_DEPS.search(error)
    if m is None:
        return None
    deps: dict[str, dict[str, object]] = {}
    for name in ("requirements.yaml", "Chart.yaml"):  # apiVersion v1 charts list them in requirements.yaml
        try:
            meta = yamlc.safe_load((chart / name).read_text()) if chart.is_dir() else {}
        except (OSError, yaml.YAMLError):
            meta = {}
        listed = meta.get("dependencies") if isinstance(meta, dict) else None
        deps.update({str(d.get("name")): d for d in listed or [] if isinstance(d, dict)})
    out: list[Missing] = []
    for name in (n.strip() for n in m.group(1).split(",")):
        dep = deps.get(name, {})
        reason = f"a dependency of chart {chart.name}, not in its charts/ directory; helm dependency build {chart} fetches it"
        out.append(
            Missing(what, name, str(dep.get("version") or "*"), str(dep.get("repository") or "its repository"), reason)
        )
    return MissingCharts(out, dirs) if out else None


def chart_metadata(directory: Path) -> tuple[str, str] | None:
    """(name, version) from DIRECTORY's Chart.yaml, or None when it has none."""
    try:
        meta = yamlc.safe_load((directory / "Chart.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(meta, dict) or not meta.get("name"):
        return None
    return str(meta["name"]), str(meta.get("version", "0.0.0"))
