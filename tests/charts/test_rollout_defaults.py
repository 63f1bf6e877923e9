"""The charts' default rollout budget finishes at fleet scale (issue 27): `maxUnavailable: 10%`, which the
DaemonSet controller rounds up, so small clusters still update one node at a time and 1,000 nodes update in
10 waves. Renders both real charts with their default values; the 1,000-node duration is dsgate simulate's
own calibrated model (the measured rollout is in bench/README.md), so no cluster starts here.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from tests.support import CHARTS

from dsgate.cluster import rollout
from dsgate.cluster.progress import Talk
from dsgate.cluster.simulate import preflight, render
from dsgate.cluster.topology import load_topology
from dsgate.paths import DEFAULT_TOPOLOGY

pytestmark = pytest.mark.render

NAMES = ("node-exporter", "fluentd")
THOUSAND_NODES = DEFAULT_TOPOLOGY.with_name("1000-nodes.yaml")
FIFTEEN_MINUTES = 900.0  # issue 27: a default 1,000-node rollout of either chart ends within this


def _daemonset(chart: str) -> dict[str, Any]:
    (ds,) = [o for o in render(CHARTS / chart, [], {"podAnnotations": {"rev": "b"}}) if o["kind"] == "DaemonSet"]
    return ds


@pytest.mark.parametrize("chart", NAMES)
@pytest.mark.parametrize(
    ("nodes", "expected_per_wave", "expected_waves"),
    [
        # a small cluster: 10% of up to 10 nodes rounds up to 1, Kubernetes' own default
        pytest.param(3, 1, 3, id="3-nodes"),
        pytest.param(10, 1, 10, id="10-nodes"),
        # rounding up: 1.1 is 2
        pytest.param(11, 2, 6, id="11-nodes"),
        pytest.param(250, 25, 10, id="250-nodes"),
        # the seed's fleet: 100 at a time, 10 waves (1,000 waves at the old default of 1)
        pytest.param(1000, 100, 10, id="1000-nodes"),
    ],
)
def test_default_budget_scales_with_the_fleet(
    chart: str, nodes: int, expected_per_wave: int, expected_waves: int
) -> None:
    plan = rollout.budget(_daemonset(chart), nodes)
    assert (plan.spec, plan.max_unavailable, plan.max_surge, plan.min_ready_seconds) == (
        "maxUnavailable=10%",
        expected_per_wave,
        0,
        10,
    )
    assert rollout.waves(nodes, plan) == expected_waves


@pytest.mark.parametrize("chart", NAMES)
def test_default_rollout_on_1000_nodes_is_predicted_within_15_minutes(chart: str) -> None:
    """simulate's preflight lets the default rollout through a 15-minute timeout, and the high end of the
    model's range is within it (the old default: 3 h, refused)."""
    topology = load_topology(THOUSAND_NODES)
    ds = _daemonset(chart)
    plan = rollout.budget(ds, 1000)
    prediction = rollout.predict(1000, topology, plan)
    assert (prediction.waves, prediction.per_wave) == (10, 100)
    assert prediction.high <= FIFTEEN_MINUTES, prediction.text()
    out = io.StringIO()
    assert preflight(topology, [ds], FIFTEEN_MINUTES, Talk(stream=out, tty=False)) == []
    assert "rollout predicted on 1000 nodes (maxUnavailable=10%, minReadySeconds 10): " in out.getvalue()
    old = rollout.predict(1000, topology, rollout.Budget("RollingUpdate", 1, 0, "maxUnavailable=1", 10))
    assert old.seconds > 3 * 3600  # what the default was: 1,000 waves
