"""Cluster fixtures: real control planes started by the test session, always torn down.

`cluster_factory(topology=None, name=None)` starts a cluster under this session's own root
directory (a pytest temp dir) with a unique name and free ports, so parallel sessions never
collide, and stops every cluster it started at the end of the session, even after failures.
`local_cluster` is the session's shared cluster with the default topology (1 control-plane
node + 10 workers). A missing binary FAILS the tests that need a cluster; it never skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dsgate.cluster import ClusterError, LocalCluster, component_pids, down, up
from dsgate.tools import ToolMissing

ClusterFactory = Callable[..., LocalCluster]


@pytest.fixture(scope="session")
def cluster_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short path: it ends up in many command lines and in the kubeconfig.
    return tmp_path_factory.mktemp("kwok")


@pytest.fixture(scope="session")
def cluster_factory(cluster_root: Path) -> Iterator[ClusterFactory]:
    started: list[LocalCluster] = []

    def start(topology: Path | None = None, name: str | None = None, timeout: float = 180.0) -> LocalCluster:
        name = name or f"t{os.getpid() % 100000}-{uuid.uuid4().hex[:6]}"
        try:
            cluster = up(topology, name=name, root=cluster_root, timeout=timeout, quiet=True)
        except (ToolMissing, ClusterError) as exc:
            pytest.fail(f"cannot start the local cluster: {exc}", pytrace=False)
        started.append(cluster)
        return cluster

    yield start
    errors = []
    for cluster in started:
        try:
            down(cluster.name, cluster_root, quiet=True)
        except ClusterError as exc:
            errors.append(str(exc))
        if component_pids(cluster.paths) or cluster.paths.dir.exists():
            errors.append(f"cluster {cluster.name} left processes or files behind")
    assert not errors, "; ".join(errors)


@pytest.fixture(scope="session")
def local_cluster(cluster_factory: ClusterFactory) -> LocalCluster:
    return cluster_factory()
