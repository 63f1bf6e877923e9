"""Whether a chart's render can differ between Kubernetes versions, so that the gate renders a chart
scenario once for every target version instead of once per version (issue 26).

`helm template --kube-version V` passes V to a chart in two places only: `.Capabilities` (its
KubeVersion, and APIVersions, whose built-in list follows the version) and the `kubeVersion`
constraint of the chart's and its dependencies' Chart.yaml, which refuses the render outright. So a
render at V equals the render at any other target version unless:

- a template action (`{{ ... }}`, comments removed) of any file of the chart or of a dependency
  (directories and packaged `charts/*.tgz`, the library chart charts/dsgate-common included) names
  `Capabilities` other than as `.Capabilities.HelmVersion` (HelmVersion does not follow the
  Kubernetes version); every file counts, not only templates/, since `tpl` can run any string a
  chart reads (`.Files.Get`, values), and so does every values file a render is given;
- a `kubeVersion` constraint refuses V: helm's error then names V, so each refused version renders
  on its own. A constraint this module cannot read (anything beyond comparisons joined by `,` or
  spaces and `||`) counts as refusing every version.

Anything unreadable (a file that does not decode, a broken package) makes the chart version-dependent:
the shortcut is taken only when it is certain to give the same output.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dsgate.errors import DsgateError
from dsgate.gate import capabilityreads

MAX_FILES = 5000  # a chart tree larger than this is not scanned: it renders per version
MAX_BYTES = 64 << 20

_KUBE_VERSION = re.compile(r"^kubeVersion:\s*(.*?)\s*$", re.M)
_TERM = re.compile(r"^(>=|<=|!=|>|<|=)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?$")


class _Unsure(DsgateError):
    """Something could not be read: treat the chart as version-dependent."""


def _version(text: str) -> tuple[int, int, int, int]:
    """A Kubernetes version as a comparable tuple; a pre-release (1.33.0-0) sorts before its release."""
    m = _TERM.match(text.strip())
    if m is None or m.group(1):
        raise _Unsure(text)
    return int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0), 0 if m.group(5) else 1


def satisfies(constraint: str, kube_version: str) -> bool:
    """Whether KUBE_VERSION meets a Chart.yaml kubeVersion CONSTRAINT; _Unsure when it is not of the
    simple form (comparisons, `,` or space for and, `||` for or, a trailing -pre allowed)."""
    target = _version(kube_version)
    if target[3] == 0:
        raise _Unsure(kube_version)  # a pre-release target: semver's rules for those are not modelled
    for alternative in constraint.split("||"):
        terms = [t for t in re.split(r"[,\s]+", re.sub(r"(>=|<=|!=|>|<|=)\s+", r"\1", alternative.strip())) if t]
        if not terms:
            raise _Unsure(constraint)
        if all(_meets(term, target) for term in terms):
            return True
    return False


def _meets(term: str, target: tuple[int, int, int, int]) -> bool:
    m = _TERM.match(term)
    if m is None:
        raise _Unsure(term)
    op = m.group(1) or "="
    bound = (int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0), 0 if m.group(5) else 1)
    if op == "=" and (m.group(3) is None or m.group(4) is None):
        raise _Unsure(term)  # `=1.33` is a range in semver, not modelled
    return {
        ">=": target >= bound,
        ">": target > bound,
        "<=": target <= bound,
        "<": target < bound,
        "=": target == bound,
        "!=": target != bound,
    }[op]


def _tree(directory: Path) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every file below DIRECTORY and inside every chart package (.tgz) there."""
    count = 0
    for root, dirs, files in os.walk(directory, onerror=_unreadable, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            count += 1
            if count > MAX_FILES:
                raise _Unsure(directory)
            path = Path(root) / name
            try:
                if path.stat().st_size > MAX_BYTES:
                    raise _Unsure(path)
                data = path.read_bytes()
            except OSError as exc:
                raise _Unsure(path) from exc
            if name.endswith(".tgz"):
                yield from _package(data, path)
            else:
                yield str(path), data


def _unreadable(error: OSError) -> None:
    """os.walk skips a directory it cannot list: here that makes the chart version-dependent."""
    raise _Unsure(error)


def _package(data: bytes, where: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            total = 0
            for member in tar:
                if not member.isfile():
                    continue
                total += member.size
                if total > MAX_BYTES:
                    raise _Unsure(where)
                fh = tar.extractfile(member)
                content = fh.read() if fh is not None else b""
                if member.name.endswith(".tgz"):
                    yield from _package(content, where)
                else:
                    yield f"{where}:{member.name}", content
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _Unsure(where) from exc


class ChartUsage:
    """What a chart tree (the chart, its charts/ and its file:// dependencies) reads of the Kubernetes version."""

    def __init__(self, directories: Iterable[Path]) -> None:
        self.texts: list[bytes] = []  # the files that hold a template action
        self.constraints: list[str] = []
        self.unsure = False
        try:
            for directory in dict.fromkeys(directories):
                for name, data in _tree(directory):
                    if b"{{" in data:
                        self.texts.append(data)
                    if name.endswith("Chart.yaml"):
                        self.constraints += [
                            c.strip("'\"") for c in _KUBE_VERSION.findall(data.decode(errors="replace")) if c
                        ]
        except _Unsure:
            self.unsure = True
        self._reads: dict[tuple[bytes, ...], bool] = {}  # by the values files' texts that hold a template

    def renders_alike(self, kube_version: str, values_files: Sequence[Path] = ()) -> bool:
        """Whether a render at KUBE_VERSION with VALUES_FILES equals the render at any other version
        it renders alike at: nothing reads .Capabilities and no kubeVersion constraint refuses it."""
        if self.unsure or self._reads_capabilities(values_files):
            return False
        try:
            return all(satisfies(c, kube_version) for c in self.constraints)
        except _Unsure:
            return False

    def _reads_capabilities(self, values_files: Sequence[Path]) -> bool:
        """Whether the chart's templates, with the templates VALUES_FILES hold (for `tpl`), can read
        .Capabilities. A values file without a template action adds nothing: the chart's own answer
        (analysed once) stands for every scenario whose values hold none."""
        try:
            extra = tuple(text for text in (p.read_bytes() for p in values_files) if b"{{" in text)
        except OSError:
            return True
        if extra not in self._reads:
            self._reads[extra] = capabilityreads.reads_capabilities_cached([*self.texts, *extra])
        return self._reads[extra]
