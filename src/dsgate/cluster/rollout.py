"""DaemonSet rollouts: the budget the controller applies, the waves it implies, the time they predict,
and watching a rollout to its end (or to a stall) from the DaemonSet's own status.

The DaemonSet controller scales an int-or-percent `maxUnavailable`/`maxSurge` against the number
of nodes that should run a pod, rounding up (pkg/controller/daemon/update.go), and with a budget
of B on N nodes it replaces at most B pods at a time: ceil(N / B) waves. A wave takes the pod's
deletion, its start until Ready (kwok's simulated ready delay: the mean of a uniform draw) and
minReadySeconds before the pod counts as available and frees a slot.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

from kubernetes.dynamic import DynamicClient

from dsgate.cluster import observe
from dsgate.cluster.topology import Topology

_PERCENT = re.compile(r"^(\d+)%$")


def scaled(value: int | str | None, total: int, default: int | str = 1) -> int:
    """An int-or-percent budget against TOTAL pods, rounded up as the DaemonSet controller does."""
    value = default if value is None else value
    if isinstance(value, int):
        return value
    match = _PERCENT.match(str(value).strip())
    if match:
        return math.ceil(int(match.group(1)) * total / 100)
    if str(value).strip().isdigit():
        return int(str(value).strip())
    raise ValueError(f"not an int or a percentage: {value!r}")


@dataclass(frozen=True)
class Budget:
    strategy: str  # RollingUpdate | OnDelete
    max_unavailable: int
    max_surge: int
    spec: str  # as written, e.g. "maxUnavailable=10%"
    min_ready_seconds: int = 0


def budget(ds: dict[str, Any], total: int) -> Budget:
    """The rollout budget of DS on TOTAL nodes."""
    strategy = (ds["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate"
    rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge"), total, default=0)
    raw_unavailable = rolling.get("maxUnavailable")
    unavailable = scaled(raw_unavailable, total, default=0 if surge else 1)
    written = [f"maxUnavailable={raw_unavailable if raw_unavailable is not None else unavailable}"]
    if surge:
        written.append(f"maxSurge={rolling['maxSurge']}")
    return Budget(
        strategy=strategy,
        max_unavailable=unavailable,
        max_surge=surge,
        spec=", ".join(written) if strategy == "RollingUpdate" else strategy,
        min_ready_seconds=int(ds["spec"].get("minReadySeconds") or 0),
    )


def waves(total: int, plan: Budget) -> int:
    """How many rounds of replacement TOTAL pods take under PLAN (0 for OnDelete: nothing moves by itself)."""
    per_wave = max(plan.max_unavailable, plan.max_surge)
    if plan.strategy != "RollingUpdate" or per_wave <= 0 or total <= 0:
        return 0
    return math.ceil(total / per_wave)


def wave_seconds(topology: Topology, plan: Budget) -> float:
    """One wave: delete + mean ready delay + minReadySeconds (a surge wave deletes after, not before)."""
    ready = (topology.pod_ready_delay_ms + (topology.pod_ready_delay_ms + topology.pod_ready_jitter_ms)) / 2000
    return topology.pod_delete_delay_ms / 1000 + ready + plan.min_ready_seconds


def predicted_seconds(total: int, topology: Topology, plan: Budget) -> float:
    return round(waves(total, plan) * wave_seconds(topology, plan), 1)


@dataclass
class RolloutResult:
    strategy: str
    budget: int
    budget_spec: str
    max_unavailable_observed: int
    seconds: float
    predicted_seconds: float
    waves: int
    completed: bool
    stalled_reason: str = ""

    @property
    def over_budget(self) -> bool:
        return self.max_unavailable_observed > self.budget

    def as_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "budget": self.budget_spec,
            "maxUnavailable": self.budget,
            "maxUnavailableObserved": self.max_unavailable_observed,
            "seconds": round(self.seconds, 1),
            "predictedSeconds": self.predicted_seconds,
            "waves": self.waves,
            "completed": self.completed,
            "stalled": self.stalled_reason,
        }


def stall_window(topology: Topology, plan: Budget, floor: float = 30.0) -> float:
    """How long a rollout may show no progress before it counts as stalled: four waves' worth, at least FLOOR seconds."""
    return max(floor, 4 * wave_seconds(topology, plan))


def watch(
    dyn: DynamicClient,
    namespace: str,
    name: str,
    topology: Topology,
    timeline: observe.Timeline,
    timeout: float,
    pods: bool = True,
    interval: float = 0.25,
    stall_floor: float = 30.0,
) -> RolloutResult:
    """Sample DaemonSet NAMESPACE/NAME until its rollout completes, stalls (no change in the updated and
    available counts for stall_window seconds) or TIMEOUT passes; the result compares it with the plan."""
    ds = observe.daemonset(dyn, namespace, name)
    total = observe.status_counts(ds)["desired"]
    plan = budget(ds, total)
    window = stall_window(topology, plan, stall_floor)
    sample = observe.sampler(dyn, namespace, name, pods=pods)
    start = timeline.now()
    progress: tuple[float, float] = (-1.0, -1.0)
    last_change = time.monotonic()
    stalled = ""
    deadline = time.monotonic() + timeout
    timeline.mark("rollout starts")
    while True:
        raw = sample()
        if not raw["observed"] and time.monotonic() < deadline:
            # Until the controller has seen the new spec, status still counts the old generation
            # (every pod "updated"): not a sample of this rollout.
            time.sleep(interval)
            continue
        current = timeline.record(raw)
        if observe.settled(current):
            break
        now_progress = (current["updated"], current["available"])
        if now_progress != progress:
            progress, last_change = now_progress, time.monotonic()
        elif time.monotonic() - last_change > window:
            stalled = f"no progress for {window:.0f}s at {int(current['updated'])}/{int(current['desired'])} updated, {int(current['available'])} available"
            break
        if time.monotonic() >= deadline:
            stalled = f"not finished after {timeout:.0f}s ({int(current['updated'])}/{int(current['desired'])} updated)"
            break
        time.sleep(interval)
    seconds = timeline.now() - start
    timeline.mark("rollout done" if not stalled else "stalled")
    observed = max((int(s["unavailable"]) for s in timeline.samples if s["t"] >= start), default=0)
    return RolloutResult(
        strategy=plan.strategy,
        budget=plan.max_unavailable,
        budget_spec=plan.spec,
        max_unavailable_observed=observed,
        seconds=seconds,
        predicted_seconds=predicted_seconds(total, topology, plan),
        waves=waves(total, plan),
        completed=not stalled,
        stalled_reason=stalled,
    )
