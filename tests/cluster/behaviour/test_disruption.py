"""Experiments 7-9 on the small cluster: PodDisruptionBudgets against the Eviction API (DS-PDB-002),
priority on a full node (DS-PRI-001) and Pod Security admission of the node-exporter chart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import CoreV1Api, V1Eviction, V1ObjectMeta
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from dsgate import yamlc
from dsgate.cluster import kube, observe
from dsgate.cluster.lifecycle import LocalCluster
from dsgate.cluster.simulate import apply
from dsgate.gate.render import helm_template
from tests.cluster.behaviour.support import agent, create, plot, pods_by_node
from tests.support import CHARTS

pytestmark = [pytest.mark.cluster, pytest.mark.behaviour, pytest.mark.xdist_group("behaviour")]

WORKERS = [f"worker-{i}" for i in range(5)]


def _evict(core: CoreV1Api, namespace: str, pod: str) -> int:
    """POST an Eviction for POD; the HTTP status (201 accepted, 429 refused by the budget)."""
    body = V1Eviction(metadata=V1ObjectMeta(name=pod, namespace=namespace))
    try:
        core.create_namespaced_pod_eviction(pod, namespace, body)
    except ApiException as exc:
        return int(exc.status or 0)
    return 201


def _pdb(dyn: DynamicClient, namespace: str, name: str) -> dict[str, Any]:
    return kube.get_or_none(dyn, "policy/v1", "PodDisruptionBudget", name, namespace) or {}


@pytest.mark.evidence(
    "DS-PDB-002",
    "a percentage minAvailable or a maxUnavailable PDB over DaemonSet pods fails in the disruption controller and refuses every eviction",
)
@pytest.mark.parametrize(
    ("budget", "expected_drained"),
    [
        pytest.param({"minAvailable": 6}, True, id="integer-min-available-drains"),
        pytest.param({"minAvailable": "50%"}, False, id="percent-min-available-refuses"),
        pytest.param({"maxUnavailable": 1}, False, id="max-unavailable-refuses"),
    ],
)
def test_pdb_drain(
    behaviour_cluster: LocalCluster,
    dyn: DynamicClient,
    namespace: str,
    out: Path,
    budget: dict[str, Any],
    expected_drained: bool,
) -> None:
    name = "guarded"
    core = CoreV1Api(behaviour_cluster.api())
    create(dyn, agent(name), namespace)
    sample = observe.sampler(dyn, namespace, name)
    timeline = observe.Timeline(title=f"drain with PDB {budget}")
    installed = observe.poll(timeline, sample, observe.settled, 60, "the agent on every node")
    assert installed["desired"] == 7
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {**budget, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}},
    }
    create(dyn, pdb, namespace)

    def with_pdb() -> dict[str, Any]:
        st = _pdb(dyn, namespace, name).get("status") or {}
        # A failed sync sets the DisruptionAllowed condition but not observedGeneration (failSafe).
        processed = st.get("observedGeneration", 0) >= 1 or any(
            c.get("type") == "DisruptionAllowed" for c in st.get("conditions") or []
        )
        return {**sample(), "disruptionsAllowed": st.get("disruptionsAllowed", -1), "pdb_processed": int(processed)}

    observe.poll(
        timeline, with_pdb, lambda s: bool(s["pdb_processed"]), 60, "the disruption controller to process the PDB"
    )
    timeline.mark("drain starts")
    drain_start = timeline.now()
    accepted = refused = 0
    for node in WORKERS:  # drain: evict the agent on each worker, retrying while the budget refuses
        pod = pods_by_node(dyn, namespace, name)[node]["metadata"]["name"]
        outcome = observe.poll(
            timeline,
            lambda pod=pod: {**with_pdb(), "evict": _evict(core, namespace, pod)},
            lambda s: s["evict"] != 429 or not expected_drained,
            60,
            f"the eviction of {pod}",
        )
        if outcome["evict"] == 201:
            accepted += 1
            observe.poll(timeline, with_pdb, lambda s: s["available"] == s["desired"], 60, "the replacement pod")
        else:
            assert outcome["evict"] == 429, f"eviction answered {outcome['evict']}"
            refused += 1
    status = _pdb(dyn, namespace, name)["status"]
    if expected_drained:
        assert (accepted, refused) == (len(WORKERS), 0)
        during = [x["available"] for x in timeline.samples if x["t"] >= drain_start]
        assert min(during) >= 6, "the drain took more pods down than the budget allows"
    else:
        assert (accepted, refused) == (0, len(WORKERS))
        assert status["disruptionsAllowed"] == 0
        condition = next(c for c in status["conditions"] if c["type"] == "DisruptionAllowed")
        assert (condition["status"], condition["reason"]) == ("False", "SyncFailed"), condition
        failed = observe.events(dyn, namespace, name, "CalculateExpectedPodCountFailed")
        # getExpectedScale looks for the pods' controller's scale subresource, which a DaemonSet lacks.
        assert failed and "does not implement the scale subresource" in failed[-1]["message"], failed
    plot(timeline, out, "pdb-drain", ("desired", "available", "disruptionsAllowed"))


@pytest.mark.evidence(
    "DS-PRI-001",
    "on a full node an agent without priority stays Pending; system-node-critical preempts a lower-priority pod",
)
@pytest.mark.parametrize(
    ("priority_class", "expected_covered"),
    [
        pytest.param(None, False, id="no-priority-stays-pending"),
        pytest.param("system-node-critical", True, id="node-critical-preempts"),
    ],
)
def test_priority_on_full_node(
    dyn: DynamicClient, namespace: str, out: Path, priority_class: str | None, expected_covered: bool
) -> None:
    node = "worker-3"
    filler = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "filler"},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "containers": [
                {"name": "app", "image": "registry.example/dsgate/app:v1", "resources": {"requests": {"cpu": "3750m"}}}
            ],
            "terminationGracePeriodSeconds": 0,
        },
    }
    create(dyn, filler, namespace)
    kube.wait_for(
        "the filler pod Ready",
        lambda: kube.pod_ready(kube.get_or_none(dyn, "v1", "Pod", "filler", namespace) or {}),
        60,
    )
    name = "critical" if priority_class else "plain"
    timeline = observe.Timeline(title=f"agent on a full node, priorityClassName {priority_class or '(none)'}")
    create(
        dyn,
        agent(name, node_selector={"kubernetes.io/hostname": node}, priority_class=priority_class, cpu="100m"),
        namespace,
    )
    base = observe.sampler(dyn, namespace, name)

    def sample() -> dict[str, Any]:
        pod = kube.get_or_none(dyn, "v1", "Pod", "filler", namespace)
        return {**base(), "filler": int(pod is not None and not pod["metadata"].get("deletionTimestamp"))}

    if expected_covered:
        observe.poll(
            timeline, sample, lambda s: observe.settled(s) and not s["filler"], 60, "the agent to preempt the filler"
        )
        preempted = observe.events(dyn, namespace, "filler", "Preempted")
        assert preempted and "Preempted by" in preempted[-1]["message"], preempted
    else:
        last = observe.poll(
            timeline, sample, lambda s: s["unschedulable"] == 1, 60, "the scheduler to refuse the agent"
        )
        assert last["filler"] == 1 and last["available"] == 0
        cov = observe.coverage(dyn, observe.daemonset(dyn, namespace, name))
        assert [(m["node"], m["reason"].split(":")[0]) for m in cov.missing_eligible] == [(node, "resources")]
        assert "Insufficient cpu" in cov.missing_eligible[0]["reason"]
    plot(timeline, out, f"priority-{name}", ("desired", "available", "unschedulable", "filler"))


README_LEVEL = re.compile(r"Pod Security level: \*\*(privileged|baseline|restricted)\*\*")


@pytest.mark.parametrize("chart", ["node-exporter", "fluentd"])
def test_pod_security_levels(dyn: DynamicClient, out: Path, chart: str) -> None:
    """Each level the chart's README does not claim rejects the pods (with the reason); the level it claims admits them."""
    stated = README_LEVEL.search((CHARTS / chart / "README.md").read_text())
    assert stated, f"charts/{chart}/README.md does not state its Pod Security level"
    levels = ["restricted", "baseline", "privileged"]
    timeline = observe.Timeline(title=f"{chart} under Pod Security levels")
    for level in levels:
        ns = f"psa-{chart}-{level}"
        kube.create(
            dyn,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": level}},
            },
        )
        try:
            objects = [
                d
                for d in yamlc.safe_load_all(helm_template(CHARTS / chart, release=f"psa-{level}", namespace=ns).text)
                if d
            ]
            (name,) = [ns_name for _ns, ns_name in apply(dyn, objects, [], default_namespace=ns)]
            timeline.mark(level)
            sample = observe.sampler(dyn, ns, name)
            admitted = levels.index(level) >= levels.index(stated.group(1))
            if admitted:
                # Admitted: a Ready pod on every node (availability would only add the chart's minReadySeconds).
                observe.poll(
                    timeline,
                    sample,
                    lambda s: s["current"] == s["desired"] == s["pods_ready"] > 0,
                    90,
                    f"{chart} pods admitted under {level}",
                )
            else:
                observe.poll(
                    timeline,
                    sample,
                    lambda _s, ns=ns, name=name: bool(observe.events(dyn, ns, name, "FailedCreate")),
                    60,
                    f"{chart} pods rejected under {level}",
                )
                message = observe.events(dyn, ns, name, "FailedCreate")[-1]["message"]
                assert f'violates PodSecurity "{level}:latest"' in message, message
                assert observe.status_counts(observe.daemonset(dyn, ns, name))["current"] == 0
        finally:
            kube.resource(dyn, "v1", "Namespace").delete(name=ns)
    plot(timeline, out, f"pod-security-{chart}", ("desired", "current", "available"))
