"""Render limits: a template that allocates without end (`until 30000000`) or loops for minutes is
stopped in helm-batch (Go's memory limit and its watchdog) and in the helm v3 binary (the kernel's
limits, the time limit); the gate names the chart and scenario, and the other renders complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsgate.gate.render import HelmBatch, RenderKilled, helm_template
from dsgate.limits import Limits
from tests.hostile.support import assert_no_traceback
from tests.support import dsgate_check

pytestmark = [pytest.mark.hostile, pytest.mark.render]

HOG = "{{- if .Values.hog }}{{- $x := until 30000000 | toJson }}{{- end }}\n"  # 1.7 GB in helm v4 without a limit
SLOW = "{{- if .Values.hog }}{{- range until 20000 }}{{- range until 20000 }}{{- end }}{{- end }}{{- end }}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"


def _chart(tmp: Path, trap: str) -> Path:
    """A chart whose default scenario runs TRAP; its ci/calm-values.yaml scenario does not."""
    chart = tmp / "trap"
    (chart / "templates").mkdir(parents=True)
    (chart / "ci").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: trap\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("hog: true\n")
    (chart / "ci" / "calm-values.yaml").write_text("hog: false\n")
    (chart / "templates" / "trap.yaml").write_text(trap + CONFIGMAP)
    return chart


@pytest.mark.parametrize(
    ("trap", "limits", "expected_limit"),
    [
        (HOG, "{renderMemory: 512Mi}", "renderMemory=536870912"),
        (SLOW, "{renderSeconds: 3}", "renderSeconds=3"),
    ],
)
def test_killed_render_is_named_and_the_others_complete(tmp_path: Path, trap: str, limits: str, expected_limit: str) -> None:
    _chart(tmp_path, trap)
    config = tmp_path / "dsgate.yaml"
    config.write_text(f"sources: [trap]\nkubeVersions: [1.35.0, 1.36.0]\nhelmVersions: [v4, v3]\nlimits: {limits}\n")
    proc = dsgate_check("--config", config, "--no-deploy", "--format", "json", cwd=tmp_path, timeout=240)
    assert_no_traceback(proc)
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == [
        f"{tmp_path / 'trap'}[default]: helm template {tmp_path / 'trap'} was killed: it "
        + ("used more memory than" if "Memory" in expected_limit else "ran longer than")
        + f" the limit {expected_limit}; raise 'limits: {{{expected_limit.split('=')[0]}: N}}' in dsgate.yaml if it is legitimate (4 renders)"
    ]
    # the calm scenario rendered under both helm majors and both Kubernetes versions: 4 renders of one ConfigMap
    assert report["summary"]["renders"] == 8
    assert report["summary"]["documents"] == 4


def test_helm_batch_goes_on_after_a_killed_render(tmp_path: Path) -> None:
    chart = _chart(tmp_path, HOG)
    limits = Limits(render_memory=512 << 20)
    with HelmBatch(size=1, limits=limits) as batch:
        with pytest.raises(RenderKilled, match="renderMemory"):
            helm_template(chart, batch=batch, limits=limits)
        again = helm_template(chart, values_files=[chart / "ci" / "calm-values.yaml"], batch=batch, limits=limits)
        assert [obj["kind"] for _, obj in again.objects or []] == ["ConfigMap"]
