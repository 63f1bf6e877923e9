"""Charts as they come: file:// dependencies are built first, and a chart that fails every render says so once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate.evaluate import default_policy_dir
from dsgate.gate.sources import discover
from tests.support import KUBE_TARGETS

pytestmark = pytest.mark.render

CHARTS = Path(__file__).parent / "data" / "charts"


def _gate(chart: Path) -> gate.GateResult:
    return gate.run(discover([chart]), policy_dir=default_policy_dir(), policy_data={}, kube_versions=list(KUBE_TARGETS[-2:]), helm_versions=["v4", "v3"])


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
