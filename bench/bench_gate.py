"""Gate benchmarks (`make bench`): the static part of `make gate`, and a synthetic 400-render matrix
against a naive pipeline (per render: `helm template`, then the kubernetes-validate CLI, then
`conftest test --combine`, each its own process).

Prints the figures; the README and the issue notes quote them. Not a test: nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py
from dsgate.gate import pipeline as gate
from dsgate.gate.evaluate import default_policy_dir
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import ChartSource
from dsgate.paths import REPO_ROOT
from dsgate.tools import tool_path
from dsgate.versions import kube_target_versions

REPO = REPO_ROOT
CHARTS = REPO / "charts"
KUBE = kube_target_versions()[-1]  # the newest Kubernetes the gate validates against


def static_gate(runs: int) -> list[float]:
    """Wall time of `dsgate check --no-deploy` on this repo (what `make gate` runs before deploying)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "dsgate.cli", "check", "--no-deploy", "--cold", "--format", "json"],
            cwd=REPO,
            env=results.child_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit(f"dsgate check failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return times


def synthetic_values(n: int, workdir: Path) -> list[tuple[Path, Path]]:
    """N distinct (chart, values file) pairs: every ci scenario, varied by annotations and resources."""
    scenarios = [
        (chart, p)
        for chart in ("node-exporter", "fluentd")
        for p in sorted((CHARTS / chart / "ci").glob("*-values.yaml"))
    ]
    out = []
    for i in range(n):
        chart, scenario = scenarios[i % len(scenarios)]
        values = yaml.safe_load(scenario.read_text()) or {}
        values.setdefault("podAnnotations", {})["bench.dsgate.io/render"] = str(i)
        path = workdir / f"{chart}-{i:04d}.yaml"
        path.write_text(yaml.safe_dump(values))
        out.append((CHARTS / chart, path))
    return out


def ours(pairs: list[tuple[Path, Path]], workers: int) -> tuple[float, gate.GateResult]:
    sources = [ChartSource(chart) for chart, _ in pairs]
    jobs = [gate.Job(src, values.name, (values,), "v4", KUBE) for src, (_, values) in zip(sources, pairs, strict=True)]
    start = time.perf_counter()
    result = gate.run_jobs(jobs, CheckOptions(kube_versions=(KUBE,), workers=workers))
    return time.perf_counter() - start, result


def naive(pairs: list[tuple[Path, Path]], workdir: Path) -> float:
    helm, conftest = str(tool_path("helm")), str(tool_path("conftest"))
    kv = str(REPO / ".venv/bin/kubernetes-validate")
    start = time.perf_counter()
    for i, (chart, values) in enumerate(pairs):
        rendered = workdir / f"naive-{i}.yaml"
        with rendered.open("w") as fh:
            subprocess.run(
                [
                    helm,
                    "template",
                    "dsgate",
                    str(chart),
                    "--namespace",
                    "dsgate-system",
                    "--kube-version",
                    KUBE,
                    "-f",
                    str(values),
                ],
                stdout=fh,
                check=True,
            )
        subprocess.run([kv, "--strict", "--quiet", "-k", KUBE, str(rendered)], capture_output=True, check=False)
        subprocess.run(
            [conftest, "test", "--combine", "--no-color", "--policy", str(default_policy_dir()), str(rendered)],
            capture_output=True,
            check=False,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=400)
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=20,
        help="renders the naive pipeline runs (its per-render cost is extrapolated)",
    )
    parser.add_argument("--gate-runs", type=int, default=3)
    parser.add_argument("--matrix-runs", type=int, default=5, help="runs of the matrix; the median is reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    report: dict[str, object] = {"cores": cores}
    load_before = results.load()
    gate_times = static_gate(args.gate_runs)
    report["static_gate_s"] = {
        "median": statistics.median(gate_times),
        "runs": gate_times,
        "load_before": load_before,
        "load_after": results.load(),
    }
    load_before = results.load()
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-") as tmp:
        work = Path(tmp)
        pairs = synthetic_values(args.renders, work)
        runs = []
        for _ in range(args.matrix_runs):
            seconds, result = ours(pairs, workers=cores)
            assert not result.errors, result.errors
            runs.append(seconds)
        ours_s = statistics.median(runs)
        per_render_ms = ours_s / args.renders * 1000
        sample = pairs[: args.naive_sample]
        naive_s = naive(sample, work)
        naive_ms = naive_s / len(sample) * 1000
    report["matrix"] = {
        "renders": args.renders,
        "ours_total_s": ours_s,
        "ours_runs_ms_per_render_per_core": [t / args.renders * 1000 * cores for t in runs],
        "ours_ms_per_render_wall": per_render_ms,
        "ours_ms_per_render_per_core": per_render_ms * cores,
        "naive_sample": len(sample),
        "naive_ms_per_render": naive_ms,
        "speedup": naive_ms / per_render_ms,
        "documents": sum(len(r.documents) for r in result.renders),
        "load_before": load_before,
    }
    results.write("gate", report)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["matrix"]
    assert isinstance(m, dict)
    print(
        f"static gate (dsgate check --no-deploy on this repo): median {statistics.median(gate_times):.1f}s over {len(gate_times)} runs {[f'{t:.1f}' for t in gate_times]}"
    )
    per_core = ", ".join(f"{x:.1f}" for x in m["ours_runs_ms_per_render_per_core"])
    print(
        f"matrix: {args.renders} renders in {ours_s:.1f}s (median of {len(runs)} runs) = {per_render_ms:.1f} ms/render wall, "
        f"{per_render_ms * cores:.1f} ms/render per core ({cores} cores); per run: {per_core}"
    )
    print(
        f"naive: {naive_ms:.0f} ms/render (sample of {len(sample)}) -> dsgate is {naive_ms / per_render_ms:.1f}x faster"
    )


if __name__ == "__main__":
    main()
