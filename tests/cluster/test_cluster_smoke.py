"""Smoke proof of the local cluster: a DaemonSet gets exactly one Ready pod per untainted node, and a new node gets one too."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dsgate import procs
from dsgate.cluster import kube
from dsgate.cluster.components import component_pids
from dsgate.cluster.lifecycle import LocalCluster
from dsgate.cluster.topology import CONTROL_PLANE_LABEL
from dsgate.versions import kubernetes_version

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

ROLLOUT_BUDGET = 60.0


def _daemonset(name: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                # No toleration at all: the DaemonSet must land on every untainted node as-is.
                "spec": {
                    "containers": [{"name": "agent", "image": "busybox:1.37.0", "command": ["sleep", "infinity"]}]
                },
            },
        },
    }


def _untainted(nodes: list[dict[str, Any]]) -> set[str]:
    return {
        n["metadata"]["name"]
        for n in nodes
        if not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in (n["spec"].get("taints") or []))
    }


def _ready_pods_by_node(cluster: LocalCluster, namespace: str, name: str) -> dict[str, list[dict[str, Any]]]:
    pods = kube.list_items(cluster.dynamic(), "v1", "Pod", namespace, f"app.kubernetes.io/name={name}")
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        out.setdefault(pod["spec"].get("nodeName") or "<unscheduled>", []).append(pod)
    return out


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_components_run_with_the_go_servers_collector_target(local_cluster: LocalCluster) -> None:
    """Every component kwokctl started inherited procs.go_server_env's GOGC (the suite sets none)."""
    pids = component_pids(local_cluster.paths)
    assert {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} <= set(pids), pids
    for name, pid in pids.items():
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"GOGC={procs.GO_SERVER_GC_PERCENT}".encode() in environ, name


def test_nodes_are_ordinary_and_only_the_control_plane_is_tainted(local_cluster: LocalCluster) -> None:
    nodes = local_cluster.nodes()
    assert len(nodes) >= 11
    for node in nodes:
        labels = node["metadata"]["labels"]
        taints = node["spec"].get("taints") or []
        assert labels["kubernetes.io/os"] == "linux"
        assert not any("kwok" in t["key"] for t in taints), taints
        if CONTROL_PLANE_LABEL in labels:
            assert taints == [{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}]
        else:
            assert taints == []
        assert kube.node_ready(node)
        assert node["status"]["allocatable"]["pods"] == "110"
    status, body = kube.raw_get(local_cluster.api(), "/version")
    assert status == 200
    assert json.loads(body)["gitVersion"] == kubernetes_version()


def test_daemonset_gets_one_ready_pod_per_untainted_node_then_on_a_new_node(local_cluster: LocalCluster) -> None:
    dyn = local_cluster.dynamic()
    namespace = f"smoke-{uuid.uuid4().hex[:6]}"
    name = "smoke-agent"
    kube.create(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    added: str | None = None
    try:
        untainted = _untainted(local_cluster.nodes())
        assert len(untainted) == 10
        start = time.monotonic()
        kube.create(dyn, _daemonset(name), namespace)

        def rolled_out(expected: set[str]) -> bool:
            by_node = _ready_pods_by_node(local_cluster, namespace, name)
            return set(by_node) == expected and all(len(p) == 1 and kube.pod_ready(p[0]) for p in by_node.values())

        kube.wait_for(
            f"one Ready pod on each of {len(untainted)} untainted nodes",
            lambda: rolled_out(untainted),
            ROLLOUT_BUDGET,
            on_timeout=lambda: str(
                {
                    n: [kube.pod_ready(p) for p in ps]
                    for n, ps in _ready_pods_by_node(local_cluster, namespace, name).items()
                }
            ),
        )
        elapsed = time.monotonic() - start
        by_node = _ready_pods_by_node(local_cluster, namespace, name)
        assert not any(CONTROL_PLANE_LABEL in n for n in by_node)
        # The kwok pod-ready stage delays readiness (2s + up to 1s jitter): rollouts take observable time.
        for pods in by_node.values():
            pod = pods[0]
            ready_at = next(c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready")
            assert _ts(ready_at) - _ts(pod["metadata"]["creationTimestamp"]) >= 1, pod["metadata"]["name"]
        print(f"DaemonSet ready on {len(untainted)} nodes in {elapsed:.1f}s")

        ds = kube.get_or_none(dyn, "apps/v1", "DaemonSet", name, namespace)
        assert ds is not None
        assert ds["status"]["desiredNumberScheduled"] == len(untainted)

        added = local_cluster.add_node("worker")
        kube.wait_for(f"a Ready pod on the new node {added}", lambda: rolled_out(untainted | {added}), ROLLOUT_BUDGET)
        kube.wait_for(
            "desiredNumberScheduled to count the new node",
            lambda: (
                (kube.get_or_none(dyn, "apps/v1", "DaemonSet", name, namespace) or {})
                .get("status", {})
                .get("numberAvailable")
                == len(untainted) + 1
            ),
            ROLLOUT_BUDGET,
        )
    finally:
        kube.resource(dyn, "v1", "Namespace").delete(name=namespace)
        if added:
            kube.resource(dyn, "v1", "Node").delete(name=added)
