"""The pre-commit path (issue 26): `dsgate check file.yaml` on one DaemonSet file, against
kubeconform + conftest on the same file.

    .venv/bin/python bench/bench_onefile.py [-n 7] [--no-warm] [--json]

The file is one compliant DaemonSet (no deny from the policy library, passes the server check). Each
variant runs N times after one untimed run, and the median wall time is reported with its CPU time
(user + system of the process tree):

- dsgate cold (`dsgate check --cold --no-config FILE`: a new process that starts what it needs and
  stops it; the last four Kubernetes versions, the default), without the server check
  (`--no-server-check`) and with it. Goals: <= 0.3 s without, <= 1.0 s with;
- dsgate on the warm server (`dsgate server start` first, in a runtime directory of this script's
  own, then `dsgate check --no-config FILE` as a client; stopped at the end): the same two variants
  (--no-warm leaves them out); their CPU is the client's plus what the daemon, its OPA, etcd and
  kube-apiserver spent during the run (from /proc);
- the peers: `kubeconform -strict` (newest target Kubernetes version, offline, the
  kubernetes-validate package's schemas, as bench_peers.py gives them) and then
  `conftest test --combine` with the project's policies (without *_test.rego) and
  policies/model.json, one after the other as a pre-commit hook runs them.

Bytecode: this environment may set PYTHONDONTWRITEBYTECODE=1; the dsgate children run without it
(bench/results.child_env) and the untimed first run writes the .pyc files, so no timed run compiles.
Results: out/bench/onefile.json. A benchmark, not a test: it does not fail on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import results  # noqa: E402  (bench/ is on sys.path: scripts run as python bench/NAME.py)
from bench_peers import kubeconform_locations, peer_policy_dir, write_k8s_schemas  # noqa: E402
from dsgate.paths import MODEL_FILE  # noqa: E402
from dsgate.tools import tool_path  # noqa: E402
from dsgate.versions import kube_target_versions  # noqa: E402

GOAL_S = {"no_server_check": 0.3, "server_check": 1.0}

DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: log-agent
  namespace: monitoring
  labels: {app.kubernetes.io/name: log-agent}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: log-agent}
  minReadySeconds: 10
  template:
    metadata:
      labels: {app.kubernetes.io/name: log-agent}
    spec:
      priorityClassName: system-node-critical
      tolerations:
        - operator: Exists
      containers:
        - name: agent
          image: registry.example/log-agent:2.1.0@sha256:4f1d8e0c2b7a9d3e6f5a1c8b0d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d
          ports:
            - {name: metrics, containerPort: 9500}
          readinessProbe:
            httpGet: {path: /ready, port: metrics}
          livenessProbe:
            httpGet: {path: /healthz, port: metrics}
          resources:
            requests: {cpu: 20m, memory: 128Mi}
            limits: {cpu: 200m, memory: 128Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            runAsUser: 65534
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
"""


def measure(
    name: str, cmd: list[str], runs: int, env: dict[str, str], server: list[int] | None = None
) -> dict[str, Any]:
    """One untimed run, then RUNS timed ones: median wall and CPU, every run's wall, the exit codes.
    The CPU is the command's process tree's, plus what the warm server's processes (SERVER and their
    descendants) spent meanwhile."""
    walls, cpus, codes = [], [], set()
    load = results.load()
    for i in range(runs + 1):
        before = results.tree_cpu(server) if server else 0.0
        wall, cpu, code = results.run_timed(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu += results.tree_cpu(server) - before if server else 0.0
        codes.add(code)
        if i:
            walls.append(wall)
            cpus.append(cpu)
    row = {
        "median_s": round(statistics.median(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "runs_s": [round(w, 3) for w in walls],
        "exit": sorted(codes),
        "load_before": load,
        "load_after": results.load(),
    }
    if codes != {0}:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        row["problem"] = (proc.stdout + proc.stderr).strip()[-1500:]
    print(
        f"{name}: median {row['median_s']:.3f} s wall, {row['cpu_median_s']:.3f} s CPU over {runs} runs"
        f" (exit {row['exit']}, load {load[0]:.1f})" + (f"\n  {row['problem']}" if "problem" in row else ""),
        flush=True,
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=7, help="timed runs of each variant (default 7)")
    parser.add_argument("--no-warm", action="store_true", help="leave out the warm-server variants")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results.adopt_orphans()
    figures: dict[str, Any] = {"runs": args.n, "goals_s": GOAL_S}
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-onefile-") as tmp:
        work = Path(tmp)
        target = work / "daemonset.yaml"
        target.write_text(DAEMONSET)
        env = results.child_env()
        check = [sys.executable, "-m", "dsgate.cli", "check", "--no-config", "--format", "json", str(target)]
        for name, extra in (("no_server_check", ["--no-server-check"]), ("server_check", [])):
            figures[f"cold_{name}"] = measure(
                f"dsgate cold, {name.replace('_', ' ')}", [*check, "--cold", *extra], args.n, env
            )
        if not args.no_warm:
            runtime = work / "run"
            runtime.mkdir(mode=0o700)
            warm_env = {**env, "XDG_RUNTIME_DIR": str(runtime)}
            server = [sys.executable, "-m", "dsgate.cli", "server"]
            subprocess.run([*server, "start", "--idle-timeout", "600"], env=warm_env, check=True, capture_output=True)
            daemon = results.children()  # the daemon, adopted (adopt_orphans) when `start` left it
            try:
                for name, extra in (("no_server_check", ["--no-server-check"]), ("server_check", [])):
                    figures[f"warm_{name}"] = measure(
                        f"dsgate warm, {name.replace('_', ' ')}", [*check, *extra], args.n, warm_env, daemon
                    )
                    figures[f"warm_{name}"]["server_pids"] = len(daemon)
            finally:
                subprocess.run([*server, "stop"], env=warm_env, check=False, capture_output=True)
        kube = kube_target_versions()[-1]
        write_k8s_schemas(work / "k8s-schemas", [kube])
        kubeconform = [
            str(tool_path("kubeconform")),
            "-strict",
            "-summary",
            "-kubernetes-version",
            kube,
            *kubeconform_locations(work / "k8s-schemas"),
            str(target),
        ]
        policy = peer_policy_dir(work, with_tests=False)
        conftest = [str(tool_path("conftest")), "test", "--combine", "--no-color", "--policy", str(policy)]
        conftest += ["--data", str(MODEL_FILE), str(target)]
        hook = work / "hook.sh"
        hook.write_text(f"set -e\n{shlex.join(kubeconform)}\n{shlex.join(conftest)}\n")
        figures["kubeconform"] = measure("kubeconform", kubeconform, args.n, env)
        figures["conftest"] = measure("conftest", conftest, args.n, env)
        figures["peers"] = measure("kubeconform + conftest (one shell)", ["bash", str(hook)], args.n, env)
    peers_s = figures["peers"]["median_s"]
    for key in [k for k in figures if k.startswith(("cold_", "warm_"))]:
        figures[key]["vs_peers"] = round(figures[key]["median_s"] / peers_s, 2)
    results.write("onefile", figures)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key in [k for k in figures if k.startswith(("cold_", "warm_"))]:
        row, goal = figures[key], GOAL_S[key.split("_", 1)[1]]
        print(
            f"{key}: {row['median_s']:.3f} s = {row['vs_peers']:.1f}x the peers' {peers_s:.3f} s"
            f" (goal <= {goal} s: {'met' if row['median_s'] <= goal else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
