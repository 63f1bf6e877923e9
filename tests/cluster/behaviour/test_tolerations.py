"""The NoExecute tolerations a DaemonSet pod really gets from the DaemonSet controller.

The tolerations rules rest on what kube-controller-manager's AddOrUpdateDaemonPodTolerations does
(pkg/controller/daemon/util): it adds node.kubernetes.io/not-ready and node.kubernetes.io/unreachable
NoExecute tolerations without tolerationSeconds to every DaemonSet pod, and none for any other
NoExecute taint (DS-TOL-004); it replaces a user toleration with the same key, operator, value and
effect, so `{key: not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: N}` loses its N,
while a key-less one keeps it and, listed first, is the one the taint-eviction controller uses
(DS-TOL-003). Read from the pods the real controller creates.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube
from tests.cluster.behaviour.support import CONTROL_PLANE_TOLERATION, agent, create, pods_by_node

pytestmark = [pytest.mark.cluster, pytest.mark.behaviour, pytest.mark.xdist_group("behaviour")]

NOT_READY = ("node.kubernetes.io/not-ready", "Exists", None)
UNREACHABLE = ("node.kubernetes.io/unreachable", "Exists", None)


def _no_execute(pod: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    """The pod's NoExecute tolerations in order, as (key, operator, tolerationSeconds)."""
    return [
        (t.get("key") or "", t.get("operator") or "Equal", t.get("tolerationSeconds"))
        for t in pod["spec"].get("tolerations") or []
        if t.get("effect") == "NoExecute"
    ]


@pytest.mark.parametrize(
    ("given", "expected_no_execute"),
    [
        # nothing given: not-ready and unreachable only, for ever
        pytest.param([], [NOT_READY, UNREACHABLE], id="none-given"),
        # the same key, operator and effect: replaced, tolerationSeconds gone
        pytest.param(
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            [NOT_READY, UNREACHABLE],
            id="not-ready-with-seconds-replaced",
        ),
        # key-less: kept, first, with its tolerationSeconds (it decides when the pod leaves a NotReady node)
        pytest.param(
            [{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            [("", "Exists", 300), NOT_READY, UNREACHABLE],
            id="key-less-with-seconds-kept-first",
        ),
    ],
)
@pytest.mark.evidence(
    "DS-TOL-004",
    "a DaemonSet pod gets NoExecute tolerations for not-ready and unreachable only, from the DaemonSet controller",
)
def test_daemon_pod_no_execute_tolerations(
    dyn: DynamicClient,
    namespace: str,
    given: list[dict[str, Any]],
    expected_no_execute: list[tuple[str, str, int | None]],
) -> None:
    name = "tolerations"
    create(dyn, agent(name, tolerations=[CONTROL_PLANE_TOLERATION, *given]), namespace)
    kube.wait_for("a pod of the DaemonSet", lambda: bool(pods_by_node(dyn, namespace, name)), 60)
    pods = list(pods_by_node(dyn, namespace, name).values())
    assert {str(_no_execute(p)) for p in pods} == {str(expected_no_execute)}, [_no_execute(p) for p in pods]
