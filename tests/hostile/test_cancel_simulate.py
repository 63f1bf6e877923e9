"""Cancelling `dsgate simulate`: SIGTERM or SIGINT while its throwaway cluster starts, or while it installs
the chart, stops every component of that cluster, removes the cluster's directory and every temporary
file, and exits 143 or 130. SIGKILLed, it leaves nothing either: the cluster lives in the run's
temporary directory, whose reaper kills the components (daemons by kwokctl's design) and removes it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile.support import assert_cancelled, launched, tagged, tagged_env, wait_for
from tests.support import CHARTS, REPO

pytestmark = [pytest.mark.hostile, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def _etcd_runs(proc: subprocess.Popen[str], env: dict[str, str]) -> Callable[[], bool]:
    return lambda: "etcd" in tagged(env).values()


def _installing(proc: subprocess.Popen[str], env: dict[str, str]) -> Callable[[], bool]:
    """True once simulate said it applies the rendered objects (read from its stderr, line by line)."""
    assert proc.stderr is not None

    def said() -> bool:
        line = proc.stderr.readline() if proc.stderr else ""
        return "dsgate simulate: applying" in line

    return said


@pytest.mark.parametrize(
    ("phase", "until", "sig", "expected_code"),
    [
        ("the cluster starts", _etcd_runs, signal.SIGTERM, 143),
        ("the chart is installed", _installing, signal.SIGINT, 130),
        ("the cluster starts", _etcd_runs, signal.SIGKILL, -signal.SIGKILL),
    ],
)
def test_signal_in_simulate_removes_its_cluster(
    tmp_path: Path,
    phase: str,
    until: Callable[[subprocess.Popen[str], dict[str, str]], Callable[[], bool]],
    sig: signal.Signals,
    expected_code: int,
) -> None:
    env = tagged_env(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "dsgate.cli",
        "simulate",
        str(CHARTS / "node-exporter"),
        "--topology",
        str(REPO / "cluster" / "small.yaml"),
    ]
    proc = subprocess.Popen(
        launched(cmd), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(f"simulate: {phase}", until(proc, env), 300, proc)
        err = assert_cancelled(proc, sig, expected_code, env, tmp_path)
        if sig != signal.SIGKILL:
            assert "dsgate simulate: interrupted" in err and "the cluster was removed" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
