"""Benchmark: local cluster up-to-ready time (goal <= 30 s for 10 workers + 1 control plane).

Each run: `up` a fresh cluster with the default topology under a throwaway root, wait until all
11 nodes are Ready (what `up` itself waits for, checked again here through the API), print the
seconds, then `down`. Also reports the peak resident memory of the control-plane processes
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), sampled every 0.2 s
while the cluster starts and for a few seconds after.

    .venv/bin/python bench/bench_cluster.py [--runs 3] [--topology cluster/topology.yaml] [--settle 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from dsgate.cluster import kube
from dsgate.cluster.components import component_pids
from dsgate.cluster.lifecycle import down, up
from dsgate.cluster.state import COMPONENTS, paths_for
from dsgate.cluster.topology import DEFAULT_TOPOLOGY, load_topology


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Samples the summed RSS of the cluster's components (and the peak per component)."""

    def __init__(self, name: str, root: Path) -> None:
        super().__init__(daemon=True)
        self.paths = paths_for(name, root)
        self.stop = threading.Event()
        self.peak_total = 0
        self.peak: dict[str, int] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            pids = component_pids(self.paths)
            total = 0
            for component, pid in pids.items():
                rss = _rss_kib(pid)
                total += rss
                self.peak[component] = max(self.peak.get(component, 0), rss)
            self.peak_total = max(self.peak_total, total)
            self.stop.wait(0.2)


def run_once(topology: Path, root: Path, settle: float) -> tuple[float, RssSampler]:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    sampler = RssSampler(name, root)
    sampler.start()
    expected = load_topology(topology).node_count
    start = time.monotonic()
    try:
        cluster = up(topology, name=name, root=root, quiet=True)
        ready = [n for n in cluster.nodes() if kube.node_ready(n)]
        elapsed = time.monotonic() - start
        if len(ready) != expected:
            raise SystemExit(f"bench: only {len(ready)}/{expected} nodes Ready after up")
        time.sleep(settle)
    finally:
        sampler.stop.set()
        sampler.join()
        down(name, root, quiet=True)
    return elapsed, sampler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to keep sampling memory after ready")
    args = parser.parse_args(argv)
    nodes = load_topology(args.topology).node_count
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-") as tmp:
        for run in range(1, args.runs + 1):
            elapsed, sampler = run_once(args.topology, Path(tmp), args.settle)
            times.append(elapsed)
            per = ", ".join(f"{c} {sampler.peak.get(c, 0) / 1024:.0f}" for c in COMPONENTS)
            print(
                f"run {run}: up-to-ready {elapsed:.1f}s for {nodes} nodes; peak RSS {sampler.peak_total / 1024:.0f} MiB ({per} MiB)",
                flush=True,
            )
    print(
        f"up-to-ready: min {min(times):.1f}s, median {statistics.median(times):.1f}s, max {max(times):.1f}s over {len(times)} runs (goal <= 30s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
