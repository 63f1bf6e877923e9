"""What the gate renders: the Source protocol every source kind implements, a Job (one render of a
source), and discovery (walking the paths a user names and asking each source kind what it finds).

A source kind is a class: the gate's own are in dsgate.gate.sourcekinds (chart, kustomize, files);
GitOps entry points are dsgate.gitops.source, plugged in by the caller (dsgate.plugins). The stages
after rendering see only documents with provenance, never which kind produced them: everything
that differs between kinds (scenarios, rendering, the namespace a render lands in, where a problem
is in the source files) is a method of the kind.

A symbolic link met while walking a named directory must resolve inside that directory: one that
leads outside it (to /etc/hostname, or to another checkout) is refused, naming the link, before
anything reads it. Inside a chart, helm's own rules apply (helm loads the chart); inside a
kustomization, kustomize's load restrictor does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from dsgate.errors import DsgateError
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.documents import Converter, Document, DocumentError, read_text, safe_load
from dsgate.limits import LimitError, Limits

if TYPE_CHECKING:
    from dsgate.gate.locate import Location
    from dsgate.gate.options import CheckOptions
    from dsgate.gate.render import HelmBatch

CONFIG_NAME = "dsgate.yaml"  # dsgate's own configuration: never a manifest (dsgate.config reads it)
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis"}


class SourceError(DsgateError):
    """A path cannot be gated (missing, empty, unreadable)."""


@dataclass(frozen=True)
class Job:
    """One render to perform: a source, and for a chart its scenario (name and values files), helm
    major and Kubernetes version. VALUES, RELEASE and NAMESPACE override what a chart is rendered
    with (the gate leaves them unset: values files only, the source's or the cluster model's release
    and namespace)."""

    source: Source
    scenario: str = ""
    values_files: tuple[Path, ...] = ()
    helm: str = "v4"
    kube_version: str = ""
    values: Mapping[str, Any] | None = field(default=None, compare=False)
    release: str = ""
    namespace: str = ""

    @property
    def label(self) -> str:
        """How reports name this render's source (a chart adds its scenario)."""
        return self.source.label(self.scenario)


@dataclass(frozen=True)
class RenderContext:
    """What every render of a run shares: the helm-batch pool (None: the helm binary, PyYAML) and the limits."""

    batch: HelmBatch | None = None
    limits: Limits = field(default_factory=Limits)
    cluster: ClusterModel = field(default_factory=ClusterModel)  # the release name and namespace charts get by default

    @property
    def convert(self) -> Converter | None:
        """kubectl's reading of YAML (helm-batch), for every kind's documents."""
        return self.batch.convert if self.batch is not None else None


class Rendered(NamedTuple):
    """What a source rendered to: a text to compare renders by (identical texts are validated and
    evaluated once), its documents, and a problem that fails the render although it produced them."""

    text: str
    documents: list[Document]
    error: str = ""


@dataclass
class RenderOutcome:
    """A job and what its render gave; ERROR set: the render failed (exit 2), whatever else is set."""

    job: Job
    text: str = ""
    documents: list[Document] = field(default_factory=list)
    error: str = ""


class Source(Protocol):
    """One thing to render. Implemented by one class per kind; nothing outside that class asks which kind it is."""

    kind: ClassVar[str]  # "chart", "kustomize", "files", "gitops": how reports and messages name the kind

    @property
    def path(self) -> Path:
        """The directory or file the user's path led to."""
        ...

    @property
    def release(self) -> str:
        """Its own release name (dsgate.yaml sources: releaseName); "" the cluster model's."""
        ...

    @property
    def namespace(self) -> str:
        """Its own namespace (dsgate.yaml sources: namespace); "" the kind's default (lands_in)."""
        ...

    def label(self, scenario: str) -> str:
        """How reports name a render of this source in SCENARIO."""
        ...

    def jobs(self, helm_versions: Sequence[str], kube_versions: Sequence[str]) -> list[Job]:
        """Every render the gate performs for this source."""
        ...

    def prepare(self) -> None:
        """Make the source renderable before any render runs (a chart's file:// dependencies); DsgateError if it cannot be."""
        ...

    def crd_folders(self) -> tuple[Path, ...]:
        """Folders whose CustomResourceDefinitions the source installs besides what it renders (a chart's crds/)."""
        ...

    def render(self, job: Job, ctx: RenderContext) -> Rendered:
        """JOB's documents; DsgateError (RenderError, DocumentError, LimitError, ...) when it cannot render."""
        ...

    def render_key(self, job: Job) -> Hashable:
        """Jobs with equal keys render to the same output: the render stage renders one of them and
        gives its output to the others (a chart that reads nothing of the Kubernetes version renders
        once for every target version; see kubeusage)."""
        ...

    def lands_in(self, cluster: ClusterModel) -> str:
        """The namespace its namespaced objects land in when they name none (the server check creates them there)."""
        ...

    def pod_security_level(self) -> str | None:
        """The Pod Security level the source declares it needs in that namespace, if any."""
        ...

    def policy_seconds(self, limits: Limits) -> float:
        """How long OPA may take on one of its evaluation sets."""
        ...

    def locate(self, outcome: RenderOutcome, document: Document, field: str, message: str) -> list[Location]:
        """Where in the source's own files DOCUMENT (at FIELD, when given) comes from; [] when unknown."""
        ...

    def without(self, inputs: set[Path]) -> Source | None:
        """This source without INPUTS, files another source reads as input rather than as manifests
        (None: nothing of it is left)."""
        ...


class Found(NamedTuple):
    """What a source kind found in a directory: its sources, and which child directories the walk
    goes on into (None: none; the kind owns the whole tree below)."""

    sources: list[Source]
    descend: Callable[[Path], bool] | None = None


@dataclass(frozen=True)
class Walk:
    """The state of one discovery walk: the directory a user named (ROOT), whether the directory at
    hand is that one (TOP), the -f values files, and the run's options (for kinds that need them)."""

    root: Path
    top: bool
    values: tuple[Path, ...] = ()
    options: CheckOptions | None = None

    def inside(self, entries: Iterable[Path]) -> list[Path]:
        """ENTRIES, sorted; SourceError for a symbolic link that resolves outside ROOT."""
        out = sorted(entries)
        for entry in out:
            if entry.is_symlink() and not entry.resolve().is_relative_to(self.root):
                raise SourceError(
                    f"{entry}: symbolic link to {entry.resolve()}, outside the checked directory {self.root}; refusing to follow it"
                )
        return out


class SourceKind(Protocol):
    """A kind of source, as discovery sees it (the class of its sources implements it with classmethods)."""

    def find(self, directory: Path, walk: Walk) -> Found | None:
        """This kind's sources at DIRECTORY; None when DIRECTORY is not of this kind (the next kind is asked)."""
        ...

    def from_file(self, path: Path, walk: Walk) -> Source | None:
        """The source a file the user named directly is, when it is of this kind."""
        ...

    def inputs(self, top: Path, found: Sequence[Source]) -> set[Path]:
        """Files under TOP (a directory the user named) that this kind's sources among FOUND read as
        input (values, generator files): no other source gates them as manifests."""
        ...


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


def _walk(directory: Path, kinds: Sequence[SourceKind], walk: Walk, seen: set[Path]) -> Iterator[Source]:
    if directory.resolve() in seen:
        return  # a link back to a directory already walked
    seen.add(directory.resolve())
    for kind in kinds:
        found = kind.find(directory, walk)
        if found is None:
            continue
        yield from found.sources
        if found.descend is not None:
            descend = found.descend
            below = replace(walk, top=False)
            for child in walk.inside(p for p in directory.iterdir() if p.is_dir() and descend(p)):
                yield from _walk(child, kinds, below, seen)
        return


def walk_paths(
    paths: Sequence[Path], kinds: Sequence[SourceKind], values: Sequence[Path] = (), options: CheckOptions | None = None
) -> list[Source]:
    """Every source under PATHS, each directory given to KINDS in order (the first that finds
    something owns it); SourceError for a missing path or one that yields nothing."""
    sources: list[Source] = []
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path}: no such file or directory")
        walk = Walk(path.resolve(), True, tuple(values), options)
        if path.is_file():
            named = [s for s in (kind.from_file(path, walk) for kind in kinds) if s is not None][:1]
            if not named:
                raise SourceError(f"{path}: not a YAML file, chart or kustomization directory")
            found = named
        else:
            found = list(_walk(path, kinds, walk, set()))
            inputs = set().union(*(kind.inputs(path, found) for kind in kinds))
            found = [kept for s in found if (kept := s.without(inputs)) is not None] if inputs else found
        if not found:
            raise SourceError(f"{path}: holds no chart, kustomization or YAML file; nothing to gate")
        sources.extend(found)
    return sources
