"""Issue 25's CEL cost: the strict profile's admission policies on the worst-case DaemonSet, measured by
dsgate's celcost (kube-apiserver v1.36.3's own CEL compiler and cost accounting, dsgate.admission.celcost).

The worst case stays within every runtime limit (RuntimeCELCostBudget per policy, PerCallLimit per
expression) and is admitted. The static estimates mostly exceed PerCallLimit, for a reason the API
server shares: it compiles object and params as dyn and knows no list bound below the 3 MiB request, so
it does not estimate these policies at all and refuses none of them for cost (the real API server admits
the worst case with the set installed: test_install.py). What this module asserts of them is that every
expression has an estimate and that each one over the limit runs far within it on the worst case.
A table of made-up policies shows the report fails where the API server would: one expression over the
per-call limit, a policy over the budget.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.admission import celcost, library, render
from dsgate.gate import controls
from tests.support import POLICIES

pytestmark = pytest.mark.policy

JSON = dict[str, Any]
WORST_CASE = Path(__file__).parent / "data" / "worst-case-daemonset.yaml"
PER_CALL_LIMIT = 1_000_000  # k8s.io/apiserver/pkg/apis/cel PerCallLimit, v0.36.3
RUNTIME_BUDGET = 10_000_000  # RuntimeCELCostBudget, per policy binding and request
MATCH_CONDITIONS_BUDGET = 2_500_000  # RuntimeCELCostBudgetMatchConditions
CONTAINERS = "object.spec.template.spec.containers"


@pytest.fixture(scope="module")
def strict_set() -> list[JSON]:
    """The strict profile's set, each binding at its rule's severity (what `dsgate admission install` applies)."""
    loaded = library.load(POLICIES)
    loaded = dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])
    return render.render(loaded, render.Options(settings=controls.Settings(profile="strict")))


@pytest.fixture(scope="module")
def worst(strict_set: list[JSON]) -> JSON:
    return celcost.report(strict_set, WORST_CASE)


def _pod_spec() -> JSON:
    ds = yamlc.safe_load(WORST_CASE.read_text())
    return dict(ds["spec"]["template"]["spec"])


@pytest.mark.parametrize(
    ("measure", "expected_at_least"),
    [
        # what the fixture's header promises: an agent near the sizes a real one reaches
        (lambda pod: len(pod["containers"]), 24),
        (lambda pod: len(pod["initContainers"]), 6),
        (lambda pod: min(len(c["env"]) for c in pod["containers"] + pod["initContainers"]), 40),
        (lambda pod: min(len(c["volumeMounts"]) for c in pod["containers"] + pod["initContainers"]), 16),
        (lambda pod: min(len(c["ports"]) for c in pod["containers"]), 4),
        (lambda pod: len(pod["volumes"]), 40),
        (lambda pod: len(pod["tolerations"]), 40),
        (lambda pod: min(len(c["name"]) for c in pod["containers"]), 40),
    ],
)
def test_worst_case_is_large(measure: Any, expected_at_least: int) -> None:
    assert measure(_pod_spec()) >= expected_at_least


def test_report_names_the_apiserver_it_measures(worst: JSON) -> None:
    assert (worst["kubernetes"], worst["apiserver"], worst["compatibilityVersion"]) == ("v1.36.3", "v0.36.3", "1.35")
    assert worst["limits"]["perCallLimit"] == PER_CALL_LIMIT
    assert worst["limits"]["runtimeCELCostBudget"] == RUNTIME_BUDGET
    assert worst["limits"]["runtimeCELCostBudgetMatchConditions"] == MATCH_CONDITIONS_BUDGET


def test_worst_case_is_admitted_within_the_budget(worst: JSON, strict_set: list[JSON]) -> None:
    """Every policy of the set matches the worst case, evaluates every validation without error, admits
    it, and spends at most RuntimeCELCostBudget (validations and messageExpressions) and
    RuntimeCELCostBudgetMatchConditions (matchConditions)."""
    names = [o["metadata"]["name"] for o in strict_set if o["kind"] == "ValidatingAdmissionPolicy"]
    assert [p["name"] for p in worst["policies"]] == names
    problems = []
    for policy in worst["policies"]:
        actual = policy["actual"]
        if not (actual["matched"] and actual["admitted"] and actual["withinBudget"]) or actual.get("error"):
            problems.append((policy["name"], actual))
        if actual["total"] > RUNTIME_BUDGET or actual["matchConditions"] > MATCH_CONDITIONS_BUDGET:
            problems.append((policy["name"], actual))
        if actual["total"] <= 0:
            problems.append((policy["name"], "nothing evaluated"))
    assert problems == []
    assert worst["totals"]["admitted"] is True and worst["totals"]["withinBudget"] is True


def test_every_expression_is_estimated_and_runs_within_the_per_call_limit(worst: JSON) -> None:
    """Every expression has an estimate; each validation and messageExpression, run alone on the worst case
    (the variables it reads charged to it), costs at most PerCallLimit, whatever its estimate."""
    unestimated, over_limit_at_run_time, over_estimated = [], [], 0
    for policy in worst["policies"]:
        for expr in policy["expressions"]:
            where = f"{policy['name']} {expr['field']}"
            if expr.get("estimated") is None:
                unestimated.append((where, expr.get("error")))
            elif expr["estimated"]["max"] > PER_CALL_LIMIT:
                over_estimated += 1
            if expr["field"].startswith("spec.validations[") and (
                expr.get("actual") is None or expr["actual"] > PER_CALL_LIMIT
            ):
                over_limit_at_run_time.append((where, expr.get("actual")))
    assert unestimated == []
    assert over_limit_at_run_time == []
    assert over_estimated == worst["totals"]["expressionsOverPerCallLimit"]


def _vap(name: str, expressions: list[str]) -> JSON:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["daemonsets"],
                    }
                ]
            },
            "validations": [{"expression": e} for e in expressions],
        },
    }


@pytest.mark.parametrize(
    ("expressions", "expected_admitted", "expected_within_budget", "expected_error"),
    [
        # one pass over the containers: cheap
        ([f"{CONTAINERS}.all(c, c.name != '')"], True, True, ""),
        # every pair of containers, every pair of their env entries: one expression over PerCallLimit,
        # stopped by cel.CostLimit, so the policy errors and (failurePolicy Fail) refuses
        (
            [f"{CONTAINERS}.all(c, {CONTAINERS}.all(d, c.env.all(e, d.env.all(f, e.name != '' || f.name != ''))))"],
            False,
            False,
            "cost limit exceeded",
        ),
        # 100 expressions of about 120,000 each: every one within PerCallLimit, together over the budget
        (
            [f"{CONTAINERS}.all(c, {CONTAINERS}.all(d, c.env.all(e, e.name != '')))"] * 100,
            False,
            False,
            "running out of cost budget",
        ),
    ],
)
def test_report_fails_where_the_apiserver_would(
    tmp_path: Path, expressions: list[str], expected_admitted: bool, expected_within_budget: bool, expected_error: str
) -> None:
    answer = celcost.report([_vap("made-up.example.com", expressions)], WORST_CASE)
    actual = answer["policies"][0]["actual"]
    assert (actual["admitted"], actual["withinBudget"]) == (expected_admitted, expected_within_budget)
    errors = " ".join([actual.get("error", ""), *actual.get("evaluationErrors", [])])
    assert expected_error in errors
    assert bool(errors.strip()) == bool(expected_error)
