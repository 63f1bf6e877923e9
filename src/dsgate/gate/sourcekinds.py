"""The gate's own source kinds: a Helm chart, a kustomization, plain YAML files. Each is one class
implementing dsgate.gate.sources.Source (and, with classmethods, SourceKind for discovery).

`discover` walks paths with these kinds (a caller adds more, e.g. dsgate.plugins adds GitOps);
`render_chart` and `render_kustomization` render through the same `render` methods the gate's
render stage calls, for tests and tools that want one render's documents.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from dsgate import yamlc
from dsgate.gate import dryrun
from dsgate.gate.chartdeps import local_dependencies
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.documents import Document, Provenance, Render, load_file, read_stream
from dsgate.gate.kubeusage import ChartUsage
from dsgate.gate.locate import Location, chart_location, file_location, kustomize_location
from dsgate.gate.patchtargets import unmatched_patch_targets
from dsgate.gate.render import RenderError, build_dependencies, documents_of, helm_template, kustomize_build_text
from dsgate.gate.sources import (
    CONFIG_NAME,
    KUSTOMIZATION_FILES,
    SKIP_DIRS,
    YAML_SUFFIXES,
    Found,
    Job,
    RenderContext,
    Rendered,
    RenderOutcome,
    Source,
    SourceError,
    SourceKind,
    Walk,
    is_component,
    kustomization_file,
    walk_paths,
)
from dsgate.limits import Limits
from dsgate.versions import kubernetes_version, pinned

if TYPE_CHECKING:
    from dsgate.gate.options import CheckOptions

DEFAULT_NAMESPACE = "default"  # where a kustomization's or a file's objects land when they name no namespace


def is_library_chart(chart: Path) -> bool:
    """Whether CHART's Chart.yaml says `type: library` (helm refuses to render or install one)."""
    try:
        meta = yamlc.safe_load((chart / "Chart.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False  # helm reports the broken Chart.yaml when it renders
    return isinstance(meta, dict) and meta.get("type") == "library"


class SingleRender:
    """What the kinds that render once (no scenarios, no helm or Kubernetes matrix) share; a kind of
    another package (dsgate.gitops.source) builds on it too."""

    kind: ClassVar[str]
    path: Path

    def label(self, scenario: str) -> str:
        return str(self.path)

    def jobs(self, helm_versions: Sequence[str], kube_versions: Sequence[str]) -> list[Job]:
        return [Job(self)]  # type: ignore[arg-type]  # every subclass is a Source

    def prepare(self) -> None:
        return None

    def render_key(self, job: Job) -> Hashable:
        return job  # one job per source

    def crd_folders(self) -> tuple[Path, ...]:
        return ()

    namespace: str

    def lands_in(self, cluster: ClusterModel) -> str:
        return self.namespace or DEFAULT_NAMESPACE  # as kubectl apply without -n

    def pod_security_level(self) -> str | None:
        return None

    def policy_seconds(self, limits: Limits) -> float:
        return limits.policy_seconds

    def locate(self, outcome: RenderOutcome, document: Document, field: str, message: str) -> list[Location]:
        return file_location(document, field, message) if document.file else []

    def without(self, inputs: set[Path]) -> Source | None:
        return self  # type: ignore[return-value]  # every subclass is a Source

    @classmethod
    def inputs(cls, top: Path, found: Sequence[Source]) -> set[Path]:
        return set()


@dataclass(frozen=True)
class ChartSource:
    """A Helm chart: rendered once per scenario (its defaults, every ci/*-values.yaml), helm major and Kubernetes version."""

    kind: ClassVar[str] = "chart"
    path: Path
    extra_values: tuple[Path, ...] = ()  # -f files, layered under every scenario
    release: str = ""  # dsgate.yaml sources: releaseName ("" the cluster model's)
    namespace: str = ""  # dsgate.yaml sources: namespace ("" the cluster model's)

    @classmethod
    def find(cls, directory: Path, walk: Walk) -> Found | None:
        if not (directory / "Chart.yaml").is_file():
            return None
        if not is_library_chart(directory):
            return Found([cls(directory, walk.values)])
        if walk.top:  # a library renders nothing itself: its users render it
            raise SourceError(
                f"{directory}: a library chart (type: library) renders nothing itself; check the charts that depend on it"
            )
        return Found([])

    @classmethod
    def from_file(cls, path: Path, walk: Walk) -> Source | None:
        return None

    def scenarios(self) -> list[tuple[str, tuple[Path, ...]]]:
        """(scenario name, values files) for a chart: its defaults and every ci/*-values.yaml.

        The -f files are layered under every scenario, in the order given, as `helm template -f A -f B
        -f ci/x-values.yaml` layers them: the default scenario is values.yaml plus the -f files, and a
        ci file applies on top (it exists to test the settings it names, so it wins over a -f file
        that sets the same key). A chart that renders nothing without a required value is gateable
        with `-f`."""
        out: list[tuple[str, tuple[Path, ...]]] = [("default", self.extra_values)]
        for path in sorted((self.path / "ci").glob("*-values.yaml")):
            name = path.name.removesuffix("-values.yaml")
            if name != "default":
                out.append((name, (*self.extra_values, path)))
        return out

    def label(self, scenario: str) -> str:
        return f"{self.path}[{scenario}]"

    def jobs(self, helm_versions: Sequence[str], kube_versions: Sequence[str]) -> list[Job]:
        return [
            Job(self, name, values, helm, kube)
            for name, values in self.scenarios()
            for helm in helm_versions
            for kube in kube_versions
        ]

    def prepare(self) -> None:
        build_dependencies(self.path)

    @functools.cached_property
    def _kube_usage(self) -> ChartUsage:
        """What the chart and its dependencies read of the Kubernetes version (scanned once per source)."""
        return ChartUsage([self.path, *(folder for _, folder in local_dependencies(self.path))])

    def render_key(self, job: Job) -> Hashable:
        """Renders at every target Kubernetes version are one render when nothing the chart or its
        values hold can read the version (kubeusage; a value set directly that holds a template counts
        as reading it)."""
        values = json.dumps(job.values, sort_keys=True, default=repr) if job.values is not None else None
        alike = "{{" not in (values or "") and self._kube_usage.renders_alike(job.kube_version, job.values_files)
        return (
            job.scenario,
            job.values_files,
            job.helm,
            job.release,
            job.namespace,
            values,
            "" if alike else job.kube_version,
        )

    def crd_folders(self) -> tuple[Path, ...]:
        return (
            self.path,
        )  # load_crds reads its crds/ and its dependencies' (helm installs them; `helm template` leaves them out)

    def render(self, job: Job, ctx: RenderContext) -> Rendered:
        rendered = helm_template(
            self.path,
            values=dict(job.values) if job.values is not None else None,
            values_files=job.values_files,
            release=job.release or self.release or ctx.cluster.release_name,
            namespace=job.namespace or self.lands_in(ctx.cluster),
            helm=job.helm,
            kube_version=job.kube_version,
            batch=ctx.batch,
            limits=ctx.limits,
        )
        prov = Provenance(
            str(self.path),
            "chart",
            scenario=job.scenario,
            helm_version=pinned()["HELM_VERSION" if job.helm == "v4" else "HELM3_VERSION"],
            kube_version=job.kube_version,
        )
        return Rendered(
            rendered.text, documents_of(rendered, f"helm template {job.label}", prov, ctx.convert, ctx.limits)
        )

    def lands_in(self, cluster: ClusterModel) -> str:
        return self.namespace or cluster.namespace  # the release namespace

    def pod_security_level(self) -> str | None:
        return dryrun.chart_level(self.path)

    def policy_seconds(self, limits: Limits) -> float:
        return limits.policy_seconds

    def locate(self, outcome: RenderOutcome, document: Document, field: str, message: str) -> list[Location]:
        return chart_location(document, self.path, outcome.text, outcome.job.values_files, field, message)

    def without(self, inputs: set[Path]) -> Source | None:
        return self

    @classmethod
    def inputs(cls, top: Path, found: Sequence[Source]) -> set[Path]:
        return set()


@dataclass(frozen=True)
class KustomizeSource(SingleRender):
    """A kustomization (not a Component: that is gated through what uses it), built with `kustomize build --enable-helm`."""

    kind: ClassVar[str] = "kustomize"
    path: Path
    release: str = ""  # unused: no release
    namespace: str = ""  # dsgate.yaml sources: namespace, where objects without one land (kubectl apply -n)

    @classmethod
    def find(cls, directory: Path, walk: Walk) -> Found | None:
        if kustomization_file(directory) is None:
            return None
        # overlays may live below a base; keep walking, but never into the chart cache kustomize writes
        return Found(
            [] if is_component(directory) else [cls(directory)], lambda child: child.name not in SKIP_DIRS | {"charts"}
        )

    @classmethod
    def from_file(cls, path: Path, walk: Walk) -> Source | None:
        return cls(path.parent) if path.name in KUSTOMIZATION_FILES else None

    def render(self, job: Job, ctx: RenderContext) -> Rendered:
        text = kustomize_build_text(self.path, ctx.limits)
        prov = Provenance(str(self.path), "kustomize", overlay=str(self.path), helm_version=pinned()["HELM_VERSION"])
        documents = read_stream(text, f"kustomize build {self.path}", prov, ctx.convert, ctx.limits)
        unmatched = unmatched_patch_targets(self.path, [d.obj for d in documents])
        error = "; ".join(
            f"kustomize build {self.path}: {t} matches no object, so the patch changed nothing" for t in unmatched
        )
        return Rendered(text, documents, error)

    def locate(self, outcome: RenderOutcome, document: Document, field: str, message: str) -> list[Location]:
        return kustomize_location(document, self.path, field, message)


@dataclass(frozen=True)
class FilesSource(SingleRender):
    """Plain YAML files: a directory's *.yaml and *.yml (not below a chart or kustomization), or a file named directly."""

    kind: ClassVar[str] = "files"
    path: Path
    files: tuple[Path, ...] = ()
    release: str = ""  # unused: no release
    namespace: str = ""  # dsgate.yaml sources: namespace, where objects without one land (kubectl apply -n)

    @classmethod
    def find(cls, directory: Path, walk: Walk) -> Found | None:
        # dsgate's own configuration (dsgate.yaml, at a repository's root) is never a manifest
        files = tuple(
            walk.inside(
                p
                for p in directory.iterdir()
                if p.is_file() and p.suffix in YAML_SUFFIXES and not p.name.startswith(".") and p.name != CONFIG_NAME
            )
        )
        return Found(
            [cls(directory, files)] if files else [],
            lambda child: child.name not in SKIP_DIRS and not child.name.startswith("."),
        )

    @classmethod
    def from_file(cls, path: Path, walk: Walk) -> Source | None:
        return cls(path, (path,)) if path.suffix in YAML_SUFFIXES else None

    def render(self, job: Job, ctx: RenderContext) -> Rendered:
        limits = ctx.limits
        documents: list[Document] = []
        for path in self.files:
            docs = load_file(path, Provenance(str(self.path), "file"), ctx.convert, limits)
            base = len(documents)
            if base + len(docs) > limits.documents:
                raise limits.exceeded(
                    str(self.path), "documents", f"more than {limits.documents} documents in its YAML files"
                )
            documents.extend(dataclasses.replace(d, index=base + d.index) for d in docs)
        return Rendered("\0".join(str(p) for p in self.files), documents)

    def without(self, inputs: set[Path]) -> Source | None:
        kept = tuple(f for f in self.files if f.resolve() not in inputs)
        return self if kept == self.files else dataclasses.replace(self, files=kept) if kept else None


SOURCE_KINDS: tuple[SourceKind, ...] = (ChartSource, KustomizeSource, FilesSource)


def discover(
    paths: Sequence[Path],
    extra_values: Sequence[Path] = (),
    kinds: Sequence[SourceKind] = SOURCE_KINDS,
    options: CheckOptions | None = None,
) -> list[Source]:
    """Every source under PATHS (see sources.walk_paths), found by KINDS (default: the gate's own)."""
    return walk_paths(paths, kinds, extra_values, options)


def render_source(job: Job, ctx: RenderContext | None = None) -> Render:
    """JOB rendered by its source's kind, as the gate's render stage renders it; RenderError (or
    another DsgateError) when it cannot be, or when the render has a problem of its own."""
    rendered = job.source.render(job, ctx or RenderContext())
    if rendered.error:
        raise RenderError(rendered.error)
    prov = (
        rendered.documents[0].provenance
        if rendered.documents
        else Provenance(str(job.source.path), job.source.kind, scenario=job.scenario)
    )
    return Render(prov, rendered.documents)


def render_chart(
    chart: Path,
    *,
    values: Mapping[str, Any] | None = None,
    values_files: Sequence[Path] = (),
    scenario: str = "",
    helm: str = "v4",
    kube_version: str | None = None,
    release: str = "",
) -> Render:
    """Render a chart to documents with provenance, through ChartSource.render."""
    name = scenario or ",".join(p.name for p in values_files) or "default"
    job = Job(
        ChartSource(chart),
        name,
        tuple(values_files),
        helm,
        kube_version or kubernetes_version(),
        values=values,
        release=release,
    )
    return render_source(job)


def render_kustomization(directory: Path) -> Render:
    """Build a kustomization to documents with provenance, through KustomizeSource.render."""
    return render_source(Job(KustomizeSource(directory)))
