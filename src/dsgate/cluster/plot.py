"""PNG timeline plots of experiments and rollouts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches
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
            ax.annotate(
                label,
                (times[0] if times else 0, value),
                textcoords="offset points",
                xytext=(2, 3),
                fontsize=8,
                color="dimgrey",
            )
        top = ax.get_ylim()[1]
        for when, label in timeline.marks:
            ax.axvline(when, linestyle=":", linewidth=1, color="black")
            ax.annotate(
                label, (when, top), textcoords="offset points", xytext=(2, -10), fontsize=7, rotation=90, va="top"
            )
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


def coverage_png(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[str, str], tuple[int, int, int]],
    path: Path,
    title: str = "",
    dpi: int = 80,
) -> Path:
    """A coverage matrix: ROWS (DaemonSets) by COLUMNS (node pools); CELLS[(row, column)] is (nodes in
    the pool, nodes meant for the DaemonSet, nodes running it). A cell is green when every meant node
    runs it, red in proportion to the misses, grey when no node of the pool is meant for it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(6.0, 2.4 + 1.3 * len(columns)), 1.2 + 0.42 * len(rows)))
    try:
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                total, meant, running = cells.get((row, column), (0, 0, 0))
                color: str | tuple[float, float, float]
                if meant == 0:
                    color, text = "#d9d9d9", f"- / {total}"
                else:
                    share = running / meant
                    color = (1.0 - 0.55 * share, 0.45 + 0.45 * share, 0.45) if share < 1 else (0.55, 0.85, 0.55)
                    text = f"{running} / {meant}"
                ax.add_patch(matplotlib.patches.Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white"))
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8)
        ax.set_xlim(0, len(columns))
        ax.set_ylim(len(rows), 0)
        ax.set_xticks([j + 0.5 for j in range(len(columns))], columns, fontsize=8, rotation=20, ha="right")
        ax.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=8)
        ax.tick_params(length=0)
        ax.set_title(title or "nodes running / nodes meant, by pool", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return path
