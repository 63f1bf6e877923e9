"""Cluster fixtures: real control planes started by the test session, always torn down.

`cluster_factory(topology=None, name=None)` starts a cluster under this session's own root
directory (a pytest temp dir) with a unique name and free ports, so parallel sessions never
collide, and stops every cluster it started at the end of the session, even after failures.
`local_cluster` is the session's shared cluster with the default topology (1 control-plane
node + 10 workers). A missing binary FAILS the tests that need a cluster; it never skips them.

A session that is killed (SIGKILL, CI timeout) cannot run its teardown: its cluster would keep
running. Each session records its owner process in its root; the next session stops the
clusters of sessions whose owner is gone (and only those).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dsgate.cluster.components import component_pids, process_argv
from dsgate.cluster.lifecycle import ClusterError, LocalCluster, down, up
from dsgate.tools import ToolMissing

ClusterFactory = Callable[..., LocalCluster]


OWNER_FILE = "owner.json"


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _owner_alive(root: Path) -> bool:
    try:
        owner = json.loads((root / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return root.exists()  # no owner record: an unknown (older) session, leave it alone
    return _start_time(int(owner["pid"])) == owner["start"]


def reap_orphan_clusters() -> list[str]:
    """Stop the clusters of earlier test sessions that died without their teardown."""
    base = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"
    pattern = re.compile(
        rf"^({re.escape(str(base))}/pytest-\d+/(?:popen-gw\d+/)?kwok\d*)/clusters/([a-z0-9-]+)/bin/[^/]+$"
    )
    orphans: set[tuple[Path, str]] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = process_argv(int(entry.name))
            match = pattern.match(argv[0]) if argv else None
            if match and not _owner_alive(Path(match.group(1))):
                orphans.add((Path(match.group(1)), match.group(2)))
    for root, name in sorted(orphans):
        down(name, root, quiet=True)
    return sorted(f"{root}/clusters/{name}" for root, name in orphans)


@pytest.fixture(scope="session")
def cluster_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reap_orphan_clusters()
    # Short path: it ends up in many command lines and in the kubeconfig.
    root = tmp_path_factory.mktemp("kwok")
    (root / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "start": _start_time(os.getpid())}))
    return root


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
