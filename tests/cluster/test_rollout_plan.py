"""The rollout budget, waves and predicted time of a DaemonSet (dsgate.cluster.rollout), no cluster."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dsgate.cluster.rollout import RolloutResult, budget, budget_for, duration, predict, scaled, waves
from dsgate.cluster.topology import parse_topology

pytestmark = pytest.mark.unit

TOPOLOGY = parse_topology(
    {
        "kind": "Topology",
        "podReadyDelay": "1s",
        "podReadyJitter": "500ms",
        "podDeleteDelay": "500ms",
        "pools": [{"name": "w", "count": 1, "capacity": {"cpu": "1", "memory": "1Gi", "pods": "10"}}],
    }
)


def _ds(strategy: dict[str, Any], min_ready: int = 0) -> dict[str, Any]:
    return {"spec": {"updateStrategy": strategy, "minReadySeconds": min_ready}}


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [
        pytest.param("10%", 1000, 100, id="ten-percent"),
        pytest.param("10%", 11, 2, id="rounds-up"),
        pytest.param("0%", 11, 0, id="zero"),
        pytest.param(3, 11, 3, id="int"),
        pytest.param("7", 11, 7, id="int-string"),
        pytest.param(None, 11, 1, id="default"),
    ],
)
def test_scaled(value: int | str | None, total: int, expected: int) -> None:
    assert scaled(value, total) == expected


def test_scaled_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not an int or a percentage"):
        scaled("ten", 10)


# Pod timings of TOPOLOGY: delete 0.5 s + mean ready 1.25 s (+ minReadySeconds) a wave; the controllers
# add 1.1 s + 25 ms per replaced pod a wave (rollout.WAVE_OVERHEAD), half that to twice that for the range.
@pytest.mark.parametrize(
    (
        "strategy",
        "min_ready",
        "total",
        "expected_budget",
        "expected_waves",
        "expected_pods",
        "expected_prediction",
        "expected_spec",
    ),
    [
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            0,
            1000,
            100,
            10,
            17.5,
            (53.5, 35.5, 89.5),  # 10 x (1.1 + 2.5) s of overhead: the 52.8 s measured at 1,000 nodes
            "maxUnavailable=10%",
            id="ten-percent",
        ),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 250}},
            0,
            1000,
            250,
            4,
            7.0,
            (36.4, 21.7, 65.8),
            "maxUnavailable=250",
            id="integer",
        ),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            10,
            10,
            1,
            10,
            117.5,
            (128.8, 123.1, 140.0),
            "maxUnavailable=1",
            id="min-ready",
        ),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "20%"}},
            0,
            10,
            0,
            5,
            8.8,
            (14.5, 11.6, 20.2),
            "maxUnavailable=0, maxSurge=20%",
            id="surge",
        ),
        pytest.param({"type": "OnDelete"}, 0, 10, 1, 0, 0.0, (0.0, 0.0, 0.0), "OnDelete", id="on-delete"),
    ],
)
def test_plan(
    strategy: dict[str, Any],
    min_ready: int,
    total: int,
    expected_budget: int,
    expected_waves: int,
    expected_pods: float,
    expected_prediction: tuple[float, float, float],
    expected_spec: str,
) -> None:
    plan = budget(_ds(strategy, min_ready), total)
    prediction = predict(total, TOPOLOGY, plan)
    assert (
        plan.max_unavailable,
        waves(total, plan),
        prediction.pods,
        (prediction.seconds, prediction.low, prediction.high),
        plan.spec,
    ) == (
        expected_budget,
        expected_waves,
        expected_pods,
        expected_prediction,
        expected_spec,
    )


# The DaemonSet controller can leave a few pods over the budget for a moment (rollout.CONTROLLER_SLACK):
# 10% of the budget, rounded down, is not a fault; one more pod is.
@pytest.mark.parametrize(
    ("max_unavailable", "observed", "expected_slack", "expected_over"),
    [
        pytest.param(100, 100, 10, False, id="at-budget"),
        pytest.param(100, 105, 10, False, id="controller-overshoot-seen-in-ci"),
        pytest.param(100, 110, 10, False, id="at-slack"),
        pytest.param(100, 111, 10, True, id="past-slack"),
        pytest.param(250, 275, 25, False, id="integer-budget-slack"),
        pytest.param(9, 10, 0, True, id="no-slack-below-ten"),
        pytest.param(1, 2, 0, True, id="budget-one"),
        pytest.param(5, 0, 0, False, id="nothing-unavailable"),
    ],
)
def test_over_budget(max_unavailable: int, observed: int, expected_slack: int, expected_over: bool) -> None:
    plan = budget(_ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}), 1000)
    result = RolloutResult(
        plan.strategy, plan.max_unavailable, plan.spec, observed, 1.0, predict(1000, TOPOLOGY, plan), completed=True
    )
    assert (result.slack, result.over_budget, result.as_json()["controllerSlack"]) == (
        expected_slack,
        expected_over,
        expected_slack,
    )


@pytest.mark.parametrize(
    ("max_unavailable", "min_ready", "total", "seconds", "expected"),
    [
        pytest.param(
            1, 10, 1000, 900, 17, id="1000-nodes-15-min"
        ),  # 59 waves x (11.75 + 1.1 + 17 x 25 ms x 2) s <= 900 s
        pytest.param(1, 0, 10, 3600, 1, id="already-fits"),
        pytest.param(1, 10, 1000, 5, None, id="nothing-fits"),  # one wave alone takes longer
    ],
)
def test_budget_for(max_unavailable: int, min_ready: int, total: int, seconds: float, expected: int | None) -> None:
    plan = budget(
        _ds({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}, min_ready), total
    )
    found = budget_for(total, TOPOLOGY, plan, seconds)
    assert found == expected
    if found is not None:  # the smallest: one less does not fit
        assert predict(total, TOPOLOGY, replace(plan, max_unavailable=found)).high <= seconds
        assert (
            found == max_unavailable
            or predict(total, TOPOLOGY, replace(plan, max_unavailable=found - 1)).high > seconds
        )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(44.6, "45 s", id="seconds"),
        pytest.param(600, "10 min", id="whole-minutes"),
        pytest.param(725, "12 min 5 s", id="minutes"),
        pytest.param(11750, "3 h 15 min", id="hours"),
    ],
)
def test_duration(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected
