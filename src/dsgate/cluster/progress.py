"""What a long command says while it waits: messages, and a rollout's progress (updated/desired,
unavailable, elapsed, ETA) as a bar on a terminal or as a line every few seconds otherwise.

`dsgate simulate` waits minutes for a rollout at fleet scale; a command that prints nothing for that
long looks hung, so every sample of the rollout reaches a `Talk`. The ETA comes from the rollout's
own pace once pods have been updated, and from the model's prediction before that.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from dsgate.cluster.rollout import Prediction, duration


def eta(sample: dict[str, float], prediction: Prediction) -> float:
    """Seconds left: the observed pace of updates once there is one, else what the prediction leaves."""
    elapsed, updated, desired = sample["t"], sample["updated"], sample["desired"]
    if updated >= desired:
        return 0.0
    if updated > 0 and elapsed > 0:
        return (desired - updated) * elapsed / updated
    return max(prediction.seconds - elapsed, 0.0)


def figures(sample: dict[str, float], prediction: Prediction) -> str:
    """A rollout sample for a person: updated/desired, unavailable, elapsed, ETA."""
    return (
        f"{int(sample['updated'])}/{int(sample['desired'])} updated, {int(sample['unavailable'])} unavailable, "
        f"{duration(sample['t'])} elapsed, ETA {duration(eta(sample, prediction))}"
    )


class Talk:
    """Messages and rollout progress on STREAM (stderr): a bar when TTY (default: whether STREAM is a
    terminal), else a line at most every EVERY seconds of the rollout, plus its first and last sample."""

    def __init__(
        self,
        prefix: str = "dsgate simulate",
        stream: TextIO | None = None,
        tty: bool | None = None,
        every: float = 10.0,
    ) -> None:
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_line = -1.0
        self._label = ""

    def say(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(f"{self.prefix}: {message}")
        else:
            print(f"{self.prefix}: {message}", file=self.stream, flush=True)

    def rollout(self, label: str) -> None:
        """Start reporting the rollout LABEL (the samples that follow belong to it)."""
        self.close()
        self._label, self._last_line = label, -1.0
        if self.tty:
            console = Console(file=self.stream, force_terminal=True)
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                console=console,
                transient=False,
            )
            self._task = self._bar.add_task(label, total=None, detail="waiting for the controller")
            self._bar.start()

    def sample(self, sample: dict[str, float], prediction: Prediction) -> None:
        """One sample of the current rollout (rollout.WatchOptions.on_sample)."""
        done = sample["updated"] >= sample["desired"] > 0 and sample["available"] >= sample["desired"]
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, total=sample["desired"], completed=sample["updated"], detail=figures(sample, prediction)
            )
            return
        if self._last_line < 0 or sample["t"] - self._last_line >= self.every or done:
            self._last_line = sample["t"]
            print(f"{self.prefix}: {self._label}: {figures(sample, prediction)}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar, self._task = None, None
