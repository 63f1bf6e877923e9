"""The gate's view of a GitOps entry point: a Source kind and the render step for it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from dsgate.gate.documents import Converter, Document
from dsgate.gate.render import HelmBatch
from dsgate.gate.sources import Source
from dsgate.gitops.engine import Settings, documents, expand

KIND = "gitops"


@dataclass(frozen=True)
class GitOpsSource(Source):
    """A GitOps entry point (Flux `clusters/<name>`, an Argo CD directory) and where its charts and
    repositories are."""

    settings: Settings = field(default_factory=Settings)


def configure(sources: list[Source], charts: list[Path], repos: list[str], clusters: list[str] | None = None) -> list[Source]:
    """SOURCES with every GitOps entry given the chart store, repository mapping and Argo CD clusters."""
    settings = Settings(tuple(charts), tuple(repos), tuple(clusters or ()))
    return [GitOpsSource(KIND, s.path, settings=settings) if s.kind == KIND else s for s in sources]


def render(source: Source, batch: HelmBatch | None, convert: Converter | None) -> tuple[str, list[Document]]:
    """(a digest text, the documents) of a GitOps source; raises GitOpsError."""
    settings = source.settings if isinstance(source, GitOpsSource) else Settings()
    items = expand(source.path, settings, convert, batch)
    docs = documents(source.path, items)
    text = json.dumps([[d.provenance.scenario, d.provenance.cluster, d.obj] for d in docs], sort_keys=True, default=str)
    return text, docs
