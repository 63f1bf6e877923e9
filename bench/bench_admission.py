"""Admission latency: dry-run DaemonSet creates with every dsgate policy installed against none, on one API server.

    .venv/bin/python bench/bench_admission.py [-n 300] [--json] [--pprof DIR]

Starts the private control plane of `dsgate admission` (the pinned kube-apiserver v1.36.3, etcd and
the policy status controller: dsgate.admission.localserver), then times N sequential dry-run creates
(`POST .../daemonsets?dryRun=All`, one keep-alive HTTPS connection over loopback) of one compliant
DaemonSet, three times on the same server:

1. `none`: no admission policy installed;
2. `all`: the whole set `dsgate admission install` applies for the strict profile (every vap rule,
   each binding Deny or Warn by its severity, the params object), once admission enforces it (a
   DaemonSet that breaks a deny rule is refused);
3. `merged`: an experiment, not what dsgate installs: the same rules merged into one policy per
   binding action (Deny, Warn), variables shared where their expressions are equal
   (`merged_by_action`). kube-apiserver converts the object to unstructured once per policy for
   CEL (k8s.io/apiserver admission/plugin/cel newActivation), so 36 policies convert it 36 times;
   this phase shows what that costs;
4. `none again`: after `dsgate admission uninstall`, to show how much the server drifted meanwhile.

With --pprof DIR, each policy phase also takes a CPU profile of kube-apiserver (served by
--profiling) over --pprof-seconds of dry-runs sent back to back, writes DIR/PHASE.pprof and, with
`go` on PATH, prints the CPU per request and the shares under the object conversion
(runtime.toUnstructured) and under CEL evaluation (cel-go's ContextEval).

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
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py
from dsgate.admission import install, library, policies, render
from dsgate.admission.localserver import LocalServer
from dsgate.gate import controls
from dsgate.gate.servercheck import ApiServer
from dsgate.paths import policies_dir, rules_dir
from dsgate.tools import tool_path

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


_VARIABLE = re.compile(r"\bvariables\.([A-Za-z_][A-Za-z0-9_]*)")
VAP, BINDING = policies.VAP, policies.VAP_BINDING


def merged_by_action(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OBJECTS with their policies merged into one per binding action: each merged policy holds the
    validations of every policy bound with that action, in order, and their variables, one variable
    where two policies' expressions are equal and renamed NAME_RULE where they differ."""
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == VAP}
    bindings = [o for o in objects if o["kind"] == BINDING]
    groups: dict[tuple[str, ...], list[str]] = {}
    for binding in bindings:
        groups.setdefault(tuple(binding["spec"]["validationActions"]), []).append(binding["spec"]["policyName"])
    out = [o for o in objects if o["kind"] not in (VAP, BINDING)]
    for actions, names in groups.items():
        name = "merged-" + "-".join(a.lower() for a in actions) + ".dsgate.io"
        variables: dict[str, str] = {}
        validations: list[dict[str, Any]] = []
        for policy in names:
            spec = policies[policy]["spec"]
            renamed: dict[str, str] = {}

            def rename(expression: str, renamed: dict[str, str] = renamed) -> str:
                return _VARIABLE.sub(lambda m: "variables." + renamed.get(m.group(1), m.group(1)), expression)

            for variable in spec.get("variables", []):
                expression = rename(variable["expression"])
                if variables.get(variable["name"]) == expression:
                    continue
                new = (
                    variable["name"]
                    if variable["name"] not in variables
                    else f"{variable['name']}_{policy.split('.')[0].replace('-', '_')}"
                )
                renamed[variable["name"]] = new
                variables[new] = expression
            for validation in spec.get("validations", []):
                validations.append(
                    {k: rename(v) if k in ("expression", "messageExpression") else v for k, v in validation.items()}
                )
        base = next(
            (p for p in names if "paramKind" in policies[p]["spec"]), names[0]
        )  # params: a policy that reads them
        spec = {
            **copy.deepcopy(policies[base]["spec"]),
            "variables": [{"name": k, "expression": v} for k, v in variables.items()],
            "validations": validations,
        }
        out.append({**policies[base], "metadata": {**policies[base]["metadata"], "name": name}, "spec": spec})
        binding = next(b for b in bindings if b["spec"]["policyName"] == base)
        out.append(
            {
                **binding,
                "metadata": {**binding["metadata"], "name": name},
                "spec": {**binding["spec"], "policyName": name},
            }
        )
    return out


def apply_raw(kubectl: install.Kubectl, objects: list[dict[str, Any]]) -> None:
    """OBJECTS applied as they are (install.install checks a set is one render's): CRD, then the rest, bindings last."""
    kubectl.apply([o for o in objects if o["kind"] == install.CRD_KIND])
    kubectl.run(["wait", "--for=condition=Established", f"crd/{install.CRD_NAME}", "--timeout=60s"])
    kubectl.apply([o for o in objects if o["kind"] not in (install.CRD_KIND, BINDING)])
    kubectl.apply([o for o in objects if o["kind"] == BINDING])


def profile(api: ApiServer, kubeconfig: Path, ds: dict[str, Any], seconds: int, path: Path) -> dict[str, Any]:
    """A CPU profile of kube-apiserver over SECONDS of dry-runs sent back to back from a second thread, to PATH."""
    token = json.loads(kubeconfig.read_text())["users"][0]["user"]["token"]
    sent, stop = [0], threading.Event()

    def load() -> None:
        while not stop.is_set():
            dry_run(api, ds)
            sent[0] += 1

    worker = threading.Thread(target=load)
    worker.start()
    try:
        request = urllib.request.Request(
            f"https://127.0.0.1:{api.port}/debug/pprof/profile?seconds={seconds}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, context=ssl._create_unverified_context(), timeout=seconds + 60) as answer:
            path.write_bytes(answer.read())
    finally:
        stop.set()
        worker.join()
    figures: dict[str, Any] = {"file": str(path), "requests": sent[0]}
    go = shutil.which("go")
    if go is None:
        return figures
    top = subprocess.run(
        [go, "tool", "pprof", "-top", "-cum", "-nodecount=500", str(tool_path("kube-apiserver")), str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = re.search(r"Total samples = ([\d.]+)(m?s)", top)
    if total:
        cpu = float(total.group(1)) / (1000 if total.group(2) == "ms" else 1)
        figures["cpu_ms_per_request"] = round(cpu * 1000 / max(sent[0], 1), 2)
    for key, function in (
        ("object_conversion_share", "k8s.io/apimachinery/pkg/runtime.toUnstructured"),
        ("cel_evaluation_share", "github.com/google/cel-go/cel.(*prog).ContextEval"),
    ):
        line = next((line for line in top.splitlines() if line.rstrip().endswith(function)), "")
        figures[key] = float(line.split()[4].rstrip("%")) / 100 if line else 0.0
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="timed requests per phase (default: %(default)s)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pprof", type=Path, help="write a CPU profile of kube-apiserver per policy phase here")
    parser.add_argument("--pprof-seconds", type=int, default=20)
    args = parser.parse_args()

    objects = render.render(
        library.load(policies_dir()), render.Options(settings=controls.Settings(profile="strict"), action="severity")
    )
    vaps = sum(1 for o in objects if o["kind"] == "ValidatingAdmissionPolicy")
    ds = daemonset()
    result: dict[str, Any] = {"policies": vaps, "load_before": os.getloadavg()}
    merged = merged_by_action(objects)
    result["merged_policies"] = sum(1 for o in merged if o["kind"] == VAP)
    if args.pprof:
        args.pprof.mkdir(parents=True, exist_ok=True)
    with LocalServer(profiling=bool(args.pprof)) as server:
        api = server.api
        api.create_namespace(NAMESPACE, "privileged")
        kubectl = install.Kubectl(server.kubeconfig)
        result["none"] = phase(api, ds, args.n)
        for name, apply in (
            ("all", lambda: install.install(kubectl, objects, progress=lambda _: None)),
            ("merged", lambda: apply_raw(kubectl, merged)),
        ):
            apply()
            api.wait_for(lambda: dry_run(api, denied(ds))[0] == 422, "admission to enforce the installed policies", 60)
            result[name] = phase(api, ds, args.n)
            if args.pprof:
                result[name]["profile"] = profile(
                    api, server.kubeconfig, ds, args.pprof_seconds, args.pprof / f"{name}.pprof"
                )
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
    labels = {"all": f"{vaps} policies", "merged": f"merged to {result['merged_policies']}"}
    for name in ("none", "all", "merged", "none_again"):
        r = result[name]
        label = labels.get(name, name.replace("_", " "))
        print(f"  {label:>15}: median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, mean {r['mean_ms']:.2f} ms")
        if "cpu_ms_per_request" in r.get("profile", {}):
            p = r["profile"]
            print(
                f"  {'':>15}  kube-apiserver CPU {p['cpu_ms_per_request']:.1f} ms per request: object conversion "
                f"{p['object_conversion_share']:.0%}, CEL evaluation {p['cel_evaluation_share']:.0%} ({p['file']})"
            )
    baseline = (result["none"]["median_ms"] + result["none_again"]["median_ms"]) / 2
    for name in ("all", "merged"):
        print(
            f"  {labels[name]} add {result[name]['median_ms'] - baseline:.2f} ms to the median "
            f"(anchor: Gatekeeper about {ANCHOR_MS} ms per request)"
        )
    load = ", ".join(f"{x:.2f}" for x in result["load_before"])
    print(f"  load average before: {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
