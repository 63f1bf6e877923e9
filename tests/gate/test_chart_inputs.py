"""Charts as they come: file:// dependencies are built first, and a chart that fails every render says so once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from tests.support import KUBE_TARGETS

pytestmark = pytest.mark.render

CHARTS = Path(__file__).parent / "data" / "charts"


def _gate(chart: Path) -> gate.GateResult:
    return gate.run(discover([chart]), CheckOptions(kube_versions=KUBE_TARGETS[-2:], helm_versions=("v4", "v3")))


def test_file_dependency_is_built_before_rendering(tmp_path: Path) -> None:
    for name in ("with-local-dep", "local-lib"):
        shutil.copytree(CHARTS / name, tmp_path / name)
    result = _gate(tmp_path / "with-local-dep")
    assert result.errors == []
    names = sorted({d.name for o in result.renders for d in o.documents})
    assert names == ["dsgate-from-dependency", "dsgate-parent"]
    assert [p.name for p in (tmp_path / "with-local-dep" / "charts").iterdir()] == ["local-lib-0.1.0.tgz"]


def test_missing_dependency_reported_once_per_cause() -> None:
    result = _gate(CHARTS / "missing-dep")  # 2 scenarios x 2 helm majors x 2 Kubernetes versions
    assert result.exit_code() == 2
    assert 1 <= len(result.errors) <= 2, result.errors  # helm v4 and v3 word it their own way
    assert all("absent" in e and e.endswith(" renders)") for e in result.errors), result.errors
    assert sum(int(e.rsplit("(", 1)[1].split()[0]) for e in result.errors) == 8


VALUES = Path(__file__).parent / "data" / "values"


@pytest.mark.parametrize(
    ("values", "expected_exit_codes", "expected_renders"),
    [
        # without the required value every render fails: exit 2, helm's `required` message, nothing gated
        pytest.param([], {2}, {}, id="required-value-missing"),
        # -f supplies it under the default and under the ci scenario alike
        pytest.param(
            ["needs-value-repo.yaml"],
            {0, 1},
            {"default": (False, "registry.example/agent:1.0.0"), "host-network": (True, "registry.example/agent:ci")},
            id="f-layered-under-every-scenario",
        ),
        # later -f files win over earlier ones; a ci file wins over every -f file (its tag "ci" stays)
        pytest.param(
            ["needs-value-repo.yaml", "needs-value-override.yaml"],
            {0, 1},
            {"default": (False, "registry.example/agent:2.0.0"), "host-network": (True, "registry.example/agent:ci")},
            id="ci-file-applies-on-top",
        ),
    ],
)
def test_values_files_layer_under_scenarios(
    values: list[str], expected_exit_codes: set[int], expected_renders: dict[str, tuple[bool, str]]
) -> None:
    sources = discover([CHARTS / "needs-value"], [VALUES / v for v in values])
    result = gate.run(sources, CheckOptions(kube_versions=KUBE_TARGETS[-1:]))
    assert result.exit_code() in expected_exit_codes, result.errors
    rendered = {
        o.job.scenario: (spec["hostNetwork"], spec["containers"][0]["image"])
        for o in result.renders
        for d in o.documents
        for spec in [d.obj["spec"]["template"]["spec"]]
    }
    assert rendered == expected_renders
    if not values:
        assert any("image.repository is required" in e for e in result.errors), result.errors
