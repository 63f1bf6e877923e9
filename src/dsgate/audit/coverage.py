"""Which nodes each DaemonSet of a live cluster covers, which it misses and why, and which it would
lose to a lifecycle taint: computed from the objects, the way the DaemonSet controller and the
scheduler decide.

A node is *meant* for a DaemonSet when its nodeSelector and required node affinity match and every
NoSchedule/NoExecute taint is tolerated, counting the tolerations the DaemonSet controller adds
itself (dsgate.cluster.eligibility: that is `desiredNumberScheduled`). A meant node can still be
*missed*: the pod's requests do not fit the node's allocatable minus what runs there already, or a
host port is taken by another pod. Cordoned nodes are not missed: the controller adds the
`node.kubernetes.io/unschedulable` toleration to every daemon pod.

What the model leaves out on purpose: preemption (a pod with a higher priority could evict others
to fit), pod overhead of RuntimeClasses, extended resources other than cpu, memory,
ephemeral-storage and pods, inter-pod (anti-)affinity and topology spread (daemon pods rarely use
them), volume limits and node ports of the volume binder, and soft (PreferNoSchedule) taints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dsgate.cluster.eligibility import daemon_tolerations, ineligibility, tolerates
from dsgate.k8s import parse_quantity

RESOURCES = ("cpu", "memory", "ephemeral-storage")
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Miss:
    """A node a DaemonSet does not run on: the kind of reason and its detail."""

    node: str
    kind: str  # taint | selector | affinity | hostPort | resources | unknown
    reason: str
    meant: bool  # the node is meant for the DaemonSet (counted in desiredNumberScheduled)


@dataclass
class Coverage:
    """One DaemonSet against the cluster's nodes."""

    namespace: str
    name: str
    meant: list[str] = field(default_factory=list)  # nodes the DaemonSet should run on
    running: list[str] = field(default_factory=list)  # nodes with a pod of the DaemonSet
    missed: list[Miss] = field(default_factory=list)  # every node without a pod, with why
    status_desired: int = 0  # the controller's status.desiredNumberScheduled
    differences: list[str] = field(default_factory=list)  # where the computed view and the cluster's disagree

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def missing_meant(self) -> list[Miss]:
        return [m for m in self.missed if m.meant]


def pod_spec(ds: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    return spec


def _quantity(value: Any) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError:
        return Decimal(0)


def _container_requests(container: dict[str, Any]) -> dict[str, Decimal]:
    res = container.get("resources") or {}
    requests = res.get("requests") or {}
    limits = res.get("limits") or {}
    # A container with a limit and no request gets the limit as its request (API defaulting).
    return {r: _quantity(requests.get(r, limits.get(r, 0))) for r in RESOURCES}


def pod_requests(spec: dict[str, Any]) -> dict[str, Decimal]:
    """What the scheduler counts for a pod: the pod-level resources when set (1.34+); else the larger of
    the long-running containers' sum (app containers plus native sidecars) and each init container's
    need while it runs (with the sidecars started before it)."""
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    if pod_level:
        return {r: _quantity(pod_level.get(r, 0)) for r in RESOURCES}
    steady = dict.fromkeys(RESOURCES, Decimal(0))
    for c in spec.get("containers") or []:
        for r, v in _container_requests(c).items():
            steady[r] += v
    sidecars = dict.fromkeys(RESOURCES, Decimal(0))
    peak = dict.fromkeys(RESOURCES, Decimal(0))
    for init in spec.get("initContainers") or []:
        needs = _container_requests(init)
        if init.get("restartPolicy") == "Always":  # a native sidecar runs on beside what follows
            for r, v in needs.items():
                sidecars[r] += v
                steady[r] += v
            continue
        for r in RESOURCES:
            peak[r] = max(peak[r], needs[r] + sidecars[r])
    return {r: max(steady[r], peak[r]) for r in RESOURCES}


def host_ports(spec: dict[str, Any]) -> set[tuple[int, str]]:
    """(port, protocol) the pod binds on its node: hostPorts, and every containerPort with hostNetwork."""
    out: set[tuple[int, str]] = set()
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for p in c.get("ports") or []:
            port = p.get("hostPort") or (p.get("containerPort") if spec.get("hostNetwork") else None)
            if port:
                out.add((int(port), str(p.get("protocol") or "TCP")))
    return out


def _live(pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") not in TERMINAL_PHASES and not p["metadata"].get("deletionTimestamp")
    ]


def owned_by(pod: dict[str, Any], ds: dict[str, Any]) -> bool:
    uid = ds["metadata"].get("uid")
    refs = pod["metadata"].get("ownerReferences") or []
    if uid:
        return any(r.get("uid") == uid for r in refs)
    return any(r.get("kind") == "DaemonSet" and r.get("name") == ds["metadata"]["name"] for r in refs) and pod[
        "metadata"
    ].get("namespace") == ds["metadata"].get("namespace")


def _kind(reason: str) -> str:
    for prefix, kind in (("taint", "taint"), ("nodeSelector", "selector"), ("required node affinity", "affinity")):
        if reason.startswith(prefix):
            return kind
    return "unknown"


def fit(node: dict[str, Any], spec: dict[str, Any], others: Sequence[dict[str, Any]]) -> Miss | None:
    """Why a pod with SPEC does not fit NODE next to the pods OTHERS already there (resources, host
    ports, the pod count), or None."""
    name = node["metadata"]["name"]
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    used = dict.fromkeys(RESOURCES, Decimal(0))
    for other in others:
        for r, v in pod_requests(other.get("spec") or {}).items():
            used[r] += v
    need = pod_requests(spec)
    short = [
        f"{r} {need[r].normalize()} requested, {(_quantity(allocatable[r]) - used[r]).normalize()} free of {allocatable[r]}"
        for r in RESOURCES
        if r in allocatable and need[r] > 0 and need[r] > _quantity(allocatable[r]) - used[r]
    ]
    if "pods" in allocatable and len(others) + 1 > int(_quantity(allocatable["pods"])):
        short.append(f"pods: {len(others)} of {allocatable['pods']} already run")
    taken = {port for other in others for port in host_ports(other.get("spec") or {})}
    clash = sorted(host_ports(spec) & taken)
    # The scheduler's filters run in order and a node fails at the first: NodePorts before
    # NodeResourcesFit. The kind is that first one; the reason names every problem.
    reasons = []
    if clash:
        reasons.append(
            "host port " + ", ".join(f"{p}/{proto}" for p, proto in clash) + " already used by another pod on the node"
        )
    if short:
        reasons.append("insufficient " + "; ".join(short))
    return Miss(name, "hostPort" if clash else "resources", "; ".join(reasons), True) if reasons else None


def coverage(
    ds: dict[str, Any], nodes: Sequence[dict[str, Any]], pods_by_node: dict[str, list[dict[str, Any]]]
) -> Coverage:
    """DS against NODES, with the live pods on each node (PODS_BY_NODE, every namespace)."""
    spec = pod_spec(ds)
    cov = Coverage(
        ds["metadata"].get("namespace", ""),
        ds["metadata"]["name"],
        status_desired=int((ds.get("status") or {}).get("desiredNumberScheduled", 0)),
    )
    for node in nodes:
        name = node["metadata"]["name"]
        here = _live(pods_by_node.get(name, []))
        own = [p for p in here if owned_by(p, ds)]
        why = ineligibility(node, spec)
        if why is None:
            cov.meant.append(name)
        if any(((p.get("spec") or {}).get("nodeName")) == name for p in own):
            cov.running.append(name)
            if why is not None:
                cov.differences.append(f"node {name} runs a pod of the DaemonSet although {why}")
            continue
        if why is not None:
            cov.missed.append(Miss(name, _kind(why), why, False))
            continue
        miss = fit(node, spec, [p for p in here if not owned_by(p, ds)])
        cov.missed.append(
            miss or Miss(name, "unknown", "meant for the DaemonSet, the pod fits, yet no pod runs there", True)
        )
    if cov.status_desired != len(cov.meant):
        cov.differences.append(
            f"status.desiredNumberScheduled is {cov.status_desired}; the nodes computed as meant for it are {len(cov.meant)}"
        )
    return cov


def coverage_from_status(ds: dict[str, Any], nodes: Sequence[dict[str, Any]]) -> Coverage:
    """DS against NODES when its pods cannot be read: the nodes meant for it, and that nothing is known
    of which run it (a difference, so the audit never reads an unreadable pod list as "no pods")."""
    spec = pod_spec(ds)
    cov = Coverage(
        ds["metadata"].get("namespace", ""),
        ds["metadata"]["name"],
        status_desired=int((ds.get("status") or {}).get("desiredNumberScheduled", 0)),
    )
    for node in nodes:
        why = ineligibility(node, spec)
        if why is None:
            cov.meant.append(node["metadata"]["name"])
        else:
            cov.missed.append(Miss(node["metadata"]["name"], _kind(why), why, False))
    status = ds.get("status") or {}
    cov.differences.append(
        f"pods unreadable: status says {status.get('currentNumberScheduled', 0)} scheduled, {status.get('numberAvailable', 0)} available "
        f"of {status.get('desiredNumberScheduled', 0)}; which nodes miss it is unknown"
    )
    return cov


def pods_by_node(pods: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            out.setdefault(node, []).append(pod)
    return out


@dataclass(frozen=True)
class LifecycleTaint:
    """A taint a well-known component puts on nodes during their life (upgrade, scale-down, spot reclaim)."""

    key: str
    effect: str
    value: str
    who: str
    source: str


@dataclass(frozen=True)
class Exposure:
    """Nodes that run the DaemonSet now and would lose it under TAINT."""

    taint: LifecycleTaint
    nodes: tuple[str, ...]
    consequence: str


def exposure(ds: dict[str, Any], running: Sequence[str], taints: Sequence[LifecycleTaint]) -> list[Exposure]:
    """For each lifecycle taint the DaemonSet's pods do not tolerate: the nodes running it now that it
    would leave (NoExecute: evicted at once) or could not come back to (NoSchedule: a rollout, a
    crash or an eviction during the window leaves the node without the agent)."""
    tolerations = daemon_tolerations(pod_spec(ds))
    out: list[Exposure] = []
    for t in taints:
        taint = {"key": t.key, "effect": t.effect, "value": t.value}
        if not running or tolerates(tolerations, taint):
            continue
        consequence = (
            "the pod is evicted when the taint lands"
            if t.effect == "NoExecute"
            else "a pod that restarts, is evicted or is rolled out while the taint is on cannot be placed again"
        )
        out.append(Exposure(t, tuple(running), consequence))
    return out
