"""Cancelling `dsgate check`: SIGINT and SIGTERM stop every child (helm-batch, helm, OPA, and the server
check's etcd and kube-apiserver) and remove temporary state, exit 130 or 143; a SIGKILLed dsgate leaves
no child behind either (PDEATHSIG), and the next dsgate run removes the temporary state it left.

Each test starts dsgate with its signal dispositions set explicitly (support.launched), so the
result does not depend on how pytest itself was started."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.support import (
    SLOW_TEMPLATE,
    assert_cancelled,
    descendants,
    launched,
    leftovers,
    still_running,
    tagged,
    tagged_env,
    wait_for,
)

pytestmark = [pytest.mark.hostile, pytest.mark.render]

CHILDREN = {"helm-batch", "opa", "helm3-batch", "etcd", "kube-apiserver"}


def _slow_repo(tmp: Path) -> Path:
    chart = tmp / "slow"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: slow\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(SLOW_TEMPLATE)
    config = tmp / "dsgate.yaml"
    config.write_text("sources: [slow]\nkubeVersions: [1.36.0]\nhelmVersions: [v4, v3]\n")
    return config


def _start(
    tmp: Path, env: dict[str, str], sigint: str = "default"
) -> tuple[subprocess.Popen[str], dict[int, tuple[str, int]]]:
    config = _slow_repo(tmp)
    cmd = [sys.executable, "-m", "dsgate.cli", "check", "--config", str(config), "--no-deploy"]
    proc = subprocess.Popen(
        launched(cmd, sigint), cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: dict[int, tuple[str, int]] = {}

    def all_children_running() -> bool:
        seen.update(descendants(proc.pid))
        return {name for name, _ in seen.values()} >= CHILDREN

    wait_for(f"{', '.join(sorted(CHILDREN))} to run under dsgate check", all_children_running, 120, proc)
    return proc, seen


def _opa_tmp(children: dict[int, tuple[str, int]]) -> list[Path]:
    dirs = []
    for pid, (name, _) in children.items():
        if name == "opa":
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            dirs += [Path(a.decode()).parent for a in argv if a.endswith(b"data.json")]
    return dirs


@pytest.mark.parametrize(
    ("sig", "launched_with", "expected_code"),
    [
        (signal.SIGTERM, "default", 143),
        (signal.SIGINT, "default", 130),
        (signal.SIGINT, "ignored", 130),  # a background job of a non-interactive shell: dsgate still answers SIGINT
    ],
)
def test_signal_stops_every_child(tmp_path: Path, sig: signal.Signals, launched_with: str, expected_code: int) -> None:
    env = tagged_env(tmp_path)
    proc, children = _start(tmp_path, env, launched_with)
    try:
        assert _opa_tmp(children), "OPA's temporary directory not found"
        err = assert_cancelled(
            proc, sig, expected_code, env, tmp_path
        )  # OPA's and the API server's directories included
        assert err.strip().splitlines()[-1].startswith("dsgate: error: interrupted"), err
        assert still_running(children) == {}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_leaves_no_child_and_no_file(tmp_path: Path) -> None:
    env = tagged_env(tmp_path)
    proc, children = _start(tmp_path, env)
    opa_dirs = _opa_tmp(children)
    assert opa_dirs, "OPA's temporary directory not found"
    proc.kill()
    proc.wait()
    # children: PDEATHSIG; files (OPA's, the API server's): the run's reaper (test_rundir)
    wait_for(
        "the children of a SIGKILLed dsgate to die", lambda: still_running(children) == {} and tagged(env) == {}, 30
    )
    assert [d for d in opa_dirs if d.exists()] == []
    assert leftovers(tmp_path) == []
