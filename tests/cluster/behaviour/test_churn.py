"""Experiment 2, node churn: a node that joins gets a pod, a node that leaves has its pod
garbage-collected, a NoExecute taint evicts the pod unless tolerated, and a NoExecute toleration
with tolerationSeconds evicts after that time (DS-TOL-003: the agent leaves the node exactly when
something is wrong with it).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube, observe
from dsgate.cluster.lifecycle import LocalCluster
from tests.cluster.behaviour.support import agent, create, patch, plot, pods_by_node

pytestmark = [pytest.mark.cluster, pytest.mark.behaviour, pytest.mark.xdist_group("behaviour")]

TAINT = {"key": "dsgate.dev/maintenance", "value": "now", "effect": "NoExecute"}
TOLERATION_SECONDS = 4


def _taint(dyn: DynamicClient, node: str, taints: list[dict[str, str]]) -> None:
    patch(dyn, "v1", "Node", node, {"spec": {"taints": taints or None}})


def test_join_gets_a_pod_and_leave_collects_it(
    behaviour_cluster: LocalCluster, dyn: DynamicClient, namespace: str, out: Path
) -> None:
    timeline = observe.Timeline(title="node churn: join and leave")
    create(dyn, agent("churn"), namespace)
    sample = observe.sampler(dyn, namespace, "churn")
    before = observe.poll(timeline, sample, observe.settled, 60, "the agent on every worker")
    timeline.mark("node joins")
    node = behaviour_cluster.add_node("worker", wait=60)
    try:
        observe.poll(
            timeline,
            sample,
            lambda s: observe.settled(s) and s["desired"] == before["desired"] + 1,
            60,
            f"a pod on the new node {node}",
        )
        pod = pods_by_node(dyn, namespace, "churn")[node]
        assert kube.pod_ready(pod)
    finally:
        timeline.mark("node leaves")
        kube.resource(dyn, "v1", "Node").delete(name=node)
    # The pod GC controller deletes pods bound to a node that no longer exists (after its quarantine).
    observe.poll(
        timeline,
        sample,
        lambda s: s["pods"] == before["desired"] and node not in pods_by_node(dyn, namespace, "churn"),
        120,
        "the orphaned pod to be collected",
    )
    # The controller counts the node out when it next syncs the DaemonSet, which may come after the
    # pod is gone: wait for its count, then check it is the count before the node joined.
    last = observe.poll(
        timeline, sample, lambda s: s["desired"] <= before["desired"], 60, "the controller to count the node out"
    )
    assert last["desired"] == before["desired"]
    plot(timeline, out, "join-leave", ("desired", "pods", "available"))


@pytest.mark.parametrize(
    ("toleration", "expected_evicted", "expected_min_seconds"),
    [
        pytest.param(None, True, 0, id="not-tolerated-evicted"),
        pytest.param(
            {"key": TAINT["key"], "operator": "Exists", "effect": "NoExecute"}, False, 0, id="tolerated-stays"
        ),
        pytest.param(
            {"key": TAINT["key"], "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": TOLERATION_SECONDS},
            True,
            TOLERATION_SECONDS,
            id="toleration-seconds-evicts-later",
        ),
    ],
)
@pytest.mark.evidence(
    "DS-TOL-003", "a NoExecute toleration with tolerationSeconds evicts the agent from the tainted node after that time"
)
def test_no_execute_taint(
    dyn: DynamicClient,
    namespace: str,
    out: Path,
    toleration: dict[str, object] | None,
    expected_evicted: bool,
    expected_min_seconds: int,
) -> None:
    name = "noexec"
    node = "worker-1"
    create(dyn, agent(name, tolerations=[toleration] if toleration else None), namespace)
    timeline = observe.Timeline(title=f"NoExecute taint on {node}")
    sample = observe.sampler(dyn, namespace, name)
    observe.poll(timeline, sample, observe.settled, 60, "the agent on every worker")
    first = pods_by_node(dyn, namespace, name)[node]
    uid = first["metadata"]["uid"]

    def present() -> bool:
        pod = kube.get_or_none(dyn, "v1", "Pod", first["metadata"]["name"], namespace)
        return pod is not None and pod["metadata"]["uid"] == uid and not pod["metadata"].get("deletionTimestamp")

    # A plain pod on the same node that tolerates nothing: once the taint-eviction controller has
    # evicted it, it has acted on the taint, so a daemon pod still there is tolerated (no fixed wait).
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "probe", "image": "registry.example/dsgate/probe:v1"}],
            "terminationGracePeriodSeconds": 0,
        },
    }
    create(dyn, probe, namespace)
    kube.wait_for(
        "the probe pod Ready", lambda: kube.pod_ready(kube.get_or_none(dyn, "v1", "Pod", "probe", namespace) or {}), 60
    )

    def counts() -> dict[str, object]:
        probe_pod = kube.get_or_none(dyn, "v1", "Pod", "probe", namespace)
        return {
            **sample(),
            "on_node": int(present()),
            "probe": int(probe_pod is not None and not probe_pod["metadata"].get("deletionTimestamp")),
        }

    tainted_at = time.monotonic()
    timeline.mark("taint")
    _taint(dyn, node, [TAINT])
    try:
        observe.poll(
            timeline,
            counts,
            lambda s: not s["probe"],
            60,
            f"the taint-eviction controller to evict the probe pod on {node}",
        )
        if expected_evicted:
            observe.poll(timeline, counts, lambda s: not s["on_node"], 60, f"the agent pod on {node} to be evicted")
            waited = time.monotonic() - tainted_at
            assert waited >= expected_min_seconds, (
                f"evicted after {waited:.1f}s, before tolerationSeconds {expected_min_seconds}"
            )
            timeline.mark("agent evicted")
            if expected_min_seconds:
                assert observe.events(dyn, namespace, first["metadata"]["name"], "TaintManagerEviction"), (
                    "no TaintManagerEviction event for the agent pod"
                )
        else:
            assert present(), "the tolerated agent pod was evicted"
    finally:
        _taint(dyn, node, [])
        timeline.mark("untaint")
    observe.poll(timeline, sample, observe.settled, 60, "the agent back on every worker")
    plot(
        timeline,
        out,
        f"noexecute-{'tolerated' if not expected_evicted else 'evicted'}",
        ("desired", "pods", "available", "on_node", "probe"),
    )


def test_pod_marked_not_ready_turns_ready_again(dyn: DynamicClient, namespace: str, out: Path) -> None:
    """A node that misses its heartbeats has its pods marked NotReady by the node lifecycle
    controller; once the node is back, its kubelet reports them Ready again. kwok has no kubelet:
    cluster/stages/pod-ready-again.yaml plays that part, or the pods would stay unavailable for good."""
    name = "flap"
    node = "worker-2"
    create(dyn, agent(name), namespace)
    timeline = observe.Timeline(title=f"a pod on {node} marked NotReady")
    sample = observe.sampler(dyn, namespace, name)
    observe.poll(timeline, sample, observe.settled, 60, "the agent on every worker")
    pod = pods_by_node(dyn, namespace, name)[node]
    timeline.mark("marked NotReady")
    # What MarkPodsNotReady (kube-controller-manager's node lifecycle controller) writes.
    marked = kube.resource(dyn, "v1", "Pod").status.patch(
        body={
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                ]
            }
        },
        name=pod["metadata"]["name"],
        namespace=namespace,
        content_type="application/strategic-merge-patch+json",
    )
    assert not kube.pod_ready(marked.to_dict())
    observe.poll(
        timeline,
        sample,
        lambda s: kube.pod_ready(pods_by_node(dyn, namespace, name).get(node) or {}),
        60,
        f"the pod on {node} Ready again",
        on_timeout=lambda: observe.unready_detail(dyn, namespace, name),
    )
    assert pods_by_node(dyn, namespace, name)[node]["metadata"]["uid"] == pod["metadata"]["uid"], (
        "the pod was replaced, not reported Ready again"
    )
    # The stage's event (recorded asynchronously by kwok) says who reported it Ready again.
    kube.wait_for(
        "the pod-ready-again stage's event",
        lambda: observe.events(dyn, namespace, pod["metadata"]["name"], "Ready"),
        30,
    )
    plot(timeline, out, "ready-again", ("desired", "available", "pods_ready"))
