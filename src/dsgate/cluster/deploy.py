"""Deploy stage: install a chart on the local cluster, check its DaemonSet rollout, uninstall, check nothing is left.

`deploy_chart(...)` runs the pinned helm (v4) against a kubeconfig (the local kwok cluster's):

1. `helm install --wait=watcher` (helm's own kstatus readiness: the DaemonSet is Current);
2. for every DaemonSet in the release's manifest, the nodes it must run on are computed (eligibility.py) from
   the live nodes (node selector, required node affinity, taints vs tolerations, plus the
   tolerations the DaemonSet controller adds itself), and the DaemonSet must reach
   desiredNumberScheduled == that number, with updated/ready/available == desired and exactly one
   Ready pod on each eligible node and none elsewhere;
3. with `upgrade_to`, `helm upgrade --wait=watcher` to that chart (same values), and step 2 again
   on the upgraded manifest, within what is left of the same budget;
4. `helm uninstall --wait=watcher --cascade foreground`, then every object of the manifest must be
   gone and nothing labelled app.kubernetes.io/instance=<release> may remain (pods and
   ControllerRevisions included).

The chart is a chart directory, a packaged `.tgz` or an `oci://` reference (`version` picks the
version, `plain_http` talks plain http to the registry).

A check that fails is a finding: the result has ok=False and `messages` says why (`messages` holds
failures only; `notes` says what was checked). DeployError is for when the check cannot run at all
(no helm, no cluster, unreadable chart, release name taken). With no values files the chart's own
values.yaml is used: its default scenario.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from kubernetes.dynamic import DynamicClient

from dsgate import yamlc
from dsgate.cluster import kube
from dsgate.cluster.eligibility import eligible_nodes
from dsgate.errors import DsgateError
from dsgate.gate.render import RenderError, build_dependencies
from dsgate.tools import ToolMissing, tool_path

INSTANCE_LABEL = "app.kubernetes.io/instance"
LEFTOVER_GRACE = 30.0  # seconds: the garbage collector of a loaded 2-core machine


class DeployError(DsgateError):
    """The deploy check could not run (missing tool or cluster, bad input); the message says how to fix it."""


@dataclass
class DaemonSetReport:
    name: str
    eligible_nodes: list[str]
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    pods_by_node: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class DeployResult:
    chart: Path | str
    release: str
    namespace: str
    ok: bool = True
    messages: list[str] = field(default_factory=list)  # what failed (empty when ok)
    notes: list[str] = field(default_factory=list)  # what was checked, for reports
    timings: dict[str, float] = field(default_factory=dict)
    daemonsets: list[DaemonSetReport] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        self.messages.append(message)


# --------------------------------------------------------------------------- helm


def _helm(helm: Path, args: Sequence[str], kubeconfig: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [str(helm), *args, "--kubeconfig", str(kubeconfig)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"helm {args[0]} did not return within {timeout:.0f}s")


def _manifest_objects(text: str) -> list[dict[str, Any]]:
    return [d for d in yamlc.safe_load_all(text) if isinstance(d, dict) and d.get("kind")]


def _ref(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") or {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj['kind']} {ns}{md.get('name')}"


# --------------------------------------------------------------------------- checks


def _daemonset_report(
    dyn: DynamicClient, ds: dict[str, Any], nodes: list[dict[str, Any]]
) -> tuple[DaemonSetReport, list[str]]:
    """The DaemonSet's rollout against its eligible nodes; the problems found (empty when done)."""
    spec = ds["spec"]["template"]["spec"]
    status = ds.get("status") or {}
    report = DaemonSetReport(
        name=ds["metadata"]["name"],
        eligible_nodes=eligible_nodes(nodes, spec),
        desired=status.get("desiredNumberScheduled", 0),
        updated=status.get("updatedNumberScheduled", 0),
        ready=status.get("numberReady", 0),
        available=status.get("numberAvailable", 0),
    )
    problems: list[str] = []
    ref = f"DaemonSet {ds['metadata']['namespace']}/{report.name}"
    want = len(report.eligible_nodes)
    if status.get("observedGeneration", 0) < ds["metadata"].get("generation", 1):
        problems.append(f"{ref}: status not observed yet (generation {ds['metadata'].get('generation')})")
    if report.desired != want:
        problems.append(f"{ref}: desiredNumberScheduled {report.desired} != {want} eligible nodes")
    for label, value in (
        ("updatedNumberScheduled", report.updated),
        ("numberReady", report.ready),
        ("numberAvailable", report.available),
    ):
        if value != want:
            problems.append(f"{ref}: {label} {value} != {want}")
    if status.get("numberMisscheduled", 0):
        problems.append(f"{ref}: numberMisscheduled {status['numberMisscheduled']}")
    selector = ",".join(f"{k}={v}" for k, v in (ds["spec"]["selector"].get("matchLabels") or {}).items())
    pods = kube.list_items(dyn, "v1", "Pod", ds["metadata"]["namespace"], selector or None)
    uid = ds["metadata"]["uid"]
    owned = [p for p in pods if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or [])]
    for pod in owned:
        report.pods_by_node.setdefault(pod["spec"].get("nodeName") or "<unscheduled>", []).append(
            pod["metadata"]["name"]
        )
    for node in report.eligible_nodes:
        on_node = [p for p in owned if p["spec"].get("nodeName") == node]
        if len(on_node) != 1:
            problems.append(f"{ref}: {len(on_node)} pods on eligible node {node} (want exactly 1)")
        elif not kube.pod_ready(on_node[0]):
            problems.append(f"{ref}: pod {on_node[0]['metadata']['name']} on {node} is not Ready")
    stray = sorted(n for n in report.pods_by_node if n not in report.eligible_nodes)
    if stray:
        problems.append(f"{ref}: pods on nodes it should not run on: {', '.join(stray)}")
    return report, problems


def _kept_by_policy(stdout: str, namespace: str) -> set[str] | None:
    """The objects `helm uninstall` says it kept due to the resource policy (its `[Kind] name` lines),
    as _ref names them (namespaced ones in NAMESPACE); None when it says it kept some without naming
    them in that form."""
    _, sep, tail = stdout.partition("kept due to the resource policy")
    if not sep:
        return set()
    kept: set[str] = set()
    for kind, name in re.findall(r"^\s*\[(\w+)\]\s+(\S+)\s*$", tail, re.M):
        kept |= {f"{kind} {namespace}/{name}", f"{kind} {name}"}
    return kept or None


_STILL_EXISTS = re.compile(r"resource \S+ still exists\. status: [^,\n]*, message: [^\n]*")


def delete_wait_ended_early(stderr: str) -> bool:
    """Whether helm's only complaint is its delete wait ending on objects it saw still there, before
    its timeout: the uninstall itself went through (helm has deleted the objects by then, and purges
    the release whatever its wait says).

    helm v4's watcher ends that wait as soon as every object it has had news of is gone, counting
    those it has had no news of yet as deleted (pkg/kube/statuswait.go, statusObserver; helm/helm
    #31651, whose fix #32081 was reverted by #32230), so a DaemonSet whose foreground deletion is
    still running can be reported a moment later, or not at all. Neither is the timeout (that adds
    "context deadline exceeded"): dsgate's own check of what is left, with its grace for the garbage
    collector, decides then.
    """
    _, sep, errors = stderr.strip().partition("uninstallation completed with 1 error(s): ")
    lines = errors.splitlines()
    return bool(sep) and bool(lines) and all(_STILL_EXISTS.fullmatch(line.strip()) for line in lines)


def _leftovers(dyn: DynamicClient, objects: list[dict[str, Any]], release: str, namespace: str) -> list[str]:
    left: list[str] = []
    for obj in objects:
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or namespace
        if kube.get_or_none(dyn, obj["apiVersion"], obj["kind"], md["name"], ns) is not None:
            left.append(_ref({**obj, "metadata": {**md, "namespace": ns}}))
    selector = f"{INSTANCE_LABEL}={release}"
    kinds = {(o["apiVersion"], o["kind"]) for o in objects} | {("v1", "Pod"), ("apps/v1", "ControllerRevision")}
    for api_version, kind in sorted(kinds):
        try:
            items = kube.list_items(dyn, api_version, kind, namespace, selector)
        except Exception:  # kind gone with its CRD: nothing of it can be left
            continue
        for item in items:
            ref = _ref(item)
            if ref not in left:
                left.append(ref)
    return left


@dataclass
class _Target:
    """What every step of a deploy works with: the pinned helm, the cluster and its nodes."""

    helm: Path
    kubeconfig: Path
    dyn: DynamicClient
    nodes: list[dict[str, Any]]

    def helm_run(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return _helm(self.helm, args, self.kubeconfig, timeout)


def _check_chart(chart: Path | str) -> None:
    """A chart directory has a Chart.yaml, a package exists; an oci:// reference is helm's to resolve."""
    reference = str(chart)
    if reference.startswith("oci://"):
        return
    if reference.endswith(".tgz"):
        if not Path(reference).is_file():
            raise DeployError(f"chart package {reference} does not exist")
    elif not (Path(reference) / "Chart.yaml").is_file():
        raise DeployError(f"{reference} is not a chart (no Chart.yaml)")
    else:
        try:  # helm install/upgrade of a directory needs its local dependencies in charts/
            build_dependencies(Path(reference))
        except (RenderError, ToolMissing) as exc:
            raise DeployError(str(exc)) from None


def _connect(charts: Sequence[Path | str], values_files: Sequence[Path], kubeconfig: Path | None) -> _Target:
    """Step 1: the inputs exist, helm is installed and the cluster answers (DeployError otherwise)."""
    if kubeconfig is None:
        from dsgate.cluster.lifecycle import ClusterError, attach

        try:
            kubeconfig = attach().kubeconfig
        except ClusterError as exc:
            raise DeployError(str(exc)) from None
    kubeconfig = Path(kubeconfig)
    for chart in charts:
        _check_chart(chart)
    for vf in values_files:
        if not Path(vf).is_file():
            raise DeployError(f"values file {vf} does not exist")
    if not kubeconfig.is_file():
        raise DeployError(f"no kubeconfig at {kubeconfig}; start the local cluster with 'dsgate cluster up'")
    try:
        helm = tool_path("helm")
    except ToolMissing as exc:
        raise DeployError(str(exc)) from None
    try:
        dyn = kube.dynamic_client(kubeconfig)
        nodes = kube.list_items(dyn, "v1", "Node")
    except Exception as exc:
        raise DeployError(
            f"cannot reach the cluster of {kubeconfig} ({type(exc).__name__}); is it running? 'dsgate cluster status'"
        ) from None
    return _Target(helm, kubeconfig, dyn, nodes)


def _helm_step(
    target: _Target, args: list[str], result: DeployResult, timeout: float
) -> tuple[bool, list[dict[str, Any]]]:
    """`helm install` or `helm upgrade` ARGS with `--wait`; whether it succeeded, and the objects of
    the release's manifest afterwards (added to result.objects)."""
    release, namespace, verb = result.release, result.namespace, args[0]
    start = time.monotonic()
    proc = target.helm_run(
        [*args, "--namespace", namespace, "--wait=watcher", "--timeout", f"{int(timeout)}s"], timeout + 30
    )
    result.timings[verb] = round(time.monotonic() - start, 2)
    manifest = target.helm_run(["get", "manifest", release, "--namespace", namespace], 30)
    objects = _manifest_objects(manifest.stdout) if manifest.returncode == 0 else []
    result.objects += [ref for ref in map(_ref, objects) if ref not in result.objects]
    if proc.returncode != 0:
        result.fail(f"helm {verb} {release} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.returncode == 0, objects


def _check_rollout(
    target: _Target,
    objects: list[dict[str, Any]],
    helm_ok: bool,
    wait: float,
    result: DeployResult,
    upgraded: bool = False,
) -> None:
    """Step 2 (again after an upgrade): every DaemonSet of OBJECTS runs one Ready pod on each eligible
    node, polled for up to WAIT seconds (once when the helm step failed)."""
    daemonsets = [o for o in objects if o["kind"] == "DaemonSet" and o["apiVersion"] == "apps/v1"]
    prefix = "after the upgrade: " if upgraded else ""
    if helm_ok and not daemonsets:
        result.fail(f"{prefix}the release rendered no DaemonSet ({', '.join(result.objects) or 'no objects'})")
    start = time.monotonic()
    deadline = start + (wait if helm_ok else 0)
    result.daemonsets = []
    for ds_obj in daemonsets:
        ns = ds_obj["metadata"].get("namespace") or result.namespace
        while True:
            live = kube.get_or_none(target.dyn, "apps/v1", "DaemonSet", ds_obj["metadata"]["name"], ns)
            if live is None:
                problems, report = [f"DaemonSet {ns}/{ds_obj['metadata']['name']} does not exist"], None
            else:
                report, problems = _daemonset_report(target.dyn, live, target.nodes)
            if not problems or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if report is not None:
            result.daemonsets.append(report)
        for problem in problems:
            result.fail(prefix + problem)
    result.timings["upgrade_rollout_check" if upgraded else "rollout_check"] = round(time.monotonic() - start, 2)


def _uninstall(
    target: _Target, objects: list[dict[str, Any]], created_namespace: bool, result: DeployResult, timeout: float
) -> None:
    """Last step: `helm uninstall --wait`, then nothing of the release is left (and the namespace we made goes)."""
    release, namespace = result.release, result.namespace
    start = time.monotonic()
    un = target.helm_run(
        [
            "uninstall",
            release,
            "--namespace",
            namespace,
            "--wait=watcher",
            "--cascade",
            "foreground",
            "--timeout",
            f"{int(timeout)}s",
        ],
        timeout + 30,
    )
    result.timings["uninstall"] = round(time.monotonic() - start, 2)
    if un.returncode != 0 and "not found" not in un.stderr and not delete_wait_ended_early(un.stderr):
        result.fail(f"helm uninstall {release} failed: {un.stderr.strip()}")
    start = time.monotonic()
    left = _leftovers(target.dyn, objects, release, namespace)
    # helm waited for the foreground deletion: give the garbage collector a short grace only, and
    # none for what helm itself says it kept (helm.sh/resource-policy: keep), which stays reported.
    kept = _kept_by_policy(un.stdout, namespace)
    while (
        left
        and kept is not None
        and any(ref not in kept for ref in left)
        and time.monotonic() - start < min(timeout, LEFTOVER_GRACE)
    ):
        time.sleep(0.5)
        left = _leftovers(target.dyn, objects, release, namespace)
    result.timings["cleanup_check"] = round(time.monotonic() - start, 2)
    if left:
        result.fail(f"left behind after helm uninstall: {', '.join(left)}")
    if created_namespace:
        ns_res = kube.resource(target.dyn, "v1", "Namespace")
        try:
            ns_res.delete(name=namespace)
        except Exception as exc:
            result.notes.append(f"could not delete namespace {namespace}: {type(exc).__name__}")


class ChartOrigin(TypedDict, total=False):
    """Where a deployed chart comes from besides its path: an `oci://` reference's VERSION and
    PLAIN_HTTP, and UPGRADE_TO, a directory or package the release is upgraded to after the first
    rollout check (and checked again within what is left of the timeout)."""

    version: str
    plain_http: bool
    upgrade_to: Path | str | None


def deploy_chart(
    chart: Path | str,
    values_files: Sequence[Path] = (),
    kubeconfig: Path | None = None,
    namespace: str = "dsgate-deploy",
    release: str = "dsgate",
    timeout: float = 120.0,
    **origin: Unpack[ChartOrigin],
) -> DeployResult:
    """Install CHART with VALUES_FILES, check its DaemonSets roll out on every eligible node, uninstall, check nothing is left.

    CHART is a chart directory, a `.tgz` package or an `oci://` reference (see ChartOrigin).
    """
    version, plain_http, upgrade_to = (
        origin.get("version", ""),
        origin.get("plain_http", False),
        origin.get("upgrade_to"),
    )
    target = _connect([chart, *([upgrade_to] if upgrade_to is not None else [])], values_files, kubeconfig)
    result = DeployResult(chart=chart, release=release, namespace=namespace)
    if target.helm_run(["status", release, "--namespace", namespace], 30).returncode == 0:
        raise DeployError(
            f"release {release!r} already exists in namespace {namespace}; uninstall it (helm uninstall {release} -n {namespace}) or pick another release name"
        )
    created_namespace = kube.get_or_none(target.dyn, "v1", "Namespace", namespace) is None
    values_args = [arg for vf in values_files for arg in ("--values", str(vf))]
    source_args = [*(["--version", version] if version else []), *(["--plain-http"] if plain_http else [])]
    objects: list[dict[str, Any]] = []
    try:
        installed, objects = _helm_step(
            target, ["install", release, str(chart), *source_args, "--create-namespace", *values_args], result, timeout
        )
        _check_rollout(target, objects, installed, timeout, result)
        if upgrade_to is not None and result.ok:
            upgraded, new_objects = _helm_step(
                target, ["upgrade", release, str(upgrade_to), *values_args], result, timeout
            )
            installed_refs = {_ref(o) for o in objects}
            objects += [
                o for o in new_objects if _ref(o) not in installed_refs
            ]  # the uninstall checks both versions' objects
            _check_rollout(
                target, new_objects, upgraded, max(0.0, timeout - result.timings["upgrade"]), result, upgraded=True
            )
    finally:
        _uninstall(target, objects, created_namespace, result, timeout)
    for report in result.daemonsets:
        result.notes.append(
            f"DaemonSet {namespace}/{report.name}: {report.available}/{report.desired} available, {len(report.eligible_nodes)} eligible of {len(target.nodes)} nodes"
        )
    if result.ok:
        result.notes.append(f"uninstalled; nothing of release {release!r} left")
    return result
