"""`dsgate simulate` without a cluster: --upgrade-set parsing and the errors that exit 2 before any cluster starts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from dsgate.cluster import observe, rollout
from dsgate.cluster.simulate import (
    DaemonSetResult,
    SimulateError,
    SimulationResult,
    main,
    render,
    set_values,
    to_text,
)
from dsgate.cluster.topology import load_topology
from dsgate.paths import DEFAULT_TOPOLOGY

GPU_TOPOLOGY = DEFAULT_TOPOLOGY.with_name("gpu.yaml")
pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param(["image.tag=v2"], {"image": {"tag": "v2"}}, id="nested"),
        pytest.param(["minReadySeconds=5", "a.b=true"], {"minReadySeconds": 5, "a": {"b": True}}, id="typed"),
        pytest.param(["a.b=1", "a.c=x"], {"a": {"b": 1, "c": "x"}}, id="merged"),
        pytest.param(["podAnnotations={x: y}"], {"podAnnotations": {"x": "y"}}, id="yaml-mapping"),
    ],
)
def test_upgrade_set_values(pairs: list[str], expected: dict[str, Any]) -> None:
    assert set_values(pairs) == expected


@pytest.mark.parametrize(
    ("args", "expected_message"),
    [
        pytest.param(
            ["charts/node-exporter", "--topology", "nope.yaml"],
            "cannot read topology file nope.yaml",
            id="missing-topology",
        ),
        pytest.param(["nope", "--topology", str(GPU_TOPOLOGY)], "nope: no such file or directory", id="missing-path"),
        pytest.param(
            ["charts/node-exporter", "--topology", str(GPU_TOPOLOGY), "--upgrade-set", "tag"],
            "expected KEY=VALUE",
            id="bad-upgrade-set",
        ),
        pytest.param(
            ["charts/node-exporter", "--topology", str(GPU_TOPOLOGY), "-f", "nope.yaml"],
            "values file nope.yaml does not exist",
            id="missing-values",
        ),
        pytest.param(
            ["kustomize/bases", "--topology", str(GPU_TOPOLOGY), "--upgrade-set", "a=b"],
            "--upgrade-set needs a chart",
            id="upgrade-set-needs-chart",
        ),
    ],
)
def test_errors_exit_2(
    args: list[str],
    expected_message: str,
    capsys: pytest.CaptureFixture[str],
    repo_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(repo_root)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected_message in err and err.startswith("dsgate simulate: error:") and "Traceback" not in err


def test_no_daemonset_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(SimulateError, match="renders no DaemonSet"):
        render(tmp_path / "cm.yaml", [])


# A rollout a few pods over its budget, within the DaemonSet controller's slack (rollout.slack), is
# reported and passes; past the slack it is a finding (exit 1).
@pytest.mark.parametrize(
    ("observed", "expected_exit", "expected_rollout_line", "expected_fail"),
    [
        pytest.param(100, 0, "max 100 unavailable (budget 100), ", "", id="at-budget"),
        pytest.param(
            105,
            0,
            "max 105 unavailable (budget 100, 5 over: within the controller's slack of 10), ",
            "",
            id="within-slack",
        ),
        pytest.param(
            111,
            1,
            "max 111 unavailable (budget 100), ",
            "  FAIL: rollout had 111 pods unavailable, over its budget of 100 and the controller's slack of 10\n",
            id="past-slack",
        ),
    ],
)
def test_rollout_over_budget_report(
    observed: int, expected_exit: int, expected_rollout_line: str, expected_fail: str
) -> None:
    plan = rollout.budget({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}}}}, 1000)
    topology = load_topology(DEFAULT_TOPOLOGY.with_name("1000-nodes.yaml"))
    result = SimulationResult(
        nodes=1000,
        daemonsets=[
            DaemonSetResult(
                "agent",
                "dsgate-sim",
                observe.Coverage(1000, [f"n{i}" for i in range(1000)], 1000, 1000, []),
                rollout.RolloutResult(
                    plan.strategy,
                    plan.max_unavailable,
                    plan.spec,
                    observed,
                    50.0,
                    rollout.predict(1000, topology, plan),
                    True,
                ),
            )
        ],
    )
    out = io.StringIO()
    to_text(result, out)
    text = out.getvalue()
    assert (result.exit_code, expected_rollout_line in text, "FAIL" in text, expected_fail in text) == (
        expected_exit,
        True,
        bool(expected_fail),
        True,
    )
