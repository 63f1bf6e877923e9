"""A GitOps entry point as a source kind of the gate: a Flux `clusters/<name>` directory or an Argo CD
directory, rendered to every object its cluster would get (dsgate.gitops.engine), each naming its
chain. dsgate.plugins puts this kind in front of the gate's own (dsgate.gate.sourcekinds), so a
GitOps repository is gated as its clusters apply it; the gate itself never imports this package.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from dsgate.gate.sourcekinds import SOURCE_KINDS, SingleRender
from dsgate.gate.sources import Found, Job, RenderContext, Rendered, Source, SourceKind, Walk
from dsgate.gitops.detect import consumed_files, entries
from dsgate.gitops.generators import parse_clusters
from dsgate.gitops.repos import Settings
from dsgate.limits import Limits

POLICY_SECONDS = 60  # a GitOps source is a whole cluster in one OPA request (its policies see every object together)


@dataclass(frozen=True)
class GitOpsSource(SingleRender):
    """A GitOps entry point and where its charts and repositories are (CheckOptions charts and repos)."""

    kind: ClassVar[str] = "gitops"
    path: Path
    settings: Settings = field(default_factory=Settings)
    release: str = ""  # unused: a GitOps source's releases are its own
    namespace: str = ""  # dsgate.yaml sources: namespace, where objects without one land

    @classmethod
    def find(cls, directory: Path, walk: Walk) -> Found | None:
        found = entries(directory, walk.top)
        if not found:
            return None
        options = walk.options
        settings = (
            Settings(options.charts, options.repos, options.argocd_clusters) if options is not None else Settings()
        )
        settings.mapping()  # GitOpsError now for a malformed URL=PATH
        parse_clusters(settings.clusters)  # ... or NAME=SERVER
        return Found([cls(path, settings) for path in found])

    @classmethod
    def from_file(cls, path: Path, walk: Walk) -> Source | None:
        return None

    def render(self, job: Job, ctx: RenderContext) -> Rendered:
        """(a digest text, the documents) of the entry point; raises GitOpsError."""
        from dsgate.gitops.engine import (
            documents,
            expand,
        )  # the GitOps renderers load only when a GitOps source renders

        items = expand(self.path, self.settings, ctx.convert, ctx.batch)
        docs = documents(self.path, items)
        text = json.dumps(
            [[d.provenance.scenario, d.provenance.cluster, d.obj] for d in docs], sort_keys=True, default=str
        )
        return Rendered(text, docs)

    @classmethod
    def inputs(cls, top: Path, found: Sequence[Source]) -> set[Path]:
        """Helm value files named by `$ref/...` and git files generator files under TOP: values, never manifests."""
        return consumed_files(top) if any(isinstance(s, GitOpsSource) for s in found) else set()

    def policy_seconds(self, limits: Limits) -> float:
        return max(limits.policy_seconds, POLICY_SECONDS)


WITH_GITOPS: tuple[SourceKind, ...] = (
    GitOpsSource,
    *SOURCE_KINDS,
)  # GitOps entry points first: a GitOps directory is not walked as plain YAML
