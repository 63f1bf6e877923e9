"""Deploy stage on the local cluster: install, DaemonSet on every eligible node, uninstall, nothing left."""

from __future__ import annotations

import re
import textwrap
import uuid
from pathlib import Path

import pytest

from dsgate.cluster.deploy import DeployError, deploy_chart
from dsgate.cluster.lifecycle import LocalCluster
from tests.support import CHARTS

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-agent
  labels: {app.kubernetes.io/name: agent, app.kubernetes.io/instance: {{ .Release.Name }}}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: agent, app.kubernetes.io/instance: {{ .Release.Name }}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: agent, app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      serviceAccountName: {{ .Release.Name }}-agent
      priorityClassName: system-node-critical
      {{- with .Values.nodeSelector }}
      nodeSelector: {{ toYaml . | nindent 8 }}
      {{- end }}
      tolerations:
        {{- toYaml .Values.tolerations | nindent 8 }}
      containers:
        - name: agent
          image: busybox:1.37.0
          command: [sleep, infinity]
          resources:
            requests: {cpu: 10m, memory: {{ .Values.memory }}}
            limits: {memory: {{ .Values.memory }}}
"""
SERVICEACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}-agent
  labels: {app.kubernetes.io/name: agent, app.kubernetes.io/instance: {{ .Release.Name }}}
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  labels: {app.kubernetes.io/name: agent, app.kubernetes.io/instance: {{ .Release.Name }}}
  {{- if .Values.keepConfig }}
  annotations: {helm.sh/resource-policy: keep}
  {{- end }}
data: {level: info}
"""
VALUES = """\
memory: 32Mi
keepConfig: false
nodeSelector: {}
tolerations:
  - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
"""


def _chart(tmp_path: Path) -> Path:
    chart = tmp_path / "agent"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: agent\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(VALUES)
    for name, text in (
        ("daemonset.yaml", DAEMONSET),
        ("serviceaccount.yaml", SERVICEACCOUNT),
        ("configmap.yaml", CONFIGMAP),
    ):
        (chart / "templates" / name).write_text(text)
    return chart


def _values(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"values-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _ns() -> str:
    return f"deploy-{uuid.uuid4().hex[:6]}"


def test_small_chart_runs_on_every_node_it_tolerates_and_leaves_nothing(
    local_cluster: LocalCluster, tmp_path: Path
) -> None:
    result = deploy_chart(_chart(tmp_path), [], local_cluster.kubeconfig, _ns(), "agent", timeout=90)
    assert result.ok, result.messages
    [report] = result.daemonsets
    # It tolerates the control-plane taint: every node, control plane included.
    assert len(report.eligible_nodes) == len(local_cluster.nodes())
    assert report.desired == report.available == report.ready == len(report.eligible_nodes)
    assert sorted(report.pods_by_node) == report.eligible_nodes
    assert set(result.timings) == {"install", "rollout_check", "uninstall", "cleanup_check"}
    assert result.messages == []
    assert result.notes[-1] == "uninstalled; nothing of release 'agent' left"


def test_eligibility_follows_node_selector_and_taints(local_cluster: LocalCluster, tmp_path: Path) -> None:
    values = _values(tmp_path, "tolerations: []\nnodeSelector: {topology.kubernetes.io/zone: zone-a}\n")
    result = deploy_chart(_chart(tmp_path), [values], local_cluster.kubeconfig, _ns(), "zonal", timeout=90)
    assert result.ok, result.messages
    expected = sorted(
        n["metadata"]["name"]
        for n in local_cluster.nodes()
        if n["metadata"]["labels"].get("topology.kubernetes.io/zone") == "zone-a" and not n["spec"].get("taints")
    )
    assert result.daemonsets[0].eligible_nodes == expected
    assert result.daemonsets[0].available == len(expected)


def test_pods_that_cannot_fit_fail_the_check(local_cluster: LocalCluster, tmp_path: Path) -> None:
    values = _values(tmp_path, "memory: 1Ti\n")  # more than any node's allocatable memory
    result = deploy_chart(_chart(tmp_path), [values], local_cluster.kubeconfig, _ns(), "toobig", timeout=5)
    assert not result.ok
    text = "\n".join(result.messages)
    assert "helm install toobig failed" in text
    assert "numberAvailable 0 != 11" in text
    assert "left behind" not in text


def test_resources_kept_after_uninstall_are_reported(local_cluster: LocalCluster, tmp_path: Path) -> None:
    values = _values(tmp_path, "keepConfig: true\n")
    namespace = _ns()
    result = deploy_chart(_chart(tmp_path), [values], local_cluster.kubeconfig, namespace, "keeper", timeout=30)
    assert not result.ok
    assert f"left behind after helm uninstall: ConfigMap {namespace}/keeper-config" in result.messages


@pytest.mark.parametrize(
    ("setup", "expected_message"),
    [
        pytest.param("no-chart", "is not a chart (no Chart.yaml)", id="not-a-chart"),
        pytest.param("no-kubeconfig", "no kubeconfig at", id="no-kubeconfig"),
        pytest.param("no-values", "values file", id="missing-values-file"),
    ],
)
def test_deploy_errors_are_clear(
    local_cluster: LocalCluster, tmp_path: Path, setup: str, expected_message: str
) -> None:
    chart, kubeconfig, values = _chart(tmp_path), local_cluster.kubeconfig, []
    if setup == "no-chart":
        chart = tmp_path
    elif setup == "no-kubeconfig":
        kubeconfig = tmp_path / "missing-kubeconfig"
    else:
        values = [tmp_path / "nope.yaml"]
    with pytest.raises(DeployError, match=re.escape(expected_message)):
        deploy_chart(chart, values, kubeconfig, _ns(), "err")


@pytest.mark.parametrize("chart", ["node-exporter", "fluentd"])
def test_repo_chart_default_scenario_deploys(local_cluster: LocalCluster, chart: str) -> None:
    path = CHARTS / chart
    assert (path / "Chart.yaml").is_file(), f"{path} has no Chart.yaml yet"
    result = deploy_chart(path, [], local_cluster.kubeconfig, _ns(), chart, timeout=120)
    assert result.ok, result.messages
    assert result.daemonsets, "the chart's default scenario has no DaemonSet"
    for report in result.daemonsets:
        assert report.available == len(report.eligible_nodes) > 0
