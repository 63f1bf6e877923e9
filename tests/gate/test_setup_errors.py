"""Every set-up error of `dsgate check` exits 2 with one line naming the cause and the fix, never a
traceback: each missing tool (DSGATE_<TOOL> pointing nowhere) and each missing schema set (a partial
DSGATE_CACHE, an unsupported Kubernetes version)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsgate.gate.validate import CRD_SOURCES, crd_dir
from dsgate.tools import cache_dir
from dsgate.versions import pinned
from tests.support import REPO

pytestmark = pytest.mark.policy

DATA = Path(__file__).parent / "data"
SERVICE_MONITOR = """\
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: agent, namespace: monitoring}
spec: {selector: {matchLabels: {app: agent}}, endpoints: [{port: metrics}]}
"""


def _partial_cache(root: Path, missing_crds: str) -> Path:
    """A DSGATE_CACHE with every tool and every CRD schema set but MISSING_CRDS."""
    (root / "crds").mkdir(parents=True)
    (root / "tools").symlink_to(cache_dir() / "tools")
    for name in CRD_SOURCES:
        if name != missing_crds:
            (root / "crds" / name).symlink_to(crd_dir() / name)
    return root


def _tool_missing(tool: str) -> dict[str, str]:
    return {"DSGATE_" + tool.upper().replace("-", "_"): "/nonexistent/" + tool}


CASES = [
    pytest.param(
        ["charts/node-exporter"],
        {**_tool_missing("helm"), **_tool_missing("helm-batch")},
        "helm: DSGATE_HELM=/nonexistent/helm is not an executable",
        id="helm",
    ),
    pytest.param(
        ["--helm", "v3", "charts/node-exporter"],
        {**_tool_missing("helm3"), **_tool_missing("helm3-batch")},
        "helm3: DSGATE_HELM3=/nonexistent/helm3 is not an executable",
        id="helm3",
    ),
    pytest.param(
        ["kustomize/overlays/production"],
        _tool_missing("kustomize"),
        "kustomize: DSGATE_KUSTOMIZE=/nonexistent/kustomize",
        id="kustomize",
    ),
    pytest.param(
        ["charts/node-exporter"],
        _tool_missing("opa"),
        "OPA is not available: opa: DSGATE_OPA=/nonexistent/opa",
        id="opa",
    ),
    *(
        pytest.param(
            ["charts/node-exporter"],
            _tool_missing(tool),
            f"server check: {tool}: DSGATE_{tool.upper().replace('-', '_')}=/nonexistent/{tool}",
            id=tool,
        )
        for tool in ("kube-apiserver", "etcd")
    ),
    pytest.param(
        ["--kube-version", "1.20.0", "charts/node-exporter"],
        {},
        "no Kubernetes 1.20.0 schemas in kubernetes-validate",
        id="kubernetes-schemas",
    ),
    *(
        pytest.param(
            ["SERVICE_MONITOR"],
            {"DSGATE_CACHE": f"PARTIAL:{name}"},
            f"CRD schemas for {name} {pinned()[key]} are missing",
            id=f"crds-{name}",
        )
        for name, (_, key) in CRD_SOURCES.items()
    ),
]


@pytest.mark.parametrize(("args", "env", "expected_line"), CASES)
def test_setup_error_exits_2_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], expected_line: str
) -> None:
    if args == ["SERVICE_MONITOR"]:
        (tmp_path / "sm.yaml").write_text(SERVICE_MONITOR)
        args = [str(tmp_path / "sm.yaml")]
    if env.get("DSGATE_CACHE", "").startswith("PARTIAL:"):
        env = {"DSGATE_CACHE": str(_partial_cache(tmp_path / "cache", env["DSGATE_CACHE"].split(":", 1)[1]))}
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "check", "--no-config", "--no-progress", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
        check=False,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if expected_line in line]
    assert len(lines) == 1, out
    assert "dsgate tools install" in lines[0] or "DSGATE_" in lines[0] or "pick a shipped version" in lines[0], lines[
        0
    ]  # the fix is named
