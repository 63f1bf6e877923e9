"""DaemonSet rollouts: the budget the controller applies, the waves it implies, the time they predict,
and watching a rollout to its end (or to a stall) from the DaemonSet's own status.

The DaemonSet controller scales an int-or-percent `maxUnavailable`/`maxSurge` against the number
of nodes that should run a pod, rounding up (pkg/controller/daemon/update.go), and with a budget
of B on N nodes it replaces at most B pods at a time: ceil(N / B) waves. A wave takes the pod's
deletion, its start until Ready (kwok's simulated ready delay: the mean of a uniform draw) and
minReadySeconds before the pod counts as available and frees a slot. On top of that the controllers
spend time per wave: the DaemonSet controller deletes and creates the wave's pods through the API
(client rate limits), the scheduler binds them, and the controller only starts the next wave on its
next sync. That overhead was measured on the local control plane (see WAVE_OVERHEAD) and is part of
the prediction, which is given as a range.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.dynamic import DynamicClient

from dsgate.cluster import observe
from dsgate.cluster.topology import Topology
from dsgate.paths import MODEL_FILE

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


@dataclass(frozen=True)
class WaveOverhead:
    """The controllers' own time per rollout wave: BASE seconds plus PER_POD seconds for every pod the
    wave replaces, with a factor range for how loaded the machine is."""

    base: float
    per_pod: float
    low_factor: float
    high_factor: float

    def seconds(self, pods: int) -> float:
        return self.base + self.per_pod * pods


def _calibrated() -> WaveOverhead:
    """The overhead calibrated on this project's local control plane with kwok nodes, from three
    1,000-node rollouts (bench/README.md): maxUnavailable 1 with minReadySeconds 10 took ~12.9 s a
    wave against 11.75 s of pod timings (+1.1 s); 10% (100 pods a wave) 52.8 s for 10 waves against
    17.5 s (+3.5 s a wave); 250 pods a wave 36.5 s for 4 waves against 7.0 s (+7.4 s a wave): a
    straight line through them is 1.1 s + 25 ms per replaced pod. The range runs from half that
    overhead (an idle machine) to twice it (a loaded one). The figures live in the policy library's
    policies/model.json (data.dsgate.model), which the rollout-time rule DS-ROL-007 reads too."""
    model = json.loads(MODEL_FILE.read_text())["dsgate"]["model"]["rollout"]["wave_overhead"]
    return WaveOverhead(
        float(model["base_seconds"]),
        float(model["per_pod_seconds"]),
        float(model["low_factor"]),
        float(model["high_factor"]),
    )


WAVE_OVERHEAD = _calibrated()


@dataclass(frozen=True)
class Prediction:
    """How long a rollout takes: a point estimate and a range, from WAVES waves of PER_WAVE pods; PODS
    is the part the simulated pod timings alone account for (no controller overhead)."""

    seconds: float
    low: float
    high: float
    waves: int
    per_wave: int
    pods: float

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "low": self.low,
            "high": self.high,
            "waves": self.waves,
            "perWave": self.per_wave,
        }

    def text(self) -> str:
        return f"{duration(self.seconds)} (range {duration(self.low)} to {duration(self.high)}; {self.waves} waves of {self.per_wave})"


def predict(total: int, topology: Topology, plan: Budget, overhead: WaveOverhead = WAVE_OVERHEAD) -> Prediction:
    """The rollout of TOTAL pods under PLAN on TOPOLOGY's pod timings plus the controllers' per-wave OVERHEAD."""
    return predict_waves(total, plan, wave_seconds(topology, plan), overhead)


def predict_waves(total: int, plan: Budget, pod_seconds: float, overhead: WaveOverhead = WAVE_OVERHEAD) -> Prediction:
    """The rollout of TOTAL pods under PLAN when replacing one pod takes POD_SECONDS (deletion, start,
    readiness and minReadySeconds), plus the controllers' per-wave OVERHEAD."""
    count = waves(total, plan)
    per_wave = min(total, max(plan.max_unavailable, plan.max_surge)) if count else 0
    pods = count * pod_seconds
    extra = count * overhead.seconds(per_wave)
    return Prediction(
        seconds=round(pods + extra, 1),
        low=round(pods + extra * overhead.low_factor, 1),
        high=round(pods + extra * overhead.high_factor, 1),
        waves=count,
        per_wave=per_wave,
        pods=round(pods, 1),
    )


def budget_for(total: int, topology: Topology, plan: Budget, seconds: float) -> int | None:
    """The smallest maxUnavailable that makes PLAN's rollout of TOTAL pods predicted to end within
    SECONDS (the high end of the range), or None when even all pods at once take longer."""
    for per_wave in range(max(plan.max_unavailable, 1), total + 1):
        candidate = Budget(plan.strategy, per_wave, 0, plan.spec, plan.min_ready_seconds)
        if predict(total, topology, candidate).high <= seconds:
            return per_wave
    return None


def duration(seconds: float) -> str:
    """SECONDS for a person: 45 s, 12 min 5 s, 3 h 16 min."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s" if whole % 60 else f"{whole // 60} min"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def wave_seconds(topology: Topology, plan: Budget) -> float:
    """One wave: delete + mean ready delay + minReadySeconds (a surge wave deletes after, not before)."""
    ready = (topology.pod_ready_delay_ms + (topology.pod_ready_delay_ms + topology.pod_ready_jitter_ms)) / 2000
    return topology.pod_delete_delay_ms / 1000 + ready + plan.min_ready_seconds


def predicted_seconds(total: int, topology: Topology, plan: Budget) -> float:
    """The point estimate of `predict`."""
    return predict(total, topology, plan).seconds


# kube-controller-manager's rollingUpdate (pkg/controller/daemon/update.go, v1.36.3) counts unavailable
# pods over the nodes that hold a pod in its informer cache ("deleted pods do not count as unavailable").
# A node whose old pod leaves the cache between one sync's manage step and its rollingUpdate step is
# counted by neither, so that sync deletes a few pods beyond the budget; they are back once their
# replacements are available. Measured: 105 unavailable for one 0.5 s sample at a budget of 100 on 1,000
# kwok nodes (CI, 2026-12-06). A fault in the agent or its budget (a crashing version, a pod that never
# turns Ready) shows as far more than that, or as a stall.
CONTROLLER_SLACK = 0.10


def slack(budget: int) -> int:
    """How many pods over BUDGET the DaemonSet controller's own accounting can leave unavailable for a
    moment: CONTROLLER_SLACK of it, rounded down (none below a budget of 10)."""
    return math.floor(budget * CONTROLLER_SLACK)


@dataclass
class RolloutResult:
    strategy: str
    budget: int
    budget_spec: str
    max_unavailable_observed: int
    seconds: float
    prediction: Prediction
    completed: bool
    stalled_reason: str = ""

    @property
    def slack(self) -> int:
        return slack(self.budget)

    @property
    def over_budget(self) -> bool:
        """More pods unavailable at a sample than the budget and the controller's slack allow."""
        return self.max_unavailable_observed > self.budget + self.slack

    @property
    def predicted_seconds(self) -> float:
        return self.prediction.seconds

    @property
    def waves(self) -> int:
        return self.prediction.waves

    def as_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "budget": self.budget_spec,
            "maxUnavailable": self.budget,
            "maxUnavailableObserved": self.max_unavailable_observed,
            "controllerSlack": self.slack,
            "seconds": round(self.seconds, 1),
            "predictedSeconds": self.predicted_seconds,
            "predicted": self.prediction.as_json(),
            "waves": self.waves,
            "completed": self.completed,
            "stalled": self.stalled_reason,
        }


def stall_window(topology: Topology, plan: Budget, floor: float = 30.0) -> float:
    """How long a rollout may show no progress before it counts as stalled: four waves' worth, at least FLOOR seconds."""
    return max(floor, 4 * wave_seconds(topology, plan))


@dataclass(frozen=True)
class WatchOptions:
    """How `watch` samples: TIMEOUT seconds at most, the pods' counts too when PODS, every INTERVAL
    seconds, a stall after stall_window(..., STALL_FLOOR) without progress; ON_SAMPLE gets each sample
    and the prediction (a progress display)."""

    timeout: float
    pods: bool = True
    interval: float = 0.25
    stall_floor: float = 30.0
    on_sample: Callable[[dict[str, float], Prediction], None] | None = None


def watch(
    dyn: DynamicClient, namespace: str, name: str, topology: Topology, timeline: observe.Timeline, options: WatchOptions
) -> RolloutResult:
    """Sample DaemonSet NAMESPACE/NAME until its rollout completes, stalls (no change in the updated and
    available counts for stall_window seconds) or the timeout passes; the result compares it with the plan."""
    ds = observe.daemonset(dyn, namespace, name)
    total = observe.status_counts(ds)["desired"]
    plan = budget(ds, total)
    prediction = predict(total, topology, plan)
    window = stall_window(topology, plan, options.stall_floor)
    sample = observe.sampler(dyn, namespace, name, pods=options.pods)
    start = timeline.now()
    progress: tuple[float, float] = (-1.0, -1.0)
    last_change = time.monotonic()
    stalled = ""
    deadline = time.monotonic() + options.timeout
    timeline.mark("rollout starts")
    while True:
        raw = sample()
        if not raw["observed"] and time.monotonic() < deadline:
            # Until the controller has seen the new spec, status still counts the old generation
            # (every pod "updated"): not a sample of this rollout.
            time.sleep(options.interval)
            continue
        current = timeline.record(raw)
        if options.on_sample is not None:
            options.on_sample({**current, "t": current["t"] - start}, prediction)
        if observe.settled(current):
            break
        now_progress = (current["updated"], current["available"])
        if now_progress != progress:
            progress, last_change = now_progress, time.monotonic()
        elif time.monotonic() - last_change > window:
            stalled = f"no progress for {window:.0f}s at {int(current['updated'])}/{int(current['desired'])} updated, {int(current['available'])} available"
            break
        if time.monotonic() >= deadline:
            stalled = f"not finished after {options.timeout:.0f}s ({int(current['updated'])}/{int(current['desired'])} updated)"
            break
        time.sleep(options.interval)
    seconds = timeline.now() - start
    timeline.mark("rollout done" if not stalled else "stalled")
    observed = max((int(s["unavailable"]) for s in timeline.samples if s["t"] >= start), default=0)
    return RolloutResult(
        strategy=plan.strategy,
        budget=plan.max_unavailable,
        budget_spec=plan.spec,
        max_unavailable_observed=observed,
        seconds=seconds,
        prediction=prediction,
        completed=not stalled,
        stalled_reason=stalled,
    )
