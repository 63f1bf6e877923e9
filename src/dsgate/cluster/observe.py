"""Watching DaemonSets on a live cluster: status sampled over time, coverage per node, events.

Everything here reads the API's own view (DaemonSet status, pods, ControllerRevisions, events,
conditions); nothing is inferred from what we asked for. A `Timeline` is the list of samples a
poll loop took, each a flat mapping of counts at a time offset, plus marks (what the experiment
did when); `poll` samples until a condition holds or a deadline passes (never a fixed sleep).
`coverage` says, for every node without a pod of the DaemonSet, why: a taint it does not
tolerate, its node selector, its node affinity (those nodes are not eligible) or, for an eligible
node, the scheduler's own reason (resources, host ports) from the pending pod's condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube
from dsgate.cluster.eligibility import ineligibility
from dsgate.errors import DsgateError

REVISION_LABEL = "controller-revision-hash"


@dataclass
class Timeline:
    """Samples of counts over time (seconds from the start) and marks of what was done when."""

    title: str = ""
    started: float = field(default_factory=time.monotonic)
    samples: list[dict[str, float]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)

    def now(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def record(self, counts: dict[str, Any]) -> dict[str, float]:
        sample = {"t": self.now(), **{k: float(v) for k, v in counts.items()}}
        self.samples.append(sample)
        return sample

    def mark(self, label: str) -> None:
        self.marks.append((self.now(), label))

    def series(self, key: str) -> list[float]:
        return [s.get(key, 0.0) for s in self.samples]

    def max(self, key: str) -> int:
        return int(max(self.series(key), default=0))

    def last(self) -> dict[str, float]:
        return self.samples[-1] if self.samples else {}


class Stalled(DsgateError, TimeoutError):
    """The condition did not hold by the deadline; the last sample says where it stopped."""


class PollHooks(TypedDict, total=False):
    """How `poll` samples: every INTERVAL seconds (default 0.25); CHECK runs on every sample (an
    invariant: it raises to fail at the first sample that breaks it); ON_TIMEOUT() adds what the
    objects themselves say to a Stalled."""

    interval: float
    check: Callable[[dict[str, float]], None] | None
    on_timeout: Callable[[], str] | None


def poll(
    timeline: Timeline,
    sample: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, float]], bool],
    timeout: float,
    what: str,
    **hooks: Unpack[PollHooks],
) -> dict[str, float]:
    """Record SAMPLE() into TIMELINE until DONE(sample) or TIMEOUT seconds (see PollHooks); Stalled names WHAT."""
    interval, check, on_timeout = hooks.get("interval", 0.25), hooks.get("check"), hooks.get("on_timeout")
    deadline = time.monotonic() + timeout
    while True:
        current = timeline.record(sample())
        if check is not None:
            check(current)
        if done(current):
            return current
        if time.monotonic() >= deadline:
            shown = ", ".join(f"{k}={int(v) if k != 't' else v}" for k, v in current.items())
            detail = f"\n{on_timeout()}" if on_timeout is not None else ""
            raise Stalled(f"timed out after {timeout:.0f}s waiting for {what} (last sample: {shown}){detail}")
        time.sleep(interval)


# --------------------------------------------------------------------------- reading objects


def daemonset(dyn: DynamicClient, namespace: str, name: str) -> dict[str, Any]:
    obj = kube.get_or_none(dyn, "apps/v1", "DaemonSet", name, namespace)
    if obj is None:
        raise LookupError(f"DaemonSet {namespace}/{name} does not exist")
    return obj


def owned_pods(dyn: DynamicClient, ds: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods of DS (by owner uid), including ones being deleted."""
    selector = ",".join(f"{k}={v}" for k, v in (ds["spec"]["selector"].get("matchLabels") or {}).items())
    pods = kube.list_items(dyn, "v1", "Pod", ds["metadata"]["namespace"], selector or None)
    uid = ds["metadata"]["uid"]
    return [p for p in pods if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or [])]


def current_revision(dyn: DynamicClient, ds: dict[str, Any]) -> str:
    """The controller-revision-hash of DS's newest ControllerRevision ('' before the controller made one)."""
    uid = ds["metadata"]["uid"]
    revisions = [
        r
        for r in kube.list_items(dyn, "apps/v1", "ControllerRevision", ds["metadata"]["namespace"])
        if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])
    ]
    if not revisions:
        return ""
    newest = max(revisions, key=lambda r: int(r.get("revision") or 0))
    return str((newest["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))


def status_counts(ds: dict[str, Any]) -> dict[str, int]:
    """The DaemonSet controller's own counts (status), with unavailable = desired - available."""
    st = ds.get("status") or {}
    desired = int(st.get("desiredNumberScheduled", 0))
    available = int(st.get("numberAvailable", 0))
    return {
        "desired": desired,
        "current": int(st.get("currentNumberScheduled", 0)),
        "updated": int(st.get("updatedNumberScheduled", 0)),
        "ready": int(st.get("numberReady", 0)),
        "available": available,
        "unavailable": int(st.get("numberUnavailable", desired - available)),
        "misscheduled": int(st.get("numberMisscheduled", 0)),
        "observed": int(st.get("observedGeneration", 0) >= ds["metadata"].get("generation", 1)),
    }


def pod_counts(pods: list[dict[str, Any]], revision: str) -> dict[str, int]:
    """Counts from the pods themselves: total, on the new/old revision, Ready, Pending, terminating, nodes with more than one."""
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    by_node: dict[str, int] = {}
    for pod in live:
        node = pod["spec"].get("nodeName") or ""
        if node:
            by_node[node] = by_node.get(node, 0) + 1
    new = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision]
    return {
        "pods": len(live),
        "new": len(new),
        "old": len(live) - len(new),
        "new_ready": sum(1 for p in new if kube.pod_ready(p)),
        "pods_ready": sum(1 for p in live if kube.pod_ready(p)),
        "pending": sum(1 for p in live if (p.get("status") or {}).get("phase", "Pending") == "Pending"),
        "unschedulable": sum(1 for p in live if pod_scheduled_message(p)),
        "terminating": len(pods) - len(live),
        "doubled_nodes": sum(1 for n in by_node.values() if n > 1),
        "ready_nodes": len(
            {p["spec"].get("nodeName") for p in live if p["spec"].get("nodeName") and kube.pod_ready(p)}
        ),
    }


def sampler(dyn: DynamicClient, namespace: str, name: str, pods: bool = True) -> Callable[[], dict[str, Any]]:
    """A SAMPLE function for `poll`: the DaemonSet's status counts, plus the pods' counts when PODS."""

    def sample() -> dict[str, Any]:
        ds = daemonset(dyn, namespace, name)
        counts: dict[str, Any] = status_counts(ds)
        if pods:
            counts.update(pod_counts(owned_pods(dyn, ds), current_revision(dyn, ds)))
        return counts

    return sample


def settled(sample: dict[str, float]) -> bool:
    """The controller has observed the spec and every desired pod is updated and available."""
    return (
        bool(sample["observed"])
        and sample["updated"] == sample["desired"] == sample["available"]
        and sample["desired"] > 0
    )


def events(
    dyn: DynamicClient, namespace: str | None = None, name: str | None = None, reason: str | None = None
) -> list[dict[str, Any]]:
    """Core events, optionally about the object NAME and/or with REASON, oldest first."""
    items = kube.list_items(dyn, "v1", "Event", namespace)
    out = [
        e
        for e in items
        if (name is None or (e.get("involvedObject") or {}).get("name") == name)
        and (reason is None or e.get("reason") == reason)
    ]
    return sorted(out, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def unready_detail(dyn: DynamicClient, namespace: str, name: str, limit: int = 10) -> str:
    """Why pods of the DaemonSet NAMESPACE/NAME are not available: for each live pod that is not
    Ready (up to LIMIT), its node, phase, Ready condition and the node's Ready condition and taints."""
    ds = daemonset(dyn, namespace, name)
    pods = [p for p in owned_pods(dyn, ds) if not p["metadata"].get("deletionTimestamp") and not kube.pod_ready(p)]
    lines = [f"{len(pods)} pods of {namespace}/{name} not Ready:"]
    for pod in sorted(pods, key=lambda p: str(p["spec"].get("nodeName") or ""))[:limit]:
        node_name = pod["spec"].get("nodeName") or ""
        ready = _condition_text(pod, "Ready")
        node = kube.get_or_none(dyn, "v1", "Node", node_name) if node_name else None
        where = (
            f"node {node_name}"
            if node_name
            else f"unbound ({pod_scheduled_message(pod) or 'not scheduled yet'}, target {_target_node(pod)})"
        )
        node_text = ""
        if node is not None:
            taints = (
                ",".join(f"{t.get('key')}:{t.get('effect')}" for t in (node.get("spec") or {}).get("taints") or [])
                or "none"
            )
            node_text = f"; node Ready {_condition_text(node, 'Ready')}, taints {taints}"
        phase = (pod.get("status") or {}).get("phase", "?")
        lines.append(f"  {pod['metadata']['name']} on {where}: phase {phase}, Ready {ready}{node_text}")
    return "\n".join(lines)


def _condition_text(obj: dict[str, Any], kind: str) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            why = " ".join(str(cond[k]) for k in ("reason", "message") if cond.get(k))
            return f"{cond.get('status')} since {cond.get('lastTransitionTime')}" + (f" ({why})" if why else "")
    return "absent"


def pod_scheduled_message(pod: dict[str, Any]) -> str:
    """The scheduler's message on a pod it could not place ('' once scheduled)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "unschedulable")
    return ""


# --------------------------------------------------------------------------- coverage


@dataclass
class Coverage:
    """Where a DaemonSet has a pod, and why it has none elsewhere."""

    nodes: int
    eligible: list[str]
    scheduled: int
    available: int
    missing: list[dict[str, str]]  # {"node", "reason", "eligible": "true"/"false"}

    @property
    def missing_eligible(self) -> list[dict[str, str]]:
        return [m for m in self.missing if m["eligible"] == "true"]


def _reason_kind(message: str) -> str:
    lowered = message.lower()
    if "insufficient" in lowered or "too many pods" in lowered:
        return "resources"
    if "port" in lowered:
        return "host port"
    return "unschedulable"


def coverage(dyn: DynamicClient, ds: dict[str, Any], nodes: list[dict[str, Any]] | None = None) -> Coverage:
    """Coverage of DS over the live nodes, from its pods and each node's labels and taints."""
    nodes = nodes if nodes is not None else kube.list_items(dyn, "v1", "Node")
    spec = ds["spec"]["template"]["spec"]
    pods = [p for p in owned_pods(dyn, ds) if not p["metadata"].get("deletionTimestamp")]
    on_node: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        node = pod["spec"].get("nodeName") or _target_node(pod)
        on_node.setdefault(node, []).append(pod)
    eligible: list[str] = []
    missing: list[dict[str, str]] = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        why = ineligibility(node, spec)
        if why is None:
            eligible.append(name)
        scheduled = [p for p in on_node.get(name, []) if p["spec"].get("nodeName")]
        if scheduled:
            continue
        if why is not None:
            kind = (
                "taint not tolerated"
                if why.startswith("taint")
                else "selector"
                if why.startswith("nodeSelector")
                else "affinity"
            )
            missing.append({"node": name, "reason": f"{kind}: {why}", "eligible": "false"})
            continue
        pending = on_node.get(name, [])
        message = next((m for m in (pod_scheduled_message(p) for p in pending) if m), "")
        if message:
            missing.append({"node": name, "reason": f"{_reason_kind(message)}: {message}", "eligible": "true"})
        else:
            missing.append(
                {"node": name, "reason": "no pod yet (the controller has not created one)", "eligible": "true"}
            )
    st = status_counts(ds)
    return Coverage(
        nodes=len(nodes),
        eligible=eligible,
        scheduled=sum(1 for p in pods if p["spec"].get("nodeName")),
        available=st["available"],
        missing=missing,
    )


def _target_node(pod: dict[str, Any]) -> str:
    """The node a daemon pod is pinned to by the controller's matchFields affinity ('' if none)."""
    affinity = ((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in affinity.get("nodeSelectorTerms") or []:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == "metadata.name" and expr.get("values"):
                return str(expr["values"][0])
    return ""
