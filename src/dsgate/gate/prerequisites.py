"""What the server check creates for real before it dry-runs the rest of an input, and in which order.

An input is applied as a whole: kubectl, Helm, Flux and Argo CD create the definitions other objects
depend on first (CRDs, then the cluster-scoped classes and the namespace's quota and limits, in
Helm's install order). Admission consults them: the Priority plugin refuses a pod
whose PriorityClass does not exist, RuntimeClass one whose RuntimeClass does not, ResourceQuota and
LimitRanger apply the namespace's quota and limits, a custom resource needs its CRD. So each
evaluation set (a chart scenario, an overlay, a GitOps cluster) gets its own prerequisites created,
and only its own: sets with the same prerequisites share one context, the sets without any share the
bare one, and a context's prerequisites are deleted before the next is made, so one source's
definitions never make another's documents pass. Namespaces are not among them: every namespace an
input uses is created as it needs (see dryrun). Nor are ServiceAccounts: no controller makes a
namespace's `default` account here, so the ServiceAccount admission plugin is off and nothing
consults them; they are dry-run like the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dsgate.gate.documents import Document

# (apiVersion, kind) in creation order: CRDs first (kubectl, Flux, Argo CD), then Helm's install order.
ORDER: tuple[tuple[str, str], ...] = (
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("networking.k8s.io/v1", "IngressClass"),
)
_RANK = {kind: i for i, kind in enumerate(ORDER)}
# The classes admission plugins look up through caches: a pod naming one is the probe that they see it.
PROBED = {"PriorityClass": "priorityClassName", "RuntimeClass": "runtimeClassName"}


def is_prerequisite(doc: Document) -> bool:
    return (doc.api_version, doc.kind) in _RANK


def _key(doc: Document, namespace: str) -> str:
    return namespace + "\0" + json.dumps(doc.obj, sort_keys=True)


@dataclass
class Context:
    """Documents dry-run together after PREREQUISITES were created (and deleted after them)."""

    prerequisites: list[tuple[Document, str]] = field(default_factory=list)
    rest: list[tuple[Document, str]] = field(default_factory=list)


def contexts(sets: Iterable[Sequence[tuple[Document, str]]]) -> list[Context]:
    """The contexts SETS (each a list of (document, namespace)) are checked in: one per distinct set
    of prerequisites, the bare one (none) first; each distinct document once per context."""
    by_prerequisites: dict[str, Context] = {}
    seen: dict[str, set[str]] = {}
    for docs in sets:
        pre = {_key(d, ns): (d, ns) for d, ns in docs if is_prerequisite(d)}
        ordered = sorted(
            pre.values(),
            key=lambda item: (_RANK[(item[0].api_version, item[0].kind)], item[1], item[0].name, _key(*item)),
        )
        fingerprint = "\n".join(_key(d, ns) for d, ns in ordered)
        context = by_prerequisites.setdefault(fingerprint, Context(ordered))
        known = seen.setdefault(fingerprint, set())
        for doc, namespace in docs:
            key = _key(doc, namespace)
            if not is_prerequisite(doc) and key not in known:
                known.add(key)
                context.rest.append((doc, namespace))
    return sorted(by_prerequisites.values(), key=lambda c: bool(c.prerequisites))
