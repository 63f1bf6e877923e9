"""dsgate.rundir: the temporary state of a killed dsgate run is removed, and what runs from it killed (a
daemon, as the components of simulate's throwaway cluster are), by the run's reaper at once, or, when
the reaper died too, by the next run's sweep."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dsgate.cluster.components import alive
from tests.hostile.support import leftovers, tagged, tagged_env, wait_for

pytestmark = [pytest.mark.hostile, pytest.mark.unit]

# A run that makes a temporary directory, starts a daemon from it (a copy of tail, in a session of its
# own, running until killed), prints both and waits for its stdin to close.
RUN = """
import shutil, subprocess, sys
from dsgate import rundir
d = rundir.mkdtemp("t-")
shutil.copy(shutil.which("tail"), d / "daemon")
p = subprocess.Popen([str(d / "daemon"), "-f", "/dev/null"], start_new_session=True)
print(d, p.pid, flush=True)
sys.stdin.read()
"""
NEXT_RUN = "from dsgate import rundir; rundir.path()"


@pytest.mark.parametrize(
    ("killed", "expected_remover"), [(("dsgate",), "the reaper"), (("reaper", "dsgate"), "the next run's sweep")]
)
def test_killed_runs_state_is_removed(tmp_path: Path, killed: tuple[str, ...], expected_remover: str) -> None:
    env = tagged_env(tmp_path)
    run = subprocess.Popen(
        [sys.executable, "-c", RUN], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    daemon_pid = 0
    try:
        assert run.stdout is not None
        directory, pid = run.stdout.readline().split()
        daemon_pid = int(pid)
        reapers = [p for p, name in tagged(env).items() if name == "sh"]
        assert len(reapers) == 1, tagged(env)
        for who in killed:  # SIGKILL: nothing of dsgate's own runs
            target = reapers[0] if who == "reaper" else run.pid
            os.kill(target, signal.SIGKILL)
        run.wait()
        if expected_remover == "the next run's sweep":
            wait_for("the reaper to die", lambda: not alive(reapers[0]), 30)
            assert Path(directory).is_dir() and alive(daemon_pid), "nothing but the sweep may remove it"
            subprocess.run([sys.executable, "-c", NEXT_RUN], env=env, check=True, timeout=120)
        wait_for(
            f"{expected_remover} to kill the daemon and remove the directory",
            lambda: not alive(daemon_pid) and not Path(directory).exists(),
            30,
        )
        wait_for("every process of the runs to end", lambda: tagged(env) == {}, 30)
        assert leftovers(tmp_path) == []
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if daemon_pid and alive(daemon_pid):
            os.kill(daemon_pid, signal.SIGKILL)
        shutil.rmtree(tmp_path / "tmp", ignore_errors=True)
