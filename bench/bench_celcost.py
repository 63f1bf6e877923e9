"""Issue 25's CEL cost: the strict profile's admission policies on the worst-case DaemonSet.

    .venv/bin/python bench/bench_celcost.py [--json]

Renders the set `dsgate admission install` applies for the strict profile (every vap rule at its
severity, the params object) and runs dsgate's celcost on it with tests/admission/data's worst-case
DaemonSet (24 containers and 6 init containers, 40 env entries each, 40 volumes, 40 tolerations).
celcost is kube-apiserver v1.36.3's own CEL compiler and cost accounting (dsgate.admission.celcost):

- actual: what the API server charges each policy for that object (validations with their variables,
  then messageExpressions), against RuntimeCELCostBudget per policy and PerCallLimit per expression;
- estimated max: cel-go's static estimate with the API server's cost library, object and params dyn
  as the API server compiles them, sizes from the OpenAPI schema where a path leads to one. The API
  server itself makes no estimate for these policies; the figure shows why (it saturates).

Prints the five most expensive policies, the totals and the limits. The figures also go to
out/bench/celcost.json (bench/results.py). A benchmark, not a test: test_celcost.py asserts the limits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py
from dsgate.admission import celcost, library, render
from dsgate.gate import controls
from dsgate.paths import policies_dir
from dsgate.tools import tool_path

WORST_CASE = results.REPO / "tests" / "admission" / "data" / "worst-case-daemonset.yaml"
TOP = 5
SATURATED = 2**63  # an estimate this large means the estimator knew no size on some path


def strict_set() -> list[dict[str, Any]]:
    loaded = library.load(policies_dir())
    loaded = dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])
    return render.render(loaded, render.Options(settings=controls.Settings(profile="strict")))


def shown(n: int) -> str:
    return "saturated (≥ 2^63)" if n >= SATURATED else f"{n:,}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    objects = strict_set()
    started = time.perf_counter()
    report = celcost.report(objects, WORST_CASE)
    seconds = time.perf_counter() - started
    version = subprocess.run([str(tool_path("celcost")), "-version"], capture_output=True, text=True, check=False)
    policies = sorted(report["policies"], key=lambda p: -p["actual"]["total"])
    rows = [
        {
            "policy": p["name"],
            "actual": p["actual"]["total"],
            "actual_max_expression": max((e.get("actual") or 0) for e in p["expressions"]),
            "estimated_max": p["estimatedMax"],
            "expressions": len(p["expressions"]),
            "over_per_call_limit_estimated": p["expressionsOverPerCallLimit"],
        }
        for p in policies
    ]
    expressions = [e for p in report["policies"] for e in p["expressions"]]
    figures = {
        "tool": version.stdout.strip(),
        "object": str(Path(WORST_CASE).relative_to(results.REPO)),
        "object_bytes": WORST_CASE.stat().st_size,
        "seconds": round(seconds, 2),
        "limits": report["limits"],
        "policies": len(rows),
        "expressions": len(expressions),
        "actual_total": report["totals"]["actual"],
        "actual_max_policy": report["totals"]["actualMaxPolicy"],
        "actual_max_expression": max(r["actual_max_expression"] for r in rows),
        "admitted": report["totals"]["admitted"],
        "within_budget": report["totals"]["withinBudget"],
        "estimated_over_per_call_limit": report["totals"]["expressionsOverPerCallLimit"],
        "estimated_saturated": sum(1 for e in expressions if (e.get("estimated") or {}).get("max", 0) >= SATURATED),
        "top": rows[:TOP],
        "all": rows,
    }
    results.write("celcost", figures)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    budget, per_call = report["limits"]["runtimeCELCostBudget"], report["limits"]["perCallLimit"]
    print(
        f"{figures['tool']}: strict set ({len(rows)} policies, {len(expressions)} expressions) on {figures['object']}"
    )
    print(f"{'policy':<24} {'actual':>10} {'% budget':>9} {'max expr':>10} {'estimated max':>22}")
    for r in rows[:TOP]:
        print(
            f"{r['policy']:<24} {r['actual']:>10,} {100 * r['actual'] / budget:>8.2f}% "
            f"{r['actual_max_expression']:>10,} {shown(r['estimated_max']):>22}"
        )
    print(
        f"total actual {figures['actual_total']:,} over {len(rows)} policies (each has its own budget of {budget:,}); "
        f"largest single expression {figures['actual_max_expression']:,} of {per_call:,}; "
        f"admitted: {figures['admitted']}, within budget: {figures['within_budget']}"
    )
    print(
        f"estimates: {figures['estimated_over_per_call_limit']} of {len(expressions)} expressions over {per_call:,}, "
        f"{figures['estimated_saturated']} saturated; celcost ran {seconds:.2f} s"
    )
    return 0 if figures["admitted"] and figures["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
