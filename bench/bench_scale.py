"""Scale: many DaemonSets in one input (OPA time), and `dsgate check` on a generated tree.

    .venv/bin/python bench/bench_scale.py [--daemonsets 50,100,200,500] [--documents 2000,20000] [--json]

1. Policies: one input of N compliant agents (a DaemonSet, its PodDisruptionBudget and ServiceAccount
   each, spread over 10 namespaces, each agent on its own host port), evaluated by the policy library in
   a real OPA server: the median wall time of one request over 3 (OPA's evaluation dominates it). Goal:
   500 DaemonSets in at most 2 s, growing linearly.
2. The gate: a generated tree of N/10 files of 10 documents each (DaemonSets with their budgets,
   ServiceAccounts, Services, ConfigMaps; one DaemonSet in every 4th file, so 500 in 20,000 documents),
   100 files per directory (one input set each), checked by `dsgate check` against one Kubernetes
   version: wall time, and the peak memory of dsgate with every process it started (their RSS summed,
   sampled every 0.1 s). Goal: 20,000 documents in at most 60 s and 1 GiB, growing linearly.

A benchmark, not a test: it reports, it does not fail on a slow or loaded machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import results  # noqa: E402  (bench/ is on sys.path: scripts run as python bench/NAME.py)
from dsgate.gate.documents import Document, Provenance  # noqa: E402
from dsgate.gate.evaluate import OpaServer, policy_input  # noqa: E402
from dsgate.paths import policies_dir  # noqa: E402
from proctree import tree_rss  # noqa: E402

SAMPLE = next(policies_dir().rglob("DS-RES-004/allowed.yaml"))  # wherever the rules folder is


def _sample(kind: str, name: str = "node-exporter") -> dict[str, Any]:
    return next(
        d for d in yaml.safe_load_all(SAMPLE.read_text()) if d and d["kind"] == kind and d["metadata"]["name"] == name
    )


def agent(i: int) -> list[dict[str, Any]]:
    """A compliant agent number I: DaemonSet, PodDisruptionBudget and ServiceAccount."""
    name, namespace, instance = f"agent-{i}", f"agents-{i % 10}", f"i{i}"
    out = []
    for kind in ("ServiceAccount", "DaemonSet", "PodDisruptionBudget"):
        doc = copy.deepcopy(_sample(kind))
        doc["metadata"].update(name=name, namespace=namespace)
        text = json.dumps(doc).replace(
            '"app.kubernetes.io/instance": "sample"', f'"app.kubernetes.io/instance": "{instance}"'
        )
        text = text.replace('"serviceAccountName": "node-exporter"', f'"serviceAccountName": "{name}"')
        doc = json.loads(text)
        if kind == "DaemonSet":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                for port in container.get("ports", []):
                    port["containerPort"] = 10000 + i
                    if "hostPort" in port:
                        port["hostPort"] = 10000 + i
        out.append(doc)
    return out


def policy_scaling(counts: list[int]) -> list[dict[str, Any]]:
    rows = []
    with OpaServer(policies_dir(), timeout=600) as opa:
        for n in counts:
            prov = Provenance(source=f"bench-{n}", kind="file")
            docs = [Document(obj, prov, index) for index, obj in enumerate(d for i in range(n) for d in agent(i))]
            body = policy_input(docs)
            times = []
            for _ in range(3):
                start = time.perf_counter()
                findings = opa.query(body)
                times.append(time.perf_counter() - start)
            rows.append(
                {
                    "daemonsets": n,
                    "documents": len(docs),
                    "median_s": round(statistics.median(times), 3),
                    "findings": len(findings),
                }
            )
            print(
                f"policies: {n:4d} DaemonSets ({len(docs)} documents) in one input: {statistics.median(times):7.3f} s (median of 3), {len(findings)} findings",
                flush=True,
            )
    return rows


def generate_tree(root: Path, documents: int) -> tuple[int, int]:
    """Write the tree for DOCUMENTS documents under ROOT; return (files, DaemonSets)."""
    files = documents // 10
    daemonsets = 0
    for f in range(files):
        directory = root / f"set-{f // 100:03d}"
        directory.mkdir(exist_ok=True)
        docs: list[dict[str, Any]] = []
        namespace = f"ns-{f % 50}"
        if f % 4 == 0:
            docs += agent(daemonsets)
            daemonsets += 1
        else:
            docs.append(
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa-{f}", "namespace": namespace}}
            )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc-{f}", "namespace": namespace},
                "spec": {"selector": {"app": f"a{f}"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
            }
        )
        while len(docs) < 10:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{f}-{len(docs)}", "namespace": namespace},
                    "data": {"key": "value " * 20},
                }
            )
        (directory / f"file-{f:05d}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return files, daemonsets


def gate_scaling(counts: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="dsgate-scale-") as tmp:
            files, daemonsets = generate_tree(Path(tmp), n)
            cmd = [
                sys.executable,
                "-m",
                "dsgate.cli",
                "check",
                "--cold",
                "--no-config",
                "--kube-version",
                "1.36.0",
                "--format",
                "json",
                "-o",
                f"{tmp}/report.json",
                tmp,
            ]
            load = results.load()
            start = time.perf_counter()
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=results.child_env()
            )
            peak = 0
            done = threading.Event()

            def sample(pid: int = proc.pid, done: threading.Event = done) -> None:
                nonlocal peak
                while not done.wait(0.1):
                    peak = max(peak, tree_rss(pid))

            sampler = threading.Thread(target=sample)
            sampler.start()
            _, err = proc.communicate()
            wall = time.perf_counter() - start
            done.set()
            sampler.join()
            summary = (
                json.loads(Path(f"{tmp}/report.json").read_text())["summary"]
                if Path(f"{tmp}/report.json").exists()
                else {}
            )
            rows.append(
                {
                    "documents": n,
                    "files": files,
                    "daemonsets": daemonsets,
                    "wall_s": round(wall, 1),
                    "peak_mib": peak >> 20,
                    "exit": proc.returncode,
                    "load_before": load,
                    "load_after": results.load(),
                }
            )
            print(
                f"gate: {n:6d} documents in {files} files ({daemonsets} DaemonSets): {wall:6.1f} s, peak {peak >> 20} MiB, exit {proc.returncode}"
                f" ({summary.get('documents', '?')} documents read)"
                + (f"; {err.strip().splitlines()[-1]}" if proc.returncode == 2 and err.strip() else ""),
                flush=True,
            )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        factor = last["documents"] / first["documents"]
        print(
            f"growth x{factor:g} documents: time x{last['wall_s'] / max(first['wall_s'], 0.01):.1f}, peak memory x{last['peak_mib'] / max(first['peak_mib'], 1):.1f}"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--daemonsets", default="50,100,200,500", help="DaemonSets in one input, comma-separated ('' to skip)"
    )
    parser.add_argument(
        "--documents", default="2000,20000", help="documents of the generated tree, comma-separated ('' to skip)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    policies = policy_scaling([int(n) for n in args.daemonsets.split(",") if n])
    gate = gate_scaling([int(n) for n in args.documents.split(",") if n])
    results.write("scale", {"policies": policies, "gate": gate})
    if args.json:
        print(json.dumps({"policies": policies, "gate": gate}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
