"""Topology file parsing and the Node objects it expands to (no cluster needed)."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.cluster.topology import (
    CONTROL_PLANE_LABEL,
    DEFAULT_TOPOLOGY,
    MAX_NODES_PER_POOL,
    MAX_POOLS,
    TopologyError,
    load_topology,
    parse_duration_ms,
    parse_topology,
    pod_cidr,
    stage_documents,
)
from dsgate.versions import kubernetes_version

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = yamlc.safe_load(DEFAULT_TOPOLOGY.read_text())


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with the dotted PATH (list indexes as numbers) set to VALUE."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return data


def test_default_topology_is_one_control_plane_and_ten_workers() -> None:
    topology = load_topology()
    nodes = topology.nodes()
    assert [(p.name, p.count) for p in topology.pools] == [("control-plane", 1), ("worker", 10), ("gpu", 0)]
    assert len(nodes) == 11
    assert topology.pod_ready_delay_ms == 2000
    assert topology.pod_ready_jitter_ms == 1000


def test_nodes_look_like_ordinary_linux_kubelets() -> None:
    nodes = load_topology().nodes()
    names = [n["metadata"]["name"] for n in nodes]
    assert len(set(names)) == len(names)
    ips = [n["status"]["addresses"][0]["address"] for n in nodes]
    assert len(set(ips)) == len(ips)
    cidrs = [n["spec"]["podCIDR"] for n in nodes]
    assert len(set(cidrs)) == len(cidrs)
    for node in nodes:
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] == "amd64"
        assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
        assert labels["node.kubernetes.io/instance-type"]
        assert labels["topology.kubernetes.io/zone"] in ("zone-a", "zone-b", "zone-c")
        assert not any(k.startswith("kwok") or "kwok.x-k8s.io" in k for k in labels)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == kubernetes_version()
        for resource in ("cpu", "memory", "pods"):
            assert resource in node["status"]["capacity"] and resource in node["status"]["allocatable"]


@pytest.mark.parametrize(
    ("name", "expected_taints", "expected_control_plane_label"),
    [
        pytest.param(
            "control-plane-0", [{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}], True, id="control-plane-tainted"
        ),
        pytest.param("worker-0", None, False, id="worker-untainted"),
        pytest.param("worker-9", None, False, id="last-worker-untainted"),
    ],
)
def test_only_control_plane_nodes_are_tainted(
    name: str, expected_taints: list[dict[str, str]] | None, expected_control_plane_label: bool
) -> None:
    node = next(n for n in load_topology().nodes() if n["metadata"]["name"] == name)
    assert node["spec"].get("taints") == expected_taints
    assert (CONTROL_PLANE_LABEL in node["metadata"]["labels"]) is expected_control_plane_label


def test_gpu_pool_carries_gpu_label_and_resource() -> None:
    topology = parse_topology(_with("pools.2.count", 2))
    gpu = [n for n in topology.nodes() if n["metadata"]["name"].startswith("gpu-")]
    assert [n["metadata"]["name"] for n in gpu] == ["gpu-0", "gpu-1"]
    for node in gpu:
        assert node["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
        assert "taints" not in node["spec"]


def test_explicit_allocatable_differs_from_capacity() -> None:
    worker = next(n for n in load_topology().nodes() if n["metadata"]["name"] == "worker-0")
    assert worker["status"]["capacity"]["cpu"] == "8"
    assert worker["status"]["allocatable"]["cpu"] == "7800m"


@pytest.mark.parametrize(
    ("data", "expected_message"),
    [
        pytest.param(_with("podReadyDelay", "soon"), "podReadyDelay: expected a duration", id="bad-duration"),
        pytest.param(_with("colour", "blue"), "unknown key(s) colour", id="unknown-top-key"),
        pytest.param(_with("pools.1.cout", 3), "unknown key(s) cout", id="unknown-pool-key"),
        pytest.param(_with("pools.1.capacity.cpu", "lots"), "capacity.cpu: 'lots' is not a valid", id="bad-quantity"),
        pytest.param(_with("pools.1.capacity", {"memory": "1Gi", "pods": "10"}), "missing cpu", id="missing-cpu"),
        pytest.param(
            _with("pools.1.allocatable.cpu", "9"),
            "allocatable.cpu: 9 exceeds capacity 8",
            id="allocatable-over-capacity",
        ),
        pytest.param(
            _with("pools.1.name", "control-plane"), "duplicate pool name(s) control-plane", id="duplicate-pool"
        ),
        pytest.param(_with("pools.1.name", "Worker_1"), "is not a DNS-1123 label", id="bad-pool-name"),
        pytest.param(_with("pools.1.count", -1), "count: expected an integer", id="negative-count"),
        pytest.param(_with("pools.1.role", "master"), "role: expected 'control-plane'", id="unknown-role"),
        pytest.param(
            _with("pools.2.labels", {"nvidia.com/gpu.present": True}), "quote values", id="unquoted-bool-label"
        ),
        pytest.param(
            _with("pools.1.taints", [{"key": "x", "effect": "Sometimes"}]),
            "needs a key and an effect",
            id="bad-taint-effect",
        ),
        pytest.param(_with("kind", "Cluster"), "kind must be Topology", id="wrong-kind"),
        pytest.param(_with("pools", []), "pools must be a non-empty list", id="no-pools"),
        pytest.param(
            {**_with("pools.0.count", 0), "pools": [{**BASE["pools"][1], "count": 0}]},
            "the pools have no nodes",
            id="zero-nodes",
        ),
    ],
)
def test_invalid_topology_names_the_key(data: dict[str, Any], expected_message: str) -> None:
    with pytest.raises(TopologyError) as err:
        parse_topology(data, "topo.yaml")
    assert expected_message in str(err.value)
    assert str(err.value).startswith("topo.yaml")


def test_missing_topology_file_is_a_clear_error(tmp_path: Any) -> None:
    with pytest.raises(TopologyError, match=r"cannot read topology file .*nope\.yaml"):
        load_topology(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        pytest.param("2s", 2000, id="seconds"),
        pytest.param("500ms", 500, id="milliseconds"),
        pytest.param("1.5s", 1500, id="fractional"),
        pytest.param("1m", 60000, id="minutes"),
        pytest.param(3, 3000, id="bare-number-is-seconds"),
        pytest.param("0s", 0, id="zero"),
    ],
)
def test_parse_duration(value: Any, expected_ms: int) -> None:
    assert parse_duration_ms(value, "x") == expected_ms


def test_stages_are_explicit_and_take_the_topology_delays() -> None:
    topology = parse_topology({**_with("podReadyDelay", "4s"), "podReadyJitter": "500ms", "podDeleteDelay": "250ms"})
    stages = {s["metadata"]["name"]: s for s in stage_documents(topology)}
    assert set(stages) == {
        "node-initialize",
        "node-heartbeat",
        "pod-ready",
        "pod-ready-again",
        "pod-crash",
        "pod-complete",
        "pod-delete",
    }
    assert all(s["apiVersion"] == "kwok.x-k8s.io/v1alpha1" and s["kind"] == "Stage" for s in stages.values())
    for name in ("pod-ready", "pod-ready-again"):
        assert stages[name]["spec"]["delay"] == {"durationMilliseconds": 4000, "jitterDurationMilliseconds": 4500}
    assert stages["pod-delete"]["spec"]["delay"] == {"durationMilliseconds": 250}
    assert {s["spec"]["resourceRef"]["kind"] for s in stages.values()} == {"Node", "Pod"}


@pytest.mark.parametrize(
    ("topology_file", "expected_nodes", "expected_pools"),
    [
        pytest.param("small.yaml", 11, 3, id="small"),
        pytest.param("gpu.yaml", 10, 3, id="gpu"),
        pytest.param("1000-nodes.yaml", 1000, 4, id="1000-nodes"),
    ],
)
def test_example_topologies_load(topology_file: str, expected_nodes: int, expected_pools: int) -> None:
    topology = load_topology(DEFAULT_TOPOLOGY.parent / topology_file)
    nodes = topology.nodes()
    assert (len(nodes), len(topology.pools)) == (expected_nodes, expected_pools)
    for key in ("metadata.name", "ip", "podCIDR"):
        values = [
            n["metadata"]["name"]
            if key == "metadata.name"
            else n["status"]["addresses"][0]["address"]
            if key == "ip"
            else n["spec"]["podCIDR"]
            for n in nodes
        ]
        assert len(set(values)) == len(values), f"{key} collides"


@pytest.mark.parametrize(
    ("pool_index", "index", "expected_cidr"),
    [
        pytest.param(0, 0, "10.56.0.0/24", id="first"),
        pytest.param(0, 255, "10.56.255.0/24", id="node-255"),
        pytest.param(0, 256, "10.57.0.0/24", id="node-256-was-invalid"),
        pytest.param(1, 0, "10.66.0.0/24", id="second-pool"),
        pytest.param(MAX_POOLS - 1, MAX_NODES_PER_POOL - 1, "10.255.255.0/24", id="last"),
    ],
)
def test_pod_cidrs_stay_valid_past_255_nodes(pool_index: int, index: int, expected_cidr: str) -> None:
    assert pod_cidr(pool_index, index) == expected_cidr
    ipaddress.ip_network(expected_cidr)


def test_a_pool_takes_more_than_a_thousand_nodes() -> None:
    topology = parse_topology(_with("pools.1.count", 1200))
    nodes = topology.nodes()
    assert len(nodes) == 1201  # 1 control plane + 1200 workers (the gpu pool has 0)
    cidrs = {n["spec"]["podCIDR"] for n in nodes}
    assert len(cidrs) == 1201
    for cidr in cidrs:
        ipaddress.ip_network(cidr)


@pytest.mark.parametrize(
    ("data", "expected_message"),
    [
        pytest.param(
            _with("pools.1.count", MAX_NODES_PER_POOL + 1),
            f"count: expected an integer 0..{MAX_NODES_PER_POOL}",
            id="pool-too-big",
        ),
        pytest.param(
            _with("pools", [{**BASE["pools"][1], "name": f"p{i}"} for i in range(MAX_POOLS + 1)]),
            f"at most {MAX_POOLS} pools",
            id="too-many-pools",
        ),
    ],
)
def test_topology_limits(data: dict[str, Any], expected_message: str) -> None:
    with pytest.raises(TopologyError, match=expected_message):
        parse_topology(data, "topo.yaml")
