"""Fixtures of the behaviour experiments: one small cluster and one 1,000-node cluster per session.

All experiments of this directory share xdist_group "behaviour" (one worker, next to the "cluster"
group's control plane on the other), and each gets its own namespace, deleted afterwards. Tests
that change nodes put them back in their own finally blocks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube
from dsgate.cluster.lifecycle import LocalCluster
from dsgate.paths import DEFAULT_TOPOLOGY
from tests.cluster.conftest import ClusterFactory

TOPOLOGY = Path(__file__).with_name("topology.yaml")
SCALE_TOPOLOGY = DEFAULT_TOPOLOGY.with_name("1000-nodes.yaml")


@pytest.fixture(scope="session")
def behaviour_cluster(cluster_factory: ClusterFactory) -> LocalCluster:
    return cluster_factory(TOPOLOGY, name=f"bhv-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="session")
def scale_cluster(cluster_factory: ClusterFactory) -> LocalCluster:
    return cluster_factory(SCALE_TOPOLOGY, name=f"scale-{uuid.uuid4().hex[:6]}", timeout=300.0)


def _namespace(dyn: DynamicClient, labels: dict[str, str] | None = None) -> Iterator[str]:
    name = f"bx-{uuid.uuid4().hex[:8]}"
    kube.create(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
    try:
        yield name
    finally:
        kube.resource(dyn, "v1", "Namespace").delete(name=name)


@pytest.fixture
def dyn(behaviour_cluster: LocalCluster) -> DynamicClient:
    return behaviour_cluster.dynamic()


@pytest.fixture
def namespace(dyn: DynamicClient) -> Iterator[str]:
    yield from _namespace(dyn)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Where the test writes its plot (the test's own output directory)."""
    return tmp_path
