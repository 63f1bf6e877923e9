"""Fixtures of the behaviour experiments: one small cluster per session, one 1,000-node cluster per module that asks for it.

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
from dsgate.cluster.components import component_pids
from dsgate.cluster.lifecycle import ClusterError, LocalCluster, down, up
from dsgate.paths import DEFAULT_TOPOLOGY
from dsgate.tools import ToolMissing
from tests.cluster.conftest import ClusterFactory

TOPOLOGY = Path(__file__).with_name("topology.yaml")
SCALE_TOPOLOGY = DEFAULT_TOPOLOGY.with_name("1000-nodes.yaml")


@pytest.fixture(scope="session")
def behaviour_cluster(cluster_factory: ClusterFactory) -> LocalCluster:
    return cluster_factory(TOPOLOGY, name=f"bhv-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def scale_cluster(cluster_root: Path) -> Iterator[LocalCluster]:
    """The 1,000-node cluster, for one module only: idle, its 1,000 node leases alone keep a core
    busy, so it is stopped as soon as the module is done rather than at the end of the session
    (where it would slow every test the worker runs after it)."""
    try:
        cluster = up(SCALE_TOPOLOGY, name=f"scale-{uuid.uuid4().hex[:6]}", root=cluster_root, timeout=300.0, quiet=True)
    except (ToolMissing, ClusterError) as exc:
        pytest.fail(f"cannot start the 1,000-node cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        down(cluster.name, cluster_root, quiet=True)
    assert not component_pids(cluster.paths) and not cluster.paths.dir.exists(), (
        f"cluster {cluster.name} left processes or files behind"
    )


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
