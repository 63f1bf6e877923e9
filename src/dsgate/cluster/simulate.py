"""`dsgate simulate PATH --topology FILE`: what a chart, kustomization or manifest set does on a cluster of that shape.

Starts a throwaway local cluster (real control plane, kwok nodes from the topology), applies what
PATH renders to, and reports per DaemonSet its coverage: the eligible nodes and every node left
without a pod, with the reason (a taint it does not tolerate, its node selector, its node
affinity, or the scheduler's reason on an eligible node: resources, host ports). With
--upgrade-set KEY=VALUE (charts: a values override, dotted keys) it re-renders, applies the
changed DaemonSets one at a time and reports each rollout from the DaemonSet's status: the most
pods unavailable at any sample against the budget (plus the DaemonSet controller's own slack of
10%, rollout.slack), the duration, the predicted duration and the waves. --plot writes the
timeline as a PNG. The cluster is removed in every case.

Exit 0: every eligible node covered and every rollout within budget; 1: a DaemonSet misses an
eligible node, or a rollout exceeds its budget or stalls; 2: bad input or infrastructure error.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from dsgate import procs, rundir, yamlc
from dsgate.cluster import kube, observe
from dsgate.cluster import rollout as rollout_mod
from dsgate.cluster.eligibility import eligible_nodes
from dsgate.cluster.progress import Talk
from dsgate.cluster.topology import Topology, TopologyError, load_topology
from dsgate.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, DsgateError
from dsgate.tools import ToolMissing

NAMESPACE = "dsgate-sim"
RELEASE = "sim"


class SimulateError(DsgateError):
    """The simulation could not run (bad input, missing tool, cluster failure): exit 2."""


@dataclass
class DaemonSetResult:
    name: str
    namespace: str
    coverage: observe.Coverage
    rollout: rollout_mod.RolloutResult | None = None
    timeline: observe.Timeline = field(default_factory=observe.Timeline)

    @property
    def failed(self) -> list[str]:
        why = [f"misses eligible node {m['node']} ({m['reason']})" for m in self.coverage.missing_eligible]
        if self.rollout is not None:
            if self.rollout.over_budget:
                why.append(
                    f"rollout had {self.rollout.max_unavailable_observed} pods unavailable, over its budget of {self.rollout.budget}"
                    + (f" and the controller's slack of {self.rollout.slack}" if self.rollout.slack else "")
                )
            if not self.rollout.completed:
                why.append(f"rollout stalled: {self.rollout.stalled_reason}")
        return why

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "eligibleNodes": len(self.coverage.eligible),
            "coverage": {
                "scheduled": self.coverage.scheduled,
                "available": self.coverage.available,
                "missing": [
                    {"node": m["node"], "reason": m["reason"], "eligible": m["eligible"] == "true"}
                    for m in self.coverage.missing
                ],
            },
            "rollout": self.rollout.as_json() if self.rollout else None,
        }


@dataclass
class SimulationResult:
    nodes: int
    daemonsets: list[DaemonSetResult]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    too_slow: list[str] = field(default_factory=list)  # rollouts predicted to outlast --timeout: not started

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.too_slow or any(d.failed for d in self.daemonsets) else EXIT_OK

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "daemonsets": [d.as_json() for d in self.daemonsets],
            "notes": self.notes,
            "seconds": self.seconds,
            "tooSlow": self.too_slow,
        }


# --------------------------------------------------------------------------- rendering


def set_values(pairs: Sequence[str]) -> dict[str, Any]:
    """--upgrade-set KEY=VALUE pairs as a values mapping (dotted keys nest; VALUE is read as YAML)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise SimulateError(f"--upgrade-set {pair!r}: expected KEY=VALUE with a dotted KEY (e.g. image.tag=v2)")
        node = values
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SimulateError(f"--upgrade-set {pair!r}: {part} is set to a scalar by an earlier --upgrade-set")
        try:
            node[last] = yamlc.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            node[last] = raw
    return values


def render(path: Path, values_files: Sequence[Path], overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The objects PATH renders to, rendered by its source kind as the gate renders it (a chart with
    VALUES_FILES and OVERRIDES, as release RELEASE in NAMESPACE)."""
    from dsgate.gate.sourcekinds import ChartSource, discover
    from dsgate.gate.sources import Job, RenderContext

    try:
        sources = discover([path], values_files)
    except DsgateError as exc:
        raise SimulateError(str(exc)) from None
    not_charts = [s for s in sources if not isinstance(s, ChartSource)]
    if overrides and not_charts:
        raise SimulateError(f"--upgrade-set needs a chart; {not_charts[0].path} is a {not_charts[0].kind} source")
    objects: list[dict[str, Any]] = []
    try:
        for source in sources:
            job = Job(source, "simulate", tuple(values_files), values=overrides, release=RELEASE, namespace=NAMESPACE)
            objects += [d.obj for d in source.render(job, RenderContext()).documents if d.obj.get("kind")]
    except (DsgateError, OSError) as exc:
        raise SimulateError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    if not any(o["kind"] == "DaemonSet" for o in objects):
        raise SimulateError(f"{path} renders no DaemonSet; nothing to simulate")
    return objects


# --------------------------------------------------------------------------- applying


def apply(
    dyn: Any, objects: Sequence[dict[str, Any]], notes: list[str], default_namespace: str = NAMESPACE
) -> list[tuple[str, str]]:
    """Create OBJECTS (namespaces first, DEFAULT_NAMESPACE for those that name none); kinds the server
    does not serve are skipped with a note. Returns the (namespace, name) of every DaemonSet."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import ConflictError, ResourceNotFoundError

    namespaces = {(o.get("metadata") or {}).get("namespace") or default_namespace for o in objects}
    for ns in sorted(namespaces):
        if kube.get_or_none(dyn, "v1", "Namespace", ns) is None:
            kube.create(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    ordered = sorted(
        objects,
        key=lambda o: (
            o["kind"] not in ("Namespace", "CustomResourceDefinition", "PriorityClass"),
            o["kind"] == "DaemonSet",
        ),
    )
    daemonsets: list[tuple[str, str]] = []
    for obj in ordered:
        hook = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
        if "test" in hook:
            continue  # a `helm test` pod: not part of the install
        try:
            res = kube.resource(dyn, obj["apiVersion"], obj["kind"])
        except ResourceNotFoundError:
            notes.append(
                f"skipped {obj['kind']} {obj['metadata'].get('name')}: the cluster does not serve {obj['apiVersion']}/{obj['kind']}"
            )
            continue
        ns = (obj.get("metadata") or {}).get("namespace") or default_namespace
        try:
            kube.create(dyn, obj, namespace=ns if res.namespaced else None)
        except ConflictError:
            if obj["kind"] != "Namespace":
                notes.append(f"{obj['kind']} {obj['metadata'].get('name')} already existed; left as it was")
            continue
        except ApiException as exc:
            notes.append(
                f"the API server refused {obj['kind']} {obj['metadata'].get('name')}: {exc.status} {exc.reason}"
            )
            continue
        if obj["kind"] == "DaemonSet":
            daemonsets.append((ns, obj["metadata"]["name"]))
    return daemonsets


def replace_spec(dyn: Any, new: dict[str, Any], namespace: str) -> bool:
    """Put NEW's spec on the live DaemonSet; False when nothing in the spec changed."""
    res = kube.resource(dyn, "apps/v1", "DaemonSet")
    live = res.get(name=new["metadata"]["name"], namespace=namespace).to_dict()
    body = {**live, "spec": {**live["spec"], **new["spec"]}}
    body["metadata"] = {**live["metadata"], "labels": new["metadata"].get("labels") or live["metadata"].get("labels")}
    res.replace(body=body, namespace=namespace)
    after = res.get(name=new["metadata"]["name"], namespace=namespace).to_dict()
    return bool(after["metadata"].get("generation") != live["metadata"].get("generation"))


def _stable(sample: dict[str, float]) -> bool:
    """Every desired pod is available, or the rest can't be placed (pending with a scheduler message)."""
    if not sample["observed"] or sample["desired"] <= 0:
        return False
    return observe.settled(sample) or (
        sample["available"] + sample.get("unschedulable", 0) >= sample["desired"]
        and sample["pods"] >= sample["desired"]
    )


def wait_stable(dyn: Any, namespace: str, name: str, timeline: observe.Timeline, timeout: float, nodes: int) -> None:
    """Sample until _stable; listing the pods of a big cluster is costly, so sample it less often."""
    interval = 0.25 if nodes <= 200 else 2.0
    observe.poll(
        timeline,
        observe.sampler(dyn, namespace, name),
        _stable,
        timeout,
        f"DaemonSet {namespace}/{name} to place its pods",
        interval=interval,
    )


# --------------------------------------------------------------------------- the run


def preflight(topology: Topology, upgraded: Sequence[dict[str, Any]], timeout: float, talk: Talk) -> list[str]:
    """Say how long each upgraded DaemonSet's rollout is predicted to take on TOPOLOGY's eligible nodes;
    return why each one predicted to outlast TIMEOUT cannot be watched to its end, with the values that would fit."""
    nodes = topology.nodes()
    slow: list[str] = []
    for ds in (o for o in upgraded if o["kind"] == "DaemonSet"):
        ref = f"DaemonSet {ds['metadata'].get('namespace') or NAMESPACE}/{ds['metadata']['name']}"
        total = len(eligible_nodes(nodes, ds["spec"]["template"]["spec"]))
        plan = rollout_mod.budget(ds, total)
        prediction = rollout_mod.predict(total, topology, plan)
        talk.say(
            f"{ref}: rollout predicted on {total} nodes ({plan.spec}, minReadySeconds {plan.min_ready_seconds}): {prediction.text()}"
        )
        if plan.strategy != "RollingUpdate" or prediction.seconds <= timeout:
            continue
        fits = rollout_mod.budget_for(total, topology, plan, timeout)
        change = [f"--timeout {int(prediction.high) + 1} or more"]
        if fits is not None:
            change.append(f"maxUnavailable {fits} ({-(-fits * 100 // total)}% of {total} nodes) or more")
        if plan.min_ready_seconds:
            change.append(f"a shorter minReadySeconds than {plan.min_ready_seconds}")
        slow.append(
            f"{ref}: predicted rollout {prediction.text()} outlasts --timeout {rollout_mod.duration(timeout)}; not started. Set {', or '.join(change)}"
        )
    return slow


def simulate(
    path: Path,
    topology_file: Path,
    values_files: Sequence[Path] = (),
    upgrade_set: Sequence[str] = (),
    plot: Path | None = None,
    timeout: float = 600.0,
    talk: Talk | None = None,
) -> SimulationResult:
    """Run the simulation (see the module docstring); SimulateError for what makes it impossible. A
    rollout predicted to outlast TIMEOUT is not waited for: the result says so before any cluster starts."""
    from dsgate.cluster import lifecycle

    try:
        topology = load_topology(topology_file)
    except TopologyError as exc:
        raise SimulateError(str(exc)) from None
    for vf in values_files:
        if not Path(vf).is_file():
            raise SimulateError(f"values file {vf} does not exist")
    talk = talk or Talk(stream=io.StringIO())  # nobody listens: kept in memory
    upgraded = render(path, values_files, set_values(upgrade_set)) if upgrade_set else []
    objects = render(path, values_files)
    too_slow = preflight(topology, upgraded, timeout, talk)
    if too_slow:
        for why in too_slow:
            talk.say(why)
        return SimulationResult(nodes=topology.node_count, daemonsets=[], too_slow=too_slow)
    root = rundir.mkdtemp("dsgate-sim-")
    started = time.monotonic()
    try:
        talk.say(f"starting a throwaway cluster of {topology.node_count} nodes ({topology_file})")
        try:
            cluster = lifecycle.up(topology_file, name="sim", root=root, timeout=max(timeout, 120.0), quiet=True)
        except (lifecycle.ClusterError, ToolMissing, TopologyError) as exc:
            raise SimulateError(str(exc).splitlines()[0]) from None
        result = SimulationResult(nodes=topology.node_count, daemonsets=[])
        result.seconds["clusterUp"] = round(cluster.up_seconds, 1)
        try:
            _run(cluster.dynamic(), topology, (objects, upgraded), result, timeout, talk)
        finally:
            talk.close()
            lifecycle.down("sim", root, quiet=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result.seconds["total"] = round(time.monotonic() - started, 1)
    if plot is not None:
        write_plots(result, plot)
    return result


def _run(
    dyn: Any,
    topology: Topology,
    renders: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    result: SimulationResult,
    timeout: float,
    talk: Talk,
) -> None:
    """Install the first of RENDERS, wait for its DaemonSets, then roll out the second (the upgrade)."""
    objects, upgraded = renders
    talk.say(f"applying {len(objects)} objects")
    daemonsets = apply(dyn, objects, result.notes)
    nodes = kube.list_items(dyn, "v1", "Node")
    for ns, name in daemonsets:
        timeline = observe.Timeline(title=f"DaemonSet {ns}/{name}")
        timeline.mark("applied")
        try:
            wait_stable(dyn, ns, name, timeline, timeout, len(nodes))
        except observe.Stalled as exc:
            result.notes.append(str(exc))
        cov = observe.coverage(dyn, observe.daemonset(dyn, ns, name), nodes)
        result.daemonsets.append(DaemonSetResult(name=name, namespace=ns, coverage=cov, timeline=timeline))
    by_name = {
        (o["metadata"].get("namespace") or NAMESPACE, o["metadata"]["name"]): o
        for o in upgraded
        if o["kind"] == "DaemonSet"
    }
    for entry in result.daemonsets:
        new = by_name.get((entry.namespace, entry.name))
        if new is None:
            continue
        if not replace_spec(dyn, new, entry.namespace):
            result.notes.append(
                f"DaemonSet {entry.namespace}/{entry.name}: --upgrade-set changed nothing in its spec; no rollout"
            )
            continue
        talk.say(f"upgrading DaemonSet {entry.namespace}/{entry.name}")
        entry.timeline.mark("upgrade applied")
        talk.rollout(f"rollout of DaemonSet {entry.namespace}/{entry.name}")
        options = rollout_mod.WatchOptions(timeout, pods=topology.node_count <= 200, on_sample=talk.sample)
        entry.rollout = rollout_mod.watch(dyn, entry.namespace, entry.name, topology, entry.timeline, options)
        talk.close()


def write_plots(result: SimulationResult, plot: Path) -> list[Path]:
    from dsgate.cluster.plot import timeline_png

    written = []
    for i, entry in enumerate(result.daemonsets):
        target = plot if i == 0 else plot.with_name(f"{plot.stem}-{entry.name}{plot.suffix or '.png'}")
        limits: dict[str, float] = {}
        if entry.rollout is not None:
            limits[f"budget {entry.rollout.budget} unavailable"] = entry.rollout.budget
        written.append(
            timeline_png(entry.timeline, target, limits=limits, title=f"{entry.timeline.title} on {result.nodes} nodes")
        )
    return written


# --------------------------------------------------------------------------- CLI


def to_text(result: SimulationResult, out: TextIO) -> None:
    print(f"simulated on {result.nodes} nodes", file=out)
    for entry in result.daemonsets:
        cov = entry.coverage
        print(
            f"DaemonSet {entry.namespace}/{entry.name}: {len(cov.eligible)} eligible nodes, {cov.scheduled} scheduled, {cov.available} available",
            file=out,
        )
        for miss in cov.missing:
            flag = "MISSING" if miss["eligible"] == "true" else "not covered"
            print(f"  {flag} {miss['node']}: {miss['reason']}", file=out)
        if entry.rollout is not None:
            r = entry.rollout
            over = r.max_unavailable_observed - r.budget
            within_slack = f", {over} over: within the controller's slack of {r.slack}" if 0 < over <= r.slack else ""
            print(
                f"  rollout ({r.strategy}, {r.budget_spec}): max {r.max_unavailable_observed} unavailable (budget {r.budget}{within_slack}), "
                f"{r.seconds:.1f}s observed vs {r.predicted_seconds:.1f}s predicted ({r.prediction.low:.0f}-{r.prediction.high:.0f}s), {r.waves} waves"
                + ("" if r.completed else f"; STALLED: {r.stalled_reason}"),
                file=out,
            )
        for why in entry.failed:
            print(f"  FAIL: {why}", file=out)
    for why in result.too_slow:
        print(f"FAIL: {why}", file=out)
    for note in result.notes:
        print(f"note: {note}", file=out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dsgate simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("path", type=Path, metavar="PATH", help="chart, kustomization directory or YAML file/directory")
    p.add_argument("--topology", type=Path, required=True, help="topology file (e.g. cluster/small.yaml)")
    p.add_argument(
        "-f", "--values", action="append", type=Path, default=[], help="values file for a chart (repeatable)"
    )
    p.add_argument(
        "--upgrade-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="after install, upgrade with this value (repeatable)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    p.add_argument("--plot", type=Path, help="write the timeline PNG here")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each placement and rollout")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    procs.install_handlers()  # SIGTERM too: the throwaway cluster is removed, exit 143
    try:
        result = simulate(
            args.path,
            args.topology,
            args.values,
            args.upgrade_set,
            args.plot,
            args.timeout,
            talk=Talk(),
        )
    except SimulateError as exc:
        print(f"dsgate simulate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        procs.stop_all()
        print(f"dsgate simulate: interrupted ({exc or 'SIGINT'}); the cluster was removed", file=sys.stderr)
        return procs.exit_code(exc)
    out = args.output.open("w") if args.output else sys.stdout
    try:
        if args.format == "json":
            json.dump(result.as_json(), out, indent=2)
            out.write("\n")
        else:
            to_text(result, out)
    finally:
        if args.output:
            out.close()
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
