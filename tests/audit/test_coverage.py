"""dsgate.audit.coverage on hand-built nodes and pods: the controller's and the scheduler's reasons, no cluster."""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.audit.coverage import LifecycleTaint, coverage, exposure, pod_requests, pods_by_node

pytestmark = pytest.mark.unit


def _node(
    name: str,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    cpu: str = "2",
    pods: str = "110",
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": pods}},
    }


def _ds(spec: dict[str, Any] | None = None, desired: int = 0) -> dict[str, Any]:
    pod = {
        "containers": [{"name": "agent", "image": "a:1", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
        **(spec or {}),
    }
    return {
        "metadata": {"name": "agent", "namespace": "ops", "uid": "u-1"},
        "spec": {"template": {"spec": pod}},
        "status": {"desiredNumberScheduled": desired},
    }


def _pod(
    node: str, owner: str = "", cpu: str = "0", ports: list[dict[str, Any]] | None = None, phase: str = "Running"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"p-{node}-{owner or 'other'}-{cpu}",
            "namespace": "ops",
            "ownerReferences": [{"uid": owner}] if owner else [],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}, "ports": ports or []}],
        },
        "status": {"phase": phase},
    }


CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("nodes", "ds", "pods", "expected_meant", "expected_missed"),
    [
        pytest.param(
            [_node("w1"), _node("w2")],
            _ds(desired=2),
            [_pod("w1", "u-1"), _pod("w2", "u-1")],
            ["w1", "w2"],
            [],
            id="everywhere",
        ),
        pytest.param(
            [_node("cp", taints=[CONTROL_PLANE]), _node("w1")],
            _ds(desired=1),
            [_pod("w1", "u-1")],
            ["w1"],
            [("cp", "taint", False)],
            id="control-plane-taint-not-tolerated",
        ),
        pytest.param(
            [_node("gpu", {"gpu": "yes"}), _node("w1")],
            _ds({"nodeSelector": {"gpu": "yes"}}, desired=1),
            [_pod("gpu", "u-1")],
            ["gpu"],
            [("w1", "selector", False)],
            id="selector-narrows",
        ),
        pytest.param(
            [_node("w1", cpu="1")],
            _ds(desired=1),
            [_pod("w1", cpu="950m")],
            ["w1"],
            [("w1", "resources", True)],
            id="node-too-full",
        ),
        pytest.param(
            [_node("w1", pods="1")],
            _ds(desired=1),
            [_pod("w1")],
            ["w1"],
            [("w1", "resources", True)],
            id="pod-count-full",
        ),
        pytest.param(
            [_node("w1")],
            _ds({"hostNetwork": True, "containers": [{"name": "a", "ports": [{"containerPort": 9100}]}]}, desired=1),
            [_pod("w1", ports=[{"containerPort": 9100, "hostPort": 9100}])],
            ["w1"],
            [("w1", "hostPort", True)],
            id="host-port-taken",
        ),
        pytest.param(
            [_node("w1", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])],
            _ds(desired=1),
            [_pod("w1", "u-1")],
            ["w1"],
            [],
            id="cordoned-node-still-covered",  # the controller adds the unschedulable toleration
        ),
        pytest.param(
            [_node("w1")],
            _ds(desired=1),
            [_pod("w1", cpu="1900m", phase="Succeeded")],
            ["w1"],
            [("w1", "unknown", True)],
            id="finished-pods-free-room",
        ),
    ],
)
def test_coverage(
    nodes: list[dict[str, Any]],
    ds: dict[str, Any],
    pods: list[dict[str, Any]],
    expected_meant: list[str],
    expected_missed: list[tuple[str, str, bool]],
) -> None:
    cov = coverage(ds, nodes, pods_by_node(pods))
    assert cov.meant == expected_meant
    assert [(m.node, m.kind, m.meant) for m in cov.missed] == expected_missed
    assert cov.differences == []


def test_status_disagreeing_with_the_computed_nodes_is_reported() -> None:
    cov = coverage(_ds(desired=3), [_node("w1")], pods_by_node([_pod("w1", "u-1")]))
    assert cov.differences == ["status.desiredNumberScheduled is 3; the nodes computed as meant for it are 1"]


@pytest.mark.parametrize(
    ("spec", "expected_cpu"),
    [
        pytest.param(
            {"containers": [{"resources": {"requests": {"cpu": "100m"}}}, {"resources": {"limits": {"cpu": "200m"}}}]},
            "0.3",
            id="limit-as-request",
        ),
        pytest.param(
            {
                "containers": [{"resources": {"requests": {"cpu": "100m"}}}],
                "initContainers": [{"resources": {"requests": {"cpu": "1"}}}],
            },
            "1",
            id="init-peak",
        ),
        pytest.param(
            {
                "containers": [{"resources": {"requests": {"cpu": "100m"}}}],
                "initContainers": [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}}],
            },
            "0.15",
            id="native-sidecar-adds",
        ),
        pytest.param(
            {"resources": {"requests": {"cpu": "250m"}}, "containers": [{"resources": {"requests": {"cpu": "1"}}}]},
            "0.25",
            id="pod-level-resources",
        ),
    ],
)
def test_pod_requests(spec: dict[str, Any], expected_cpu: str) -> None:
    assert str(pod_requests(spec)["cpu"].normalize()) == expected_cpu


@pytest.mark.parametrize(
    ("tolerations", "expected_exposed"),
    [
        pytest.param(
            [], ["ToBeDeletedByClusterAutoscaler:NoSchedule", "node.kubernetes.io/out-of-service:NoExecute"], id="none"
        ),
        pytest.param([{"operator": "Exists"}], [], id="tolerates-everything"),
        pytest.param(
            [{"operator": "Exists", "effect": "NoExecute"}],
            ["ToBeDeletedByClusterAutoscaler:NoSchedule"],
            id="noexecute-only",
        ),
    ],
)
def test_exposure(tolerations: list[dict[str, str]], expected_exposed: list[str]) -> None:
    taints = [
        LifecycleTaint(
            "node.kubernetes.io/not-ready", "NoExecute", "", "", ""
        ),  # the controller's own toleration covers it
        LifecycleTaint("ToBeDeletedByClusterAutoscaler", "NoSchedule", "", "", ""),
        LifecycleTaint("node.kubernetes.io/out-of-service", "NoExecute", "", "", ""),
    ]
    exposed = exposure(_ds({"tolerations": tolerations}), ["w1"], taints)
    assert [f"{e.taint.key}:{e.taint.effect}" for e in exposed] == expected_exposed
