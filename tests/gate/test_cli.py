"""`dsgate check` end to end through the real CLI: every report format, exit codes, fail-closed paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from junitparser import JUnitXml

from dsgate.docs.catalogue import categories
from dsgate.paths import policies_dir
from dsgate.tools import cache_dir
from dsgate.versions import pinned
from tests.support import dsgate_check

pytestmark = pytest.mark.policy

DATA = Path(__file__).parent / "data"
BAD = DATA / "community-daemonset.yaml"


@pytest.fixture(scope="module")
def bad_json() -> dict[str, Any]:
    proc = dsgate_check("--no-config", "--format", "json", str(BAD))
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)


def test_json_contract(bad_json: dict[str, Any]) -> None:
    keys = {"rule", "category", "severity", "resource", "source", "message", "remediation", "exempted"}
    assert bad_json["findings"], "the community-style DaemonSet must produce findings"
    for finding in bad_json["findings"]:
        assert keys <= set(finding)
        assert finding["category"] in categories(policies_dir())
        assert finding["resource"] == "DaemonSet/monitoring/node-exporter"
        assert finding["source"] == str(BAD)
    summary = bad_json["summary"]
    assert summary["deny"] == sum(1 for f in bad_json["findings"] if f["severity"] == "deny" and not f["exempted"])
    assert summary["exit_code"] == 1 and summary["passed"] is False


def test_community_defaults_denied_for_those_reasons(bad_json: dict[str, Any]) -> None:
    assert sorted({(f["rule"], f["severity"]) for f in bad_json["findings"]}) == [
        ("DS-PRB-001", "deny"),  # no readinessProbe
        ("DS-PRI-001", "deny"),  # empty priorityClassName
        ("DS-RES-001", "deny"),  # resources: {}
        ("DS-ROL-005", "warn"),  # minReadySeconds 0
        ("DS-TOL-004", "warn"),  # tolerates every NoSchedule taint but no NoExecute one
    ]  # host namespaces (DS-HST-005) and the key-less toleration (DS-TOL-002) are node-exporter's by the catalogue
    # (app label and image); no PodDisruptionBudget (DS-PDB-001), no digest (DS-IMG-002), no maxUnavailable
    # (DS-ROL-001, whose default 1 is the most careful) and the generic container hardening below are in the
    # strict profile, not the default baseline


def test_community_hardening_under_strict_profile() -> None:
    proc = dsgate_check("--no-config", "--profile", "strict", "--format", "json", str(BAD))
    assert proc.returncode == 1, proc.stderr
    mine = ("DS-HST", "DS-HYG", "DS-PRB", "DS-RES", "DS-SEC")
    assert sorted(
        {(f["rule"], f["severity"]) for f in json.loads(proc.stdout)["findings"] if f["rule"].startswith(mine)}
    ) == [
        ("DS-HST-002", "warn"),  # hostPath without type
        ("DS-HST-004", "warn"),  # hostNetwork with dnsPolicy ClusterFirst (node-exporter is no network agent)
        ("DS-HYG-002", "warn"),  # no app.kubernetes.io/name
        ("DS-PRB-001", "deny"),  # no readinessProbe
        ("DS-PRB-002", "deny"),  # no livenessProbe
        ("DS-RES-001", "deny"),  # resources: {}
        ("DS-SEC-001", "deny"),  # runs as root
        ("DS-SEC-002", "deny"),  # privilege escalation allowed
        ("DS-SEC-003", "deny"),  # capabilities not dropped
        ("DS-SEC-005", "deny"),  # no seccomp
        ("DS-SEC-006", "warn"),  # writable root filesystem
        ("DS-SEC-008", "warn"),  # token of an unbound ServiceAccount
    ]


def test_node_critical_without_pdb_reported(tmp_path: Path) -> None:
    text = BAD.read_text().replace(
        "      hostNetwork: true", "      priorityClassName: system-node-critical\n      hostNetwork: true"
    )
    (tmp_path / "ds.yaml").write_text(text)
    proc = dsgate_check("--no-config", "--profile", "strict", "--format", "json", str(tmp_path / "ds.yaml"))
    rules = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert "DS-PDB-001" in rules and "DS-PRI-001" not in rules


def test_sarif_is_valid_sarif_2_1_0() -> None:
    proc = dsgate_check("--no-config", "--format", "sarif", str(BAD))
    assert proc.returncode == 1, proc.stderr
    schema_path = (
        cache_dir() / "schemas" / "sarif" / pinned()["SARIF_SCHEMA_NPM"].rsplit("@", 1)[1] / "sarif-2.1.0.json"
    )
    schema = json.loads(schema_path.read_text())
    sarif = json.loads(proc.stdout)
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert results and all(r["ruleId"] for r in results)
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 1


def test_sarif_points_at_template_and_values_of_a_chart() -> None:
    chart = DATA / "locate" / "chart"
    proc = dsgate_check("--no-config", "--format", "sarif", str(chart), cwd=DATA)
    assert proc.returncode == 1, proc.stderr
    schema_path = (
        cache_dir() / "schemas" / "sarif" / pinned()["SARIF_SCHEMA_NPM"].rsplit("@", 1)[1] / "sarif-2.1.0.json"
    )
    schema = json.loads(schema_path.read_text())
    sarif = json.loads(proc.stdout)
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    located = {
        (r["ruleId"], r["properties"]["scenarios"][0]): [
            (loc["physicalLocation"]["artifactLocation"]["uri"], loc["physicalLocation"]["region"]["startLine"])
            for loc in r["locations"]
        ]
        for r in sarif["runs"][0]["results"]
        if r["ruleId"] != "schema"  # findings: each lists the scenarios it occurs in
    }
    root = Path(__file__).resolve().parents[2]
    prefix = chart.resolve().relative_to(root).as_posix()
    assert located[("DS-PRI-001", "bad")] == [
        (f"{prefix}/templates/daemonset.yaml", 17),
        (f"{prefix}/ci/bad-values.yaml", 2),
    ]
    assert located[("DS-PRI-001", "default")] == [
        (f"{prefix}/templates/daemonset.yaml", 17),
        (f"{prefix}/values.yaml", 4),
    ]
    assert located[("DS-HST-005", "bad")] == [
        (f"{prefix}/templates/daemonset.yaml", 19),
        (f"{prefix}/ci/bad-values.yaml", 3),
    ]


def test_junit_parses_with_a_real_junit_parser(tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    proc = dsgate_check("--no-config", "--format", "junit", "--output", str(out), str(BAD))
    assert proc.returncode == 1, proc.stderr
    xml = JUnitXml.fromfile(str(out))
    cases = [case for suite in xml for case in suite]
    assert cases, "no test cases in the JUnit report"
    failed = [case for case in cases if not case.is_passed]
    assert any("DaemonSet/monitoring/node-exporter" in case.name for case in failed)


def test_github_annotations() -> None:
    proc = dsgate_check("--no-config", "--format", "github", str(BAD))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    relative = BAD.resolve().relative_to(Path(__file__).resolve().parents[2]).as_posix()
    assert f"::error file={relative},line=18,title=DS-PRI-001 DaemonSet/monitoring/node-exporter::" in "\n".join(lines)
    assert lines[-1].startswith("dsgate: ")


def test_text_report_groups_by_rule() -> None:
    """One group per rule, denies first, with its count and its remediation once (the strict profile:
    its DS-HYG-002 warning has two findings, the metadata and the template labels)."""
    proc = dsgate_check("--no-config", "--no-server-check", "--profile", "strict", str(BAD))
    assert proc.returncode == 1
    headers = [line for line in proc.stdout.splitlines() if line.startswith(("deny ", "warn "))]
    assert "deny DS-PRI-001 priority (1 finding)" in headers and "warn DS-HYG-002 hygiene (2 findings)" in headers
    assert [h.split()[0] for h in headers] == sorted((h.split()[0] for h in headers), key=lambda s: s != "deny")
    assert proc.stdout.count("fix: Label both metadata.labels and spec.template.metadata.labels") == 1
    assert "FAIL" in proc.stdout


@pytest.mark.parametrize(
    ("files", "args", "env", "expected_message"),
    [
        pytest.param(
            {"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   x: 1\n"},
            ["m.yaml"],
            {},
            "m.yaml:5",
            id="malformed-yaml-names-file-and-line",
        ),
        pytest.param(
            {"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"},
            ["c"],
            {},
            "rendered no Kubernetes documents",
            id="empty-chart",
        ),
        pytest.param(
            {"m.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"},
            ["m.yaml"],
            {},
            "unknown kind example.com/v1/Widget",
            id="unknown-kind",
        ),
        pytest.param(
            {
                "c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
                "c/templates/x.yaml": '{{ fail "boom: values.x is required" }}\n',
            },
            ["c"],
            {},
            "boom: values.x is required",
            id="helm-template-error",
        ),
        pytest.param(
            {"m.yaml": BAD.read_text()},
            ["m.yaml"],
            {"DSGATE_OPA": "/nonexistent/opa"},
            "OPA is not available",
            id="opa-binary-missing",
        ),
        pytest.param({}, ["nothing-here"], {}, "no such file or directory", id="missing-path"),
        pytest.param({"d/README.md": "x"}, ["d"], {}, "nothing to gate", id="path-with-no-documents"),
        pytest.param(
            {"m.yaml": BAD.read_text()},
            ["--policies", "no-such-dir", "m.yaml"],
            {},
            "policy directory",
            id="no-policy-dir",
        ),
        pytest.param(
            {
                "k/kustomization.yaml": 'resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: typo}\n    patch: \'[{"op": "add", "path": "/data/x", "value": "y"}]\'\n',
                "k/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: real}\ndata: {a: b}\n",
            },
            ["k"],
            {},
            "matches no object",
            id="kustomize-patch-target-matches-nothing",
        ),
        pytest.param(
            {"k/kustomization.yaml": "resources: [missing.yaml]\n"},
            ["k"],
            {},
            "missing.yaml",
            id="kustomize-missing-file",
        ),
        pytest.param(
            {"m.yaml": "--- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"},
            ["m.yaml"],
            {},
            "m.yaml: not YAML that kubectl reads: line 1: content after the document separator",
            id="yaml-kubectl-does-not-read",
        ),
    ],
)
def test_fail_closed(
    tmp_path: Path, files: dict[str, str], args: list[str], env: dict[str, str], expected_message: str
) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    proc = dsgate_check("--no-config", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert expected_message in proc.stdout + proc.stderr
    assert "PASS" not in proc.stdout


@pytest.mark.parametrize(
    ("manifest", "expected_schema_error"),
    [
        # kubectl (sigs.k8s.io/yaml) reads the YAML 1.1 booleans y/n/on/off; PyYAML would keep "y".
        pytest.param("data:\n  enabled: y\n", "data.enabled: True is not of type 'string'", id="y-is-a-boolean"),
        pytest.param("data:\n  mode: off\n", "data.mode: False is not of type 'string'", id="off-is-a-boolean"),
    ],
)
def test_manifests_are_read_as_kubectl_reads_them(tmp_path: Path, manifest: str, expected_schema_error: str) -> None:
    (tmp_path / "m.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: ns\n{manifest}"
    )
    proc = dsgate_check("--no-config", "m.yaml", cwd=tmp_path)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert expected_schema_error in proc.stdout


@pytest.mark.parametrize("helm", ["v4", "v3"])
def test_chart_renders_are_read_as_kubectl_reads_them_under_either_helm(tmp_path: Path, helm: str) -> None:
    (tmp_path / "c" / "templates").mkdir(parents=True)
    (tmp_path / "c" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "c" / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  enabled: y\n"
    )
    proc = dsgate_check("--no-config", "--helm", helm, "c", cwd=tmp_path)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "data.enabled: True is not of type 'string'" in proc.stdout


def test_usage_error_exits_2() -> None:
    proc = dsgate_check("--no-config", "--format", "yaml", str(BAD))
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
