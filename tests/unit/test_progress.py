"""What `dsgate simulate` says while a rollout runs (dsgate.cluster.progress): lines off a terminal, a bar on one."""

from __future__ import annotations

import io

import pytest

from dsgate.cluster.progress import Talk, eta
from dsgate.cluster.rollout import Prediction

pytestmark = pytest.mark.unit

PREDICTION = Prediction(seconds=120.0, low=100.0, high=200.0, waves=10, per_wave=10, pods=90.0)


def _sample(t: float, updated: int, available: int, desired: int = 100) -> dict[str, float]:
    return {"t": t, "updated": updated, "available": available, "desired": desired, "unavailable": desired - available}


@pytest.mark.parametrize(
    ("sample", "expected_eta"),
    [
        pytest.param(_sample(0, 0, 100), 120.0, id="start-uses-the-prediction"),
        pytest.param(_sample(30, 0, 90), 90.0, id="nothing-updated-yet"),
        pytest.param(_sample(200, 0, 90), 0.0, id="later-than-predicted"),
        pytest.param(_sample(50, 25, 90), 150.0, id="observed-pace"),  # 25 pods in 50 s: 75 more take 150 s
        pytest.param(_sample(80, 100, 100), 0.0, id="done"),
    ],
)
def test_eta(sample: dict[str, float], expected_eta: float) -> None:
    assert eta(sample, PREDICTION) == expected_eta


def test_lines_off_a_terminal() -> None:
    """A line for the first sample, then at most one every 10 s of the rollout, and the last one."""
    out = io.StringIO()
    talk = Talk(stream=out, tty=False)
    talk.rollout("rollout of DaemonSet ns/agent")
    for t, updated, available in [(0, 0, 100), (4, 10, 90), (10, 20, 90), (15, 30, 90), (21, 50, 95), (25, 100, 100)]:
        talk.sample(_sample(t, updated, available), PREDICTION)
    talk.close()
    assert out.getvalue().splitlines() == [
        "dsgate simulate: rollout of DaemonSet ns/agent: 0/100 updated, 0 unavailable, 0 s elapsed, ETA 2 min",
        "dsgate simulate: rollout of DaemonSet ns/agent: 20/100 updated, 10 unavailable, 10 s elapsed, ETA 40 s",
        "dsgate simulate: rollout of DaemonSet ns/agent: 50/100 updated, 5 unavailable, 21 s elapsed, ETA 21 s",
        "dsgate simulate: rollout of DaemonSet ns/agent: 100/100 updated, 0 unavailable, 25 s elapsed, ETA 0 s",
    ]


def test_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the same figures are a progress bar's text; messages print above it."""
    monkeypatch.setenv("COLUMNS", "160")  # a terminal wide enough for the whole line (rich cuts it to fit)
    out = io.StringIO()
    talk = Talk(stream=out, tty=True)
    talk.rollout("rollout of DaemonSet ns/agent")
    talk.sample(_sample(10, 20, 90), PREDICTION)
    talk.say("a message meanwhile")
    talk.close()
    text = out.getvalue()
    assert "\x1b[" in text  # drawn with terminal control sequences, not plain lines
    assert "rollout of DaemonSet ns/agent" in text and "20/100 updated, 10 unavailable, 10 s elapsed, ETA 40 s" in text
    assert "dsgate simulate: a message meanwhile" in text
