"""Benchmark: the rollout model (dsgate.cluster.rollout, policies/model.json) against simulated rollouts
at 100, 500 and 1,000 nodes (goal: the measured rollout within 20 % of the prediction at each size).

Each size runs `dsgate simulate charts/node-exporter --topology T --upgrade-set podAnnotations.rev=b
--format json` as its own process, with the chart's default values (maxUnavailable 10 %,
minReadySeconds 10: ten waves at every size). T is cluster/1000-nodes.yaml with every pool scaled
to the size (same pod timings, same pool shapes), written to a temporary directory, so the sizes
differ only in node count. The table gives the measured rollout, the model's point estimate and
range, their ratio and the 1-minute load average before and after the run: the controllers'
overhead follows the machine's load, so a loaded run reads high.

    .venv/bin/python bench/bench_rollout.py [--sizes 100,500,1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
BASE_TOPOLOGY = REPO / "cluster" / "1000-nodes.yaml"
CHART = REPO / "charts" / "node-exporter"
TOLERANCE = 0.20


def topology(nodes: int) -> dict[str, Any]:
    """cluster/1000-nodes.yaml with its pools scaled to NODES workers in all (the pools keep their ratio)."""
    spec = yaml.safe_load(BASE_TOPOLOGY.read_text())
    pools = spec["pools"]
    base = sum(int(p["count"]) for p in pools)
    counts = [nodes * int(p["count"]) // base for p in pools]
    counts[0] += nodes - sum(counts)
    for pool, count in zip(pools, counts, strict=True):
        pool["count"] = count
    return dict(spec)


def measure(nodes: int, root: Path) -> dict[str, Any]:
    path = root / f"{nodes}-nodes.yaml"
    path.write_text(yaml.safe_dump(topology(nodes), sort_keys=False))
    dsgate = Path(sys.executable).with_name("dsgate")
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(dsgate),
            "simulate",
            str(CHART),
            "--topology",
            str(path),
            "--upgrade-set",
            "podAnnotations.rev=b",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if proc.returncode == 2 or not proc.stdout.strip():
        raise SystemExit(f"dsgate simulate at {nodes} nodes failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    report = json.loads(proc.stdout)
    (entry,) = [d for d in report["daemonsets"] if d["rollout"]]
    rollout = entry["rollout"]
    predicted = rollout["predicted"]
    return {
        "nodes": nodes,
        "measured": rollout["seconds"],
        "predicted": predicted["seconds"],
        "low": predicted["low"],
        "high": predicted["high"],
        "waves": predicted["waves"],
        "perWave": predicted["perWave"],
        "ratio": round(rollout["seconds"] / predicted["seconds"], 2),
        "within": abs(rollout["seconds"] - predicted["seconds"]) <= TOLERANCE * predicted["seconds"],
        "maxUnavailable": rollout["maxUnavailableObserved"],
        "completed": rollout["completed"],
        "wall": round(wall, 1),
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,500,1000", help="comma-separated worker counts")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-rollout-") as tmp:
        for nodes in (int(n) for n in args.sizes.split(",")):
            rows.append(measure(nodes, Path(tmp)))
            row = rows[-1]
            print(
                f"{row['nodes']:>5} nodes: rollout {row['measured']:.1f} s measured, {row['predicted']:.1f} s predicted "
                f"(range {row['low']:.0f}-{row['high']:.0f} s, {row['waves']} waves of {row['perWave']}), "
                f"ratio {row['ratio']:.2f} ({'within' if row['within'] else 'OUTSIDE'} {TOLERANCE:.0%}), "
                f"max {row['maxUnavailable']} unavailable, whole command {row['wall']:.0f} s, "
                f"load {row['load'][0]} -> {row['load'][1]}",
                flush=True,
            )
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
