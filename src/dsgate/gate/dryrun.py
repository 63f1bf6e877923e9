"""The server check's verdicts: which documents go to the API server, in which namespace at which
Pod Security level, and what its answers mean (see servercheck for the server itself).

A rejection is one error per cause the server gives (its field path and message); a Pod Security
violation names the namespace and the level. A workload (DaemonSet, Deployment, ...) is never
rejected by Pod Security itself, only warned about: its pods are what the namespace refuses, so the
warning is the rejection to report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from dsgate.gate.documents import Document
from dsgate.gate.servercheck import DEFAULT_PSA_LEVEL, PSA_LEVELS, ApiServer, Rejection

POD_TEMPLATE_KINDS = {"Pod", "DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "ReplicationController", "PodTemplate"}


def target_namespace(doc: Document, default: str) -> str:
    return doc.namespace or default


CHART_LEVEL_ANNOTATION = "dsgate.io/pod-security"  # Chart.yaml annotation: the level the chart's pods need


def chart_level(chart: Path) -> str | None:
    """The Pod Security level CHART says its pods need (Chart.yaml annotation dsgate.io/pod-security)."""
    try:
        meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    level = ((meta.get("annotations") or {}) if isinstance(meta, dict) else {}).get(CHART_LEVEL_ANNOTATION)
    return level if level in PSA_LEVELS else None


def namespace_levels(
    documents: Iterable[tuple[Document, str]], configured: dict[str, str], default_level: str, declared: dict[str, str] | None = None
) -> dict[str, str]:
    """namespace -> Pod Security level: the input's own Namespace label, else dsgate.yaml's
    podSecurity.namespaces, else what the charts rendered into it declare (DECLARED), else the default."""
    from_input: dict[str, str] = {}
    used: list[str] = []
    for doc, namespace in documents:
        if doc.kind == "Namespace" and doc.api_version == "v1":
            label = ((doc.obj.get("metadata") or {}).get("labels") or {}).get("pod-security.kubernetes.io/enforce")
            if label in PSA_LEVELS:
                from_input[doc.name] = label
        if namespace:
            used.append(namespace)
    declared = declared or {}
    return {ns: from_input.get(ns) or configured.get(ns) or declared.get(ns) or default_level for ns in dict.fromkeys(used)}


def most_permissive(levels: Iterable[str]) -> str:
    """Of several levels asked for one namespace, the one that admits them all."""
    return min(levels, key=PSA_LEVELS.index)


def verdicts(doc: Document, namespace: str, level: str, answer: tuple[int, dict[str, Any], list[str]]) -> list[Rejection]:
    """The rejections of one dry-run answer."""
    code, status, warnings = answer
    out: list[Rejection] = []
    if code >= 300:
        causes = (status.get("details") or {}).get("causes") or []
        message = str(status.get("message", f"HTTP {code}"))
        psa = "violates PodSecurity" in message
        prefix = f"namespace {namespace} at Pod Security level {level!r}: " if psa else ""
        if causes and not psa:
            out.extend(Rejection(doc, str(c.get("field", "")), f"kube-apiserver: {c.get('message', message)}") for c in causes)
        else:
            out.append(Rejection(doc, "", f"kube-apiserver: {prefix}{message}"))
    if doc.kind in POD_TEMPLATE_KINDS and doc.kind != "Pod":
        for warning in warnings:
            if "would violate PodSecurity" in warning:
                out.append(
                    Rejection(doc, "spec.template.spec", f"kube-apiserver: namespace {namespace} at Pod Security level {level!r} rejects its pods: {warning}")
                )
    return out


def check(
    server: ApiServer,
    documents: Sequence[tuple[Document, str]],
    crds: Sequence[dict[str, Any]],
    levels: dict[str, str],
    workers: int = 4,
    unserved: list[Document] | None = None,
) -> list[Rejection]:
    """Dry-run DOCUMENTS (each with its namespace) on SERVER; CRDs first, namespaces created as needed.
    Documents of kinds the server does not serve (a CRD kind whose CRD is not in the input) are
    appended to UNSERVED: JSON schemas alone check them."""
    out: list[Rejection] = []
    for crd in crds:
        problem = server.apply_crd(crd)
        if problem:
            out.extend(Rejection(d, "", f"kube-apiserver: {problem}") for d, _ in documents if d.obj is crd)
    for namespace, level in sorted(levels.items()):
        server.create_namespace(namespace, level)
    sendable = [(d, ns) for d, ns in documents if d.kind != "CustomResourceDefinition" and not (d.kind == "Namespace" and d.api_version == "v1")]

    def one(item: tuple[Document, str]) -> list[Rejection]:
        doc, namespace = item
        answer = server.dry_run(doc.obj, namespace)
        if answer is None:
            if unserved is not None:
                unserved.append(doc)
            return []
        return verdicts(doc, namespace, levels.get(namespace, DEFAULT_PSA_LEVEL), answer)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(one, sendable):
            out.extend(found)
    return out


def unique_documents(batches: Iterable[tuple[Sequence[Document], str]], skip: Callable[[Document], bool]) -> list[tuple[Document, str]]:
    """Each distinct (document, namespace) once, from (documents, default namespace) batches."""
    seen: set[str] = set()
    out: list[tuple[Document, str]] = []
    for docs, default in batches:
        for doc in docs:
            if skip(doc):
                continue
            namespace = target_namespace(doc, default)
            key = namespace + "\0" + json.dumps(doc.obj, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append((doc, namespace))
    return out
