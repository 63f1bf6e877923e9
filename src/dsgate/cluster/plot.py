"""PNG timeline plots of experiments and rollouts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dsgate.cluster.observe import Timeline

DEFAULT_SERIES = ("desired", "updated", "available", "unavailable")


def timeline_png(
    timeline: Timeline,
    path: Path,
    series: Sequence[str] = DEFAULT_SERIES,
    limits: dict[str, float] | None = None,
    title: str = "",
    dpi: int = 80,
) -> Path:
    """Draw SERIES of TIMELINE against time, LIMITS as dashed horizontal lines, marks as vertical ones."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    try:
        times = timeline.series("t")
        for key in series:
            if any(key in s for s in timeline.samples):
                ax.step(times, timeline.series(key), where="post", label=key, linewidth=1.5)
        for label, value in (limits or {}).items():
            ax.axhline(value, linestyle="--", linewidth=1, color="grey")
            ax.annotate(label, (times[0] if times else 0, value), textcoords="offset points", xytext=(2, 3), fontsize=8, color="dimgrey")
        top = ax.get_ylim()[1]
        for when, label in timeline.marks:
            ax.axvline(when, linestyle=":", linewidth=1, color="black")
            ax.annotate(label, (when, top), textcoords="offset points", xytext=(2, -10), fontsize=7, rotation=90, va="top")
        ax.set_xlabel("seconds")
        ax.set_ylabel("pods")
        ax.set_title(title or timeline.title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="center right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return path
