"""Host-port clashes between DaemonSets of different sources of one run.

Each render is evaluated on its own documents (policies/README.md, `batch`), so the library's
host-port rule compares only the DaemonSets of one chart scenario, kustomization or file. Two
separate charts installed side by side still clash on a node: a second exporter on hostPort 9100
never starts where node-exporter runs. This module makes one extra evaluation set per cluster: the
DaemonSets of one render of every source (a chart's default scenario, else its first render), when
at least two sources contribute one. The same agent from two sources (a chart and a kustomize
overlay of it, or one overlay per environment) is a choice between packagings, not two agents on one
node: a source's DaemonSet is left out of a place where another source already brought the same
agent (its app.kubernetes.io/name label, else its name). From that evaluation only the host-port
rule's findings are kept, and only those the per-render evaluation did not already report word for word (a clash
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
# Its METADATA `field`: where a clash is located. A shard records each DaemonSet's location at it, for
# `dsgate report merge` to place clashes across shards (tests/gate/test_shard.py compares with the whole run).
HOST_PORT_FIELD = "spec.template.spec.containers[*].ports"
ACROSS = " (across sources: "  # how a clash across sources ends its message (clashes)
DEFAULT_SCENARIO = "default"  # a chart's values.yaml scenario (gate/sources.py)
OS_LABELS = ("kubernetes.io/os", "beta.kubernetes.io/os")


def _operating_systems(doc: Document) -> set[str]:
    """The node OSes a DaemonSet's nodeSelector allows: {"linux"} or {"windows"}, or both when it
    names none (a Linux and a Windows DaemonSet never share a node, so never clash)."""
    selector = ((doc.obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    named = {str(selector[key]) for key in OS_LABELS if isinstance(selector, dict) and key in selector}
    return named or {"linux", "windows"}


def _agent(doc: Document) -> str:
    """Which agent a DaemonSet runs: its app.kubernetes.io/name (the object's or its pod template's), else its name."""
    meta_labels = (doc.obj.get("metadata") or {}).get("labels") or {}
    template_labels = (((doc.obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    return str(meta_labels.get("app.kubernetes.io/name") or template_labels.get("app.kubernetes.io/name") or doc.name)


def _display(doc: Document) -> str:
    """A DaemonSet as the library's messages name it (lib.display): DaemonSet <namespace/name>."""
    namespace = (doc.obj.get("metadata") or {}).get("namespace") or ""
    return f"{doc.kind} <{namespace}/{doc.name}>" if namespace else f"{doc.kind} <{doc.name}>"


def evaluation_sets(renders: Iterable[tuple[str, str, Sequence[Document]]]) -> list[list[Document]]:
    """RENDERS are (source, scenario, documents) in run order. The result holds, per cluster and node
    OS that at least two sources' DaemonSets land on, the DaemonSets of one render of each of those
    sources."""
    chosen: dict[str, tuple[str, Sequence[Document]]] = {}
    for source, scenario, documents in renders:
        if source not in chosen or (scenario == DEFAULT_SCENARIO and chosen[source][0] != DEFAULT_SCENARIO):
            chosen[source] = (scenario, documents)
    by_place: dict[tuple[str, str], dict[str, list[Document]]] = {}
    agents: dict[tuple[str, str], dict[str, str]] = {}  # place -> agent -> the source that brought it first
    for source, (_, documents) in chosen.items():
        for doc in documents:
            if doc.kind == "DaemonSet":
                for os_name in sorted(_operating_systems(doc)):
                    place = (doc.provenance.cluster, os_name)
                    if agents.setdefault(place, {}).setdefault(_agent(doc), source) != source:
                        continue  # the same agent packaged by another source: an alternative, not a second agent
                    by_place.setdefault(place, {}).setdefault(source, []).append(doc)
    sets: list[list[Document]] = []
    for sources in by_place.values():
        docs = [doc for source_docs in sources.values() for doc in source_docs]
        if len(sources) > 1 and not any(docs == other for other in sets):
            sets.append(docs)
    return sets


def clashes(found: Iterable[Finding], reported: Collection[Finding], documents: Sequence[Document]) -> list[Finding]:
    """The host-port findings of FOUND (the evaluation of DOCUMENTS, one cross-source set) that
    REPORTED (the per-render findings) lacks, each with the other sources it clashes with named."""
    already = {(f.rule, f.resource, f.message) for f in reported}  # REPORTED holds what earlier cross sets added too
    where = {_display(d): d.provenance.label for d in documents}
    out: list[Finding] = []
    for finding in found:
        if finding.rule != HOST_PORT_RULE or (finding.rule, finding.resource, finding.message) in already:
            continue
        others = sorted(
            f"{name} is in {label}"
            for name, label in where.items()
            if label != finding.source and name in finding.message
        )
        message = f"{finding.message}{ACROSS}{'; '.join(others)})"
        if others and (finding.rule, finding.resource, message) not in already:
            out.append(dataclasses.replace(finding, message=message))
    return out


def across(finding: Finding) -> bool:
    """Whether FINDING is a clash across sources that clashes() added (not one inside a single source)."""
    return finding.rule == HOST_PORT_RULE and ACROSS in finding.message
