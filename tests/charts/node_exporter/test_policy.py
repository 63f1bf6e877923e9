"""Every scenario passes the project's Rego library (policies/) with zero denies, evaluated by the
pinned opa. Fix the chart, not the rules."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from tests.support import POLICIES

from dsgate.gate.evaluate import IGNORED
from dsgate.tools import tool_path

from .support import CHART, SCENARIOS, scenario_file

pytestmark = pytest.mark.policy


def _findings(objs: list[dict[str, Any]], tmp_path: Any) -> list[dict[str, Any]]:
    """data.main.findings for OBJS, given in the `conftest test --combine` input shape."""
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps([{"path": "node-exporter.yaml", "contents": objs}]))
    cmd = [
        str(tool_path("opa")),
        "eval",
        "--format",
        "json",
        "--data",
        str(POLICIES),
        *(f"--ignore={pattern}" for pattern in IGNORED),
        "--input",
        str(input_file),
        "data.main.findings",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["result"]
    assert result, f"data.main.findings is undefined: {proc.stdout}"
    return list(result[0]["expressions"][0]["value"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_zero_denies(render: Any, scenario: str, tmp_path: Any) -> None:
    findings = _findings(render(CHART, values_files=[scenario_file(scenario)]), tmp_path)
    denies = [f"{f['rule']} {f['resource']}: {f['message']}" for f in findings if f["severity"] == "deny" and not f["exempted"]]
    assert denies == []


def test_policy_evaluation_can_fail(render: Any, tmp_path: Any) -> None:
    """The same evaluation reports a deny once the chart's defaults are broken by hand."""
    objs = render(CHART)
    for obj in objs:
        if obj["kind"] == "DaemonSet":
            del obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    denies = [f for f in _findings(objs, tmp_path) if f["severity"] == "deny"]
    assert denies, "removing the memory limit should be denied"
