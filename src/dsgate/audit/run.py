"""`dsgate audit`: a live cluster's node agents against its real nodes.

Per DaemonSet: coverage (the nodes it is meant for, and every node it misses with one reason,
dsgate.audit.coverage), exposure to lifecycle taints, the rollout's length at this node count with
its current strategy (dsgate.cluster.rollout's calibrated model, as a range) and whether a
percentage budget is already used up by unavailable pods (the rollout would stall), and the policy
library's findings on the live objects, with dsgate.yaml's parameters and exemptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dsgate import yamlc
from dsgate.audit import coverage as cov
from dsgate.audit.snapshot import Snapshot
from dsgate.cluster import rollout
from dsgate.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.evaluate import EvaluationError, Finding, OpaServer

# The objects the policy library judges (cross-object rules need the budgets and classes too).
POLICY_LISTS = {
    "daemonsets": ("apps/v1", "DaemonSet"),
    "poddisruptionbudgets": ("policy/v1", "PodDisruptionBudget"),
    "priorityclasses": ("scheduling.k8s.io/v1", "PriorityClass"),
}


@dataclass
class RolloutView:
    """The rollout the DaemonSet's current strategy gives at this node count."""

    spec: str
    prediction: rollout.Prediction | None
    stall: str = ""  # why a rollout started now would not progress


@dataclass
class DaemonSetAudit:
    daemonset: dict[str, Any]
    coverage: cov.Coverage
    exposures: list[cov.Exposure]
    rollout: RolloutView
    findings: list[Finding] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.coverage.ref


@dataclass
class AuditResult:
    server: str
    nodes: int
    daemonsets: list[DaemonSetAudit] = field(default_factory=list)
    unknown_taints: dict[str, int] = field(default_factory=dict)  # key:effect -> nodes carrying it
    pools: dict[str, str] = field(default_factory=dict)  # node -> its pool (POOL_LABELS), for the coverage matrix
    unreadable: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def exit_code(self) -> int:
        if self.errors:
            return EXIT_ERROR
        failed = any(
            d.coverage.missing_meant
            or d.rollout.stall
            or any(f.severity == "deny" and not f.exempted for f in d.findings)
            for d in self.daemonsets
        )
        return EXIT_FINDINGS if failed or self.unreadable else EXIT_OK


# Where a node's pool is read, first label found: managed node pools (GKE, EKS, AKS, Karpenter), then the instance type.
POOL_LABELS = (
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool",
    "node.kubernetes.io/instance-type",
)


def pool_of(node: dict[str, Any]) -> str:
    labels = node["metadata"].get("labels") or {}
    if "node-role.kubernetes.io/control-plane" in labels:
        return "control-plane"
    return next((str(labels[k]) for k in POOL_LABELS if labels.get(k)), "nodes")


def lifecycle_taints() -> list[cov.LifecycleTaint]:
    """The documented lifecycle taints (dsgate/audit/lifecycle-taints.yaml)."""
    text = resources.files("dsgate.audit").joinpath("lifecycle-taints.yaml").read_text()
    return [
        cov.LifecycleTaint(
            key=t["key"], effect=t["effect"], value=str(t.get("value", "")), who=t["who"], source=t["source"]
        )
        for t in yamlc.safe_load(text)["taints"]
    ]


def _rollout_view(ds: dict[str, Any], meant: int, pod_ready_seconds: float) -> RolloutView:
    plan = rollout.budget(ds, meant)
    if plan.strategy != "RollingUpdate":
        return RolloutView(plan.spec, None)
    prediction = rollout.predict_waves(meant, plan, pod_ready_seconds + plan.min_ready_seconds)
    unavailable = int((ds.get("status") or {}).get("numberUnavailable", 0))
    stall = ""
    if plan.max_unavailable > 0 and unavailable >= plan.max_unavailable and not plan.max_surge:
        stall = (
            f"{unavailable} pods are unavailable already (on NotReady nodes or not ready), using up maxUnavailable "
            f"{plan.max_unavailable}: a rollout started now replaces nothing until they recover"
        )
    return RolloutView(plan.spec, prediction, stall)


def _unknown_taints(nodes: Sequence[dict[str, Any]], known: Sequence[cov.LifecycleTaint]) -> dict[str, int]:
    keys = {(t.key, t.effect) for t in known}
    out: dict[str, int] = {}
    for node in nodes:
        for taint in (node.get("spec") or {}).get("taints") or []:
            if (taint.get("key"), taint.get("effect")) not in keys and taint.get("effect") in (
                "NoSchedule",
                "NoExecute",
            ):
                label = f"{taint.get('key')}{'=' + taint['value'] if taint.get('value') else ''}:{taint.get('effect')}"
                out[label] = out.get(label, 0) + 1
    return out


def _clean(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A live object as a manifest: its kind (lists omit it) and no managedFields."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "apiVersion": api_version, "kind": kind, "metadata": meta}


def policy_findings(snap: Snapshot, policy_dir: Path, policy_data: dict[str, Any]) -> tuple[list[Finding], float]:
    """The library's findings on the live DaemonSets, budgets and priority classes (one evaluation set:
    the cluster), and the parameter rollout_pod_ready_seconds as the library sets it."""
    prov = Provenance(snap.server, "cluster")
    docs = [
        Document(_clean(o, av, kind), prov, i)
        for i, (name, (av, kind)) in enumerate(POLICY_LISTS.items())
        for o in snap.items(name)
    ]
    with OpaServer(policy_dir, data=policy_data) as opa:
        findings = opa.evaluate(docs) if docs else []
        parameters = opa.query([], "parameters")
    return findings, float(parameters["rollout_pod_ready_seconds"])


def audit(snap: Snapshot, policy_dir: Path, policy_data: dict[str, Any]) -> AuditResult:
    """Judge SNAP (see the module docstring)."""
    nodes = snap.items("nodes")
    result = AuditResult(server=snap.server, nodes=len(nodes), unreadable=dict(snap.unreadable))
    if "nodes" in snap.unreadable or "daemonsets" in snap.unreadable:
        result.errors.append(
            f"cannot audit without {' and '.join(n for n in ('nodes', 'daemonsets') if n in snap.unreadable)}: "
            + "; ".join(f"{n}: {w}" for n, w in snap.unreadable.items())
            + "; grant list on them (deploy/audit-clusterrole.yaml)"
        )
        return result
    result.pools = {n["metadata"]["name"]: pool_of(n) for n in nodes}
    taints = lifecycle_taints()
    result.unknown_taints = _unknown_taints(nodes, taints)
    pods = cov.pods_by_node(snap.items("pods"))
    pods_readable = "pods" not in snap.unreadable
    if not pods_readable:
        result.notes.append(
            f"pods could not be read ({snap.unreadable['pods']}): which nodes run each DaemonSet, resources and host ports are unknown"
        )
    try:
        findings, ready = policy_findings(snap, policy_dir, policy_data)
    except EvaluationError as exc:
        result.errors.append(f"policy evaluation failed: {exc}")
        return result
    by_resource: dict[str, list[Finding]] = {}
    for f in findings:
        by_resource.setdefault(f.resource, []).append(f)
    for ds in sorted(
        snap.items("daemonsets"), key=lambda d: (d["metadata"].get("namespace", ""), d["metadata"]["name"])
    ):
        c = cov.coverage(ds, nodes, pods) if pods_readable else cov.coverage_from_status(ds, nodes)
        entry = DaemonSetAudit(
            daemonset=ds,
            coverage=c,
            exposures=cov.exposure(ds, c.running, taints),
            rollout=_rollout_view(ds, len(c.meant), ready),
            findings=by_resource.get(f"DaemonSet/{c.namespace}/{c.name}", []),
        )
        result.daemonsets.append(entry)
    return result
