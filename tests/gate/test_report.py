"""Every report format on a constructed GateResult: each problem at its repository-relative file and line.

The result is built by hand from the community-style fixture (read with PyYAML, no tools), so each
format is checked on exactly known findings, schema errors and lines.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dsgate.gate import report
from dsgate.gate.documents import Provenance, load_file
from dsgate.gate.evaluate import Finding
from dsgate.gate.pipeline import GateResult, Job, RenderOutcome
from dsgate.gate.sourcekinds import FilesSource
from dsgate.gate.validate import SchemaError
from dsgate.tools import cache_dir
from dsgate.versions import pinned

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMMUNITY = ROOT / "tests" / "gate" / "data" / "community-daemonset.yaml"
RELATIVE = "tests/gate/data/community-daemonset.yaml"
LABEL = str(COMMUNITY)
RESOURCE = "DaemonSet/monitoring/node-exporter"


def _finding(rule: str, severity: str, field: str, message: str = "m", exempted: bool = False) -> Finding:
    return Finding(
        rule, "c", severity, RESOURCE, LABEL, message, "fix it", exempted, "reason" if exempted else "", field=field
    )


@pytest.fixture(scope="module")
def result() -> GateResult:
    documents = load_file(COMMUNITY, Provenance(LABEL, "file"))
    gate = GateResult(renders=[RenderOutcome(Job(FilesSource(COMMUNITY, (COMMUNITY,))), documents=documents)])
    gate.findings = [
        _finding("DS-PRI-001", "deny", "spec.template.spec.priorityClassName"),
        _finding(
            "DS-IMG-002", "warn", "spec.template.spec.containers[*].image", "container <node-exporter> has no digest"
        ),
        _finding("DS-TOL-002", "deny", "spec.template.spec.tolerations", exempted=True),
        _finding("DS-PDB-001", "deny", ""),
    ]
    gate.schema_errors = [
        SchemaError(documents[0], "1.36.0", "spec.template.spec.containers.0.ports.0.hostPort", "bad")
    ]
    return gate


# (rule, expected_line): the line of the offending field, its parent when missing, the resource without a field
EXPECTED = [("DS-PRI-001", 18), ("DS-IMG-002", 26), ("DS-TOL-002", 21), ("DS-PDB-001", 3), ("schema", 30)]


def _sarif_schema() -> dict[str, Any]:
    path = cache_dir() / "schemas" / "sarif" / pinned()["SARIF_SCHEMA_NPM"].rsplit("@", 1)[1] / "sarif-2.1.0.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_sarif_locations_are_relative_with_lines(result: GateResult) -> None:
    sarif = json.loads(report.to_sarif(result, root=ROOT))
    jsonschema.validators.validator_for(_sarif_schema())(_sarif_schema()).validate(sarif)
    run = sarif["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": ROOT.as_uri() + "/"}}
    got = [(r["ruleId"], r["locations"][0]["physicalLocation"]) for r in run["results"]]
    assert got == [
        (rule, {"artifactLocation": {"uri": RELATIVE, "uriBaseId": "%SRCROOT%"}, "region": {"startLine": line}})
        for rule, line in sorted(EXPECTED, key=_order)
    ]


def _order(item: tuple[str, int]) -> int:
    return [rule for rule, _ in EXPECTED].index(item[0])


def test_sarif_file_outside_the_root_is_a_file_uri(result: GateResult, tmp_path: Path) -> None:
    sarif = json.loads(report.to_sarif(result, root=tmp_path))
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": COMMUNITY.as_uri()}
    assert location["region"] == {"startLine": 18}


@pytest.mark.parametrize(
    ("rule", "expected_prefix"),
    [
        ("DS-PRI-001", f"::error file={RELATIVE},line=18,title=DS-PRI-001 {RESOURCE}::m"),
        ("DS-IMG-002", f"::warning file={RELATIVE},line=26,title=DS-IMG-002 {RESOURCE}::container"),
        ("DS-TOL-002", f"::notice file={RELATIVE},line=21,title=DS-TOL-002 {RESOURCE}::m"),
        ("DS-PDB-001", f"::error file={RELATIVE},line=3,title=DS-PDB-001 {RESOURCE}::m"),
        ("schema", f"::error file={RELATIVE},line=30,title=schema {RESOURCE}::"),
    ],
)
def test_github_annotation_has_file_and_line(result: GateResult, rule: str, expected_prefix: str) -> None:
    lines = report.to_github(result, root=ROOT).splitlines()
    assert sum(1 for line in lines if line.startswith(expected_prefix)) == 1, lines


def test_github_properties_are_escaped(result: GateResult) -> None:
    lines = report.to_github(result, root=ROOT).splitlines()
    schema = next(line for line in lines if "title=schema" in line)
    assert "title=schema DaemonSet/monitoring/node-exporter::" in schema  # no ':' or ',' inside the properties


def _text_block(text: str, rule: str) -> list[str]:
    """The lines of the text report's group of RULE (its header and tree), or of the schema error."""
    lines = text.split("\n")
    start = next(
        i
        for i, line in enumerate(lines)
        if (f" {rule} " in line and not line.startswith(("├", "│", "└", " ")))
        or (rule == "schema" and "schema (1.36.0)" in line)
    )
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(("├", "│", "└", " ", "fix:"))),
        len(lines),
    )
    return lines[start:end]


@pytest.mark.parametrize(("rule", "expected_line"), [(rule, line) for rule, line in EXPECTED if rule != "DS-TOL-002"])
def test_text_shows_file_and_line(result: GateResult, rule: str, expected_line: int) -> None:
    out = io.StringIO()
    report.to_text(result, out, color=False, root=ROOT)
    assert any(f"at: {RELATIVE}:{expected_line}" in line for line in _text_block(out.getvalue(), rule)), out.getvalue()


def test_text_counts_exempted_findings_by_reason() -> None:
    """Exempted findings (an exemption, the baseline) are counted per rule and reason, not listed again."""
    gate = GateResult(
        findings=[
            *(
                Finding(
                    "DS-PRI-001",
                    "priority",
                    "deny",
                    f"DaemonSet/a/{n}",
                    "x.yaml",
                    f"{n} has no priority",
                    "r",
                    True,
                    "in baseline b.json",
                )
                for n in "xyz"
            ),
            Finding(
                "DS-PRI-001",
                "priority",
                "deny",
                "DaemonSet/a/w",
                "x.yaml",
                "w has no priority",
                "r",
                True,
                "vendor chart",
            ),
        ]
    )
    out = io.StringIO()
    report.to_text(gate, out, color=False, root=ROOT)
    assert _text_block(out.getvalue(), "DS-PRI-001") == [
        "exempted DS-PRI-001 priority (4 findings)",
        "├── in baseline b.json (3)",
        "└── vendor chart (1)",
    ]


def test_text_groups_by_rule_with_counts_and_one_remediation() -> None:
    """Three denies of one rule are one group with its count and its fix once; warns come after denies, exempted last."""
    gate = GateResult(
        findings=[
            Finding(
                "DS-IMG-002", "images", "warn", "DaemonSet/a/x", "x.yaml", "x has no digest", "pin the digest", False
            ),
            *(
                Finding(
                    "DS-PRI-001",
                    "priority",
                    "deny",
                    f"DaemonSet/a/{n}",
                    "x.yaml",
                    f"{n} has no priority",
                    "set the class",
                    False,
                )
                for n in "xyz"
            ),
            Finding(
                "DS-RES-001",
                "resources",
                "deny",
                "DaemonSet/a/x",
                "x.yaml",
                "x has no limits",
                "set limits",
                True,
                "vendor chart",
            ),
        ]
    )
    out = io.StringIO()
    report.to_text(gate, out, color=False, root=ROOT)
    text = out.getvalue()
    headers = [line for line in text.splitlines() if line.startswith(("deny ", "warn ", "exempted "))]
    assert headers == [
        "deny DS-PRI-001 priority (3 findings)",
        "warn DS-IMG-002 images (1 finding)",
        "exempted DS-RES-001 resources (1 finding)",
    ]
    assert text.count("fix: set the class") == 1 and text.count("fix: pin the digest") == 1
    assert "set limits" not in text and "vendor chart (1)" in text
    assert [line.strip("├└─ ") for line in _text_block(text, "DS-PRI-001") if "no priority" in line] == [
        f"{n} has no priority" for n in "xyz"
    ]


CONFIG_FILE = ROOT / "dsgate.yaml"  # need not exist: a pinned location is not looked up


def _controls_result() -> GateResult:
    """A result with what the controls add: a finding pinned to a dsgate.yaml line, and a notice."""
    pinned = Finding(
        "DS-HYG-004",
        "hygiene",
        "deny",
        "DaemonSet/a/x",
        "dsgate.yaml",
        "Exemption expired",
        "renew it",
        False,
        pinned=(str(CONFIG_FILE), 7),
    )
    return GateResult(
        findings=[pinned],
        notices=[
            "baseline b.json: DS-PRI-001 on DaemonSet/a/x in x.yaml (0123456789abcdef) no longer occurs; remove the entry"
        ],
    )


def _notices_of(fmt: str, text: str) -> list[str]:
    if fmt == "json":
        return list(json.loads(text)["notices"])
    if fmt == "sarif":
        notes = json.loads(text)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        return [n["message"]["text"] for n in notes if n["level"] == "note"]
    if fmt == "junit":
        return [text.split("<system-out>")[1].split("</system-out>")[0]]
    prefix = {"github": "::notice title=dsgate::", "text": "notice: "}[fmt]
    return [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize(
    ("fmt", "expected_place"),
    [
        ("text", "at: dsgate.yaml:7"),
        ("github", "::error file=dsgate.yaml,line=7,title=DS-HYG-004"),
        ("json", '"locations": [\n        {\n          "file": "dsgate.yaml",\n          "line": 7\n        }'),
        (
            "sarif",
            '"uri": "dsgate.yaml",\n                  "uriBaseId": "%SRCROOT%"\n                },\n                "region": {\n                  "startLine": 7',
        ),
        (
            "junit",
            "[DS-HYG-004] deny: Exemption expired",
        ),  # JUnit has no locations: the finding is a failure of its resource
    ],
)
def test_every_format_shows_pinned_findings_and_notices(fmt: str, expected_place: str) -> None:
    out = io.StringIO()
    report.render_report(_controls_result(), fmt, out, color=False, root=ROOT)
    assert expected_place in out.getvalue()
    assert _notices_of(fmt, out.getvalue()) == [_controls_result().notices[0]]


def test_json_carries_locations(result: GateResult) -> None:
    doc = json.loads(report.to_json(result, root=ROOT))
    got = [(f["rule"], f["locations"]) for f in doc["findings"]] + [
        ("schema", e["locations"]) for e in doc["schemaErrors"]
    ]
    assert sorted(got) == sorted((rule, [{"file": RELATIVE, "line": line}]) for rule, line in EXPECTED)


def test_unlocatable_finding_falls_back_to_its_source(result: GateResult) -> None:
    lost = GateResult(
        findings=[Finding("DS-PRI-001", "c", "deny", "DaemonSet/x/y", "charts/gone[default]", "m", "r", False)]
    )
    sarif = json.loads(report.to_sarif(lost, root=ROOT))
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "charts/gone", "uriBaseId": "%SRCROOT%"}
    }
    assert report.to_github(lost, root=ROOT).startswith("::error file=charts/gone,title=")


@pytest.mark.parametrize(
    ("exemption", "expected_kind"),
    [
        ("vendor chart", "inSource"),  # an annotation or a dsgate.yaml entry, kept with the code
        ("in baseline dsgate-baseline.json", "external"),  # recorded outside the code
    ],
)
def test_sarif_suppression_kind(exemption: str, expected_kind: str) -> None:
    gate = GateResult(
        findings=[Finding("DS-PRI-001", "priority", "deny", "DaemonSet/a/x", "x.yaml", "m", "r", True, exemption)]
    )
    [result] = json.loads(report.to_sarif(gate, root=ROOT))["runs"][0]["results"]
    assert result["suppressions"] == [{"kind": expected_kind, "justification": exemption}]


@pytest.mark.parametrize(
    "origin",
    [
        # a GitOps chain under a deep checkout: longer than any terminal; broken in two it is neither greppable nor clickable
        "/home/ci/builds/acme/platform/clusters/production[Kustomization flux-system/apps → Kustomization flux-system/agents → HelmRelease agents/node-agent]",
        "x" * 300,  # whatever the length
    ],
)
def test_text_never_breaks_a_source_line(origin: str) -> None:
    gate = GateResult(
        findings=[
            Finding(
                "DS-PRI-001", "priority", "deny", "DaemonSet/a/x", origin, "x has no priority", "set the class", False
            )
        ]
    )
    out = io.StringIO()
    report.to_text(gate, out, color=False, root=ROOT)
    assert any(line.endswith(f"in: {origin}") for line in out.getvalue().splitlines())
