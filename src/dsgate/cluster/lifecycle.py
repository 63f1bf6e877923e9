"""The local Kubernetes cluster: a real control plane with kwok-simulated nodes.

`dsgate cluster up|down|status|kubeconfig` (also `python -m dsgate.cluster.lifecycle ...`).

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

import argparse
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dsgate.cluster.topology import (
    Topology,
    TopologyError,
    load_topology,
    node_manifest,
    parse_topology,
    stage_documents,
)
from dsgate.paths import DEFAULT_TOPOLOGY
from dsgate.tools import ToolMissing, cache_dir, tool_path
from dsgate.versions import kubernetes_version, pinned


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
LOCALHOST = "127.0.0.1"
DEFAULT_TIMEOUT = 180.0
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


class ClusterError(RuntimeError):
    """The cluster could not be started, stopped or reached. First line: cause and fix."""


class PortInUse(ClusterError):
    """A port the cluster needs is taken."""


class MissingTool(ClusterError):
    """A pinned binary the cluster needs is not installed (wraps dsgate.tools.ToolMissing)."""


# --------------------------------------------------------------------------- paths and state


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
        raise ClusterError(f"invalid cluster name {name!r}: use a DNS-1123 label of at most 40 characters (e.g. dsgate)")
    return ClusterPaths(name=name, root=Path(root) if root else cluster_root())


@contextlib.contextmanager
def _locked(root: Path, wait: bool = True) -> Iterator[bool]:
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


# --------------------------------------------------------------------------- processes


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that never reaps it is not running)."""
    return _proc_state(pid) not in (None, "Z", "X")


def process_argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _is_component_of(pid: int, paths: ClusterPaths) -> bool:
    """PID runs one of this cluster's component binaries (kwokctl execs them from <dir>/bin)."""
    argv = process_argv(pid)
    return bool(argv) and argv[0].startswith(str(paths.bin_dir) + os.sep)


def component_pids(paths: ClusterPaths) -> dict[str, int]:
    """component -> pid, for every component of this cluster that is running now.

    From kwokctl's pid files, plus any process started from this cluster's bin/ directory
    whose pid file is missing (an interrupted start), so nothing is left behind. kwokctl's
    short-lived `<binary> --version` probes are not components.
    """
    found: dict[str, int] = {}
    for component in COMPONENTS:
        try:
            pid = int(paths.pid_file(component).read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(pid) and _is_component_of(pid, paths):
            found[component] = pid
    known = set(found.values())
    prefix = str(paths.bin_dir) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        argv = process_argv(pid)  # read once: the process may exit at any moment
        if pid in known or not argv or not argv[0].startswith(prefix) or argv[1:] in (["--version"], ["version"]) or not _alive(pid):
            continue
        name = Path(argv[0]).name
        found[name if name not in found else f"{name}[{pid}]"] = pid
    return found


def _stop_pids(pids: dict[str, int], grace: float = 5.0) -> list[str]:
    """Stop PIDS: SIGTERM, wait up to GRACE seconds, then SIGKILL. Returns what had to be killed.

    Clients of the API server go first, then the API server, then etcd: an API server whose
    etcd is gone retries for a long time before it exits, one with etcd up exits in about 1s.
    """
    order = {"kube-apiserver": 1, "etcd": 2}
    killed: list[str] = []
    for stage in (0, 1, 2):
        group = {c: p for c, p in pids.items() if order.get(c.split("[")[0], 0) == stage}
        for pid in group.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in group.values()):
            time.sleep(0.05)
        for component, pid in group.items():
            if _alive(pid):
                killed.append(component)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in group.values()):
            time.sleep(0.05)
    return killed


def _teardown(paths: ClusterPaths) -> list[str]:
    """Stop every process of the cluster and remove its directory. Returns the components stopped.

    Scans again until two scans in a row find nothing: a component kwokctl forked just before
    it was stopped may only show up a moment later.
    """
    stopped: set[str] = set()
    clean_scans = 0
    for _ in range(50):
        pids = component_pids(paths)
        if not pids:
            clean_scans += 1
            if clean_scans == 2:
                break
            time.sleep(0.2)
            continue
        clean_scans = 0
        stopped.update(c.split("[")[0] for c in pids)
        _stop_pids(pids)
    still = component_pids(paths)
    if still:
        raise ClusterError(f"could not stop {', '.join(f'{c} (pid {p})' for c, p in still.items())}; kill them and run 'dsgate cluster down' again")
    if paths.dir.exists():
        shutil.rmtree(paths.dir)
    return sorted(stopped)


# --------------------------------------------------------------------------- status


@dataclass
class ClusterStatus:
    """What is on disk and running for one cluster name."""

    paths: ClusterPaths
    state: str  # "absent" | "running" | "stale"
    pids: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def inspect(paths: ClusterPaths) -> ClusterStatus:
    pids = component_pids(paths)
    if not paths.dir.exists():
        if pids:  # processes outlived their directory: still ours to stop
            return ClusterStatus(paths, "stale", pids, reason="its directory is gone but processes still run")
        return ClusterStatus(paths, "absent")
    info: dict[str, Any] = {}
    if paths.state.exists():
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(paths.state.read_text())
    if not info:
        return ClusterStatus(paths, "stale", pids, reason="an earlier 'up' did not finish")
    missing = [c for c in COMPONENTS if c not in pids]
    if missing:
        return ClusterStatus(paths, "stale", pids, info, reason=f"{', '.join(missing)} not running")
    return ClusterStatus(paths, "running", pids, info)


# --------------------------------------------------------------------------- ports and tools


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _pick_ports(api_port: int, count: int) -> tuple[int, list[int]]:
    """The API server port (checked free) and COUNT other free ports on 127.0.0.1.

    Ports are drawn at random below the ephemeral range: the kernel hands ephemeral ports to
    outgoing connections (another cluster's clients, for one), which could take a port between
    this check and the component's bind; and random draws keep parallel sessions apart.
    """
    if api_port and not _port_free(api_port):
        raise PortInUse(f"port {api_port} on {LOCALHOST} is already in use; stop what listens there or pick another with --port (0 = any free port)")
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    wanted = count + (0 if api_port else 1)
    ports: list[int] = []
    for _ in range(1000):
        if len(ports) == wanted:
            break
        port = rng.randrange(20000, low) if low > 21000 else 0
        if port == 0:  # unusual port range: let the kernel choose
            with socket.socket() as sock:
                sock.bind((LOCALHOST, 0))
                port = sock.getsockname()[1]
        if port != api_port and port not in ports and _port_free(port):
            ports.append(port)
    if len(ports) < wanted:
        raise PortInUse(f"could not find {wanted} free ports on {LOCALHOST}; free some ports and retry")
    if not api_port:
        api_port = ports.pop()
    return api_port, ports


def required_tools() -> dict[str, Path]:
    """Every binary `up` runs; raises ToolMissing (with the fix) for the first one missing.

    kubectl is only for kwokctl, which shells out to it for its own health checks
    (`kubectl get --raw /version`) and would download one if none were found; dsgate itself
    talks to the API with the Python client.
    """
    return {tool: tool_path(tool) for tool in ("kwokctl", *COMPONENT_TOOLS.values(), "kubectl")}


# --------------------------------------------------------------------------- up


def _kwokctl_config(paths: ClusterPaths, topology: Topology, tools: dict[str, Path], ports: dict[str, int]) -> list[dict[str, Any]]:
    options = {
        "runtime": "binary",
        "bindAddress": LOCALHOST,
        "kubeVersion": kubernetes_version(),
        "kwokVersion": pinned()["KWOK_VERSION"],
        "securePort": True,
        "kubeAuthorization": True,
        # Admission on: the API server runs its default plugin set (never --admission-control=).
        "kubeAdmission": True,
        "quietPull": True,
        "cacheDir": str(paths.dir / "cache"),
        "etcdBinary": str(tools["etcd"]),
        "kubeApiserverBinary": str(tools["kube-apiserver"]),
        "kubeControllerManagerBinary": str(tools["kube-controller-manager"]),
        "kubeSchedulerBinary": str(tools["kube-scheduler"]),
        "kwokControllerBinary": str(tools["kwok"]),
        "kubectlBinary": str(tools["kubectl"]),
        "kubeApiserverPort": ports["kube-apiserver"],
        "etcdPort": ports["etcd"],
        "etcdPeerPort": ports["etcd-peer"],
        "kubeControllerManagerPort": ports["kube-controller-manager"],
        "kubeSchedulerPort": ports["kube-scheduler"],
        "kwokControllerPort": ports["kwok-controller"],
        # Real kubelet timings (kwokctl's default multiplies them by 5 to save CPU).
        "heartbeatFactor": 1,
        "nodeLeaseDurationSeconds": 40,
        "kubeControllerManagerNodeMonitorPeriodMilliseconds": 5000,
        "kubeControllerManagerNodeMonitorGracePeriodMilliseconds": 40000,
        "components": list(COMPONENTS),
    }
    config = {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokctlConfiguration", "options": options}
    return [config, *stage_documents(topology)]


def _kwokctl_env(paths: ClusterPaths, tools: dict[str, Path]) -> dict[str, str]:
    """kwokctl's environment: our kubectl first on PATH, no stray KWOK_* overrides, no network.

    HTTP(S)_PROXY points at a closed local port, so any download kwokctl might attempt fails
    at once instead of reaching the internet (Go never proxies 127.0.0.1, so the cluster's
    own traffic is unaffected).
    """
    shim = paths.dir / "dsgate-bin"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "kubectl"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(tools["kubectl"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("KWOK_") and k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}}
    env.update(
        KWOK_WORKDIR=str(paths.root),
        PATH=f"{shim}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def _dead_component_detail(paths: ClusterPaths) -> str:
    """Which component died, with its log tail (for error messages)."""
    running = component_pids(paths)
    parts = []
    for component in COMPONENTS:
        if component not in running and paths.log_file(component).exists():
            parts.append(f"  {component} is not running; last lines of {paths.log_file(component)}:\n{_tail(paths.log_file(component))}")
    return "\n".join(parts)


def _started_then_died(paths: ClusterPaths) -> list[str]:
    """Components kwokctl has started (pid file written) whose process is gone."""
    dead = []
    for component in COMPONENTS:
        try:
            pid = int(paths.pid_file(component).read_text().strip())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            dead.append(component)
    return dead


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
        return kube.list_items(self.dynamic(), "v1", "Node")

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
            kube.wait_for(f"node {name} Ready", lambda: kube.node_ready(kube.get_or_none(self.dynamic(), "v1", "Node", name) or {}), wait)
        return name

    def wait_nodes_ready(self, names: list[str], timeout: float) -> None:
        wanted = set(names)

        def probe() -> bool:
            ready = {n["metadata"]["name"] for n in self.nodes() if kube.node_ready(n)}
            return wanted <= ready

        def detail() -> str:
            ready = {n["metadata"]["name"] for n in self.nodes() if kube.node_ready(n)}
            return f"not Ready: {', '.join(sorted(wanted - ready))}"

        kube.wait_for(f"{len(wanted)} nodes to be Ready", probe, timeout, on_timeout=detail)

    def down(self) -> list[str]:
        return down(self.paths.name, self.paths.root, quiet=True)


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"dsgate cluster: {msg}", file=sys.stderr, flush=True)


def _start(paths: ClusterPaths, topology: Topology, topology_raw: dict[str, Any], api_port: int, timeout: float, quiet: bool) -> LocalCluster:
    started = time.monotonic()
    deadline = started + timeout
    api, others = _pick_ports(api_port, 5)
    try:
        tools = required_tools()
    except ToolMissing as exc:
        raise MissingTool(str(exc)) from None
    ports = dict(zip(("etcd", "etcd-peer", "kube-controller-manager", "kube-scheduler", "kwok-controller"), others, strict=True))
    ports["kube-apiserver"] = api
    paths.dir.mkdir(parents=True)
    config_path = paths.dir / KWOKCTL_CONFIG
    config_path.write_text(yaml.safe_dump_all(_kwokctl_config(paths, topology, tools, ports), sort_keys=False))
    cmd = [
        str(tools["kwokctl"]),
        "--config", str(config_path),
        "create", "cluster",
        "--name", paths.name,
        "--runtime", "binary",
        "--kubeconfig", "",
        "--timeout", f"{max(int(deadline - time.monotonic()), 10)}s",
    ]  # fmt: skip # one flag and its value per line
    _say(
        f"starting {paths.name!r}: etcd, kube-apiserver {kubernetes_version()}, kube-controller-manager, kube-scheduler, kwok (API server on {LOCALHOST}:{api})",
        quiet,
    )
    log_path = paths.dir / KWOKCTL_LOG
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_kwokctl_env(paths, tools))
        try:
            # kwokctl waits (up to its timeout) for the API server to serve; a component that
            # dies meanwhile would only show up at the end, so watch the pid files it writes.
            while (rc := proc.poll()) is None:
                if time.monotonic() >= deadline:
                    raise ClusterError(f"kwokctl create cluster did not finish within {timeout:.0f}s; see the log below\n{_tail(log_path)}")
                dead = _started_then_died(paths)
                if dead:
                    raise ClusterError(
                        f"{', '.join(dead)} exited during start-up (port taken or bad flag?); see the log lines below\n{_dead_component_detail(paths)}"
                    )
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if rc != 0:
        raise ClusterError(f"kwokctl create cluster failed (exit {rc}); see the log below\n{_tail(log_path)}\n{_dead_component_detail(paths)}")
    if not paths.kubeconfig.exists():
        raise ClusterError(f"kwokctl did not write {paths.kubeconfig}; see {log_path}\n{_tail(log_path)}")

    cluster = LocalCluster(paths, topology, ports)

    def alive_or_fail() -> None:
        dead = [c for c in COMPONENTS if c not in component_pids(paths)]
        if dead:
            raise ClusterError(f"{', '.join(dead)} exited during start-up (port taken or bad flag?); see the log lines below\n{_dead_component_detail(paths)}")

    def remaining() -> float:
        return max(deadline - time.monotonic(), 1.0)

    def api_ready() -> bool:
        alive_or_fail()
        status, body = kube.raw_get(cluster.api(), "/readyz")
        return status == 200 and body.strip() == "ok"

    _say("waiting for the API server (/readyz)", quiet)
    kube.wait_for("kube-apiserver /readyz", api_ready, remaining(), on_timeout=lambda: _dead_component_detail(paths))

    def controllers_healthy() -> bool:
        alive_or_fail()
        return _https_ok(ports["kube-controller-manager"]) and _https_ok(ports["kube-scheduler"])

    kube.wait_for("kube-controller-manager and kube-scheduler /healthz", controllers_healthy, remaining())

    from kubernetes.dynamic.exceptions import ConflictError

    dyn = cluster.dynamic()
    nodes = topology.nodes()
    _say(f"registering {len(nodes)} simulated nodes ({', '.join(f'{p.count} {p.name}' for p in topology.pools if p.count)})", quiet)
    for node in nodes:
        with contextlib.suppress(ConflictError):
            kube.create(dyn, node)

    def default_sa() -> bool:
        alive_or_fail()
        return kube.get_or_none(dyn, "v1", "ServiceAccount", "default", "default") is not None

    kube.wait_for("the default ServiceAccount (service-account controller)", default_sa, remaining())
    cluster.wait_nodes_ready([n["metadata"]["name"] for n in nodes], remaining())
    alive_or_fail()
    cluster.up_seconds = time.monotonic() - started
    state = {
        "name": paths.name,
        "server": cluster.server,
        "kubeconfig": str(paths.kubeconfig),
        "ports": ports,
        "topology_file": topology.source,
        "topology": topology_raw,
        "topology_digest": topology_digest(topology_raw),
        "kubernetes_version": kubernetes_version(),
        "started_unix": time.time(),
        "up_seconds": round(cluster.up_seconds, 2),
    }
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.rename(paths.state)
    return cluster


def topology_digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]


def _read_topology(topology_file: Path | None) -> tuple[Topology, dict[str, Any]]:
    path = Path(topology_file) if topology_file else DEFAULT_TOPOLOGY
    topology = load_topology(path)
    raw = yaml.safe_load(path.read_text())
    return topology, raw


def attach(name: str = DEFAULT_NAME, root: Path | None = None) -> LocalCluster:
    """The running cluster NAME (ClusterError if it is not running)."""
    paths = paths_for(name, root)
    st = inspect(paths)
    if st.state != "running":
        raise ClusterError(f"cluster {name!r} is not running ({st.reason or st.state}); start it with 'dsgate cluster up --name {name}'")
    return LocalCluster(paths, parse_topology(st.info["topology"], st.info.get("topology_file", "<state>")), dict(st.info["ports"]), already_running=True)


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
    with _locked(paths.root):
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
            _say(f"cluster {name!r} is already running; nothing to do", quiet)
            return LocalCluster(paths, topology, dict(st.info["ports"]), already_running=True)
        if st.state == "stale":
            stopped = _teardown(paths)
            _say(f"removed stale cluster directory {paths.dir} ({st.reason}" + (f"; stopped {', '.join(stopped)})" if stopped else ")"), quiet)
        try:
            return _start(paths, topology, raw, api_port, timeout, quiet)
        except BaseException as exc:
            cleanup_note = ""
            try:
                _teardown(paths)
            except ClusterError as cleanup:
                cleanup_note = f"\n  clean-up also failed: {cleanup}"
            if isinstance(exc, TimeoutError):
                raise ClusterError(f"cluster {name!r} did not become ready: {exc}; everything started was stopped{cleanup_note}") from None
            if isinstance(exc, ClusterError) and cleanup_note:
                raise ClusterError(f"{exc}{cleanup_note}") from None
            raise


def down(name: str = DEFAULT_NAME, root: Path | None = None, quiet: bool = False) -> list[str]:
    """Stop cluster NAME and remove its directory; a no-op (with a message) when nothing runs."""
    paths = paths_for(name, root)
    with _locked(paths.root):
        st = inspect(paths)
        if st.state == "absent":
            _say(f"cluster {name!r} is not running; nothing to do", quiet)
            return []
        stopped = _teardown(paths)
    what = "stale cluster" if st.state == "stale" else "cluster"
    _say(f"{what} {name!r} stopped ({', '.join(stopped) or 'no process was running'}) and {paths.dir} removed", quiet)
    return stopped


# --------------------------------------------------------------------------- CLI


def _status(name: str, root: Path | None) -> int:
    paths = paths_for(name, root)
    with _locked(paths.root, wait=False) as free:
        if not free:  # an up or down is in progress: its half-made directory is not stale
            print(f"cluster {name!r}: busy (a 'dsgate cluster up' or 'down' is running under {paths.root})")
            return 1
        st = inspect(paths)
    if st.state == "absent":
        print(f"cluster {name!r}: not running")
        print(f"kubeconfig: {paths.kubeconfig} (written by 'dsgate cluster up')")
        return 1
    if st.state == "stale":
        print(f"cluster {name!r}: stale ({st.reason}); 'dsgate cluster down --name {name}' or 'up' cleans it")
        return 1
    print(f"cluster {name!r}: running (kubernetes {st.info.get('kubernetes_version')}, server {st.info.get('server')})")
    for component in COMPONENTS:
        print(f"  {component:<24} pid {st.pids[component]}")
    try:
        cluster = attach(name, root)
        nodes = cluster.nodes()
        ready = sum(1 for n in nodes if kube.node_ready(n))
        print(f"  nodes: {ready}/{len(nodes)} Ready")
    except Exception as exc:  # report, do not crash: status is a diagnostic
        print(f"  nodes: cannot list ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        return 1
    print(f"kubeconfig: {paths.kubeconfig}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsgate cluster", description="Local Kubernetes control plane with kwok-simulated nodes.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default=os.environ.get("DSGATE_CLUSTER_NAME", DEFAULT_NAME), help="cluster name (default: dsgate, or $DSGATE_CLUSTER_NAME)")

    p_up = sub.add_parser("up", help="start the cluster (idempotent)")
    common(p_up)
    p_up.add_argument("--topology", type=Path, default=None, help=f"topology file (default: {DEFAULT_TOPOLOGY.relative_to(DEFAULT_TOPOLOGY.parents[1])})")
    p_up.add_argument("--port", type=int, default=0, help="API server port on 127.0.0.1 (default 0: any free port)")
    p_up.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the cluster to be ready")
    for cmd, text in (
        ("down", "stop the cluster and remove its files"),
        ("status", "show whether the cluster runs"),
        ("kubeconfig", "print the kubeconfig path"),
    ):
        common(sub.add_parser(cmd, help=text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "kubeconfig":
            print(paths_for(args.name).kubeconfig)
            return 0
        if args.command == "status":
            return _status(args.name, None)
        if args.command == "down":
            down(args.name)
            return 0
        if not 0 <= args.port <= 65535:
            raise ClusterError(f"--port {args.port} is not a TCP port (1-65535, or 0 for any free port)")
        cluster = up(args.topology, args.name, api_port=args.port, timeout=args.timeout)
    except (MissingTool, TopologyError, PortInUse) as exc:
        print(f"dsgate cluster: {exc}", file=sys.stderr)
        return 2
    except ClusterError as exc:
        print(f"dsgate cluster: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dsgate cluster: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    pools = ", ".join(f"{p.count} {p.name}" for p in cluster.topology.pools if p.count)
    if not cluster.already_running:
        print(f"cluster {cluster.name!r} is up in {cluster.up_seconds:.1f}s: {cluster.topology.node_count} nodes Ready ({pools}), server {cluster.server}")
    else:
        print(f"cluster {cluster.name!r} is already running: server {cluster.server}")
    print(f"kubeconfig: {cluster.kubeconfig}")
    print(f"  export KUBECONFIG={cluster.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
