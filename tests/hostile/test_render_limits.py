"""Render limits: a template that allocates without end (`until 30000000`) or loops for minutes is
stopped in helm-batch, the helm v3 binary and kustomize (the kernel's data-segment limit, the time
limit); the gate names the chart and scenario, the other renders complete, and no process of the run
ever holds more than renderMemory."""

from __future__ import annotations

import json
import subprocess
import sys
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
def test_killed_render_is_named_and_the_others_complete(
    tmp_path: Path, trap: str, limits: str, expected_limit: str
) -> None:
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


# Counts to 10^8 (`until 1e8`): without a kernel limit, helm-batch peaked at 1.63 GiB against renderMemory=1Gi.
HOG_1E8 = "{{- if .Values.hog }}{{- $x := until 100000000 | toJson }}{{- end }}\n"
PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _kustomization(tmp: Path, chart: Path) -> Path:
    """A kustomization that inflates CHART through kustomize's helmCharts (kustomize runs helm)."""
    top = tmp / "kz"
    (top / "charts").mkdir(parents=True)
    chart.rename(top / "charts" / "trap")
    (top / "kustomization.yaml").write_text(
        "helmGlobals: {chartHome: charts}\nhelmCharts:\n  - {name: trap, releaseName: trap}\n"
    )
    return top


@pytest.mark.parametrize(
    ("helm", "through_kustomize", "expected_what"),
    [
        pytest.param("v4", False, "helm template {src}", id="helm-batch"),  # helm v4 renders in helm-batch
        pytest.param("v3", False, "helm template {src}", id="helm3-batch"),  # helm v3's in helm3-batch
        pytest.param("v4", True, "kustomize build {src}", id="kustomize-helm"),  # kustomize and the helm it starts
    ],
)
def test_render_memory_is_enforced_by_the_kernel(
    tmp_path: Path, helm: str, through_kustomize: bool, expected_what: str
) -> None:
    """The limit is the kernel's (RLIMIT_DATA, see render.os_limits): every process of the run stays
    under renderMemory (1 GiB, the default) at its peak, and the error names the limit and its key."""
    src = _chart(tmp_path, HOG_1E8)
    if through_kustomize:
        src = _kustomization(tmp_path, src)
    report = tmp_path / "report.json"
    argv = [
        "--no-config",
        "--no-server-check",
        "--no-deploy",
        "--kube-version",
        "1.36.0",
        "--helm",
        helm,
        "--format",
        "json",
        "-o",
        report,
        src,
    ]
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "dsgate.cli", "check", *map(str, argv)],
        capture_output=True,
        text=True,
        check=True,
    )
    code, peak_kib = map(int, proc.stdout.split())
    assert code == 2
    errors = json.loads(report.read_text())["errors"]
    expected = f"{expected_what.format(src=src)} was killed: it used more memory than the limit renderMemory=1073741824; raise 'limits: {{renderMemory: N}}' in dsgate.yaml if it is legitimate"
    assert len(errors) == 1 and errors[0].endswith(expected), errors
    assert peak_kib * 1024 < Limits().render_memory, f"a process of the run peaked at {peak_kib >> 10} MiB"
