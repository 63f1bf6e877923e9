"""Admission latency: dry-run DaemonSet creates with every dsgate policy installed against none, on one API server.

    .venv/bin/python bench/bench_admission.py [-n 300] [--json]

Starts the private control plane of `dsgate admission` (the pinned kube-apiserver v1.36.3, etcd and
the policy status controller: dsgate.admission.localserver), then times N sequential dry-run creates
(`POST .../daemonsets?dryRun=All`, one keep-alive HTTPS connection over loopback) of one compliant
DaemonSet, three times on the same server:

1. `none`: no admission policy installed;
2. `all`: the whole set `dsgate admission install` applies for the strict profile (every vap rule,
   each binding Deny or Warn by its severity, the params object), once admission enforces it (a
   DaemonSet that breaks a deny rule is refused);
3. `none again`: after `dsgate admission uninstall`, to show how much the server drifted meanwhile.

Each phase starts with a warm-up of 30 requests that are not counted. Prints the median, p99 and
mean of the client round trip per phase (the API server's own CEL timing,
apiserver_validating_admission_policy_check_duration_seconds, records failed checks only, so it
says nothing of a compliant DaemonSet).
The anchor: Gatekeeper, a webhook, measured about 9.4 ms per request with 5 constraints. This is a
benchmark, not a test: it does not fail on a slow machine, it reports. The figures also go to
out/bench/admission.json (bench/results.py).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from typing import Any

import yaml

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py
from dsgate.admission import install, library, render
from dsgate.admission.localserver import LocalServer
from dsgate.gate import controls
from dsgate.gate.servercheck import ApiServer
from dsgate.paths import policies_dir, rules_dir

NAMESPACE = "bench"
WARMUP = 30
ANCHOR_MS = 9.4  # Gatekeeper, 5 constraints, per request
# A compliant node-exporter (the resources rules' allowed sample: the charts' defaults).
SAMPLE = rules_dir() / "resources" / "samples" / "DS-RES-004" / "allowed.yaml"


def daemonset() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(SAMPLE.read_text()) if isinstance(d, dict)]
    ds = next(d for d in docs if d.get("kind") == "DaemonSet")
    return {**ds, "metadata": {**ds["metadata"], "namespace": NAMESPACE}}


def denied(ds: dict[str, Any]) -> dict[str, Any]:
    """DS with maxUnavailable 100% (DS-ROL-002, severity deny: above the ceiling 25%): refused once the
    policies enforce, admitted without them."""
    out = copy.deepcopy(ds)
    out["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}}
    return out


def dry_run(api: ApiServer, ds: dict[str, Any]) -> tuple[int, str]:
    answer = api.request(
        "POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets", ds, {"dryRun": "All", "fieldValidation": "Strict"}
    )
    return answer.status_code, answer.warning


def phase(api: ApiServer, ds: dict[str, Any], n: int) -> dict[str, Any]:
    for _ in range(WARMUP):
        dry_run(api, ds)
    times, warned = [], 0
    for _ in range(n):
        started = time.perf_counter()
        code, warning = dry_run(api, ds)
        times.append((time.perf_counter() - started) * 1000)
        if code != 201:
            raise SystemExit(f"bench_admission: the compliant DaemonSet was refused ({code})")
        warned += bool(warning)
    ordered = sorted(times)
    return {
        "n": n,
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "responses_with_warnings": warned,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="timed requests per phase (default: %(default)s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    objects = render.render(
        library.load(policies_dir()), render.Options(settings=controls.Settings(profile="strict"), action="severity")
    )
    vaps = sum(1 for o in objects if o["kind"] == "ValidatingAdmissionPolicy")
    ds = daemonset()
    result: dict[str, Any] = {"policies": vaps, "load_before": os.getloadavg()}
    with LocalServer() as server:
        api = server.api
        api.create_namespace(NAMESPACE, "privileged")
        kubectl = install.Kubectl(server.kubeconfig)
        result["none"] = phase(api, ds, args.n)
        install.install(kubectl, objects, progress=lambda _: None)
        api.wait_for(lambda: dry_run(api, denied(ds))[0] == 422, "admission to enforce the installed policies", 60)
        result["all"] = phase(api, ds, args.n)
        install.uninstall(kubectl)
        api.wait_for(lambda: dry_run(api, denied(ds))[0] == 201, "admission to drop the uninstalled policies", 60)
        result["none_again"] = phase(api, ds, args.n)
    result["load_after"] = os.getloadavg()
    results.write("admission", result)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    print(f"dry-run DaemonSet creates, {args.n} sequential each, one keep-alive connection, loopback:")
    for name in ("none", "all", "none_again"):
        r = result[name]
        label = f"{vaps} policies" if name == "all" else name.replace("_", " ")
        print(f"  {label:>12}: median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, mean {r['mean_ms']:.2f} ms")
    added = result["all"]["median_ms"] - (result["none"]["median_ms"] + result["none_again"]["median_ms"]) / 2
    print(f"  policies add {added:.2f} ms to the median (anchor: Gatekeeper about {ANCHOR_MS} ms per request)")
    load = ", ".join(f"{x:.2f}" for x in result["load_before"])
    print(f"  load average before: {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
