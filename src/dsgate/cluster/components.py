"""The component processes of a local cluster (etcd, kube-apiserver, controllers, kwok) and their
ports: find them (pid files and /proc), stop them in order, tell running from stale, and pick free
ports on 127.0.0.1. (dsgate.procs is the other side: how any child of dsgate is started, limited
and stopped.)

- `down` stops the processes (SIGTERM, then SIGKILL) and removes the directory.
- `up` on a stale directory (processes gone, or an `up` that never finished) cleans it first.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgate.cluster.state import COMPONENT_TOOLS, COMPONENTS, ClusterError, ClusterPaths, PortInUse
from dsgate.net import LOCALHOST, port_free
from dsgate.tools import tool_path


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def alive(pid: int) -> bool:
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
        if alive(pid) and _is_component_of(pid, paths):
            found[component] = pid
    known = set(found.values())
    prefix = str(paths.bin_dir) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        argv = process_argv(pid)  # read once: the process may exit at any moment
        if (
            pid in known
            or not argv
            or not argv[0].startswith(prefix)
            or argv[1:] in (["--version"], ["version"])
            or not alive(pid)
        ):
            continue
        name = Path(argv[0]).name
        found[name if name not in found else f"{name}[{pid}]"] = pid
    return found


def stop_pids(pids: dict[str, int], grace: float = 5.0) -> list[str]:
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
        while time.monotonic() < deadline and any(alive(p) for p in group.values()):
            time.sleep(0.05)
        for component, pid in group.items():
            if alive(pid):
                killed.append(component)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p) for p in group.values()):
            time.sleep(0.05)
    return killed


def teardown(paths: ClusterPaths) -> list[str]:
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
        stop_pids(pids)
    still = component_pids(paths)
    if still:
        raise ClusterError(
            f"could not stop {', '.join(f'{c} (pid {p})' for c, p in still.items())}; kill them and run 'dsgate cluster down' again"
        )
    if paths.dir.exists():
        shutil.rmtree(paths.dir)
    return sorted(stopped)


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


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def pick_ports(api_port: int, count: int) -> tuple[int, list[int]]:
    """The API server port (checked free) and COUNT other free ports on 127.0.0.1.

    Ports are drawn at random below the ephemeral range: the kernel hands ephemeral ports to
    outgoing connections (another cluster's clients, for one), which could take a port between
    this check and the component's bind; and random draws keep parallel sessions apart.
    """
    if api_port and not port_free(api_port):
        raise PortInUse(
            f"port {api_port} on {LOCALHOST} is already in use; stop what listens there or pick another with --port (0 = any free port)"
        )
    low, _ = ephemeral_range()
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
        if port != api_port and port not in ports and port_free(port):
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


def log_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def dead_component_detail(paths: ClusterPaths) -> str:
    """Which component died, with its log tail (for error messages)."""
    running = component_pids(paths)
    parts = []
    for component in COMPONENTS:
        if component not in running and paths.log_file(component).exists():
            parts.append(
                f"  {component} is not running; last lines of {paths.log_file(component)}:\n{log_tail(paths.log_file(component))}"
            )
    return "\n".join(parts)


def started_then_died(paths: ClusterPaths) -> list[str]:
    """Components kwokctl has started (pid file written) whose process is gone."""
    dead = []
    for component in COMPONENTS:
        try:
            pid = int(paths.pid_file(component).read_text().strip())
        except (OSError, ValueError):
            continue
        if not alive(pid):
            dead.append(component)
    return dead
