"""Host-port clashes between DaemonSets of different sources of one run.

Each render is evaluated on its own documents (policies/README.md, `batch`), so the library's
host-port rule compares only the DaemonSets of one chart scenario, kustomization or file. Two
separate charts installed side by side still clash on a node: a second exporter on hostPort 9100
never starts where node-exporter runs. This module makes one extra evaluation set per cluster: the
DaemonSets of one render of every source (a chart's default scenario, else its first render), when
at least two sources contribute one. From that evaluation only the host-port rule's findings are
kept, and only those the per-render evaluation did not already report word for word (a clash
inside one source); each kept finding names the other sources involved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence

from dsgate.gate.documents import Document
from dsgate.gate.evaluate import Finding

# The library's cross-object host-port rule (policies/dsgate/rules/host_access); tests/gate/test_crosssource.py
# checks that the library has it.
HOST_PORT_RULE = "DS-HST-006"
DEFAULT_SCENARIO = "default"  # a chart's values.yaml scenario (gate/sources.py)


def _display(doc: Document) -> str:
    """A DaemonSet as the library's messages name it (lib.display): DaemonSet <namespace/name>."""
    namespace = (doc.obj.get("metadata") or {}).get("namespace") or ""
    return f"{doc.kind} <{namespace}/{doc.name}>" if namespace else f"{doc.kind} <{doc.name}>"


def evaluation_sets(renders: Iterable[tuple[str, str, Sequence[Document]]]) -> list[list[Document]]:
    """RENDERS are (source, scenario, documents) in run order. The result holds, per cluster that at
    least two sources' DaemonSets land in, the DaemonSets of one render of each of those sources."""
    chosen: dict[str, tuple[str, Sequence[Document]]] = {}
    for source, scenario, documents in renders:
        if source not in chosen or (scenario == DEFAULT_SCENARIO and chosen[source][0] != DEFAULT_SCENARIO):
            chosen[source] = (scenario, documents)
    by_cluster: dict[str, dict[str, list[Document]]] = {}
    for source, (_, documents) in chosen.items():
        for doc in documents:
            if doc.kind == "DaemonSet":
                by_cluster.setdefault(doc.provenance.cluster, {}).setdefault(source, []).append(doc)
    return [[doc for docs in sources.values() for doc in docs] for sources in by_cluster.values() if len(sources) > 1]


def clashes(found: Iterable[Finding], reported: Collection[Finding], documents: Sequence[Document]) -> list[Finding]:
    """The host-port findings of FOUND (the evaluation of DOCUMENTS, one cross-source set) that
    REPORTED (the per-render findings) lacks, each with the other sources it clashes with named."""
    already = {(f.rule, f.resource, f.message) for f in reported}
    where = {_display(d): d.provenance.label for d in documents}
    out: list[Finding] = []
    for finding in found:
        if finding.rule != HOST_PORT_RULE or (finding.rule, finding.resource, finding.message) in already:
            continue
        others = sorted(f"{name} is in {label}" for name, label in where.items() if label != finding.source and name in finding.message)
        if others:
            out.append(dataclasses.replace(finding, message=f"{finding.message} (across sources: {'; '.join(others)})"))
    return out
