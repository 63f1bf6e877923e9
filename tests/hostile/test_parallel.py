"""Three `dsgate check` runs at once on one machine agree: no shared temporary file, port or cache
entry makes one run see another's state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gate.test_cli import BAD
from tests.support import CHARTS

pytestmark = [pytest.mark.hostile, pytest.mark.render]


def test_three_parallel_checks_agree(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "dsgate.cli",
        "check",
        "--no-config",
        "--kube-version",
        "1.36.0",
        "--format",
        "json",
        str(BAD),
        str(CHARTS / "node-exporter"),
    ]
    procs = [
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp_path,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    codes = [proc.returncode for proc in procs]
    assert codes == [1, 1, 1], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert reports[0]["findings"], "the community DaemonSet must produce findings"
    assert reports[1] == reports[0] and reports[2] == reports[0]
