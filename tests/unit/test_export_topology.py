"""dsgate cluster export-topology's core (topology_from_nodes): a cluster's nodes back to pools, no cluster."""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.cluster.topology import load_topology, parse_topology, topology_from_nodes
from dsgate.paths import DEFAULT_TOPOLOGY

pytestmark = pytest.mark.unit


def _nodes_shape(nodes: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Each node without its name and addresses: labels, taints, allocatable (as sortable text)."""
    drop = {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    return sorted(
        (
            str(sorted((k, v) for k, v in n["metadata"]["labels"].items() if k not in drop)),
            str(sorted(map(str, n["spec"].get("taints") or []))),
            str(sorted(n["status"]["allocatable"].items())),
            str(sorted(n["status"]["capacity"].items())),
        )
        for n in nodes
    )


@pytest.mark.parametrize("name", ["topology.yaml", "gpu.yaml", "1000-nodes.yaml"])
def test_round_trip(name: str) -> None:
    """The nodes of a topology export to pools that make the same nodes: labels, taints, resources, counts."""
    original = load_topology(DEFAULT_TOPOLOGY.with_name(name))
    data, names = topology_from_nodes(original.nodes())
    exported = parse_topology(data)
    assert _nodes_shape(exported.nodes()) == _nodes_shape(original.nodes())
    assert set(exported.zones) <= set(original.zones)
    assert names == {}  # names are dropped unless asked


def test_names_and_addresses_are_dropped_unless_asked() -> None:
    nodes = load_topology(DEFAULT_TOPOLOGY).nodes()
    data, names = topology_from_nodes(nodes, keep_names=True)
    text = str(data)
    assert "worker-3" not in text and "10.1.0" not in text
    assert names["m5-2xlarge"][:2] == ["worker-0", "worker-1"] and names["control-plane"] == ["control-plane-0"]
