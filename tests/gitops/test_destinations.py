"""Argo CD destinations: Applications bound for different clusters are gated as separate sets (a
host port bound by two DaemonSets clashes only when both land in one cluster), each object in its
Application's destination namespace, its chain naming the Application."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate.options import CheckOptions
from dsgate.gitops.engine import Settings, expand
from dsgate.plugins import discover

from .test_flux import _write

pytestmark = pytest.mark.policy

PLATFORM = "https://git.example.com/acme/platform"
IN_CLUSTER = "server: https://kubernetes.default.svc"
PROD = "https://prod.example.com:6443"
STAGING = "https://staging.example.com:6443"

APPLICATION = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: {url}, targetRevision: main, path: workloads/{name}}}
  destination: {{{destination}, namespace: {namespace}}}
"""
CLUSTER_SECRET = f"""apiVersion: v1
kind: Secret
metadata:
  name: cluster-prod
  namespace: argocd
  labels: {{argocd.argoproj.io/secret-type: cluster}}
stringData: {{name: prod, server: "{PROD}"}}
"""
DAEMONSET = """apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}, labels: {{app.kubernetes.io/name: {name}}}}}
spec:
  selector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}
  template:
    metadata: {{labels: {{app.kubernetes.io/name: {name}}}}}
    spec:
      containers:
        - name: agent
          image: registry.example.com/agent:1.0.0
          ports: [{{name: metrics, containerPort: 9100, hostPort: 9100}}]
"""


def _repo(root: Path, east: str, west: str, secret: bool) -> Path:
    """Two Applications, east (namespace agents) and west (namespace logs), each a DaemonSet binding host port 9100."""
    files = {
        "bootstrap/east.yaml": APPLICATION.format(name="east", url=PLATFORM, destination=east, namespace="agents"),
        "bootstrap/west.yaml": APPLICATION.format(name="west", url=PLATFORM, destination=west, namespace="logs"),
        "workloads/east/ds.yaml": DAEMONSET.format(name="agent-east"),
        "workloads/west/ds.yaml": DAEMONSET.format(name="agent-west"),
    }
    if secret:
        files["bootstrap/cluster-prod.yaml"] = CLUSTER_SECRET
    _write(root, files)
    return root / "bootstrap"


CASES = [
    pytest.param(IN_CLUSTER, IN_CLUSTER, False, {"agent-east": "", "agent-west": ""}, True, id="both-in-cluster"),
    pytest.param(
        IN_CLUSTER,
        "name: in-cluster",
        False,
        {"agent-east": "", "agent-west": ""},
        True,
        id="in-cluster-by-server-and-by-name",
    ),
    pytest.param(
        f"server: {PROD}",
        f"server: {STAGING}",
        False,
        {"agent-east": PROD, "agent-west": STAGING},
        False,
        id="two-clusters",
    ),
    pytest.param(
        f"server: {PROD}", IN_CLUSTER, False, {"agent-east": PROD, "agent-west": ""}, False, id="remote-and-in-cluster"
    ),
    pytest.param(
        "name: prod",
        f"server: {PROD}/",
        True,
        {"agent-east": PROD, "agent-west": PROD},
        True,
        id="name-resolved-by-cluster-secret",
    ),
    pytest.param(
        "name: prod",
        f"server: {PROD}",
        False,
        {"agent-east": "name:prod", "agent-west": PROD},
        False,
        id="name-without-secret",
    ),
]


@pytest.mark.parametrize(("east", "west", "secret", "expected_clusters", "expected_clash"), CASES)
def test_destinations(
    tmp_path: Path, east: str, west: str, secret: bool, expected_clusters: dict[str, str], expected_clash: bool
) -> None:
    entry = _repo(tmp_path, east, west, secret)
    items = expand(entry, Settings(repos=(f"{PLATFORM}={tmp_path}",)))
    assert {i.obj["metadata"]["name"]: i.cluster for i in items if i.obj["kind"] == "DaemonSet"} == expected_clusters
    sources = discover([entry], CheckOptions(repos=(f"{PLATFORM}={tmp_path}",)))
    result = gate.run(sources, CheckOptions(kube_versions=("1.36.0",)))
    assert result.errors == []
    clashes = {(f.resource, f.via) for f in result.findings if f.rule == "DS-HST-006"}
    expected = {
        ("DaemonSet/agents/agent-east", ("Application argocd/east",)),
        ("DaemonSet/logs/agent-west", ("Application argocd/west",)),
    }
    assert clashes == (expected if expected_clash else set())
    # every other finding of the DaemonSets is there either way, each naming its Application
    east_rules = {f.rule for f in result.findings if f.resource == "DaemonSet/agents/agent-east"}
    assert east_rules and {f.via for f in result.findings if f.resource == "DaemonSet/agents/agent-east"} == {
        ("Application argocd/east",)
    }
