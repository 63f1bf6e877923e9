"""`dsgate diff`: blocking changes and fleet impact from object pairs (table), then the command end to end
on a Git repository made from the fleet fixture."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dsgate.gitops.diff import compare, fleet_impact, report

from .conftest import FLEET

CHAIN = "clusters/x[Kustomization flux-system/apps]"


def _ds(
    name: str = "agent",
    ns: str = "agents",
    selector: str = "agent",
    image: str = "a:1",
    strategy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": selector}},
        "template": {
            "metadata": {"labels": {"app": selector}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        },
    }
    if strategy is not None:
        spec["updateStrategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def _svc(ip: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if ip is not None:
        spec["clusterIP"] = ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "agents"}, "spec": spec}


def _side(*objs: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(CHAIN, f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}"): o for o in objs}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("base", "head", "expected_changes"),
    [
        ([_ds()], [_ds()], []),
        ([_ds()], [_ds(selector="agent2")], [("changed", "DaemonSet/agents/agent", ["spec.selector changes"])]),
        (
            [_svc("10.0.0.1")],
            [_svc("10.0.0.2")],
            [("changed", "Service/agents/web", ["spec.clusterIP changes from 10.0.0.1 to 10.0.0.2"])],
        ),
        (
            [_svc("10.0.0.1")],
            [_svc(None)],
            [("changed", "Service/agents/web", ["spec.clusterIP changes from 10.0.0.1 to unset"])],
        ),
        (
            [_svc(None)],
            [_svc("10.0.0.2")],
            [("changed", "Service/agents/web", [])],
        ),  # assigning one where none was pinned is allowed
        (
            [_ds()],
            [_ds(name="agent-v2")],
            [
                ("added", "DaemonSet/agents/agent-v2", []),
                ("removed", "DaemonSet/agents/agent", ["renamed (DaemonSet/agents/agent-v2)"]),
            ],
        ),
        (
            [_ds()],
            [_ds(ns="monitoring")],
            [
                ("removed", "DaemonSet/agents/agent", ["moved to another namespace (DaemonSet/monitoring/agent)"]),
                ("added", "DaemonSet/monitoring/agent", []),
            ],
        ),
        ([_ds()], [_ds(image="a:2")], [("changed", "DaemonSet/agents/agent", [])]),
    ],
)
def test_compare(
    base: list[dict[str, Any]], head: list[dict[str, Any]], expected_changes: list[tuple[str, str, list[str]]]
) -> None:
    changes = compare(_side(*base), _side(*head))
    assert sorted((c.status, c.ref, [b.split(":")[0] for b in c.blocking]) for c in changes) == sorted(expected_changes)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("strategy", "nodes", "expected_text"),
    [
        (None, 10, "rolls every pod (budget: maxUnavailable 1); on 10 nodes: 1 at a time, 10 waves"),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            1200,
            "rolls every pod (budget: maxUnavailable 10%); on 1200 nodes: 120 at a time, 10 waves",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "15%"}},
            10,
            "rolls every pod (budget: maxUnavailable 15%); on 10 nodes: 2 at a time, 5 waves",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 3}},
            7,
            "rolls every pod (budget: maxUnavailable 0, maxSurge 3); on 7 nodes: 3 at a time, 3 waves",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 5}},
            None,
            "rolls every pod (budget: maxUnavailable 5)",
        ),
        (
            {"type": "OnDelete"},
            10,
            "pod template changes; updateStrategy OnDelete: pods change only when each is deleted",
        ),
    ],
)
def test_fleet_impact(strategy: dict[str, Any] | None, nodes: int | None, expected_text: str) -> None:
    assert fleet_impact(_ds(), _ds(image="a:2", strategy=strategy), nodes) == expected_text


@pytest.mark.unit
def test_report_formats() -> None:
    changes = compare(_side(_ds(), _svc("10.0.0.1")), _side(_ds(selector="b"), _svc("10.0.0.1")), nodes=4)
    text = report(changes, "text", "main")
    assert (
        f"== {CHAIN}" in text
        and "BLOCKING: spec.selector changes" in text
        and text.rstrip().endswith("FAIL: 1 changed object(s), 1 blocking, against main")
    )
    md = report(changes, "markdown", "main")
    assert md.startswith("### dsgate diff against `main`") and "```diff" in md and "**blocking**" in md
    doc = json.loads(report(changes, "json", "main"))
    assert doc["summary"] == {"changes": 1, "blocking": 1, "exit_code": 1}
    assert (
        doc["changes"][0]["chain"] == CHAIN
        and doc["changes"][0]["fleet"] == "rolls every pod (budget: maxUnavailable 1); on 4 nodes: 1 at a time, 4 waves"
    )


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _diff(repo: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "diff", "--no-config", "--charts", str(store), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The fleet fixture as a Git repository with one commit on main."""
    repo = tmp_path / "fleet"
    shutil.copytree(FLEET, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    return repo


@pytest.mark.render
def test_diff_end_to_end(repo: Path, chart_store: Path) -> None:
    same = _diff(repo, chart_store, "--base", "main", "clusters/staging")
    assert (same.returncode, same.stdout.strip()) == (0, "OK: 0 changed object(s), 0 blocking, against main"), (
        same.stderr
    )

    relay = repo / "apps/staging/relay.yaml"
    relay.write_text(relay.read_text().replace("clusterIP: 10.96.0.50", "clusterIP: 10.96.0.51"))
    chart = repo / "charts/relay/templates/relay.yaml"
    chart.write_text(
        chart.read_text().replace(
            "      app.kubernetes.io/name: relay\n  template",
            "      app.kubernetes.io/name: relay\n      tier: edge\n  template",
            1,
        )
    )
    collector = repo / "clusters/staging/collector.yaml"
    collector.write_text(collector.read_text().replace("targetNamespace: observability", "targetNamespace: telemetry"))
    proc = _diff(repo, chart_store, "--base", "main", "--nodes", "10", "--format", "json", "clusters/staging")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    flagged = {(c["resource"], c["status"]): c for c in doc["changes"]}
    relay_chain = "clusters/staging[Kustomization flux-system/apps → HelmRelease agents/relay]"
    assert flagged[("Service/relay/edge-relay", "changed")]["chain"] == relay_chain
    assert flagged[("Service/relay/edge-relay", "changed")]["blocking"] == [
        "spec.clusterIP changes from 10.96.0.50 to 10.96.0.51: it is immutable, the API server refuses the update"
    ]
    assert flagged[("DaemonSet/relay/edge-relay", "changed")]["blocking"][0].startswith(
        "spec.selector changes: it is immutable"
    )
    assert flagged[("DaemonSet/observability/stg-collector-v1", "removed")]["blocking"] == [
        "moved to another namespace (DaemonSet/telemetry/stg-collector-v1): the old object is pruned: every pod is deleted and recreated"
    ]
    assert ("DaemonSet/telemetry/stg-collector-v1", "added") in flagged
    assert doc["summary"]["exit_code"] == 1

    # a pod template change alone is not blocking; it rolls the fleet
    _git(repo, "checkout", "--", ".")
    values = repo / "apps/staging/agent-values.yaml"
    values.write_text(values.read_text().replace("1.2.0-staging", "1.2.1-staging"))
    proc = _diff(repo, chart_store, "--base", "main", "--nodes", "10", "clusters/staging")
    assert proc.returncode == 0, proc.stderr
    assert "changed DaemonSet/agents/agent" in proc.stdout
    assert "fleet: rolls every pod (budget: maxUnavailable 1); on 10 nodes: 1 at a time, 10 waves" in proc.stdout
    assert "-        image: registry.example.com/agent:1.2.0-staging" in proc.stdout


@pytest.mark.render
def test_diff_bad_ref(repo: Path, chart_store: Path) -> None:
    proc = _diff(repo, chart_store, "--base", "no-such-ref", "clusters/staging")
    assert proc.returncode == 2
    assert proc.stderr.startswith("dsgate: error: git rev-parse --verify --quiet no-such-ref^{commit}")
