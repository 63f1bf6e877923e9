"""One finding per problem: findings equal but for their chart scenario are merged (dsgate.gate.dedup),
and every report format shows each once with the scenarios it occurs in."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate import report
from dsgate.gate.dedup import merge_scenarios
from dsgate.gate.evaluate import Finding
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from tests.support import KUBE_TARGETS

CHART = Path(__file__).parent / "data" / "locate" / "chart"  # scenarios: default and ci/bad-values.yaml


def _f(scenario: str, message: str = "m", rule: str = "R", source: str = "c") -> Finding:
    return Finding(
        rule,
        "cat",
        "deny",
        "DaemonSet/ns/x",
        f"{source}[{scenario}]" if scenario else source,
        message,
        "fix",
        False,
        scenarios=(scenario,) if scenario else (),
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        # the same finding in two scenarios: one, listing both, located in the first one's render
        pytest.param([_f("default"), _f("a")], [("c[default]", ("default", "a"))], id="two-scenarios-one-finding"),
        # a different message (the value differs per scenario) is a different finding
        pytest.param(
            [_f("default", "x"), _f("a", "y")],
            [("c[default]", ("default",)), ("c[a]", ("a",))],
            id="different-message-kept-apart",
        ),
        # a different rule or chart is never merged
        pytest.param(
            [_f("default"), _f("default", rule="S"), _f("default", source="d")],
            [("c[default]", ("default",)), ("c[default]", ("default",)), ("d[default]", ("default",))],
            id="rule-and-chart-kept-apart",
        ),
        # one scenario seen twice (helm v4 and v3, two Kubernetes versions) is listed once
        pytest.param([_f("a"), _f("b"), _f("a")], [("c[a]", ("a", "b"))], id="repeat-listed-once"),
        # a plain manifest has no scenario: duplicates merge, no scenario list
        pytest.param([_f(""), _f("")], [("c", ())], id="no-scenario"),
    ],
)
def test_merge_scenarios(findings: list[Finding], expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert [(f.source, f.scenarios) for f in merge_scenarios(findings)] == expected


@pytest.fixture(scope="module")
def result() -> gate.GateResult:
    return gate.run(discover([CHART]), CheckOptions(kube_versions=KUBE_TARGETS[-2:], helm_versions=("v4", "v3")))


@pytest.mark.render
@pytest.mark.parametrize(
    ("rule", "expected_scenarios"),
    [
        # no resources in either scenario: 2 scenarios x 2 helm majors x 2 Kubernetes versions, one finding
        ("DS-RES-001", [["default", "bad"]]),
        # priorityClassName "" (default) and "low-priority" (bad): two messages, two findings
        ("DS-PRI-001", [["default"], ["bad"]]),
        # only the bad scenario turns hostNetwork on
        ("DS-HST-005", [["bad"]]),
    ],
)
def test_json_reports_each_finding_once_with_its_scenarios(
    result: gate.GateResult, rule: str, expected_scenarios: list[list[str]]
) -> None:
    doc = json.loads(report.to_json(result))
    assert [f["scenarios"] for f in doc["findings"] if f["rule"] == rule] == expected_scenarios
    assert doc["summary"]["deny"] == len([f for f in doc["findings"] if f["severity"] == "deny" and not f["exempted"]])
    assert result.exit_code() == 1


@pytest.mark.render
def test_merged_finding_locations_name_the_scenarios_they_come_from(result: gate.GateResult) -> None:
    # the same field set by values.yaml in one scenario and by ci/bad-values.yaml in the other
    default = next(f for f in result.findings if f.rule == "DS-PRI-001" and f.scenarios == ("default",))
    merged = dataclasses.replace(default, scenarios=("default", "bad"))
    locations = report.Places(result).of_finding(merged)
    assert [(loc.file.name, loc.line, loc.note) for loc in locations] == [
        ("daemonset.yaml", 17, ""),  # common to both: no scenario named
        ("values.yaml", 4, "set by priorityClassName in default"),
        ("bad-values.yaml", 2, "set by priorityClassName in bad"),
    ]


@pytest.mark.render
def test_every_format_shows_a_merged_finding_once(result: gate.GateResult) -> None:
    sarif = json.loads(report.to_sarif(result))
    assert [r["properties"]["scenarios"] for r in sarif["runs"][0]["results"] if r["ruleId"] == "DS-RES-001"] == [
        ["default", "bad"]
    ]
    github = [line for line in report.to_github(result).splitlines() if "DS-RES-001" in line]
    assert len(github) == 1 and "(in all 2 scenarios)" in github[0]
    junit = ET.fromstring(report.to_junit(result))
    failures = "\n".join(f.text or "" for f in junit.iter("failure"))
    assert failures.count("[DS-RES-001]") == 1 and "request, memory request (in all 2 scenarios)" in failures
    out = io.StringIO()
    report.to_text(result, out, color=False)
    text = out.getvalue()
    assert text.count("DS-RES-001") == 1 and "in all 2 scenarios" in text
    assert "in 1 of 2 scenarios: bad" in text  # DS-HST-005


@pytest.mark.unit
@pytest.mark.parametrize(
    ("scenarios", "rendered", "expected"),
    [
        (("default", "a"), 3, "in 2 of 3 scenarios: default, a"),  # some of the chart's scenarios
        (("default", "a"), 2, "in all 2 scenarios"),  # every one
        (("default",), 1, ""),  # a chart with one scenario: nothing to say
        ((), 0, ""),  # a plain manifest
    ],
)
def test_in_scenarios(scenarios: tuple[str, ...], rendered: int, expected: str) -> None:
    finding = Finding(
        "R",
        "cat",
        "deny",
        "DaemonSet/ns/x",
        f"c[{scenarios[0]}]" if scenarios else "c",
        "m",
        "fix",
        False,
        scenarios=scenarios,
    )
    assert report.in_scenarios(finding, {"c": rendered} if rendered else {}) == expected
