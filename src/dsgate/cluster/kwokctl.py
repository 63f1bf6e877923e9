"""How dsgate drives kwokctl: its configuration (pinned binaries, ports, real kubelet timings, the
topology's stages), its environment (no network, our kubectl) and `kwokctl create cluster` itself,
watched so a component that dies during start-up fails the start at once.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from dsgate import procs
from dsgate.cluster.components import dead_component_detail, log_tail, started_then_died
from dsgate.cluster.state import COMPONENTS, KWOKCTL_CONFIG, KWOKCTL_LOG, ClusterError, ClusterPaths
from dsgate.cluster.topology import Topology, stage_documents
from dsgate.net import LOCALHOST
from dsgate.versions import kubernetes_version, pinned

# Scale: the components' client rate limits are the bottleneck with 1,000 nodes, not CPU. The node
# lifecycle controller removes the not-ready taint the API server puts on every new node, and the
# DaemonSet controller creates and deletes a pod per node; at the default 20 requests/s (scheduler:
# 50) that alone took a minute per 1,000 nodes. kwok plays its stages and renews node leases with
# 4 workers by default.
SCALE_PATCHES = [
    {"name": name, "extraArgs": [{"key": "kube-api-qps", "value": "300"}, {"key": "kube-api-burst", "value": "600"}]}
    for name in ("kube-controller-manager", "kube-scheduler")
]
KWOK_CONFIGURATION = {
    "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
    "kind": "KwokConfiguration",
    "options": {"nodePlayStageParallelism": 16, "podPlayStageParallelism": 16, "nodeLeaseParallelism": 16},
}


def say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"dsgate cluster: {msg}", file=sys.stderr, flush=True)


# Fleets up to this many nodes keep a kubelet's heartbeat timings (heartbeat_factor).
HEARTBEAT_NODES = 200


def heartbeat_factor(nodes: int) -> int:
    """How much longer than a kubelet's the node leases and the grace period are for NODES nodes.
    A kubelet renews its 40 s lease every 10 s: 1,000 kwok nodes make that 100 writes a second, which
    a loaded 2-core machine's API server does not keep up with; nodes then miss the 40 s grace period
    and flap NotReady (the node lifecycle controller marks their pods NotReady too). Up to
    HEARTBEAT_NODES nodes the timings are a kubelet's; above, lease and grace grow with the fleet
    (1,000 nodes: 5x, kwokctl's own default, 20 renewals a second)."""
    return max(1, math.ceil(nodes / HEARTBEAT_NODES))


def kwokctl_config(
    paths: ClusterPaths, topology: Topology, tools: dict[str, Path], ports: dict[str, int]
) -> list[dict[str, Any]]:
    factor = heartbeat_factor(topology.node_count)
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
        # Real kubelet timings (kwokctl's default multiplies them by 5 to save CPU), stretched for
        # large fleets only (heartbeat_factor).
        "heartbeatFactor": 1,
        "nodeLeaseDurationSeconds": 40 * factor,
        "kubeControllerManagerNodeMonitorPeriodMilliseconds": 5000,
        "kubeControllerManagerNodeMonitorGracePeriodMilliseconds": 40000 * factor,
        "components": list(COMPONENTS),
    }
    config = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": options,
        "componentsPatches": SCALE_PATCHES,
    }
    return [config, KWOK_CONFIGURATION, *stage_documents(topology)]


def kwokctl_env(paths: ClusterPaths, tools: dict[str, Path]) -> dict[str, str]:
    """kwokctl's environment: our kubectl first on PATH, no stray KWOK_* overrides, no network, and
    the Go servers' GC target (procs.go_server_env), which the components kwokctl starts inherit.

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
    env = {
        k: v
        for k, v in procs.go_server_env().items()
        if not k.startswith("KWOK_") and k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}
    }
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


def run_kwokctl(
    paths: ClusterPaths,
    topology: Topology,
    tools: dict[str, Path],
    ports: dict[str, int],
    deadline: float,
    timeout: float,
    quiet: bool,
) -> None:
    """Step 2: `kwokctl create cluster` starts the components; fails fast when one of them dies."""
    paths.dir.mkdir(parents=True)
    config_path = paths.dir / KWOKCTL_CONFIG
    config_path.write_text(yaml.safe_dump_all(kwokctl_config(paths, topology, tools, ports), sort_keys=False))
    cmd = [
        str(tools["kwokctl"]),
        "--config", str(config_path),
        "create", "cluster",
        "--name", paths.name,
        "--runtime", "binary",
        "--kubeconfig", "",
        "--timeout", f"{max(int(deadline - time.monotonic()), 10)}s",
    ]  # fmt: skip # one flag and its value per line
    say(
        f"starting {paths.name!r}: etcd, kube-apiserver {kubernetes_version()}, kube-controller-manager, kube-scheduler, kwok (API server on {LOCALHOST}:{ports['kube-apiserver']})",
        quiet,
    )
    log_path = paths.dir / KWOKCTL_LOG
    with log_path.open("w") as log:
        proc = procs.popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=kwokctl_env(paths, tools)
        )
        try:
            # kwokctl waits (up to its timeout) for the API server to serve; a component that
            # dies meanwhile would only show up at the end, so watch the pid files it writes.
            while (rc := proc.poll()) is None:
                if time.monotonic() >= deadline:
                    raise ClusterError(
                        f"kwokctl create cluster did not finish within {timeout:.0f}s; see the log below\n{log_tail(log_path)}"
                    )
                dead = started_then_died(paths)
                if dead:
                    raise ClusterError(
                        f"{', '.join(dead)} exited during start-up (port taken or bad flag?); see the log lines below\n{dead_component_detail(paths)}"
                    )
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                procs.kill(proc)
            procs.forget(proc)
    if rc != 0:
        raise ClusterError(
            f"kwokctl create cluster failed (exit {rc}); see the log below\n{log_tail(log_path)}\n{dead_component_detail(paths)}"
        )
    if not paths.kubeconfig.exists():
        raise ClusterError(f"kwokctl did not write {paths.kubeconfig}; see {log_path}\n{log_tail(log_path)}")
