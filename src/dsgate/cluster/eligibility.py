"""Which nodes a daemon pod belongs on: the DaemonSet controller's rules (node selector, required
node affinity, taints against the pod's tolerations plus the ones the controller adds itself).
The deploy stage checks a rollout against it; observe says why a node has no pod."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dsgate.k8s import requirement_matches

# Tolerations the DaemonSet controller adds to every daemon pod (pkg/controller/daemon/util).
DAEMONSET_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def _field_expression_matches(expr: dict[str, Any], node: dict[str, Any]) -> bool:
    if expr.get("key") != "metadata.name":
        return False
    name, values = node["metadata"]["name"], expr.get("values") or []
    if expr.get("operator") == "In":
        return name in values
    if expr.get("operator") == "NotIn":
        return name not in values
    return False


def _term_matches(term: dict[str, Any], node: dict[str, Any]) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term selects nothing
    labels = node["metadata"].get("labels") or {}
    return all(
        requirement_matches(e.get("key", ""), e.get("operator", ""), e.get("values") or [], labels) for e in exprs
    ) and all(_field_expression_matches(f, node) for f in fields)


def tolerates(tolerations: Sequence[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Whether any toleration tolerates TAINT (the core/v1 ToleratesTaint rules)."""
    for tol in tolerations:
        effect = tol.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        op = tol.get("operator") or "Equal"
        key = tol.get("key") or ""
        if op == "Exists":
            if not key or key == taint.get("key"):
                return True
        elif key == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def daemon_tolerations(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's tolerations plus the ones the DaemonSet controller adds to every daemon pod."""
    out = [*(pod_spec.get("tolerations") or []), *DAEMONSET_TOLERATIONS]
    if pod_spec.get("hostNetwork"):
        out.append(HOST_NETWORK_TOLERATION)
    return out


def ineligibility(node: dict[str, Any], pod_spec: dict[str, Any]) -> str | None:
    """Why a daemon pod with POD_SPEC does not belong on NODE, or None if it does."""
    labels = node["metadata"].get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return f"nodeSelector {key}={value} does not match"
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is not None and not any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or []):
        return "required node affinity does not match"
    tolerations = daemon_tolerations(pod_spec)
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return f"taint {taint.get('key')}{'=' + taint['value'] if taint.get('value') else ''}:{taint.get('effect')} is not tolerated"
    return None


def eligible_nodes(nodes: Sequence[dict[str, Any]], pod_spec: dict[str, Any]) -> list[str]:
    """Names of the nodes a DaemonSet with POD_SPEC must run one pod on."""
    return sorted(n["metadata"]["name"] for n in nodes if ineligibility(n, pod_spec) is None)
