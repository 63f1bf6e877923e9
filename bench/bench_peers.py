"""The static gate against its peers (issue 26): the same renders through `helm template` ->
`kubeconform` -> `conftest test`, two renders in parallel, against `dsgate check --no-deploy`.

    .venv/bin/python bench/bench_peers.py [--runs 1] [--helm v4 --helm v3] [--kube-version 1.36.0 ...]

The work is what `dsgate check --no-deploy` does on this repository (dsgate.yaml): every chart's
default and ci/*-values.yaml scenarios at every Kubernetes version and helm major of dsgate.yaml,
rendered with the release name and namespace the gate uses, and every kustomization built once with
`kustomize build --enable-helm`. The peers run each render as a user without dsgate would:

- `helm template` (helm v4, or helm3 for v3) into a file, one process per render, at that render's
  `--kube-version`; `kustomize build` once per kustomization;
- `kubeconform -strict -kubernetes-version K` on the file (a kustomization's output once for each
  version), offline: the built-in kinds against the schemas of the kubernetes-validate package
  dsgate validates with (its `vX.Y.Z-local-strict` folders, copied with their references made
  local: see write_k8s_schemas; kubeconform reads them through a `-schema-location` template), the custom kinds
  (ServiceMonitor, VerticalPodAutoscaler, ...) against JSON schemas written from the same cached
  CRDs dsgate reads, converted by dsgate's own converter (before the clock starts);
- `conftest test --combine` on the file with the project's policies/ (without its *_test.rego files,
  which only slow conftest down; --policy-tests keeps them) and policies/model.json as --data.

Two renders are in flight at a time (a thread pool of 2; each render's three steps run in order).
dsgate runs as `dsgate check --no-deploy --cold` twice: as the gate runs (server check on) and with
`--no-server-check` (the peers have no server check: the like-for-like comparison). Wall time, and
CPU time (user + system) of every process of each side's tree: the peers' from this process's
children's rusage, dsgate's from the rusage of its process and every descendant it waited for (this
process adopts orphans, so none escapes the count). Each side's verdict is printed too (kubeconform's
invalid or errored resources, conftest's failures, dsgate's exit code), so a faster side that
checked nothing would show. Results: out/bench/peers.json.

A benchmark, not a test: it reports, it does not fail on a slow or loaded machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import results  # noqa: E402  (bench/ is on sys.path: scripts run as python bench/NAME.py)
from dsgate import config  # noqa: E402
from dsgate.gate.sourcekinds import ChartSource, KustomizeSource, discover  # noqa: E402
from dsgate.gate.validate import crd_dir, crd_version_schemas  # noqa: E402
from dsgate.paths import MODEL_FILE, policies_dir  # noqa: E402
from dsgate.tools import CRD_SOURCES, tool_path  # noqa: E402
from dsgate.versions import pinned  # noqa: E402

K8S_SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
PARALLEL = 2
GOAL_RATIO = 10.0


@dataclasses.dataclass(frozen=True)
class Render:
    """One peer render: a chart scenario at one helm major and Kubernetes version, or a kustomization
    (validated at every version)."""

    label: str
    command: tuple[str, ...]
    kube_versions: tuple[str, ...]


def plan(kube_versions: list[str], helm_versions: list[str]) -> tuple[list[Render], int]:
    """The renders of dsgate.yaml's sources, as the gate's jobs list them; and the gate's job count."""
    cfg = config.load(REPO / "dsgate.yaml")
    release, namespace = cfg.cluster.release_name, cfg.cluster.namespace
    renders: list[Render] = []
    jobs = 0
    for source in discover(cfg.sources):
        source.prepare()  # a chart's local dependencies, built before the clock starts (the gate's too)
        source_jobs = source.jobs(helm_versions, kube_versions)
        jobs += len(source_jobs)
        if isinstance(source, ChartSource):
            for job in source_jobs:
                helm = tool_path("helm" if job.helm == "v4" else "helm3")
                cmd = [str(helm), "template", release, str(source.path), "--namespace", namespace]
                cmd += ["--kube-version", job.kube_version]
                for values in job.values_files:
                    cmd += ["--values", str(values)]
                renders.append(Render(f"{job.label} {job.helm} {job.kube_version}", tuple(cmd), (job.kube_version,)))
        elif isinstance(source, KustomizeSource):
            cmd = [str(tool_path("kustomize")), "build", "--enable-helm", "--helm-command", str(tool_path("helm"))]
            renders.append(Render(str(source.path), (*cmd, str(source.path)), tuple(kube_versions)))
        else:
            sys.exit(f"bench_peers: no peer pipeline for a {source.kind} source ({source.path})")
    return renders, jobs


REF = re.compile(r'"/api/_definitions\.json#/\$defs/([^"]+)"')
LOCAL_REF = re.compile(r'"#/\$defs/([^"]+)"')


def write_k8s_schemas(folder: Path, kube_versions: list[str]) -> None:
    """The kubernetes-validate package's strict schemas of KUBE_VERSIONS (what dsgate validates
    built-in kinds with), as kubeconform reads them offline and fastest: one standalone file per kind,
    FOLDER/vX.Y.Z-local-strict/KIND-GROUP-VERSION.json.

    As shipped, every kind's file has an `$id` under https://kubernetes.io/api/ and refers to the
    version's one `_definitions.json` (5 MB) as `/api/_definitions.json#/$defs/...`: kubeconform
    resolves that against the `$id` and tries to download it (offline it fails after about 3 s,
    "could not find schema"); with the `$id` dropped and the references made local, it parses the
    whole 5 MB file again for every kind of every file, about 0.7 s of CPU for a render of 8 kinds.
    Here each kind's file carries the definitions it reaches, under its own `$defs` (what kubeconform's
    default registry serves: standalone schemas). The schemas are otherwise unchanged."""
    for kube in kube_versions:
        name = f"v{kube.lstrip('v')}-local-strict"
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        definitions = json.loads((K8S_SCHEMAS / name / "_definitions.json").read_text())["$defs"]
        texts = {key: json.dumps(value) for key, value in definitions.items()}  # their references: #/$defs/...
        refs = {key: set(LOCAL_REF.findall(text)) for key, text in texts.items()}
        for path in (K8S_SCHEMAS / name).glob("*.json"):
            if path.name in ("_definitions.json", "all.json"):
                continue
            schema = json.loads(path.read_text())
            if not isinstance(schema, dict) or "kind" not in schema.get("properties", {}):
                continue  # not a kind kubeconform looks up (a type used inside kinds)
            schema.pop("$id", None)
            text = json.dumps(schema)
            reached: set[str] = set()
            todo = set(REF.findall(text))
            while todo:
                key = todo.pop()
                reached.add(key)
                todo |= refs[key] - reached
            body = REF.sub(r'"#/$defs/\1"', text)
            defs = ", ".join(f"{json.dumps(key)}: {texts[key]}" for key in sorted(reached))
            (target / path.name).write_text(body[:-1] + (f', "$defs": {{{defs}}}}}' if reached else "}"))


def kubeconform_locations(k8s_schemas: Path, crd_schemas: Path | None = None) -> list[str]:
    """kubeconform's -schema-location flags for the folders write_k8s_schemas and write_crd_schemas wrote."""
    flags = [
        "-schema-location",
        f"{k8s_schemas}/{{{{ .NormalizedKubernetesVersion }}}}-local{{{{ .StrictSuffix }}}}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
    ]
    if crd_schemas is not None:
        flags += [
            "-schema-location",
            f"{crd_schemas}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
        ]
    return flags


def write_crd_schemas(folder: Path) -> int:
    """The cached CRDs dsgate validates custom kinds with, as kubeconform schema files
    FOLDER/GROUP/KIND_VERSION.json (dsgate's own converter: strict, as dsgate checks them)."""
    count = 0
    for name, (_, key) in CRD_SOURCES.items():
        for path in sorted((crd_dir() / name / pinned()[key]).glob("*.yaml")):
            for crd in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
                for (api_version, kind), schema in crd_version_schemas(crd).items():
                    group, version = api_version.split("/")
                    target = folder / group / f"{kind.lower()}_{version}.json"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(json.dumps(schema))
                    count += 1
    return count


def peer_policy_dir(work: Path, with_tests: bool) -> Path:
    """The policy library as conftest gets it: a copy of policies/'s .rego files (tests left out
    unless WITH_TESTS)."""
    if with_tests:
        return policies_dir()
    target = work / "policies"
    for path in policies_dir().rglob("*.rego"):
        if path.name.endswith("_test.rego"):
            continue
        dest = target / path.relative_to(policies_dir())
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


@dataclasses.dataclass
class Tally:
    renders: int = 0
    render_failures: int = 0
    resources: int = 0
    invalid: int = 0  # kubeconform: invalid or error
    skipped: int = 0
    deny: int = 0  # conftest failures
    warn: int = 0
    conftest_errors: int = 0
    first_problem: str = ""
    cpu_by_program: dict[str, float] = dataclasses.field(default_factory=dict)  # per program (helm, kubeconform, ...)

    def add(self, other: Tally) -> None:
        for f in dataclasses.fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.first_problem = self.first_problem or other.first_problem
        for program, seconds in other.cpu_by_program.items():
            self.cpu_by_program[program] = round(self.cpu_by_program.get(program, 0.0) + seconds, 3)


def _run(cmd: list[str], tally: Tally, stdout: Path | None = None) -> tuple[int, str, str]:
    """Run CMD (its stdout into STDOUT when given); add its CPU time, and its children's, to TALLY
    under the program's name; return (exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with stdout.open("wb") if stdout else contextlib.nullcontext(out) as target:
            proc = subprocess.Popen(cmd, stdout=target, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)  # not proc.wait(): the rusage of this child alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        program = Path(cmd[0]).name
        tally.cpu_by_program[program] = tally.cpu_by_program.get(program, 0.0) + usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def run_peer(render: Render, work: Path, index: int, kubeconform: list[str], conftest: list[str]) -> Tally:
    """Render, validate, evaluate: one render through the three peer tools, in order."""
    tally = Tally(renders=1)
    out = work / f"render-{index:04d}.yaml"
    code, _, stderr = _run(list(render.command), tally, stdout=out)
    if code != 0:
        tally.render_failures = 1
        tally.first_problem = f"{render.label}: {stderr.strip()[-300:]}"
        return tally
    for kube in render.kube_versions:
        code, stdout, stderr = _run([*kubeconform, "-kubernetes-version", kube, str(out)], tally)
        try:
            answer = json.loads(stdout)
        except json.JSONDecodeError:
            msg = stderr.strip() or stdout[-300:]
            answer = {"resources": [{"status": "statusError", "msg": msg}], "summary": {"errors": 1}}
        counts = answer.get("summary") or {}
        tally.resources += sum(int(counts.get(k, 0)) for k in ("valid", "invalid", "errors", "skipped"))
        tally.invalid += int(counts.get("invalid", 0)) + int(counts.get("errors", 0))
        tally.skipped += int(counts.get("skipped", 0))
        for problem in answer.get("resources") or []:
            if problem.get("status") in ("statusInvalid", "statusError"):
                tally.first_problem = tally.first_problem or f"kubeconform {render.label} {kube}: {problem}"
    code, stdout, stderr = _run([*conftest, str(out)], tally)
    try:
        for result in json.loads(stdout):
            tally.deny += len(result.get("failures") or [])
            tally.warn += len(result.get("warnings") or [])
    except json.JSONDecodeError:
        tally.conftest_errors += 1
        tally.first_problem = tally.first_problem or f"conftest {render.label}: {stderr.strip()[-300:]}"
    if code not in (0, 1):
        tally.conftest_errors += 1
    return tally


def peers(
    renders: list[Render], work: Path, policy: Path, k8s_schemas: Path, crd_schemas: Path
) -> tuple[float, float, Tally]:
    """All RENDERS through the peer tools, PARALLEL at a time: (wall s, CPU s of the children, tally)."""
    kubeconform = [
        str(tool_path("kubeconform")),
        "-strict",
        "-summary",
        "-output",
        "json",
        *kubeconform_locations(k8s_schemas, crd_schemas),
    ]
    conftest = [
        str(tool_path("conftest")),
        "test",
        "--combine",
        "--no-color",
        "--output",
        "json",
        "--policy",
        str(policy),
        "--data",
        str(MODEL_FILE),
    ]
    tally = Tally()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        for one in pool.map(lambda ir: run_peer(ir[1], work, ir[0], kubeconform, conftest), enumerate(renders)):
            tally.add(one)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), tally


def dsgate(server_check: bool, work: Path, flags: list[str]) -> dict[str, Any]:
    """`dsgate check --no-deploy --cold` on this repository: wall, CPU of its tree, exit code, summary."""
    report = work / "report.json"
    cmd = [sys.executable, "-m", "dsgate.cli", "check", "--no-deploy", "--cold", "--format", "json", "-o", str(report)]
    cmd += flags  # --kube-version/--helm given to this script: the same for both sides
    if not server_check:
        cmd.append("--no-server-check")
    load = results.load()
    with (work / "dsgate.stderr").open("w") as err:
        wall, cpu, code = results.run_timed(
            cmd, cwd=REPO, env=results.child_env(), stdout=subprocess.DEVNULL, stderr=err
        )
    summary = json.loads(report.read_text()).get("summary", {}) if report.exists() else {}
    if code not in (0, 1):
        print(f"dsgate check exited {code}: {(work / 'dsgate.stderr').read_text()[-1500:]}", file=sys.stderr)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "exit": code, "summary": summary, "load_before": load}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="alternating runs of each side; medians reported")
    parser.add_argument("--kube-version", action="append", help="default: dsgate.yaml's kubeVersions")
    parser.add_argument("--helm", action="append", choices=("v3", "v4"), help="default: dsgate.yaml's helmVersions")
    parser.add_argument("--policy-tests", action="store_true", help="give conftest the *_test.rego files too")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results.adopt_orphans()
    cfg = config.load(REPO / "dsgate.yaml")
    kube_versions = args.kube_version or cfg.kube_versions
    helm_versions = args.helm or cfg.helm_versions
    flags = [f for k in args.kube_version or [] for f in ("--kube-version", k)]
    flags += [f for h in args.helm or [] for f in ("--helm", h)]
    renders, jobs = plan(kube_versions, helm_versions)
    runs: dict[str, list[dict[str, Any]]] = {"dsgate": [], "dsgate_no_server_check": [], "peers": []}
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-peers-") as tmp:
        work = Path(tmp)
        crd_schemas = work / "crd-schemas"
        crd_count = write_crd_schemas(crd_schemas)
        k8s_schemas = work / "k8s-schemas"
        write_k8s_schemas(k8s_schemas, kube_versions)
        policy = peer_policy_dir(work, args.policy_tests)
        for run in range(args.runs):
            for side in (
                ("dsgate", "peers", "dsgate_no_server_check")
                if run % 2 == 0
                else ("peers", "dsgate", "dsgate_no_server_check")
            ):
                if side == "peers":
                    load = results.load()
                    out = work / f"peers-{run}"
                    out.mkdir()
                    wall, cpu, tally = peers(renders, out, policy, k8s_schemas, crd_schemas)
                    runs["peers"].append(
                        {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_before": load, **tally.__dict__}
                    )
                else:
                    runs[side].append(dsgate(side == "dsgate", work, flags))
                row = runs[side][-1]
                print(
                    f"run {run + 1} {side}: {row['wall_s']:.2f} s wall, {row['cpu_s']:.2f} s CPU (load {row['load_before'][0]:.1f})",
                    flush=True,
                )

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[side]), 2)

    peers_wall, peers_cpu = median("peers", "wall_s"), median("peers", "cpu_s")
    figures: dict[str, Any] = {
        "renders": {
            "gate_jobs": jobs,
            "peer_renders": len(renders),
            "kube_versions": kube_versions,
            "helm_versions": helm_versions,
            "crd_schemas": crd_count,
            "policy_tests": args.policy_tests,
            "parallel": PARALLEL,
        },
        "runs": runs,
        "peers": {"wall_s": peers_wall, "cpu_s": peers_cpu},
        "goal_ratio": GOAL_RATIO,
    }
    for side in ("dsgate", "dsgate_no_server_check"):
        wall, cpu = median(side, "wall_s"), median(side, "cpu_s")
        figures[side] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "ratio_wall": round(peers_wall / wall, 2),
            "ratio_cpu": round(peers_cpu / cpu, 2),
        }
    results.write("peers", figures)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    last = runs["peers"][-1]
    print(
        f"work: {jobs} gate jobs ({', '.join(helm_versions)} x {', '.join(kube_versions)}); the peers run {len(renders)} renders,"
        f" {last['resources']} kubeconform resource checks ({last['invalid']} invalid or errors, {last['skipped']} skipped),"
        f" {last['deny']} conftest failures, {last['warn']} warnings, {last['render_failures']} render failures"
        + (f"; first problem: {last['first_problem']}" if last["first_problem"] else "")
    )
    print(
        f"peers (helm -> kubeconform -> conftest, {PARALLEL} in parallel): {peers_wall:.2f} s wall, {peers_cpu:.2f} s CPU"
        f" ({', '.join(f'{k} {v:.1f} s' for k, v in sorted(last['cpu_by_program'].items(), key=lambda kv: -kv[1]))})"
    )
    for side, name in (("dsgate", "dsgate check --no-deploy"), ("dsgate_no_server_check", "  ... --no-server-check")):
        f = figures[side]
        verdict = "met" if min(f["ratio_wall"], f["ratio_cpu"]) >= GOAL_RATIO else "NOT met"
        print(
            f"{name}: {f['wall_s']:.2f} s wall, {f['cpu_s']:.2f} s CPU (exit {runs[side][-1]['exit']}):"
            f" {f['ratio_wall']:.1f}x faster wall, {f['ratio_cpu']:.1f}x CPU (goal >= {GOAL_RATIO:.0f}x: {verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
