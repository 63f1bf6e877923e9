"""Every scenario passes the project's Rego library (policies/) with zero denies, evaluated by the
pinned opa. Fix the chart, not the rules."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import opa_findings

from .support import CHART, SCENARIOS, scenario_file

pytestmark = pytest.mark.policy


def _findings(objs: list[dict[str, Any]], tmp_path: Any) -> list[dict[str, Any]]:
    """data.main.findings for OBJS, given in the `conftest test --combine` input shape."""
    return opa_findings([{"path": "node-exporter.yaml", "contents": objs}], tmp_path)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_zero_denies(render: Any, scenario: str, tmp_path: Any) -> None:
    findings = _findings(render(CHART, values_files=[scenario_file(scenario)]), tmp_path)
    denies = [
        f"{f['rule']} {f['resource']}: {f['message']}"
        for f in findings
        if f["severity"] == "deny" and not f["exempted"]
    ]
    assert denies == []


def test_policy_evaluation_can_fail(render: Any, tmp_path: Any) -> None:
    """The same evaluation reports a deny once the chart's defaults are broken by hand."""
    objs = render(CHART)
    for obj in objs:
        if obj["kind"] == "DaemonSet":
            del obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    denies = [f for f in _findings(objs, tmp_path) if f["severity"] == "deny"]
    assert denies, "removing the memory limit should be denied"
