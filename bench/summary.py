"""The table of issue 26, from the figures the benchmarks of this `make bench` run left in out/bench/.

    .venv/bin/python bench/summary.py [--max-age-hours 24]

One row per path a user waits on, each with its goal, the measured figure, whether the goal is met,
and the 1-minute load average when it was measured (the machine is shared: the load says how much
to trust a wall time). A figure whose file is missing, or older than --max-age-hours (a previous
run's), reads "not measured in this run". `make test`'s time comes from out/bench/make-test.json,
which bench/time_make_test.py writes (`make bench` does not run the test suite).
"""

from __future__ import annotations

import argparse
import calendar
import sys
import time
from collections.abc import Callable
from typing import Any

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py

Row = tuple[str, str, str, str, str]  # path, goal, measured, met, load


def _age_hours(data: dict[str, Any]) -> float:
    written = calendar.timegm(time.strptime(data["written"], "%Y-%m-%dT%H:%M:%SZ"))
    return (time.time() - written) / 3600


def _load(values: Any) -> str:
    return f"{values[0]:.1f}" if isinstance(values, list) and values else "?"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def one_file(d: dict[str, Any]) -> list[Row]:
    peers = d["peers"]["median_s"]
    rows = []
    for key, label in (("no_server_check", "without the server check"), ("server_check", "with the server check")):
        goal = d["goals_s"][key]
        cold = d[f"cold_{key}"]
        measured = (
            f"{cold['median_s']:.2f} s cold, {cold['cpu_median_s']:.2f} s CPU (peers {peers:.2f} s,"
            f" {d['peers']['cpu_median_s']:.2f} s CPU)"
        )
        warm = d.get(f"warm_{key}")
        if warm:
            measured += f"; warm server {warm['median_s']:.2f} s"
        rows.append(
            (
                f"One file (`dsgate check file.yaml`), {label}",
                f"<= {goal} s",
                measured,
                _met(cold["median_s"] <= goal),
                _load(cold["load_before"]),
            )
        )
    return rows


def static_gate(d: dict[str, Any]) -> list[Row]:
    g = d["static_gate_s"]
    runs = ", ".join(f"{t:.1f}" for t in g["runs"])
    return [
        (
            "Static gate on this repo (`dsgate check --no-deploy`)",
            "<= 5 s",
            f"median {g['median']:.1f} s ({runs})",
            _met(g["median"] <= 5),
            _load(g.get("load_before")),
        )
    ]


def peers(d: dict[str, Any]) -> list[Row]:
    goal = d["goal_ratio"]
    r = d["renders"]
    rows = []
    for key, label in (("dsgate", "server check on"), ("dsgate_no_server_check", "--no-server-check")):
        f = d[key]
        rows.append(
            (
                f"Same renders via helm -> kubeconform -> conftest, 2 in parallel ({label})",
                f">= {goal:.0f}x wall and CPU",
                f"{f['ratio_wall']:.1f}x wall, {f['ratio_cpu']:.1f}x CPU: dsgate {f['wall_s']:.1f} s / {f['cpu_s']:.1f} s CPU,"
                f" peers {d['peers']['wall_s']:.1f} s / {d['peers']['cpu_s']:.1f} s CPU ({r['peer_renders']} renders)",
                _met(min(f["ratio_wall"], f["ratio_cpu"]) >= goal),
                _load(d["runs"][key][0]["load_before"]),
            )
        )
    return rows


def matrix(d: dict[str, Any]) -> list[Row]:
    m = d["matrix"]
    return [
        (
            "Matrix, ms per render per core",
            "<= 5",
            f"{m['ours_ms_per_render_per_core']:.1f} (median of {len(m['ours_runs_ms_per_render_per_core'])} runs of {m['renders']} renders)",
            _met(m["ours_ms_per_render_per_core"] <= 5),
            _load(m.get("load_before")),
        )
    ]


def policy(d: dict[str, Any]) -> list[Row]:
    goal = d["goal_median_ms"]
    return [
        (
            "Policy round trip per batch",
            f"<= {goal:g} ms",
            f"median {d['round_trip_median_ms']:.2f} ms (OPA's evaluation {d['eval_median_ms']:.2f} ms)",
            _met(d["round_trip_median_ms"] <= goal),
            f"{d['load_average_1m']:.1f}",
        )
    ]


def scale(d: dict[str, Any]) -> list[Row]:
    row = next((r for r in d["gate"] if r["documents"] == 20000), None)
    if row is None:
        return [
            ("20,000 documents in one input", "<= 15 s, <= 500 MiB", "not measured in this run (--documents)", "", "")
        ]
    return [
        (
            "20,000 documents in one input",
            "<= 15 s, <= 500 MiB",
            f"{row['wall_s']:.1f} s, peak {row['peak_mib']} MiB (exit {row['exit']})",
            _met(row["wall_s"] <= 15 and row["peak_mib"] <= 500),
            _load(row.get("load_before")),
        )
    ]


def make_test(d: dict[str, Any]) -> list[Row]:
    minutes, seconds = divmod(round(d["seconds"]), 60)
    return [
        (
            "`make test` in a fresh clone",
            "<= 15 min",
            f"{minutes} min {seconds} s (exit {d['exit']}, {d['written']} on {d['commit']})",
            _met(d["seconds"] <= 15 * 60 and d["exit"] == 0),
            _load(d.get("load_before")),
        )
    ]


TABLE: tuple[tuple[str, str, str, Callable[[dict[str, Any]], list[Row]]], ...] = (
    ("onefile", "One file (`dsgate check file.yaml`)", "<= 0.3 s; <= 1.0 s with the server check", one_file),
    ("gate", "Static gate on this repo", "<= 5 s", static_gate),
    ("peers", "Same renders via helm -> kubeconform -> conftest", ">= 10x wall and CPU", peers),
    ("gate", "Matrix, ms per render per core", "<= 5", matrix),
    ("policies", "Policy round trip per batch", "<= 2 ms", policy),
    ("scale", "20,000 documents in one input", "<= 15 s, <= 500 MiB", scale),
    ("make-test", "`make test` in a fresh clone", "<= 15 min", make_test),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-age-hours", type=float, default=24.0, help="older figures count as not measured")
    args = parser.parse_args()
    rows: list[Row] = []
    for name, label, goal, build in TABLE:
        data = results.read(name)
        if data is None or _age_hours(data) > args.max_age_hours:
            rows.append((label, goal, "not measured in this run", "", ""))
            continue
        try:
            rows.extend(build(data))
        except (KeyError, IndexError, TypeError) as exc:
            rows.append((label, goal, f"unreadable out/bench/{name}.json ({exc!r})", "", ""))
    header: Row = ("path", "goal", "measured", "met", "load")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(5)]
    print(f"issue 26 on {results.commit()}, {results.load()[0]:.1f} load now, {len(rows)} rows:")
    for row in (header, tuple("-" * w for w in widths), *rows):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
