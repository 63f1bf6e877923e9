"""Experiments 4-6 on the small cluster: maxSurge with and without host ports (DS-ROL-006), a bad
version against minReadySeconds (DS-ROL-005) and OnDelete (DS-ROL-004).

A halt or a stall is shown by sampling the status over a window derived from the simulated pod
timings (several times the time a wave takes), checking the invariant at every sample.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube, observe, rollout
from dsgate.cluster.lifecycle import LocalCluster
from tests.cluster.behaviour.support import agent, create, new_version, plot, pods_by_node

pytestmark = [pytest.mark.cluster, pytest.mark.behaviour, pytest.mark.xdist_group("behaviour")]

SURGE = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
CRASH = {"dsgate.dev/simulate-crash": "true"}
CRASH_AFTER_READY = 8  # seconds: cluster/stages/pod-crash.yaml


def _window(cluster: LocalCluster, ds: dict[str, Any], floor: float = 5.0) -> float:
    """An observation window: five waves' worth of the simulated pod timings, at least FLOOR seconds."""
    plan = rollout.budget(ds, observe.status_counts(ds)["desired"])
    return max(floor, 5 * rollout.wave_seconds(cluster.topology, plan))


def _observe_for(timeline: observe.Timeline, sample: Any, seconds: float, what: str, check: Any) -> dict[str, float]:
    until = time.monotonic() + seconds
    return observe.poll(timeline, sample, lambda _s: time.monotonic() >= until, seconds + 30, what, check=check)


@pytest.mark.parametrize(
    ("settings", "expected_stall"),
    [
        pytest.param({}, False, id="no-host-port-overlaps"),
        pytest.param({"host_port": 9400}, True, id="host-port-stalls"),
        pytest.param({"host_network": True}, True, id="host-network-stalls"),
    ],
)
@pytest.mark.evidence(
    "DS-ROL-006",
    "with maxSurge and a host port (or hostNetwork) the surge pod cannot be scheduled and the rollout stalls",
)
def test_max_surge(
    behaviour_cluster: LocalCluster,
    dyn: DynamicClient,
    namespace: str,
    out: Path,
    settings: dict[str, Any],
    expected_stall: bool,
) -> None:
    name = "surge"
    timeline = observe.Timeline(
        title=f"maxSurge 1 {'with ' + next(iter(settings)) if settings else 'without host ports'}"
    )
    create(dyn, agent(name, strategy=SURGE, **settings), namespace)
    sample = observe.sampler(dyn, namespace, name)
    installed = observe.poll(timeline, sample, observe.settled, 60, "the agent on every node")
    timeline.mark("new version")
    new_version(dyn, namespace, name)
    if not expected_stall:
        result = rollout.watch(
            dyn, namespace, name, behaviour_cluster.topology, timeline, rollout.WatchOptions(120, stall_floor=10)
        )
        assert result.completed, result.stalled_reason
        assert timeline.max("doubled_nodes") >= 1, "no sample showed the old and the surge pod on one node"
        # Availability from the pods: every node keeps a Ready pod throughout. The controller's
        # numberUnavailable is not used: it looks at the oldest pod of a node, which for a moment is
        # the old pod being deleted after its replacement is Ready.
        since = next(t for t, label in timeline.marks if label == "new version")
        rolling = [s for s in timeline.samples if s["t"] >= since]
        assert rolling and max(s["desired"] - s["ready_nodes"] for s in rolling) == 0
        plot(timeline, out, "surge-overlap", ("desired", "updated", "available", "unavailable", "doubled_nodes"))
        return
    # The surge pod is created and stays Pending: the scheduler finds the port taken by the old pod.
    observe.poll(
        timeline, sample, lambda s: s["unschedulable"] >= 1, 60, "the surge pod to be refused by the scheduler"
    )
    pending = [p for p in kube.list_items(dyn, "v1", "Pod", namespace) if observe.pod_scheduled_message(p)]
    assert pending and "free ports" in observe.pod_scheduled_message(pending[0]), (
        observe.pod_scheduled_message(pending[0]) if pending else ""
    )
    assert observe.events(dyn, namespace, pending[0]["metadata"]["name"], "FailedScheduling")
    timeline.mark("surge pod unschedulable")

    def stalled(s: dict[str, float]) -> None:
        assert s["new_ready"] == 0 and s["old"] == installed["desired"], f"the rollout moved: {s}"

    _observe_for(
        timeline, sample, _window(behaviour_cluster, observe.daemonset(dyn, namespace, name)), "the stall", stalled
    )
    plot(
        timeline,
        out,
        f"surge-stall-{next(iter(settings))}",
        ("desired", "updated", "available", "new", "unschedulable"),
    )


@pytest.mark.evidence(
    "DS-ROL-005", "with minReadySeconds a crashing version halts at the budget; without it the whole fleet gets it"
)
@pytest.mark.parametrize(
    ("min_ready_seconds", "expected_fleet_replaced"),
    [
        pytest.param(CRASH_AFTER_READY + 2, False, id="min-ready-halts-at-budget"),
        pytest.param(0, True, id="no-min-ready-rolls-through"),
    ],
)
def test_bad_version(
    behaviour_cluster: LocalCluster,
    dyn: DynamicClient,
    namespace: str,
    out: Path,
    min_ready_seconds: int,
    expected_fleet_replaced: bool,
) -> None:
    name = "crashing"
    budget = 2
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": budget}}
    timeline = observe.Timeline(
        title=f"a crashing version, minReadySeconds {min_ready_seconds}, maxUnavailable {budget}"
    )
    # minReadySeconds from the start: set later, it would make every pod Ready for less than that
    # unavailable at once, and the controller replaces unavailable old pods without counting the budget.
    create(dyn, agent(name, strategy=strategy, min_ready_seconds=min_ready_seconds), namespace)
    sample = observe.sampler(dyn, namespace, name)
    installed = observe.poll(timeline, sample, observe.settled, 60 + min_ready_seconds, "the agent on every node")
    desired = installed["desired"]
    timeline.mark("crashing version")
    new_version(dyn, namespace, name, annotations=CRASH)
    if expected_fleet_replaced:
        # Each new pod counts as available the moment it is Ready, before it crashes: the rollout
        # replaces every pod, then the fleet goes down.
        observe.poll(timeline, sample, lambda s: s["updated"] == desired, 60, "the crashing version on every node")
        timeline.mark("fleet replaced")
        observe.poll(timeline, sample, lambda s: s["available"] == 0 and s["new"] == desired, 60, "the fleet to crash")
        timeline.mark("fleet down")
    else:
        observe.poll(timeline, sample, lambda s: s["new"] == budget, 60, "the first wave")

        def halted(s: dict[str, float]) -> None:
            assert s["new"] <= budget and s["unavailable"] <= budget, f"the rollout went past its budget: {s}"

        # Long enough for the new pods to be Ready, crash, and pass minReadySeconds had they stayed Ready.
        last = _observe_for(timeline, sample, min_ready_seconds + 3, "the halted rollout", halted)
        assert (last["new"], last["old"], last["available"]) == (budget, desired - budget, desired - budget)
        assert observe.events(dyn, namespace, None, "BackOff"), "no BackOff event from the crashing pods"
        timeline.mark("halted")
    plot(
        timeline,
        out,
        f"bad-version-min-ready-{min_ready_seconds}",
        ("desired", "new", "old", "available", "unavailable"),
        {"budget": budget},
    )


@pytest.mark.evidence("DS-ROL-004", "with OnDelete nothing changes until a pod is deleted, and then only on that node")
def test_on_delete(behaviour_cluster: LocalCluster, dyn: DynamicClient, namespace: str, out: Path) -> None:
    name = "ondelete"
    timeline = observe.Timeline(title="OnDelete")
    create(dyn, agent(name, strategy={"type": "OnDelete"}), namespace)
    sample = observe.sampler(dyn, namespace, name)
    installed = observe.poll(timeline, sample, observe.settled, 60, "the agent on every node")
    before = {node: pod["metadata"]["uid"] for node, pod in pods_by_node(dyn, namespace, name).items()}
    timeline.mark("new version")
    new_version(dyn, namespace, name)
    observe.poll(timeline, sample, lambda s: bool(s["observed"]), 30, "the controller to observe the new spec")

    def untouched(s: dict[str, float]) -> None:
        assert s["new"] == 0 and s["terminating"] == 0 and s["available"] == installed["desired"], (
            f"a pod was replaced without a delete: {s}"
        )

    _observe_for(
        timeline,
        sample,
        _window(behaviour_cluster, observe.daemonset(dyn, namespace, name)),
        "nothing to happen",
        untouched,
    )
    assert {node: pod["metadata"]["uid"] for node, pod in pods_by_node(dyn, namespace, name).items()} == before
    timeline.mark("delete pod on worker-2")
    kube.resource(dyn, "v1", "Pod").delete(
        name=pods_by_node(dyn, namespace, name)["worker-2"]["metadata"]["name"], namespace=namespace
    )
    last = observe.poll(
        timeline,
        sample,
        lambda s: s["new_ready"] == 1 and s["terminating"] == 0 and s["available"] == s["desired"],
        60,
        "the new pod on worker-2",
    )
    after = pods_by_node(dyn, namespace, name)
    assert [n for n in after if after[n]["metadata"]["uid"] != before[n]] == ["worker-2"]
    assert (last["new"], last["old"]) == (1, installed["desired"] - 1)
    plot(timeline, out, "on-delete", ("desired", "new", "old", "available"))
