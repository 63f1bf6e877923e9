"""Where a local cluster lives on disk, its names and errors, and the lock that serialises up/down.

State lives in one directory per cluster, `$DSGATE_CLUSTER_ROOT/clusters/<name>` (default root
`<dsgate cache>/kwok`): kwokctl's files (pki, etcd data, logs, pids, kubeconfig.yaml) plus
dsgate's `dsgate-state.json`, written only once the cluster is fully up. up/down of the clusters
under one root are serialised by a lock on the root directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dsgate.errors import DsgateError
from dsgate.tools import cache_dir

DEFAULT_NAME = "dsgate"
# kwokctl component name -> the pinned tool that runs it.
COMPONENT_TOOLS = {
    "etcd": "etcd",
    "kube-apiserver": "kube-apiserver",
    "kube-controller-manager": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "kwok-controller": "kwok",
}
COMPONENTS = tuple(COMPONENT_TOOLS)
STATE_FILE = "dsgate-state.json"
KWOKCTL_CONFIG = "dsgate-kwokctl.yaml"
KWOKCTL_LOG = "dsgate-kwokctl.log"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


class ClusterError(DsgateError):
    """The cluster could not be started, stopped or reached. First line: cause and fix."""


class PortInUse(ClusterError):
    """A port the cluster needs is taken."""


def cluster_root() -> Path:
    """Directory holding every local cluster's state: $DSGATE_CLUSTER_ROOT or <cache>/kwok."""
    env = os.environ.get("DSGATE_CLUSTER_ROOT")
    return Path(env) if env else cache_dir() / "kwok"


@dataclass(frozen=True)
class ClusterPaths:
    name: str
    root: Path

    @property
    def dir(self) -> Path:
        return self.root / "clusters" / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig.yaml"

    @property
    def state(self) -> Path:
        return self.dir / STATE_FILE

    @property
    def bin_dir(self) -> Path:
        return self.dir / "bin"

    def pid_file(self, component: str) -> Path:
        return self.dir / "pids" / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.dir / "logs" / f"{component}.log"


def paths_for(name: str = DEFAULT_NAME, root: Path | None = None) -> ClusterPaths:
    if not _NAME.match(name):
        raise ClusterError(
            f"invalid cluster name {name!r}: use a DNS-1123 label of at most 40 characters (e.g. dsgate)"
        )
    return ClusterPaths(name=name, root=Path(root) if root else cluster_root())


@contextlib.contextmanager
def locked(root: Path, wait: bool = True) -> Iterator[bool]:
    """Exclusive lock on ROOT/clusters; yields False if WAIT is false and someone else holds it."""
    lock_dir = root / "clusters"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
