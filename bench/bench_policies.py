"""Latency of the whole policy library over one render in a real OPA server.

    .venv/bin/python bench/bench_policies.py [-n 200] [--json]

Starts `opa run --server` on 127.0.0.1 at a free port with the library loaded (the pinned opa from
dsgate tools install), then POSTs /v1/data/main/findings N times with one render of about 15 documents
(a node-exporter and a fluentd release: ServiceAccounts, RBAC, ConfigMap, Services, DaemonSets,
PodDisruptionBudgets) over one keep-alive connection. Prints the median and p95 of the client
round trip and of OPA's own evaluation time (`?metrics=true`: timer_rego_query_eval_ns), and the
OPA server's CPU time per request (from /proc; it stays meaningful when other processes compete
for the CPU, where wall-clock times do not). The goal is a median round trip of at most 2 ms (issue 26). This
is a benchmark, not a test: it does not fail on a slow machine, it reports.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py
from dsgate.gate.evaluate import EvaluationError, OpaServer
from dsgate.paths import policies_dir, rules_dir

POLICIES = policies_dir()
# A compliant node-exporter + fluentd render (8 documents), padded with the other kinds a chart renders.
RENDER = rules_dir() / "resources" / "samples" / "DS-RES-004" / "allowed.yaml"
GOAL_MS = 2.0  # issue 26's goal, the one place it is written (summary.py reads it from the results)


def render_documents() -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(RENDER.read_text()) if d]
    for name, namespace, port in (("node-exporter", "monitoring", 9100), ("fluentd", "logging", 24231)):
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "bench"}
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"selector": labels, "ports": [{"name": "metrics", "port": port, "targetPort": "metrics"}]},
            }
        )
    docs.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "node-exporter", "namespace": "monitoring"},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}},
                "endpoints": [{"port": "metrics", "interval": "30s"}],
            },
        }
    )
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "fluentd", "namespace": "logging"},
            "data": {"fluent.conf": "<source>\n  @type tail\n  path /var/log/containers/*.log\n</source>\n"},
        }
    )
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "fluentd", "namespace": "logging"},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "fluentd"}}, "policyTypes": ["Ingress"]},
        }
    )
    return docs


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far, in ms (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="timed requests (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    documents = render_documents()
    body = json.dumps({"input": [{"path": f"bench#{i}", "contents": d} for i, d in enumerate(documents)]})
    server = OpaServer(POLICIES)  # the gate's own server: same flags, same ignore list
    try:
        server.start()
    except EvaluationError as exc:
        print(f"opa did not start: {exc}", file=sys.stderr)
        return 2
    try:
        assert server.pid is not None
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

        def post() -> tuple[float, dict[str, Any]]:
            start = time.perf_counter()
            conn.request("POST", "/v1/data/main/findings?metrics=true", body, {"Content-Type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            return (time.perf_counter() - start) * 1000, answer

        for _ in range(args.warmup):
            post()
        cpu_before = cpu_ms(server.pid)
        round_trips: list[float] = []
        evaluations: list[float] = []
        answer: dict[str, Any] = {}
        for _ in range(args.n):
            elapsed, answer = post()
            round_trips.append(elapsed)
            evaluations.append(answer.get("metrics", {}).get("timer_rego_query_eval_ns", 0) / 1e6)
        cpu_per_request = (cpu_ms(server.pid) - cpu_before) / args.n
        conn.close()
    finally:
        server.stop()

    findings = answer.get("result")
    if not isinstance(findings, list):
        print(f"data.main.findings is undefined: {answer}", file=sys.stderr)
        return 2
    figures = {
        "documents": len(documents),
        "requests": args.n,
        "findings": len(findings),
        "round_trip_median_ms": round(statistics.median(round_trips), 3),
        "round_trip_p95_ms": round(percentile(round_trips, 95), 3),
        "eval_median_ms": round(statistics.median(evaluations), 3),
        "eval_p95_ms": round(percentile(evaluations, 95), 3),
        "server_cpu_per_request_ms": round(cpu_per_request, 3),
        "load_average_1m": os.getloadavg()[0],
        "goal_median_ms": GOAL_MS,
    }
    results.write("policies", figures)
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{figures['documents']} documents, {args.n} requests, {figures['findings']} findings\n"
            f"round trip: median {figures['round_trip_median_ms']:.2f} ms, p95 {figures['round_trip_p95_ms']:.2f} ms"
            f" (goal: median <= {GOAL_MS:.0f} ms: {'met' if figures['round_trip_median_ms'] <= GOAL_MS else 'NOT met'})\n"
            f"OPA eval:   median {figures['eval_median_ms']:.2f} ms, p95 {figures['eval_p95_ms']:.2f} ms\n"
            f"OPA server CPU per request: {figures['server_cpu_per_request_ms']:.2f} ms"
            f" (load average {figures['load_average_1m']:.1f} on {os.cpu_count()} CPUs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
