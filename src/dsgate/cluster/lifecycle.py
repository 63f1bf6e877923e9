"""The local Kubernetes cluster: a real control plane with kwok-simulated nodes.

`up`, `down` and `attach` (the CLI, `dsgate cluster up|down|status|kubeconfig`, is dsgate.cluster.cli;
the on-disk state and lock are dsgate.cluster.state, the processes and ports dsgate.cluster.components).

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the pinned binaries,
started by kwokctl's binary runtime; kwok simulates the kubelets. Everything listens on
127.0.0.1 at ports dsgate picks (random free ones below the ephemeral range, or --port for the
API server). Admission stays on (kwokctl's --kube-admission: the API server's default plugin
set, so Priority, PodSecurity and ValidatingAdmissionPolicy work). Nodes come from a topology
file (cluster/topology.yaml) and the kwok stages from cluster/stages/ (kwok itself has no
fallback stages; kwokctl would add its own "fast" ones if we gave none). Nothing is downloaded:
every binary kwokctl might fetch is given as a local path (kubectl included, which kwokctl runs
for its own health checks) and its HTTP(S) proxy points at a closed local port.

State lives in one directory per cluster, `$DSGATE_CLUSTER_ROOT/clusters/<name>` (default root
`<dsgate cache>/kwok`): kwokctl's files (pki, etcd data, logs, pids, kubeconfig.yaml) plus
dsgate's `dsgate-state.json`, written only once the cluster is fully up. Semantics:

- `up` on a running cluster with the same topology is idempotent: it says so and exits 0
  (so `make cluster-up` can be a prerequisite of other targets); with a different topology it
  exits 1 and asks for `down` first. It never starts a second control plane next to the first.
- `up` on a stale directory (processes gone, or an `up` that never finished) cleans it first.
- Any failure during `up` (including Ctrl-C) stops every process it started and removes the
  directory; the error is one line with the cause and the fix, then the relevant log tail.
- `down` stops the processes (SIGTERM, then SIGKILL) and removes the directory; with nothing
  running it says so and exits 0.
- up/down of the clusters under one root are serialised by a lock on the root directory.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsgate import yamlc
from dsgate.cluster.components import (
    component_pids,
    dead_component_detail,
    inspect,
    pick_ports,
    required_tools,
    teardown,
)
from dsgate.cluster.kwokctl import run_kwokctl, say
from dsgate.cluster.state import (
    COMPONENTS,
    DEFAULT_NAME,
    ClusterError,
    ClusterPaths,
    locked,
    paths_for,
)
from dsgate.cluster.topology import Topology, load_topology, node_manifest, parse_topology
from dsgate.net import LOCALHOST
from dsgate.paths import DEFAULT_TOPOLOGY
from dsgate.versions import kubernetes_version

__all__ = ["DEFAULT_NAME", "DEFAULT_TIMEOUT", "ClusterError", "LocalCluster", "attach", "down", "topology_digest", "up"]


class _LazyKube:
    """dsgate.cluster.kube, imported on first use (keeps `dsgate cluster kubeconfig` instant)."""

    def __getattr__(self, name: str) -> Any:
        from dsgate.cluster import kube as module

        return getattr(module, name)


if TYPE_CHECKING:  # the kubernetes client is slow to import: only the commands that talk to the API load it
    from kubernetes.client import ApiClient
    from kubernetes.dynamic import DynamicClient

    from dsgate.cluster import kube
else:
    kube = _LazyKube()

DEFAULT_TIMEOUT = 180.0


def _https_ok(port: int, path: str = "/healthz") -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://{LOCALHOST}:{port}{path}", context=ctx, timeout=2) as resp:
            status: int = resp.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class LocalCluster:
    """A running local cluster; what `up` returns and the test fixtures hold."""

    paths: ClusterPaths
    topology: Topology
    ports: dict[str, int]
    up_seconds: float = 0.0
    already_running: bool = False
    _api: ApiClient | None = field(default=None, repr=False)
    _dyn: DynamicClient | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.paths.name

    @property
    def kubeconfig(self) -> Path:
        return self.paths.kubeconfig

    @property
    def server(self) -> str:
        return f"https://{LOCALHOST}:{self.ports['kube-apiserver']}"

    def api(self) -> ApiClient:
        if self._api is None:
            self._api = kube.api_client(self.kubeconfig)
        return self._api

    def dynamic(self) -> DynamicClient:
        if self._dyn is None:
            self._dyn = kube.dynamic_client(self.kubeconfig, self.api())
        return self._dyn

    def nodes(self) -> list[dict[str, Any]]:
        return list(kube.get_json(self.api(), "/api/v1/nodes")["items"])

    def add_node(self, pool: str = "worker", wait: float = 60.0) -> str:
        """Register the next node of POOL (as a new kubelet would); wait until it is Ready."""
        index_of = {p.name: i for i, p in enumerate(self.topology.pools)}
        if pool not in index_of:
            raise ClusterError(f"topology has no pool {pool!r} (pools: {', '.join(index_of)})")
        taken = {n["metadata"]["name"] for n in self.nodes()}
        index = 0
        while f"{pool}-{index}" in taken:
            index += 1
        manifest = node_manifest(self.topology, index_of[pool], index)
        kube.create(self.dynamic(), manifest)
        name: str = manifest["metadata"]["name"]
        if wait:
            kube.wait_for(
                f"node {name} Ready",
                lambda: kube.node_ready(kube.get_or_none(self.dynamic(), "v1", "Node", name) or {}),
                wait,
            )
        return name

    def wait_nodes_ready(self, names: list[str], timeout: float) -> None:
        wanted = set(names)

        def probe() -> bool:
            ready = {n["metadata"]["name"] for n in self.nodes() if kube.node_ready(n)}
            return wanted <= ready

        def detail() -> str:
            # Why, by kind (Ready condition, unhealthy taint): a slow start and flapping look alike by name.
            why: dict[str, list[str]] = {}
            for node in self.nodes():
                name = node["metadata"]["name"]
                if name in wanted and not kube.node_ready(node):
                    taints = sorted(
                        str(t.get("key", "")).rpartition("/")[2] for t in (node.get("spec") or {}).get("taints") or []
                    )
                    why.setdefault(
                        f"Ready={kube.condition(node, 'Ready') or 'absent'} taints={','.join(taints) or 'none'}", []
                    ).append(name)
            kinds = "; ".join(
                f"{len(names)} {kind} (e.g. {', '.join(sorted(names)[:5])})" for kind, names in sorted(why.items())
            )
            return f"{sum(len(v) for v in why.values())} not Ready: {kinds}"

        kube.wait_for(
            f"{len(wanted)} nodes to be Ready",
            probe,
            timeout,
            interval=1.0 if len(wanted) > 100 else 0.25,
            on_timeout=detail,
        )

    def down(self) -> list[str]:
        return down(self.paths.name, self.paths.root, quiet=True)


def _ports_and_tools(api_port: int) -> tuple[dict[str, int], dict[str, Path]]:
    """Step 1: the ports of every component (the API server's checked free) and the pinned binaries."""
    api, others = pick_ports(api_port, 5)
    tools = required_tools()  # ToolMissing names the command that installs them
    ports = dict(
        zip(("etcd", "etcd-peer", "kube-controller-manager", "kube-scheduler", "kwok-controller"), others, strict=True)
    )
    ports["kube-apiserver"] = api
    return ports, tools


def _alive_or_fail(paths: ClusterPaths) -> None:
    dead = [c for c in COMPONENTS if c not in component_pids(paths)]
    if dead:
        raise ClusterError(
            f"{', '.join(dead)} exited during start-up (port taken or bad flag?); see the log lines below\n{dead_component_detail(paths)}"
        )


def _wait_serving(cluster: LocalCluster, deadline: float, quiet: bool) -> None:
    """Step 3: the API server is ready, the controller manager and the scheduler are healthy."""
    paths, ports = cluster.paths, cluster.ports

    def api_ready() -> bool:
        _alive_or_fail(paths)
        status, body = kube.raw_get(cluster.api(), "/readyz")
        return status == 200 and body.strip() == "ok"

    say("waiting for the API server (/readyz)", quiet)
    kube.wait_for(
        "kube-apiserver /readyz", api_ready, _remaining(deadline), on_timeout=lambda: dead_component_detail(paths)
    )

    def controllers_healthy() -> bool:
        _alive_or_fail(paths)
        return _https_ok(ports["kube-controller-manager"]) and _https_ok(ports["kube-scheduler"])

    kube.wait_for("kube-controller-manager and kube-scheduler /healthz", controllers_healthy, _remaining(deadline))


def _register_nodes(cluster: LocalCluster, deadline: float, quiet: bool) -> None:
    """Step 4: the topology's nodes are registered and Ready, the default ServiceAccount exists."""
    paths, topology = cluster.paths, cluster.topology
    dyn = cluster.dynamic()
    nodes = topology.nodes()
    say(
        f"registering {len(nodes)} simulated nodes ({', '.join(f'{p.count} {p.name}' for p in topology.pools if p.count)})",
        quiet,
    )
    kube.create_all(dyn, nodes, ignore_existing=True)

    def default_sa() -> bool:
        _alive_or_fail(paths)
        return kube.get_or_none(dyn, "v1", "ServiceAccount", "default", "default") is not None

    kube.wait_for("the default ServiceAccount (service-account controller)", default_sa, _remaining(deadline))
    cluster.wait_nodes_ready([n["metadata"]["name"] for n in nodes], _remaining(deadline))
    _alive_or_fail(paths)


def _write_state(cluster: LocalCluster, topology_raw: dict[str, Any]) -> None:
    """Step 5: dsgate-state.json, written last (atomically): its presence means "fully up"."""
    paths = cluster.paths
    state = {
        "name": paths.name,
        "server": cluster.server,
        "kubeconfig": str(paths.kubeconfig),
        "ports": cluster.ports,
        "topology_file": cluster.topology.source,
        "topology": topology_raw,
        "topology_digest": topology_digest(topology_raw),
        "kubernetes_version": kubernetes_version(),
        "started_unix": time.time(),
        "up_seconds": round(cluster.up_seconds, 2),
    }
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.rename(paths.state)


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 1.0)


def _start(
    paths: ClusterPaths, topology: Topology, topology_raw: dict[str, Any], api_port: int, timeout: float, quiet: bool
) -> LocalCluster:
    """Start the cluster in PATHS, in named steps, within TIMEOUT seconds."""
    started = time.monotonic()
    deadline = started + timeout
    ports, tools = _ports_and_tools(api_port)
    run_kwokctl(paths, topology, tools, ports, deadline, timeout, quiet)
    cluster = LocalCluster(paths, topology, ports)
    _wait_serving(cluster, deadline, quiet)
    _register_nodes(cluster, deadline, quiet)
    cluster.up_seconds = time.monotonic() - started
    _write_state(cluster, topology_raw)
    return cluster


def topology_digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]


def _read_topology(topology_file: Path | None) -> tuple[Topology, dict[str, Any]]:
    path = Path(topology_file) if topology_file else DEFAULT_TOPOLOGY
    topology = load_topology(path)
    raw = yamlc.safe_load(path.read_text())
    return topology, raw


def attach(name: str = DEFAULT_NAME, root: Path | None = None) -> LocalCluster:
    """The running cluster NAME (ClusterError if it is not running)."""
    paths = paths_for(name, root)
    st = inspect(paths)
    if st.state != "running":
        raise ClusterError(
            f"cluster {name!r} is not running ({st.reason or st.state}); start it with 'dsgate cluster up --name {name}'"
        )
    return LocalCluster(
        paths,
        parse_topology(st.info["topology"], st.info.get("topology_file", "<state>")),
        dict(st.info["ports"]),
        already_running=True,
    )


def up(
    topology_file: Path | None = None,
    name: str = DEFAULT_NAME,
    root: Path | None = None,
    api_port: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
    quiet: bool = False,
) -> LocalCluster:
    """Start cluster NAME (idempotent when it already runs with the same topology)."""
    paths = paths_for(name, root)
    topology, raw = _read_topology(topology_file)
    with locked(paths.root):
        st = inspect(paths)
        if st.state == "running":
            if st.info.get("topology_digest") != topology_digest(raw):
                raise ClusterError(
                    f"cluster {name!r} is already running with a different topology ({st.info.get('topology_file')}); "
                    f"run 'dsgate cluster down --name {name}' first"
                )
            if api_port and st.info["ports"]["kube-apiserver"] != api_port:
                raise ClusterError(
                    f"cluster {name!r} is already running with its API server on port {st.info['ports']['kube-apiserver']}, not {api_port}; "
                    f"run 'dsgate cluster down --name {name}' first"
                )
            say(f"cluster {name!r} is already running; nothing to do", quiet)
            return LocalCluster(paths, topology, dict(st.info["ports"]), already_running=True)
        if st.state == "stale":
            stopped = teardown(paths)
            say(
                f"removed stale cluster directory {paths.dir} ({st.reason}"
                + (f"; stopped {', '.join(stopped)})" if stopped else ")"),
                quiet,
            )
        try:
            return _start(paths, topology, raw, api_port, timeout, quiet)
        except BaseException as exc:
            cleanup_note = ""
            try:
                teardown(paths)
            except ClusterError as cleanup:
                cleanup_note = f"\n  clean-up also failed: {cleanup}"
            if isinstance(exc, TimeoutError):
                raise ClusterError(
                    f"cluster {name!r} did not become ready: {exc}; everything started was stopped{cleanup_note}"
                ) from None
            if isinstance(exc, ClusterError) and cleanup_note:
                raise ClusterError(f"{exc}{cleanup_note}") from None
            raise


def down(name: str = DEFAULT_NAME, root: Path | None = None, quiet: bool = False) -> list[str]:
    """Stop cluster NAME and remove its directory; a no-op (with a message) when nothing runs."""
    paths = paths_for(name, root)
    with locked(paths.root):
        st = inspect(paths)
        if st.state == "absent":
            say(f"cluster {name!r} is not running; nothing to do", quiet)
            return []
        stopped = teardown(paths)
    what = "stale cluster" if st.state == "stale" else "cluster"
    say(f"{what} {name!r} stopped ({', '.join(stopped) or 'no process was running'}) and {paths.dir} removed", quiet)
    return stopped
