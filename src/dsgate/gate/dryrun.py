"""The server check's verdicts: which documents go to the API server, in which namespace at which
Pod Security level, and what its answers mean (see servercheck for the server itself).

A rejection is one error per cause the server gives (its field path and message). A Pod Security
refusal is not an API error but the namespace's policy: it is returned with the namespace and its
level, and the gate reports it as a finding of rule DS-PSA-001 (exemptable like any other). A workload (DaemonSet, Deployment, ...) is never
rejected by Pod Security itself, only warned about: its pods are what the namespace refuses, so the
warning is the rejection to report. Likewise the Priority, RuntimeClass, ResourceQuota and
LimitRanger plugins judge pods, not workloads: an accepted workload's pod (its template, as its
controller would create it) is dry-run too, and what admission refuses there is the workload's error.

Each evaluation set is checked as its apply would go, with its own prerequisites created for real
first and deleted after (see prerequisites): one set's PriorityClass or CRD never admits another's.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.gate import prerequisites
from dsgate.gate.clustermodel import PSA_LEVELS
from dsgate.gate.documents import Document
from dsgate.gate.servercheck import PROBE_NAMESPACE, ApiServer, Rejection

POD_TEMPLATE_KINDS = {
    "Pod",
    "DaemonSet",
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
    "PodTemplate",
}


def target_namespace(doc: Document, default: str) -> str:
    return doc.namespace or default


CHART_LEVEL_ANNOTATION = "dsgate.io/pod-security"  # Chart.yaml annotation: the level the chart's pods need


def chart_level(chart: Path) -> str | None:
    """The Pod Security level CHART says its pods need (Chart.yaml annotation dsgate.io/pod-security);
    asked once per render of the chart, so Chart.yaml is parsed once per content (size and mtime)."""
    try:
        st = (chart / "Chart.yaml").stat()
    except OSError:
        return None
    return _chart_level(chart, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _chart_level(chart: Path, mtime_ns: int, size: int) -> str | None:
    try:
        meta = yamlc.safe_load((chart / "Chart.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    level = ((meta.get("annotations") or {}) if isinstance(meta, dict) else {}).get(CHART_LEVEL_ANNOTATION)
    return level if level in PSA_LEVELS else None


VERDICT_API_VERSION, VERDICT_KIND = "dsgate.io/v1", "ServerCheckVerdict"  # read by policies/dsgate/rules/pod_security


def verdict_document(rejection: Rejection) -> Document:
    """A Pod Security refusal as the policy library's input: a ServerCheckVerdict naming the workload
    as the documents name it, the namespace and level it was checked at, and the server's reason."""
    doc = rejection.document
    obj = {
        "apiVersion": VERDICT_API_VERSION,
        "kind": VERDICT_KIND,
        "metadata": {"name": f"{doc.kind}.{doc.name}".lower()},
        "check": "PodSecurity",
        "subject": {"kind": doc.kind, "namespace": doc.namespace, "name": doc.name},
        "namespace": rejection.namespace,
        "level": rejection.pod_security,
        "reason": rejection.message,
    }
    return Document(obj, doc.provenance, doc.index, doc.line, doc.file)


def namespace_levels(
    documents: Iterable[tuple[Document, str]],
    configured: dict[str, str],
    default_level: str,
    declared: dict[str, str] | None = None,
) -> dict[str, str]:
    """namespace -> Pod Security level: the input's own Namespace label, else dsgate.yaml's
    cluster.podSecurity.namespaces, else what the charts rendered into it declare (DECLARED), else the default."""
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
    return {
        ns: from_input.get(ns) or configured.get(ns) or declared.get(ns) or default_level for ns in dict.fromkeys(used)
    }


def most_permissive(levels: Iterable[str]) -> str:
    """Of several levels asked for one namespace, the one that admits them all."""
    return min(levels, key=PSA_LEVELS.index)


def verdicts(
    doc: Document, namespace: str, level: str, answer: tuple[int, dict[str, Any], list[str]]
) -> list[Rejection]:
    """The rejections of one dry-run answer. Pod Security's (a Pod refused, a workload warned that its
    pods would be) carry the namespace's LEVEL: they are policy findings, not schema errors."""
    code, status, warnings = answer
    out: list[Rejection] = []
    if code >= 300:
        causes = (status.get("details") or {}).get("causes") or []
        message = str(status.get("message", f"HTTP {code}"))
        if "violates PodSecurity" in message:
            out.append(Rejection(doc, "spec", _FORBIDDEN_POD.sub("", message), pod_security=level, namespace=namespace))
        elif causes:
            out.extend(
                Rejection(doc, str(c.get("field", "")), f"kube-apiserver: {c.get('message', message)}") for c in causes
            )
        else:
            out.append(Rejection(doc, "", f"kube-apiserver: {message}"))
    if doc.kind in POD_TEMPLATE_KINDS and doc.kind != "Pod":
        for warning in warnings:
            if "would violate PodSecurity" in warning:
                out.append(Rejection(doc, "spec.template.spec", warning, pod_security=level, namespace=namespace))
    return out


@dataclass
class Outcome:
    """What the server check found and did."""

    rejections: list[Rejection] = field(default_factory=list)
    unserved: list[Document] = field(
        default_factory=list
    )  # kinds the server does not serve: JSON schemas alone check them
    sent: int = 0  # distinct documents sent (created or dry-run)
    prepared: int = 0  # contexts whose prerequisites were created first


BARRIER = "dsgate-barrier"  # a PriorityClass of the gate's own, see _barrier
CACHED = ("LimitRange", "ResourceQuota")  # prerequisites admission reads through caches no probe can ask
_POD_PATHS = {"CronJob": ("spec", "jobTemplate", "spec", "template")}
_FORBIDDEN_POD = re.compile(r'^pods "[^"]*" is forbidden: ')


def probe_pod(doc: Document) -> tuple[str, dict[str, Any]] | None:
    """(path of the pod spec, the pod) a workload's controller would create from DOC's template."""
    if doc.kind not in POD_TEMPLATE_KINDS or doc.kind in ("Pod", "PodTemplate"):
        return None
    path = _POD_PATHS.get(doc.kind, ("spec", "template"))
    template: Any = doc.obj
    for key in path:
        template = template.get(key) if isinstance(template, dict) else None
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return None
    meta = template.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    pod_meta = {k: v for k, v in meta.items() if k in ("labels", "annotations")} | {"name": "dsgate-probe"}
    return ".".join((*path, "spec")), {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": template["spec"],
    }


def pod_verdicts(doc: Document, answer: tuple[int, dict[str, Any], list[str]] | None, path: str) -> list[Rejection]:
    """What admission does to the pods of an accepted workload: the workload controller's pods are
    refused (a PriorityClass or RuntimeClass that does not exist, the namespace's quota or limits).
    Pod Security is reported from the workload's own warnings, validation from the workload itself."""
    if answer is None or answer[0] < 300:
        return []
    status = answer[1]
    message = str(status.get("message", ""))
    if status.get("reason") != "Forbidden" or "PodSecurity" in message:
        return []
    return [
        Rejection(doc, path, f"kube-apiserver: the pods it would create are refused: {_FORBIDDEN_POD.sub('', message)}")
    ]


def _send(
    server: ApiServer, doc: Document, namespace: str, levels: dict[str, str], unserved: list[Document]
) -> list[Rejection]:
    if doc.kind == "Namespace" and doc.api_version == "v1":
        answer = server.dry_run(
            doc.obj, namespace
        )  # validated and admitted; it exists already (created as needed): 409
        return [] if answer is None or answer[0] == 409 else verdicts(doc, namespace, "", answer)
    answer = server.dry_run(doc.obj, namespace)
    if answer is None:
        unserved.append(doc)
        return []
    out = verdicts(doc, namespace, levels.get(namespace, ""), answer)
    probe = probe_pod(doc) if answer[0] < 300 else None
    if probe is not None:
        out.extend(pod_verdicts(doc, server.dry_run(probe[1], namespace), probe[0]))
    return out


def _admitted(server: ApiServer, spec: dict[str, Any], expected: bool) -> Callable[[], bool]:
    """A condition: a pod with SPEC is admitted (EXPECTED True) or refused (False)."""
    return lambda: (not server.pod_refusal(spec)) == expected


def _barrier(server: ApiServer) -> None:
    """Wait until admission's caches have caught up with what was just written. The quota and limit
    plugins read informers (and, while those are empty, a 30 s cache of a live lookup): a PriorityClass
    written after them and seen by the Priority plugin's informer says they have caught up too."""
    marker = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": BARRIER}, "value": 0}
    server.create(marker, "")
    server.wait_for(_admitted(server, {"priorityClassName": BARRIER}, True), "admission to catch up")
    server.delete(marker, "")
    server.wait_for(_admitted(server, {"priorityClassName": BARRIER}, False), "admission to catch up")


def _create(
    server: ApiServer, pre: Sequence[tuple[Document, str]], created: list[tuple[Document, str]]
) -> list[Rejection]:
    """Create the prerequisites PRE for real, in order (a CRD until Established); their refusals."""
    out: list[Rejection] = []
    for doc, namespace in pre:
        if doc.kind == "CustomResourceDefinition":
            problem = server.apply_crd(doc.obj)
            if problem:
                out.append(Rejection(doc, "", f"kube-apiserver: {problem}"))
            else:
                created.append((doc, namespace))
            continue
        answer = server.create(doc.obj, namespace)
        if answer is None or answer[0] == 409:  # a kind not served; or the same name twice in one set, the first made
            continue
        if answer[0] >= 300:
            out.extend(verdicts(doc, namespace, "", (answer[0], answer[1], [])))
            continue
        created.append((doc, namespace))
        if doc.kind in prerequisites.PROBED:
            field_name, name = prerequisites.PROBED[doc.kind], doc.name
            server.wait_for(_admitted(server, {field_name: name}, True), f"admission to see {doc.kind} {name}")
    if any(doc.kind in CACHED for doc, _ in created):
        _barrier(server)
    return out


def _remove(server: ApiServer, created: Sequence[tuple[Document, str]]) -> None:
    """Delete what _create made, last first; wait until admission no longer sees a probed class."""
    for doc, namespace in reversed(created):
        server.delete(doc.obj, namespace)
        if doc.kind in prerequisites.PROBED:
            field_name, name = prerequisites.PROBED[doc.kind], doc.name
            server.wait_for(_admitted(server, {field_name: name}, False), f"admission to forget {doc.kind} {name}")
    if any(doc.kind in CACHED for doc, _ in created):
        _barrier(server)


def check(
    server: ApiServer, sets: Sequence[Sequence[tuple[Document, str]]], levels: dict[str, str], workers: int = 4
) -> Outcome:
    """Check the evaluation SETS (each a list of (document, namespace)) on SERVER as an apply of each
    set would go: every namespace in LEVELS created at its Pod Security level, then per context (see
    prerequisites) its CRDs, classes, quotas and limits created for real, every other
    document dry-run (a workload with the pod its controller would make), the prerequisites deleted."""
    out = Outcome()
    for namespace, level in sorted({**levels, PROBE_NAMESPACE: "privileged"}.items()):
        server.create_namespace(namespace, level)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for context in prerequisites.contexts(sets):
            created: list[tuple[Document, str]] = []
            out.rejections.extend(_create(server, context.prerequisites, created))
            out.prepared += bool(context.prerequisites)
            out.sent += len(context.prerequisites) + len(context.rest)
            for found in pool.map(lambda item: _send(server, item[0], item[1], levels, out.unserved), context.rest):
                out.rejections.extend(found)
            _remove(server, created)
    return out


def unique_documents(
    batches: Iterable[tuple[Sequence[Document], str]], skip: Callable[[Document], bool]
) -> list[tuple[Document, str]]:
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
