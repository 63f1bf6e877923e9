"""Timeline plots (dsgate.cluster.plot) from a Timeline built by hand: a real PNG with the series drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.cluster.observe import Timeline, poll
from dsgate.cluster.plot import timeline_png

pytestmark = pytest.mark.unit


def test_timeline_png(tmp_path: Path) -> None:
    timeline = Timeline(title="a rollout")
    for i in range(6):
        timeline.samples.append({"t": float(i), "desired": 10.0, "updated": float(2 * i), "unavailable": float(i % 3)})
    timeline.marks.append((1.0, "new version"))
    path = timeline_png(
        timeline,
        tmp_path / "sub" / "plot.png",
        series=("desired", "updated", "unavailable", "absent"),
        limits={"budget": 2},
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert (timeline.max("updated"), timeline.last()["updated"], timeline.series("unavailable")) == (
        10,
        10.0,
        [0.0, 1.0, 2.0, 0.0, 1.0, 2.0],
    )


@pytest.mark.parametrize(
    ("values", "expected_samples", "expected_error"),
    [
        pytest.param([1, 2, 3], 3, None, id="done-on-third"),
        pytest.param(
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            None,
            "timed out after 0s waiting for three",
            id="stalls",
        ),
    ],
)
def test_poll(values: list[int], expected_samples: int | None, expected_error: str | None) -> None:
    timeline = Timeline()
    feed = iter(values)

    def sample() -> dict[str, int]:
        return {"n": next(feed)}

    if expected_error:
        with pytest.raises(TimeoutError, match=expected_error):
            poll(timeline, sample, lambda s: s["n"] == 3, 0.05, "three", interval=0.01)
        return
    poll(timeline, sample, lambda s: s["n"] == 3, 5, "three", interval=0.01)
    assert len(timeline.samples) == expected_samples


def test_poll_check_fails_at_first_bad_sample() -> None:
    timeline = Timeline()
    feed = iter([1, 5, 2])

    def check(s: dict[str, float]) -> None:
        assert s["n"] <= 3, "over budget"

    with pytest.raises(AssertionError, match="over budget"):
        poll(timeline, lambda: {"n": next(feed)}, lambda s: False, 5, "never", interval=0.01, check=check)
    assert len(timeline.samples) == 2
