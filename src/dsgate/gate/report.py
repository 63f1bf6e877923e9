"""Report a gate result: terminal (rich), JSON, JUnit XML, SARIF 2.1.0, GitHub annotations.

Every finding and schema error points at a file and line relative to the repository root (see
dsgate.gate.locate): SARIF `artifactLocation.uri` with `uriBaseId` %SRCROOT%, GitHub `file=`/`line=`,
text `file:line`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from dsgate.gate.baseline import REASON_PREFIX as BASELINE_REASON
from dsgate.gate.evaluate import Finding
from dsgate.gate.locate import Location, Locator, repo_root
from dsgate.gate.stages import GateResult
from dsgate.gate.validate import SchemaError

FORMATS = ("text", "json", "junit", "sarif", "github")
TOOL_URI = "https://dsgate.io"
LINE_WIDTH = 4096  # the text report wraps nothing shorter
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


@dataclass(frozen=True)
class Facts:
    """What the formats read from a result's renders besides its problems: how many renders and
    documents, each chart's number of scenarios, and each source's resources (JUnit's test cases)."""

    renders: int = 0
    documents: int = 0
    scenarios: dict[str, int] = field(default_factory=dict)  # chart (a finding's origin) -> scenarios rendered
    resources: dict[str, set[str]] = field(default_factory=dict)  # source (without scenario) -> resource refs


@dataclass
class Recorded(GateResult):
    """A result read back from JSON reports (dsgate.gate.merge): no renders, but their FACTS, and each
    problem's locations as the reports gave them (LOCATED: by finding, and by schema_key)."""

    facts: Facts = field(default_factory=Facts)
    located: dict[object, list[Location]] = field(default_factory=dict)


def schema_key(e: SchemaError) -> tuple[str, ...]:
    return (e.document.provenance.label, e.document.ref, e.kube_version, e.path, e.message)


def facts(result: GateResult) -> Facts:
    """RESULT's Facts: recorded, or from its renders."""
    if isinstance(result, Recorded):
        return result.facts
    seen: dict[str, set[str]] = defaultdict(set)
    resources: dict[str, set[str]] = defaultdict(set)
    for r in result.renders:
        if r.job.scenario:
            seen[str(r.job.source.path)].add(r.job.scenario)
        for d in r.documents:
            resources[_origin(d.provenance.label, d.provenance.scenario)].add(d.ref)
    return Facts(
        len(result.renders),
        sum(len(r.documents) for r in result.renders),
        {chart: len(names) for chart, names in seen.items()},
        dict(resources),
    )


class Places:
    """Where each problem of RESULT is, as paths relative to ROOT (absolute outside it)."""

    def __init__(self, result: GateResult, root: Path | None = None) -> None:
        self.root = (root or repo_root()).resolve()
        self._known = result.located if isinstance(result, Recorded) else None
        self._locate = Locator([] if self._known is not None else result.renders)

    def relative(self, path: Path) -> str | None:
        """PATH relative to the root, None when it is outside."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def display(self, location: Location) -> str:
        name = self.relative(location.file) or str(location.file)
        return f"{name}:{location.line}" if location.line else name

    def of_finding(self, f: Finding) -> list[Location]:
        """F's locations; for a finding of several scenarios, those of each, a location that only some of
        them share (a values file one scenario sets the field in) naming those scenarios."""
        if self._known is not None:
            return self._known.get(f, [])
        if f.pinned:  # about dsgate.yaml, not a rendered document (an exemption's line)
            return [Location(Path(f.pinned[0]).resolve(), f.pinned[1])]
        if len(f.scenarios) <= 1:
            return self._locate(f.source, f.resource, f.field, f.message)
        found: dict[Location, list[str]] = {}
        for scenario in f.scenarios:
            for loc in self._locate(f"{f.origin}[{scenario}]", f.resource, f.field, f.message):
                found.setdefault(loc, []).append(scenario)
        return [
            loc
            if len(names) == len(f.scenarios)
            else Location(loc.file, loc.line, f"{loc.note + ' ' if loc.note else ''}in {', '.join(names)}")
            for loc, names in found.items()
        ]

    def of_schema_error(self, e: SchemaError) -> list[Location]:
        if self._known is not None:
            return self._known.get(schema_key(e), [])
        return self._locate(e.document.provenance.label, e.document.ref, e.path)

    def as_json(self, locations: list[Location]) -> list[dict[str, Any]]:
        return [
            {
                "file": self.relative(loc.file) or str(loc.file),
                "line": loc.line,
                **({"note": loc.note} if loc.note else {}),
            }
            for loc in locations
        ]


def scenario_counts(result: GateResult) -> dict[str, int]:
    """How many scenarios each chart was rendered in, by chart (a finding's `origin`)."""
    return facts(result).scenarios


def in_scenarios(f: Finding, counts: dict[str, int]) -> str:
    """`in all 3 scenarios` / `in 2 of 3 scenarios: default, a`; "" for a chart with one scenario or a non-chart source."""
    total = max(counts.get(f.origin, 0), len(f.scenarios))
    if total <= 1:
        return ""
    if len(f.scenarios) == total:
        return f"in all {total} scenarios"
    return f"in {len(f.scenarios)} of {total} scenarios: {', '.join(f.scenarios)}"


def _origin(label: str, scenario: str) -> str:
    return label.removesuffix(f"[{scenario}]") if scenario else label


def summary(result: GateResult, strict: bool = False) -> dict[str, Any]:
    known = facts(result)
    return {
        "renders": known.renders,
        "documents": known.documents,
        "deny": len(result.denies),
        "warn": len(result.warns),
        "exempted": len(result.exempted),
        "schema_errors": len(result.schema_errors),
        "render_mismatches": len(result.mismatches),
        "deploy_failures": len(result.deploy_failures),
        "errors": len(result.errors),
        "exit_code": result.exit_code(strict),
        "passed": result.exit_code(strict) == 0,
    }


def to_json(result: GateResult, strict: bool = False, root: Path | None = None) -> str:
    places = Places(result, root)
    doc = {
        "findings": [{**f.as_dict(), "locations": places.as_json(places.of_finding(f))} for f in result.findings],
        "schemaErrors": [
            {
                "resource": e.document.ref,
                "source": e.document.provenance.label,
                "kubeVersion": e.kube_version,
                "path": e.path,
                "message": e.message,
                "locations": places.as_json(places.of_schema_error(e)),
            }
            | ({"via": list(e.document.provenance.via)} if e.document.provenance.via else {})
            for e in result.schema_errors
        ],
        "renderMismatches": list(result.mismatches),
        "clusterModel": result.cluster_model,
        "serverCheck": result.server_check,
        "deploy": {"checked": list(result.deploy_lines), "failures": list(result.deploy_failures)},
        "errors": list(result.errors),
        "notices": list(result.notices),
        "exemptions": [f.as_dict() for f in result.exempted],
        "summary": summary(result, strict),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def to_junit(result: GateResult, strict: bool = False, root: Path | None = None) -> str:  # noqa: C901  # one branch per kind of result (error, mismatch, schema error, deny, warn, exempted) in JUnit's shape
    """One testsuite per source; one testcase per resource (plus one per schema/render error)."""
    suites = ET.Element("testsuites", name="dsgate")
    by_source: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    resources_by_source: dict[str, set[str]] = defaultdict(set, facts(result).resources)
    for f in result.findings:
        by_source[f.origin][f.resource].append(f)
    counts = scenario_counts(result)

    def note(f: Finding) -> str:
        return f" ({where})" if (where := in_scenarios(f, counts)) else ""

    schema_by_source: dict[str, list[Any]] = defaultdict(list)
    for e in result.schema_errors:
        schema_by_source[_origin(e.document.provenance.label, e.document.provenance.scenario)].append(e)
    all_sources = sorted(set(resources_by_source) | set(by_source) | set(schema_by_source))
    total_tests = total_fail = 0
    for source in all_sources:
        suite = ET.SubElement(suites, "testsuite", name=source)
        tests = fails = 0
        for resource in sorted(resources_by_source[source] | set(by_source[source])):
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=source, name=f"policy {resource}")
            failing = [f for f in by_source[source][resource] if not f.exempted and (f.severity == "deny" or strict)]
            if failing:
                fails += 1
                text = "\n".join(
                    f"[{f.rule}] {f.severity}: {f.message}{note(f)}\n  remediation: {f.remediation}" for f in failing
                )
                fail = ET.SubElement(case, "failure", message=failing[0].message, type=failing[0].rule)
                fail.text = text
            others = [f for f in by_source[source][resource] if f not in failing]
            if others:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(
                    f"[{f.rule}] {f.severity}{' (exempted: ' + f.exemption + ')' if f.exempted else ''}: {f.message}{note(f)}"
                    for f in others
                )
        if schema_by_source[source]:
            tests += 1
            fails += 1
            case = ET.SubElement(suite, "testcase", classname=source, name="schema")
            fail = ET.SubElement(
                case, "failure", message=f"{len(schema_by_source[source])} schema error(s)", type="schema"
            )
            fail.text = "\n".join(str(e) for e in schema_by_source[source])
        suite.set("tests", str(tests))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        total_tests += tests
        total_fail += fails
    problems = result.mismatches + result.deploy_failures
    if result.errors or problems:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name="dsgate",
            tests=str(len(result.errors) + len(problems)),
            failures=str(len(problems)),
            errors=str(len(result.errors)),
        )
        for i, msg in enumerate(result.errors):
            case = ET.SubElement(suite, "testcase", classname="dsgate", name=f"error {i + 1}")
            ET.SubElement(case, "error", message=msg.splitlines()[0] if msg else "error").text = msg
        for i, msg in enumerate(problems):
            case = ET.SubElement(
                suite,
                "testcase",
                classname="dsgate",
                name=f"{'helm parity' if msg in result.mismatches else 'deploy'} {i + 1}",
            )
            ET.SubElement(
                case, "failure", message=msg, type="render-mismatch" if msg in result.mismatches else "deploy"
            ).text = msg
        total_tests += len(result.errors) + len(problems)
        total_fail += len(problems)
    if result.notices:  # not tests: what the controls say (baseline entries fixed, baseline written)
        notes = ET.SubElement(suites, "testsuite", name="dsgate notices", tests="0", failures="0", errors="0")
        ET.SubElement(notes, "system-out").text = "\n".join(result.notices)
    suites.set("tests", str(total_tests))
    suites.set("failures", str(total_fail))
    suites.set("errors", str(len(result.errors)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _sarif_level(f: Finding) -> str:
    return "error" if f.severity == "deny" else "warning"


def _sarif_locations(places: Places, locations: list[Location], fallback: str, resource: str) -> list[dict[str, Any]]:
    """SARIF locations: repository-relative URIs under %SRCROOT% with the start line; a file outside
    the repository as a file:// URI; the source label's path when nothing was located."""
    out: list[dict[str, Any]] = []
    for loc in locations or [Location(Path(fallback.split("[")[0]))]:
        relative = places.relative(loc.file)
        artifact: dict[str, Any] = (
            {"uri": relative, "uriBaseId": SRCROOT} if relative is not None else {"uri": loc.file.resolve().as_uri()}
        )
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if loc.line:
            physical["region"] = {"startLine": loc.line}
        out.append(
            {"physicalLocation": physical, "message": {"text": f"{resource}: {loc.note}" if loc.note else resource}}
        )
    return out


def to_sarif(result: GateResult, strict: bool = False, root: Path | None = None) -> str:
    places = Places(result, root)
    rules: dict[str, dict[str, Any]] = {}
    for f in result.findings:
        rules.setdefault(
            f.rule,
            {
                "id": f.rule,
                "shortDescription": {"text": f"{f.category}: {f.rule}"},
                "help": {"text": f.remediation},
                "properties": {"category": f.category, "severity": f.severity},
                "defaultConfiguration": {"level": _sarif_level(f)},
            },
        )
    if result.schema_errors:
        rules.setdefault(
            "schema",
            {
                "id": "schema",
                "shortDescription": {"text": "Kubernetes schema validation"},
                "defaultConfiguration": {"level": "error"},
            },
        )
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for f in result.findings:
        entry: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _sarif_level(f),
            "message": {"text": f"{f.resource}: {f.message}"},
            "locations": _sarif_locations(places, places.of_finding(f), f.source, f.resource),
            "properties": {
                "resource": f.resource,
                "source": f.origin,
                "category": f.category,
                **({"via": list(f.via)} if f.via else {}),
                **({"scenarios": list(f.scenarios)} if f.scenarios else {}),
            },
        }
        if f.exempted:
            # SARIF's kinds: an exemption is written beside the code (annotation, dsgate.yaml), a baseline is external
            kind = "external" if f.exemption.startswith(BASELINE_REASON) else "inSource"
            entry["suppressions"] = [{"kind": kind, "justification": f.exemption or "exempted"}]
        results.append(entry)
    for e in result.schema_errors:
        results.append(
            {
                "ruleId": "schema",
                "ruleIndex": index["schema"],
                "level": "error",
                "message": {"text": str(e)},
                "locations": _sarif_locations(
                    places, places.of_schema_error(e), e.document.provenance.label, e.document.ref
                ),
                "properties": {"resource": e.document.ref, "source": e.document.provenance.label},
            }
        )
    notifications = [
        {"level": "error", "message": {"text": msg}}
        for msg in result.errors + result.mismatches + result.deploy_failures
    ]
    notifications += [{"level": "note", "message": {"text": msg}} for msg in result.notices]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "dsgate", "informationUri": TOOL_URI, "rules": list(rules.values())}},
                "originalUriBaseIds": {SRCROOT: {"uri": places.root.as_uri() + "/"}},
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "exitCode": result.exit_code(strict),
                        "toolExecutionNotifications": notifications,
                    }
                ],
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def _gh_place(places: Places, locations: list[Location], fallback: str) -> str:
    """`file=<relative>,line=<n>,` for the first location (the source's path when none)."""
    if not locations:
        return f"file={_gh_property(fallback.split('[')[0])},"
    first = locations[0]
    name = places.relative(first.file) or str(first.file)
    return f"file={_gh_property(name)}," + (f"line={first.line}," if first.line else "")


def to_github(result: GateResult, strict: bool = False, root: Path | None = None) -> str:
    """GitHub Actions workflow commands: one annotation per problem, at its file and line."""
    places = Places(result, root)
    counts = scenario_counts(result)
    lines = []
    for msg in result.errors:
        lines.append(f"::error title=dsgate error::{_gh_escape(msg)}")
    for msg in result.mismatches:
        lines.append(f"::error title=helm parity::{_gh_escape(msg)}")
    for msg in result.deploy_failures:
        lines.append(f"::error title=deploy::{_gh_escape(msg)}")
    for e in result.schema_errors:
        where = _gh_place(places, places.of_schema_error(e), e.document.provenance.source)
        lines.append(f"::error {where}title={_gh_property('schema ' + e.document.ref)}::{_gh_escape(str(e))}")
    for f in result.findings:
        level = "notice" if f.exempted else "error" if f.severity == "deny" else "warning"
        where = _gh_place(places, places.of_finding(f), f.source)
        scenarios = f" ({w})" if (w := in_scenarios(f, counts)) else ""
        lines.append(
            f"::{level} {where}title={_gh_property(f.rule + ' ' + f.resource)}::{_gh_escape(f.message + scenarios + ' — ' + f.remediation)}"
        )
    lines.extend(f"::notice title=dsgate::{_gh_escape(msg)}" for msg in result.notices)
    s = summary(result, strict)
    lines.append(
        f"dsgate: {s['deny']} deny, {s['warn']} warn, {s['exempted']} exempted, {s['schema_errors']} schema errors, {s['errors']} errors"
    )
    return "\n".join(lines) + "\n"


# one branch per section of the text report (schema errors, rule groups, exempted, notices), in print order
def to_text(  # noqa: C901
    result: GateResult, out: TextIO, strict: bool = False, color: bool | None = None, root: Path | None = None
) -> None:
    """Terminal view: schema errors by source and resource; findings grouped by rule (and severity),
    most frequent first, each group with its count and its remediation shown once, each finding with
    its file:line; exempted findings last, one group per rule with the count of each reason (the
    formats for machines list every one)."""
    places = Places(result, root)

    def at(locations: list[Location]) -> str:
        if not locations:
            return ""
        shown = ", ".join(places.display(loc) + (f" ({loc.note})" if loc.note else "") for loc in locations)
        return f"\n[dim]at:[/] {escape(shown)}"

    counts = scenario_counts(result)

    def scenarios(f: Finding) -> str:
        return f"\n[dim]{escape(where)}[/]" if (where := in_scenarios(f, counts)) else ""

    # a source or location line is never broken (grep, CI logs): rich pads no line to this width
    console = Console(file=out, force_terminal=color, no_color=color is False, width=LINE_WIDTH, highlight=False)
    for msg in result.errors:
        console.print(f"[bold red]error[/]: {escape(msg)}", soft_wrap=True)
    for msg in result.mismatches:
        console.print(f"[bold red]helm parity[/]: {escape(msg)}")
    if result.cluster_model:
        console.print(escape(result.cluster_model), soft_wrap=True)
    if result.server_check:
        console.print(escape(result.server_check))
    for msg in result.deploy_lines:
        console.print(escape(msg))
    for msg in result.deploy_failures:
        console.print(f"[bold red]deploy[/]: {escape(msg)}")
    for msg in result.notices:
        console.print(f"[cyan]notice[/]: {escape(msg)}", soft_wrap=True)
    schema: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in result.schema_errors:
        schema[e.document.provenance.label][e.document.ref].append(
            f"[red]schema[/] ({e.kube_version}) {escape(e.path or '<root>')}: {escape(e.message)}{at(places.of_schema_error(e))}"
        )
    for source in sorted(schema):
        tree = Tree(f"[bold]{escape(source)}[/]")
        for resource in sorted(schema[source]):
            branch = tree.add(escape(resource))
            for line in schema[source][resource]:
                branch.add(line)
        console.print(tree)
    by_rule: dict[tuple[bool, str, str], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_rule[(f.exempted, f.severity, f.rule)].append(f)
    order = sorted(by_rule, key=lambda k: (k[0], k[1] != "deny", -len(by_rule[k]), k[2]))
    for exempted, severity, rule in order:
        group = by_rule[(exempted, severity, rule)]
        fixes = list(dict.fromkeys(f.remediation for f in group))
        tag = "[dim]exempted[/]" if exempted else "[bold red]deny[/]" if severity == "deny" else "[yellow]warn[/]"
        header = (
            f"{tag} [bold]{rule}[/] [dim]{group[0].category}[/] ({len(group)} finding{'s' if len(group) > 1 else ''})"
        )
        if not exempted and len(fixes) == 1:
            header += f"\n[dim]fix:[/] {escape(fixes[0])}"
        tree = Tree(header)
        if exempted:  # suppressed on purpose (an exemption, the baseline): how many, and why, not each one again
            for reason, n in Counter(f.exemption for f in group).most_common():
                tree.add(f"[dim]{escape(reason or 'exempted')} ({n})[/]")
        for f in [] if exempted else group:
            line = escape(f.message) + (at(places.of_finding(f)) or f"\n[dim]in:[/] {escape(f.origin)}") + scenarios(f)
            if len(fixes) > 1:
                line += f"\n[dim]fix:[/] {escape(f.remediation)}"
            tree.add(line)
        console.print(tree)
    s = summary(result, strict)
    verdict = "[bold green]PASS[/]" if s["passed"] else "[bold red]FAIL[/]"
    console.print(
        f"{verdict} {s['renders']} renders, {s['documents']} documents: {s['deny']} deny, {s['warn']} warn, "
        f"{s['exempted']} exempted, {s['schema_errors']} schema errors, {s['render_mismatches']} helm mismatches, {s['errors']} errors"
    )


def render_report(
    result: GateResult, fmt: str, out: TextIO, strict: bool = False, color: bool | None = None, root: Path | None = None
) -> None:
    """Write RESULT in FMT; paths are relative to ROOT (default: the repository around the working directory)."""
    if fmt == "text":
        to_text(result, out, strict, color, root)
        return
    writer = {"json": to_json, "junit": to_junit, "sarif": to_sarif, "github": to_github}[fmt]
    out.write(writer(result, strict, root))
