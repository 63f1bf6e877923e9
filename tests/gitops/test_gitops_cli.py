"""`dsgate check` on GitOps repositories through the real CLI: the chain in every report format, a missing
chart, and the examples as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from tests.support import REPO

from .conftest import FLEET

pytestmark = pytest.mark.policy

EXAMPLES = REPO / "examples" / "gitops"
STAGING = FLEET / "clusters" / "staging"
AGENT_CHAIN = ["Kustomization flux-system/apps", "HelmRelease agents/agent"]
AGENT_SOURCE = f"{STAGING}[Kustomization flux-system/apps → HelmRelease agents/agent]"


def dsgate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def staging_json(chart_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("reports")
    proc = dsgate(
        "--no-config", "--charts", str(chart_store), "--format", "json", "-o", str(out / "r.json"), str(STAGING)
    )
    assert proc.returncode == 1, proc.stderr  # the test chart has no resources, probes, ...: policy denies
    doc: dict[str, Any] = json.loads((out / "r.json").read_text())
    return doc


def test_json_via(staging_json: dict[str, Any]) -> None:
    assert staging_json["errors"] == []
    agent = [f for f in staging_json["findings"] if f["resource"] == "DaemonSet/agents/agent"]
    assert agent, "the agent DaemonSet from the HelmRelease must be evaluated"
    assert {tuple(f["via"]) for f in agent} == {tuple(AGENT_CHAIN)}
    assert {f["source"] for f in agent} == {AGENT_SOURCE}
    collector = [f for f in staging_json["findings"] if f["resource"] == "DaemonSet/observability/stg-collector-v1"]
    assert {tuple(f["via"]) for f in collector} == {("Kustomization flux-system/collector",)}


def test_sarif_junit_text_name_the_chain(chart_store: Path, tmp_path: Path) -> None:
    common = ["--no-config", "--charts", str(chart_store), str(STAGING)]
    sarif = dsgate(*common, "--format", "sarif", "-o", str(tmp_path / "r.sarif"))
    assert sarif.returncode == 1, sarif.stderr
    results = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    agent = [r for r in results if r["properties"]["resource"] == "DaemonSet/agents/agent"]
    assert agent and all(r["properties"]["via"] == AGENT_CHAIN for r in agent)
    # relative to the repository root, as every SARIF location (the chain's objects have no line yet)
    relative = {"uri": STAGING.relative_to(REPO).as_posix(), "uriBaseId": "%SRCROOT%"}
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in agent] == [relative] * len(agent)
    # the text report went to stderr: its source line names the chain
    assert f"{STAGING}[Kustomization flux-system/apps → HelmRelease agents/agent]" in sarif.stderr
    junit = dsgate(*common, "--format", "junit", "-o", str(tmp_path / "r.xml"))
    assert junit.returncode == 1, junit.stderr
    suites = {suite.name for suite in JUnitXml.fromfile(str(tmp_path / "r.xml"))}
    assert AGENT_SOURCE in suites


def test_missing_chart_exits_2() -> None:
    # both charts the staging cluster needs from the chart store are named, in one error (not the first one only)
    proc = dsgate("--no-config", "--format", "json", str(STAGING))
    assert proc.returncode == 2
    errors = json.loads(proc.stdout)["errors"]
    assert errors == [
        "2 charts not found offline: [1] Kustomization flux-system/apps → HelmRelease agents/agent: chart 'agent' version '>=1.0.0 <2.0.0' from "
        "https://charts.example.com/stable/agent not found offline (no version matching '>=1.0.0 <2.0.0' (present: none)); "
        "[2] Kustomization flux-system/apps → HelmRelease agents/agent-canary: chart 'agent' version '1.0.0' from "
        "oci://registry.example.com/charts/agent not found offline (no version matching '1.0.0' (present: none)); "
        "searched: no --charts directory given; put the chart package (helm pull writes <chart>-<version>.tgz) or the unpacked "
        "chart in a directory named with --charts DIR (charts: in dsgate.yaml)"
    ]


@pytest.mark.parametrize(
    ("example", "expected_resources"),
    [
        ("flux", {"DaemonSet/monitoring/node-exporter", "DaemonSet/logging/fluentd"}),
        (
            "argocd",
            {
                "DaemonSet/monitoring/node-exporter",
                "DaemonSet/monitoring/gpu-node-exporter",
                "DaemonSet/logging/fluentd",
            },
        ),
    ],
)
def test_examples_pass(example: str, expected_resources: set[str], tmp_path: Path) -> None:
    proc = dsgate("--format", "junit", "-o", str(tmp_path / "r.xml"), cwd=EXAMPLES / example)
    assert proc.returncode == 0, proc.stderr
    cases = {
        case.name.removeprefix("policy ") for suite in JUnitXml.fromfile(str(tmp_path / "r.xml")) for case in suite
    }
    assert expected_resources <= cases


LAYOUTS = FLEET.parent


@pytest.mark.parametrize(
    ("path", "expected_exit", "expected_errors"),
    [
        # flux bootstrap layout with gotk-sync.yaml a placeholder: gated, not exit 2
        ("bootstrap/clusters/dev", {0, 1}, 0),
        # the same repository from its root: every clusters/<name>; offline's charts are missing: one error naming both
        ("bootstrap", {2}, 1),
        # ApplicationSets (clusters, matrix, merge) and a values folder, from the repository root: values are not manifests
        ("appsets", {0, 1}, 0),
    ],
)
def test_layouts_through_the_cli(path: str, expected_exit: set[int], expected_errors: int, tmp_path: Path) -> None:
    proc = dsgate("--no-config", "--format", "json", "-o", str(tmp_path / "r.json"), str(LAYOUTS / path))
    assert proc.returncode in expected_exit, proc.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert len(doc["errors"]) == expected_errors, doc["errors"]
    assert all("\n" not in e for e in doc["errors"])
    # no schema error the API server would not raise: every object read is a manifest with apiVersion and kind
    assert not [e for e in doc["schemaErrors"] if "apiVersion" in e["message"] or "kind" in e["path"]], doc[
        "schemaErrors"
    ]
    if expected_errors:
        assert doc["errors"][0].startswith("2 charts not found offline: [1] HelmRelease flux-system/logs")


@pytest.mark.parametrize(
    ("flags", "expected_apps"),
    [
        # the repository's cluster Secrets and Argo CD's own cluster
        ([], {"in-cluster-everywhere", "prod-everywhere", "edge-everywhere"}),
        # --argocd-cluster adds a cluster the repository does not declare
        (
            ["--argocd-cluster", "lab=https://lab.example.com"],
            {"in-cluster-everywhere", "prod-everywhere", "edge-everywhere", "lab-everywhere"},
        ),
    ],
)
def test_argocd_cluster_flag(flags: list[str], expected_apps: set[str], tmp_path: Path) -> None:
    proc = dsgate(
        "--no-config",
        "--no-server-check",
        *flags,
        "--format",
        "json",
        "-o",
        str(tmp_path / "r.json"),
        str(LAYOUTS / "appsets" / "apps"),
    )
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    steps = {step for f in doc["findings"] for step in f.get("via", [])}
    assert {
        s.split("/")[-1] for s in steps if s.startswith("Application argocd/") and s.endswith("-everywhere")
    } == expected_apps
