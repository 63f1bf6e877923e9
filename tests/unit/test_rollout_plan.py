"""The rollout budget, waves and predicted time of a DaemonSet (dsgate.cluster.rollout), no cluster."""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.cluster.rollout import budget, predicted_seconds, scaled, waves
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


@pytest.mark.parametrize(
    ("strategy", "min_ready", "total", "expected_budget", "expected_waves", "expected_seconds", "expected_spec"),
    [
        pytest.param({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}, 0, 1000, 100, 10, 17.5, "maxUnavailable=10%", id="ten-percent"),
        pytest.param({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 250}}, 0, 1000, 250, 4, 7.0, "maxUnavailable=250", id="integer"),
        pytest.param({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}, 10, 10, 1, 10, 117.5, "maxUnavailable=1", id="min-ready"),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "20%"}},
            0,
            10,
            0,
            5,
            8.8,
            "maxUnavailable=0, maxSurge=20%",
            id="surge",
        ),
        pytest.param({"type": "OnDelete"}, 0, 10, 1, 0, 0.0, "OnDelete", id="on-delete"),
    ],
)
def test_plan(
    strategy: dict[str, Any], min_ready: int, total: int, expected_budget: int, expected_waves: int, expected_seconds: float, expected_spec: str
) -> None:
    plan = budget(_ds(strategy, min_ready), total)
    assert (plan.max_unavailable, waves(total, plan), predicted_seconds(total, TOPOLOGY, plan), plan.spec) == (
        expected_budget,
        expected_waves,
        expected_seconds,
        expected_spec,
    )
