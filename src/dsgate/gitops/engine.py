"""Render a GitOps entry point to the documents its cluster would get, each naming its chain."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dsgate.gate.documents import Converter, Document, DocumentError, Provenance, read_stream
from dsgate.gate.render import HelmBatch
from dsgate.gitops import artifacts
from dsgate.gitops.argocd import ArgoExpander
from dsgate.gitops.charts import ChartStore, MissingCharts
from dsgate.gitops.flux import IMPLIED, FluxExpander, Reader
from dsgate.gitops.generators import parse_clusters
from dsgate.gitops.helmrelease import ChartResolver, render_release
from dsgate.gitops.objects import GitOpsError, Item, group, spec_of, step
from dsgate.gitops.repos import Repos, Settings, find_root

RELEASE_WORKERS = 4  # HelmReleases of one cluster rendered concurrently (helm-batch and kustomize are processes)


def reader(convert: Converter | None) -> Reader:
    def read(text: str, origin: str) -> list[dict[str, Any]]:
        try:
            return [d.obj for d in read_stream(text, origin, Provenance(origin, "gitops"), convert)]
        except DocumentError as exc:
            raise GitOpsError(str(exc)) from exc

    return read


def expand(
    entry: Path, settings: Settings, convert: Converter | None = None, batch: HelmBatch | None = None
) -> list[Item]:
    """Every object ENTRY's cluster would get, with its chain."""
    read = reader(convert)
    repos = Repos(find_root(entry), settings.mapping())
    flux = FluxExpander(entry, repos, read)
    try:
        flux.expand()
    finally:
        flux.close()
    items = list(flux.cluster.items)
    resolver = ChartResolver(ChartStore(settings.charts), repos, flux.cluster)
    releases = [r for r in flux.releases if not spec_of(r.obj).get("suspend")]

    def one(release: Item) -> list[Item] | MissingCharts:
        me = step(release.obj)
        chain = (*release.via, f"{me} ({IMPLIED})" if resolver.implied(release.obj) else me)
        prefix = " → ".join(release.via)
        try:
            return [Item(obj, chain) for obj in render_release(release.obj, release.via, resolver, read, batch)]
        except MissingCharts as exc:
            return exc.within(prefix)  # reported with every other missing chart, in one error
        except GitOpsError as exc:
            if prefix and not str(exc).startswith(prefix):
                raise GitOpsError(f"{prefix} → {exc}") from exc  # every error names its whole chain
            raise

    missing: list[MissingCharts] = []
    with ThreadPoolExecutor(max_workers=RELEASE_WORKERS) as pool:
        for rendered in pool.map(one, releases):
            if isinstance(rendered, MissingCharts):
                missing.append(rendered)
            else:
                items.extend(rendered)
    argo = ArgoExpander(repos, resolver.store, read, batch, parse_clusters(settings.clusters))
    items.extend(argo.expand(items))
    missing.extend(argo.missing)
    if missing:
        raise MissingCharts.merged(missing)
    return items


def documents(entry: Path, items: Sequence[Item]) -> list[Document]:
    """ITEMS as gate documents; the chain is the provenance's scenario, so every report names it, and
    the cluster each lands in its provenance's cluster (the gate evaluates each cluster on its own).
    The GitOps objects themselves are documents too: the Flux and Argo CD CRD schemas validate them
    (not ArtifactGenerators, whose CRD dsgate does not pin: their effect, the artifact, is gated)."""
    out: list[Document] = []
    for item in items:
        if group(item.obj) == artifacts.GROUP:
            continue  # source-watcher's ArtifactGenerator: rendered (artifacts.assemble reads it), no pinned schema to validate it
        prov = Provenance(str(entry), "gitops", scenario=" → ".join(item.via), via=item.via, cluster=item.cluster)
        out.append(Document(item.obj, prov, len(out)))
    return out
