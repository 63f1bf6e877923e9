"""Benchmark: `dsgate audit` of a large kwok cluster (goal: 2,000 nodes with 30 DaemonSets in <= 30 s
and <= 1 GiB RSS), and how its cost grows at 500, 1,000 and 2,000 nodes.

Each size: `up` a throwaway cluster of that many workers, create 30 DaemonSets, of which RUNNING
(default 3) run on every node and the others select a label no node has (still audited against
every node), wait until every running DaemonSet has a pod on every node, then time the audit in
this process (read, coverage, exposure, rollout, the policy library in OPA) and read the peak RSS
of this process (ru_maxrss) around it. Letting the real DaemonSet controller create 30 x 2,000
pods would take the control plane about 20 minutes on this machine, hence RUNNING.

    .venv/bin/python bench/bench_audit.py [--sizes 500,1000,2000] [--running 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from dsgate.audit.run import audit
from dsgate.audit.snapshot import read
from dsgate.cluster import kube
from dsgate.cluster.lifecycle import down, up
from dsgate.gate.evaluate import default_policy_dir

DAEMONSETS = 30


def _topology(nodes: int) -> dict[str, Any]:
    return {
        "kind": "Topology",
        "podReadyDelay": "1s",
        "podReadyJitter": "500ms",
        "podDeleteDelay": "500ms",
        "pools": [
            {
                "name": "control-plane",
                "role": "control-plane",
                "count": 1,
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            },
            {
                "name": "worker",
                "count": nodes,
                "instanceType": "m5.2xlarge",
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            },
        ],
    }


def _daemonset(i: int, running: bool) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": f"agent-{i}"}
    pod: dict[str, Any] = {
        "tolerations": [{"operator": "Exists"}],
        "containers": [
            {
                "name": "agent",
                "image": f"registry.example/agent-{i}:1.0.0",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }
        ],
    }
    if not running:
        pod["nodeSelector"] = {"dsgate.io/bench": "none"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": f"agent-{i}", "namespace": "bench", "labels": labels},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": pod}},
    }


def measure(nodes: int, running: int, root: Path) -> dict[str, float]:
    topology = root / f"topology-{nodes}.yaml"
    topology.write_text(yaml.safe_dump(_topology(nodes)))
    name = f"audit-{uuid.uuid4().hex[:6]}"
    cluster = up(topology, name=name, root=root, timeout=900, quiet=True)
    try:
        dyn = cluster.dynamic()
        kube.create(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        kube.create_all(dyn, [_daemonset(i, i < running) for i in range(DAEMONSETS)])
        total = nodes + 1

        def placed() -> bool:
            items = kube.get_json(cluster.api(), "/apis/apps/v1/namespaces/bench/daemonsets")["items"]
            return all(
                (d.get("status") or {}).get("currentNumberScheduled", 0) >= total
                for d in items
                if "nodeSelector" not in d["spec"]["template"]["spec"]
            )

        started = time.monotonic()
        kube.wait_for(f"{running} DaemonSets on {total} nodes", lambda: placed() or None, timeout=1800, interval=5)
        placing = time.monotonic() - started
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.monotonic(), time.process_time()
        result = audit(read(cluster.api()), default_policy_dir(), {})
        seconds, cpu = time.monotonic() - t0, time.process_time() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert len(result.daemonsets) >= DAEMONSETS and result.nodes == total, (len(result.daemonsets), result.nodes)
        return {
            "nodes": total,
            "pods": running * total,
            "seconds": round(seconds, 1),
            "cpu": round(cpu, 1),
            "peak_rss_mib": round(max(peak, before) / 1024),
            "placing": round(placing),
        }
    finally:
        down(name, root, quiet=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,1000,2000")
    parser.add_argument("--running", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-audit-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            figures = measure(size, args.running, Path(tmp))
            print(
                f"audit of {figures['nodes']} nodes, {DAEMONSETS} DaemonSets ({figures['pods']:.0f} pods): {figures['seconds']} s wall, "
                f"{figures['cpu']} s CPU, peak RSS {figures['peak_rss_mib']} MiB (placing the pods took {figures['placing']} s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
