"""The controls of dsgate.yaml and the command line (profile, rules, overrides, selector exemptions,
unused and expired exemptions, baseline) through the real `dsgate check` and the real OPA.

Most rows run against a small library of our own (the real lib and main packages plus three rules
that fire on every DaemonSet, one per profile), so a row does not change when the real rules' profiles
and severities do; the rows about exemptions use the real library.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import yamlc
from dsgate.gate import ruleset
from dsgate.gate.baseline import entry_of
from dsgate.gate.controls import matches
from dsgate.gate.evaluate import Finding
from dsgate.paths import policies_dir
from tests.support import dsgate_check
from tests.tools.support import readme_block

pytestmark = pytest.mark.policy

DATA = Path(__file__).parent / "data"
BAD = DATA / "community-daemonset.yaml"  # node-exporter in namespace monitoring, image prom/node-exporter:v1.7.0

RULE = """
# METADATA
# title: Test rule {n}
# custom:
#   id: DS-TST-00{n}
#   category: t
#   severity: {severity}
#   profile: {profile}
#   remediation: Fix {n}.
findings contains finding if {{
\tsome ds in lib.daemonsets
\tfinding := lib.finding(rego.metadata.rule(), ds, sprintf("%s breaks rule {n}", [lib.display(ds)]))
}}
"""
TEST_RULES = {"DS-TST-001": ("deny", "minimal"), "DS-TST-002": ("deny", "baseline"), "DS-TST-003": ("warn", "strict")}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real lib and main packages with three test rules, one per profile."""
    lib = tmp_path_factory.mktemp("library")
    real = policies_dir()
    for module in [*real.glob("main/*.rego"), *real.glob("dsgate/lib/*.rego")]:
        if not module.name.endswith("_test.rego"):
            dest = lib / module.relative_to(real)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(module, dest)
    rules = lib / "dsgate" / "rules" / "t"
    rules.mkdir(parents=True)
    body = "".join(RULE.format(n=rule[-1], severity=sev, profile=prof) for rule, (sev, prof) in TEST_RULES.items())
    (rules / "t.rego").write_text("package dsgate.rules.t\n\nimport data.dsgate.lib\n" + body)
    return lib


def _repo(tmp_path: Path, config: dict[str, Any] | None) -> Path:
    """A repository with two sources (vendor/ds.yaml, own/ds.yaml) and CONFIG as its dsgate.yaml."""
    for name in ("vendor", "own"):
        (tmp_path / name).mkdir()
        shutil.copyfile(BAD, tmp_path / name / "ds.yaml")
    if config is not None:
        (tmp_path / "dsgate.yaml").write_text(yaml.safe_dump({"sources": ["vendor", "own"], **config}, sort_keys=False))
    return tmp_path


def _findings(proc: Any) -> set[tuple[str, str, str]]:
    """(rule, severity, source directory name) of every finding that is not exempted."""
    doc = json.loads(proc.stdout)
    return {(f["rule"], f["severity"], Path(f["source"]).name) for f in doc["findings"] if not f["exempted"]}


def _both(rule: str, severity: str) -> set[tuple[str, str, str]]:
    return {(rule, severity, "vendor"), (rule, severity, "own")}


@pytest.mark.parametrize(
    ("config", "args", "expected_findings", "expected_exit"),
    [
        # default profile: baseline, so the strict rule does not run
        pytest.param({}, [], _both("DS-TST-001", "deny") | _both("DS-TST-002", "deny"), 1, id="default-baseline"),
        pytest.param({"profile": "minimal"}, [], _both("DS-TST-001", "deny"), 1, id="profile-minimal"),
        pytest.param(
            {"profile": "strict"},
            [],
            _both("DS-TST-001", "deny") | _both("DS-TST-002", "deny") | _both("DS-TST-003", "warn"),
            1,
            id="profile-strict",
        ),
        # --profile replaces dsgate.yaml's profile
        pytest.param(
            {"profile": "strict"}, ["--profile", "minimal"], _both("DS-TST-001", "deny"), 1, id="cli-profile-wins"
        ),
        # a rule turned off, another set to warn: a warn alone passes
        pytest.param(
            {"rules": {"DS-TST-001": False, "DS-TST-002": "warn"}},
            [],
            _both("DS-TST-002", "warn"),
            0,
            id="off-and-warn",
        ),
        # `on` runs a rule outside the profile at its own severity; `deny` raises a warn rule
        pytest.param(
            {"profile": "minimal", "rules": {"DS-TST-003": "deny"}},
            [],
            _both("DS-TST-001", "deny") | _both("DS-TST-003", "deny"),
            1,
            id="deny-enables",
        ),
        pytest.param(
            {"profile": "minimal", "rules": {"DS-TST-003": True}},
            [],
            _both("DS-TST-001", "deny") | _both("DS-TST-003", "warn"),
            1,
            id="on-enables",
        ),
        # per source: the vendor directory (a glob of source paths, relative to dsgate.yaml) runs minimal and warns on rule 1
        pytest.param(
            {"overrides": [{"paths": ["vend*"], "profile": "minimal", "rules": {"DS-TST-001": "warn"}}]},
            [],
            {("DS-TST-001", "warn", "vendor"), ("DS-TST-001", "deny", "own"), ("DS-TST-002", "deny", "own")},
            1,
            id="override-per-source",
        ),
        # --disable turns a rule off everywhere, overrides included
        pytest.param(
            {"overrides": [{"paths": ["own"], "rules": {"DS-TST-001": "deny"}}]},
            ["--disable", "DS-TST-001"],
            _both("DS-TST-002", "deny"),
            1,
            id="cli-disable",
        ),
        pytest.param({}, ["--disable", "DS-TST-001", "--disable", "DS-TST-002"], set(), 0, id="all-disabled-passes"),
    ],
)
def test_rule_controls(
    library: Path,
    tmp_path: Path,
    config: dict[str, Any],
    args: list[str],
    expected_findings: set[tuple[str, str, str]],
    expected_exit: int,
) -> None:
    repo = _repo(tmp_path, config)
    proc = dsgate_check("--no-server-check", "--policies", library, "--format", "json", *args, cwd=repo)
    assert proc.returncode == expected_exit, proc.stderr
    assert _findings(proc) == expected_findings


@pytest.mark.parametrize(
    ("config", "args", "expected_error"),
    [
        # unknown rule ids name the key and list the known ids (read from the library's METADATA)
        pytest.param(
            {"rules": {"DS-NOPE-001": False}},
            [],
            "dsgate.yaml: rules.DS-NOPE-001 names rule 'DS-NOPE-001', which the policy library does not define; known ids: DS-TST-001, DS-TST-002, DS-TST-003, deprecated-api, unused-exemption",
            id="unknown-rule",
        ),
        pytest.param(
            {"overrides": [{"paths": ["own"], "rules": {"DS-X": "warn"}}]},
            [],
            "overrides[0].rules.DS-X names rule 'DS-X'",
            id="unknown-rule-in-override",
        ),
        pytest.param({}, ["--disable", "DS-X"], "--disable DS-X names rule 'DS-X'", id="unknown-rule-on-cli"),
        pytest.param(
            {"exemptions": [{"rule": "DS-X", "resource": "DaemonSet/a/b", "reason": "r", "expires": "2099-01-01"}]},
            [],
            "exemptions[0].rule names rule 'DS-X'",
            id="unknown-rule-in-exemption",
        ),
        pytest.param(
            {"profile": "lax"}, [], "profile is 'lax'; use one of minimal, baseline, strict", id="unknown-profile"
        ),
        pytest.param(
            {"rules": {"DS-TST-001": "error"}},
            [],
            "rules.DS-TST-001 is 'error'; use one of off, on, deny, warn",
            id="unknown-setting",
        ),
        pytest.param(
            {"overrides": [{"rules": {}}]},
            [],
            "overrides[0] must be a mapping with 'paths'",
            id="override-without-paths",
        ),
        pytest.param(
            {"overrides": [{"paths": []}]}, [], "overrides[0].paths must be a non-empty list", id="override-empty-paths"
        ),
        pytest.param(
            {"exemptions": [{"rule": "DS-TST-001", "reason": "r", "expires": "2099-01-01"}]},
            [],
            "exemptions[0] exempts nothing: give 'resource",
            id="exemption-of-nothing",
        ),
        pytest.param(
            {
                "exemptions": [
                    {"rule": "DS-TST-001", "selector": {"kind": "DaemonSet"}, "reason": "r", "expires": "2099-01-01"}
                ]
            },
            [],
            "exemptions[0].selector must be a mapping of namespace, name, labels, image",
            id="selector-unknown-key",
        ),
        pytest.param(
            {
                "exemptions": [
                    {"rule": "DS-TST-001", "selector": {"labels": {"app": "x"}}, "reason": "r", "expires": "2099-01-01"}
                ]
            },
            [],
            "exemptions[0].selector.labels must be a label selector",
            id="selector-labels-not-a-selector",
        ),
        pytest.param(
            {
                "exemptions": [
                    {
                        "rule": "DS-TST-001",
                        "selector": {"labels": {"matchExpressions": [{"key": "a", "operator": "Has"}]}},
                        "reason": "r",
                        "expires": "2099-01-01",
                    }
                ]
            },
            [],
            "exemptions[0].selector.labels must be a label selector",
            id="selector-labels-bad-operator",
        ),
        pytest.param(
            {"exemptions": [{"resource": "DaemonSet/a/b", "reason": "r", "expires": "2099-01-01"}]},
            [],
            "exemptions[0] needs 'rule'",
            id="exemption-without-rule",
        ),
    ],
)
def test_control_errors_exit_2(
    library: Path, tmp_path: Path, config: dict[str, Any], args: list[str], expected_error: str
) -> None:
    repo = _repo(tmp_path, config)
    proc = dsgate_check("--no-server-check", "--policies", library, *args, cwd=repo)
    assert proc.returncode == 2, proc.stdout
    assert expected_error in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def _exemption(**entry: Any) -> dict[str, Any]:
    return {"rule": "DS-PRI-001", "reason": "vendor chart", "expires": "2099-01-01", **entry}


@pytest.mark.parametrize(
    ("exemptions", "expected_exempted", "expected_unused_lines"),
    [
        # exact resource, as before
        pytest.param([_exemption(resource="DaemonSet/monitoring/node-exporter")], {"vendor", "own"}, [], id="resource"),
        pytest.param([_exemption(selector={"namespace": "monitor*"})], {"vendor", "own"}, [], id="namespace-glob"),
        pytest.param(
            [_exemption(selector={"name": "node-*", "image": "prom/*"})], {"vendor", "own"}, [], id="name-and-image"
        ),
        pytest.param(
            [_exemption(selector={"labels": {"matchLabels": {"app": "node-exporter"}}})],
            {"vendor", "own"},
            [],
            id="label-selector",
        ),
        # a selector that matches nothing: nothing exempted, the exemption is reported at its line
        pytest.param([_exemption(selector={"image": "quay.io/*"})], set(), [5], id="unmatched-selector-unused"),
        # the second entry is unused; the first is used
        pytest.param(
            [_exemption(resource="DaemonSet/monitoring/node-exporter"), _exemption(resource="DaemonSet/other/agent")],
            {"vendor", "own"},
            [9],
            id="one-unused",
        ),
    ],
)
def test_selector_and_unused_exemptions(
    tmp_path: Path, exemptions: list[dict[str, Any]], expected_exempted: set[str], expected_unused_lines: list[int]
) -> None:
    repo = _repo(tmp_path, {"exemptions": exemptions})
    proc = dsgate_check("--no-server-check", "--format", "json", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert {
        Path(f["source"]).name for f in findings if f["rule"] == "DS-PRI-001" and f["exempted"]
    } == expected_exempted
    unused = [f for f in findings if f["rule"] == "unused-exemption"]
    assert [loc["line"] for f in unused for loc in f["locations"]] == expected_unused_lines
    assert all(
        f["source"] == "dsgate.yaml" and f["severity"] == "warn" and f["locations"][0]["file"] == "dsgate.yaml"
        for f in unused
    )


def test_unused_exemptions_not_reported_for_a_subset_of_sources(tmp_path: Path) -> None:
    """Checking one PATH is not the whole repository: an exemption for another source is not unused."""
    repo = _repo(tmp_path, {"exemptions": [_exemption(resource="DaemonSet/other/agent")]})
    proc = dsgate_check("--no-server-check", "--format", "json", "own", cwd=repo)
    assert not [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "unused-exemption"]


# The entry starts on line 5 of dsgate.yaml (after sources: and its two items).
EXPIRED = [_exemption(resource="DaemonSet/monitoring/node-exporter", expires="2020-01-01")]


@pytest.mark.parametrize(
    ("fmt", "expected_place"),
    [
        pytest.param("text", "at: dsgate.yaml:5", id="text"),
        pytest.param("github", "::error file=dsgate.yaml,line=5,title=DS-HYG-004", id="github"),
        pytest.param("sarif", '"uri": "dsgate.yaml"', id="sarif"),
        pytest.param("json", '"file": "dsgate.yaml",\n          "line": 5', id="json"),
    ],
)
def test_expired_exemption_points_at_its_line(tmp_path: Path, fmt: str, expected_place: str) -> None:
    repo = _repo(tmp_path, {"exemptions": EXPIRED})
    proc = dsgate_check("--no-server-check", "--format", fmt, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert expected_place in proc.stdout
    if fmt == "sarif":
        results = json.loads(proc.stdout)["runs"][0]["results"]
        expired = [r for r in results if r["ruleId"] == "DS-HYG-004"]
        assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in expired] == [
            5
        ]  # once, not once per source


def test_baseline_both_directions(library: Path, tmp_path: Path) -> None:
    """Recorded findings pass; a new one fails; a fixed one is listed for removal."""
    repo = _repo(tmp_path, {"profile": "minimal"})
    base = repo / "dsgate-baseline.json"
    wrote = dsgate_check("--no-server-check", "--policies", library, "--write-baseline", base, cwd=repo)
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    recorded = json.loads(base.read_text())["findings"]
    assert sorted((e["rule"], e["source"]) for e in recorded) == [("DS-TST-001", "own"), ("DS-TST-001", "vendor")]

    same = dsgate_check("--no-server-check", "--policies", library, "--baseline", base, "--format", "json", cwd=repo)
    assert same.returncode == 0 and _findings(same) == set() and json.loads(same.stdout)["notices"] == []

    # a new finding (rule 2, now in the profile) fails; the recorded ones stay suppressed
    new = dsgate_check(
        "--no-server-check",
        "--policies",
        library,
        "--baseline",
        base,
        "--profile",
        "baseline",
        "--format",
        "json",
        cwd=repo,
    )
    assert new.returncode == 1
    assert _findings(new) == _both("DS-TST-002", "deny")

    # the vendor DaemonSet is gone (another kind of object is left): its entry is fixed and listed
    (repo / "vendor" / "ds.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: monitoring}\n"
    )
    fixed = dsgate_check("--no-server-check", "--policies", library, "--baseline", base, "--format", "json", cwd=repo)
    assert fixed.returncode == 0
    [notice] = json.loads(fixed.stdout)["notices"]
    assert notice.startswith(f"baseline {base}: DS-TST-001 on DaemonSet/monitoring/node-exporter in vendor (")
    assert notice.endswith("no longer occurs; remove the entry")


@pytest.mark.parametrize(
    ("content", "expected_error"),
    [
        pytest.param(None, "cannot read the baseline", id="missing"),
        pytest.param("{", "not a baseline file", id="not-json"),
        pytest.param('{"version": 9, "findings": []}', "not a version 1 baseline file", id="other-version"),
    ],
)
def test_bad_baseline_exit_2(library: Path, tmp_path: Path, content: str | None, expected_error: str) -> None:
    repo = _repo(tmp_path, {})
    base = repo / "b.json"
    if content is not None:
        base.write_text(content)
    proc = dsgate_check("--no-server-check", "--policies", library, "--baseline", base, cwd=repo)
    assert proc.returncode == 2 and expected_error in proc.stderr, proc.stderr


def test_readme_controls_block_runs_as_written(tmp_path: Path) -> None:
    """The README's dsgate.yaml example, on two plain-YAML sources: it loads (its rule ids exist), and each control acts."""
    (tmp_path / "dsgate.yaml").write_text(readme_block("controls"))
    for name in ("deploy", "vendor"):
        (tmp_path / name).mkdir()
        shutil.copyfile(BAD, tmp_path / name / "ds.yaml")
    proc = dsgate_check("--no-server-check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # the community DaemonSet still has denies
    findings = json.loads(proc.stdout)["findings"]
    assert not [f for f in findings if f["rule"] in ("DS-IMG-004", "DS-SEC-001") and "vendor" in f["source"]]
    assert {f["severity"] for f in findings if f["rule"] == "DS-ROL-005"} <= {"warn"}
    assert {f["exempted"] for f in findings if f["rule"] == "DS-PRI-001"} <= {True}
    lines = readme_block("controls").splitlines()
    cilium_line = next(i for i, line in enumerate(lines, 1) if "rule: DS-HST-001" in line)
    assert [(f["rule"], f["locations"][0]["line"]) for f in findings if f["rule"] == "unused-exemption"] == [
        ("unused-exemption", cilium_line)
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("globs", "source", "expected_match"),
    [
        (["vendor"], "vendor", True),  # the source itself
        (["vendor"], "vendor/cilium", True),  # a directory above the source
        (["vendor/*"], "vendor", True),  # `dir/*` names the directory source too
        (["vend*"], "vendor/cilium/ds.yaml", True),  # `*` spans slashes
        (["charts/cilium"], "charts/cilium-extra", False),  # a prefix of a name is not a match
        (["own"], "vendor", False),
        (["vendor"], "vendor[ci-values]", False),  # labels are stripped of their scenario by source_path, not here
    ],
)
def test_override_paths_match(tmp_path: Path, globs: list[str], source: str, expected_match: bool) -> None:
    assert matches(globs, str(tmp_path / source), tmp_path) is expected_match


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "expected_same"),
    [
        ({"message": "other words, other line"}, True),  # the message (and so a line number in it) is not part of it
        ({"source": "charts/agent[ci-other]"}, True),  # another scenario of the same chart
        ({"severity": "warn"}, True),  # a severity control changed
        ({"field": "spec.template.spec.priorityClassName"}, False),  # another field
        ({"resource": "DaemonSet/monitoring/other"}, False),  # another resource
        ({"source": "charts/other[default]"}, False),  # another chart
        ({"rule": "DS-PRI-002"}, False),  # another rule
    ],
)
def test_baseline_fingerprint_is_stable(tmp_path: Path, change: dict[str, str], expected_same: bool) -> None:
    base = Finding(
        "DS-PRI-001",
        "priority",
        "deny",
        "DaemonSet/monitoring/agent",
        "charts/agent[default]",
        "m at line 3",
        "r",
        False,
        field="",
    )
    assert (
        entry_of(base, tmp_path).fingerprint == entry_of(replace(base, **change), tmp_path).fingerprint
    ) is expected_same


def test_ruleset_follows_the_library_content(library: Path, tmp_path: Path) -> None:
    """The rule metadata is cached by the library's content: a changed profile is read, not a stale one."""
    lib = tmp_path / "library"
    shutil.copytree(library, lib)
    rego = lib / "dsgate" / "rules" / "t" / "t.rego"
    assert ruleset.read(lib)["DS-TST-003"].profile == "strict"
    assert ruleset.read(lib)["DS-TST-003"].profile == "strict"  # from the cache
    rego.write_text(rego.read_text().replace("profile: strict", "profile: minimal"))
    assert ruleset.read(lib)["DS-TST-003"].profile == "minimal"


@pytest.mark.parametrize(
    ("annotations", "expected_unused"),
    [
        # the exemption of a rule that fires is used; one of a rule that does not is reported, at the annotations
        pytest.param(
            {"dsgate.io/exempt.DS-PRI-001": "vendor chart", "dsgate.io/exempt.DS-PDB-002": "old"},
            ["DS-PDB-002"],
            id="one-unused",
        ),
        pytest.param({"dsgate.io/exempt.DS-PRI-001": "vendor chart"}, [], id="all-used"),
        # a misspelt rule id exempts nothing and says so
        pytest.param({"dsgate.io/exempt.DS-PRI-01": "typo"}, ["DS-PRI-01"], id="typo"),
        # without a reason it is DS-HYG-003's finding, not also an unused one
        pytest.param({"dsgate.io/exempt.DS-PDB-002": ""}, [], id="no-reason"),
    ],
)
def test_unused_annotation_exemptions(tmp_path: Path, annotations: dict[str, str], expected_unused: list[str]) -> None:
    doc = yamlc.safe_load(BAD.read_text())
    doc["metadata"]["annotations"] = annotations
    (tmp_path / "ds.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = dsgate_check("--no-config", "--no-server-check", "--format", "json", "ds.yaml", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    unused = [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "unused-exemption"]
    assert [f["message"].split(" from ")[1].split(",")[0] for f in unused] == expected_unused
    annotations_line = 1 + yaml.safe_dump(doc, sort_keys=False).splitlines().index("  annotations:")
    assert all(f["locations"] == [{"file": "ds.yaml", "line": annotations_line}] for f in unused)
