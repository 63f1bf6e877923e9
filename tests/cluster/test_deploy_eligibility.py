"""Which nodes a DaemonSet must run on: node selector, required node affinity, taints vs tolerations."""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.cluster.eligibility import eligible_nodes, ineligibility, tolerates

pytestmark = pytest.mark.unit

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def _node(
    name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", **(labels or {})}},
        "spec": {"taints": taints or []},
    }


NODES = [
    _node("cp-0", {"node-role.kubernetes.io/control-plane": ""}, [CP_TAINT]),
    _node("worker-0", {"topology.kubernetes.io/zone": "a"}),
    _node("worker-1", {"topology.kubernetes.io/zone": "b"}),
    _node("gpu-0", {"nvidia.com/gpu.present": "true", "topology.kubernetes.io/zone": "a"}),
    _node("dedicated-0", taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}]),
    _node("soft-0", taints=[{"key": "prefer", "value": "x", "effect": "PreferNoSchedule"}]),
    _node("cordoned-0", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
    _node("netdown-0", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
]
UNTAINTED = ["cordoned-0", "gpu-0", "soft-0", "worker-0", "worker-1"]


def _affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


@pytest.mark.parametrize(
    ("pod_spec", "expected_nodes"),
    [
        # No tolerations: tainted nodes are out, PreferNoSchedule and the controller's own tolerations are not.
        pytest.param({}, UNTAINTED, id="no-tolerations"),
        pytest.param(
            {
                "tolerations": [
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
                ]
            },
            sorted([*UNTAINTED, "cp-0"]),
            id="control-plane-toleration",
        ),
        # Toleration without effect covers every effect of that key.
        pytest.param(
            {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]},
            sorted([*UNTAINTED, "dedicated-0"]),
            id="equal-any-effect",
        ),
        pytest.param(
            {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web"}]},
            UNTAINTED,
            id="equal-wrong-value",
        ),
        pytest.param(
            {"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]},
            UNTAINTED,
            id="wrong-effect",
        ),
        # Empty key + Exists tolerates everything.
        pytest.param(
            {"tolerations": [{"operator": "Exists"}]}, sorted(n["metadata"]["name"] for n in NODES), id="tolerate-all"
        ),
        pytest.param(
            {"hostNetwork": True}, sorted([*UNTAINTED, "netdown-0"]), id="host-network-tolerates-network-unavailable"
        ),
        pytest.param({"nodeSelector": {"nvidia.com/gpu.present": "true"}}, ["gpu-0"], id="node-selector"),
        pytest.param({"nodeSelector": {"kubernetes.io/os": "windows"}}, [], id="node-selector-none"),
        pytest.param(
            {
                "affinity": _affinity(
                    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}
                )
            },
            ["gpu-0", "worker-0"],
            id="affinity-in",
        ),
        pytest.param(
            {
                "affinity": _affinity(
                    {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "DoesNotExist"}]}
                )
            },
            ["cordoned-0", "soft-0", "worker-0", "worker-1"],
            id="affinity-does-not-exist",
        ),
        # Terms are ORed.
        pytest.param(
            {
                "affinity": _affinity(
                    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["b"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["soft-0"]}]},
                )
            },
            ["soft-0", "worker-1"],
            id="affinity-terms-or",
        ),
        pytest.param({"affinity": _affinity({})}, [], id="affinity-empty-term-selects-nothing"),
        pytest.param({"affinity": {"nodeAffinity": {}}}, UNTAINTED, id="affinity-preferred-only"),
    ],
)
def test_eligible_nodes(pod_spec: dict[str, Any], expected_nodes: list[str]) -> None:
    assert eligible_nodes(NODES, pod_spec) == expected_nodes


@pytest.mark.parametrize(
    ("node", "pod_spec", "expected_reason"),
    [
        pytest.param(
            NODES[0], {}, "taint node-role.kubernetes.io/control-plane:NoSchedule is not tolerated", id="taint"
        ),
        pytest.param(NODES[4], {}, "taint dedicated=db:NoExecute is not tolerated", id="taint-with-value"),
        pytest.param(
            NODES[1], {"nodeSelector": {"disk": "ssd"}}, "nodeSelector disk=ssd does not match", id="selector"
        ),
        pytest.param(
            NODES[1],
            {
                "affinity": _affinity(
                    {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["worker-0"]}]}
                )
            },
            "required node affinity does not match",
            id="affinity",
        ),
        pytest.param(NODES[1], {}, None, id="eligible"),
    ],
)
def test_ineligibility_says_why(node: dict[str, Any], pod_spec: dict[str, Any], expected_reason: str | None) -> None:
    assert ineligibility(node, pod_spec) == expected_reason


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        pytest.param(
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            True,
            id="exact",
        ),
        pytest.param(
            {"key": "k", "value": "v"},
            {"key": "k", "value": "v", "effect": "NoExecute"},
            True,
            id="default-operator-equal",
        ),
        pytest.param(
            {"key": "k", "operator": "Exists"},
            {"key": "k", "value": "anything", "effect": "NoSchedule"},
            True,
            id="exists-ignores-value",
        ),
        pytest.param(
            {"key": "k", "operator": "Exists"}, {"key": "other", "effect": "NoSchedule"}, False, id="exists-other-key"
        ),
        pytest.param(
            {"key": "k", "operator": "Equal"},
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            False,
            id="equal-empty-value",
        ),
        pytest.param(
            {"key": "k", "operator": "Exists", "effect": "NoExecute"},
            {"key": "k", "effect": "NoSchedule"},
            False,
            id="effect-mismatch",
        ),
    ],
)
def test_tolerates(toleration: dict[str, str], taint: dict[str, str], expected: bool) -> None:
    assert tolerates([toleration], taint) is expected
