"""Every ci/*-values.yaml scenario: helm v4 == helm v3, `helm lint --strict`, strict Kubernetes schemas,
and the chart-wide invariants (selectors, host access, security) in every scenario."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from tests.support import daemonset, find, pod_spec

from dsgate.gate.documents import Document, Provenance
from dsgate.gate.render import helm_template_text
from dsgate.gate.validate import Validator
from dsgate.k8s import selector_matches
from dsgate.tools import tool_path
from dsgate.versions import kube_target_versions

from .support import CHART, REQUIRED_SCENARIOS, SCENARIOS, container, scenario_file

pytestmark = pytest.mark.render


def test_required_scenarios_exist() -> None:
    assert set(SCENARIOS) >= REQUIRED_SCENARIOS, f"missing: {sorted(REQUIRED_SCENARIOS - set(SCENARIOS))}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_v3_and_v4_render_identically(scenario: str) -> None:
    """Byte-identical output, not just equal objects.

    Every template ends with `{{- end -}}`: helm v4 keeps a template's trailing newline as an empty
    line before the next `---`, helm v3 drops it; trimming it makes the streams identical.
    """
    files = [scenario_file(scenario)]
    v4 = helm_template_text(CHART, values_files=files, helm="v4")
    v3 = helm_template_text(CHART, values_files=files, helm="v3")
    assert "kind: DaemonSet" in v4
    assert v4 == v3


@pytest.mark.parametrize("helm", ["helm", "helm3"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict(scenario: str, helm: str) -> None:
    proc = subprocess.run(
        [str(tool_path(helm)), "lint", "--strict", str(CHART), "--values", str(scenario_file(scenario))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("kube_version", kube_target_versions())
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_strict_kubernetes_schema(render: Any, scenario: str, kube_version: str) -> None:
    """Every object, custom resources included (real CRD schemas), strict, through the gate's validator."""
    objs = render(CHART, values_files=[scenario_file(scenario)])
    docs = [Document(obj, Provenance(str(CHART), "chart", scenario=scenario), i) for i, obj in enumerate(objs)]
    assert [str(e) for e in Validator([kube_version]).validate_all(docs)] == []
    assert len(docs) >= 2


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_invariants(render: Any, scenario: str) -> None:
    objs = render(CHART, values_files=[scenario_file(scenario)])
    ds = daemonset(objs)
    selector = ds["spec"]["selector"]["matchLabels"]
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    spec = pod_spec(daemonset(objs))

    # Selector: name + instance only, a subset of the pod labels, never the chart version.
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    assert selector_matches({"matchLabels": selector}, pod_labels)
    for kind in ("Service", "PodDisruptionBudget"):
        obj = find(objs, kind)
        if obj is not None:
            sel = obj["spec"]["selector"]
            assert (sel.get("matchLabels") or sel) == selector, kind

    # The helm test pod is never selected by the DaemonSet (nor by the Service or PDB).
    test_pod = find(objs, "Pod")
    if test_pod is not None:
        assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert not selector_matches({"matchLabels": selector}, test_pod["metadata"]["labels"])

    # Host access: every hostPath volume typed; every hostPath mount read-only; host network DNS.
    host_volumes = {v["name"] for v in spec["volumes"] if "hostPath" in v}
    assert all(v["hostPath"].get("type") for v in spec["volumes"] if "hostPath" in v)
    for c in spec["containers"]:
        for m in c.get("volumeMounts", []):
            if m["name"] in host_volumes:
                assert m.get("readOnly") is True, (c["name"], m)
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        assert c["readinessProbe"] != c["livenessProbe"], c["name"]
        assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"]
        assert ":" in c["image"] or "@" in c["image"]
        assert not c["image"].endswith(":latest")
    if spec["hostNetwork"]:
        assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"

    # The token is mounted only for kube-rbac-proxy, which then also has its RBAC in the render.
    proxy = any(c["name"] == "kube-rbac-proxy" for c in spec["containers"])
    assert spec["automountServiceAccountToken"] is proxy
    assert (find(objs, "ClusterRole") is not None) is proxy
    assert container(objs)["name"] == "node-exporter"
