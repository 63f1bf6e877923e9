"""Cancelling `dsgate tools install` while Go builds a tool: SIGTERM or SIGINT stop bash, go and every
compile it started, remove the build's temporary directories (Go's work directory included) and exit
143 or 130; after a SIGKILL of dsgate the whole build dies too (it runs in a PID namespace of its own).

The build uses a throwaway dsgate cache and Go build cache, and the shared module cache as its only
module proxy (GOPROXY=file://, nothing downloaded), so nothing shared is written; the signal goes as
soon as the first compile runs, so the test costs seconds."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.support import assert_cancelled, launched, tagged, tagged_env, wait_for

pytestmark = [pytest.mark.hostile]


@pytest.mark.parametrize(
    ("sig", "expected_code"),
    [
        (signal.SIGTERM, 143),
        (signal.SIGINT, 130),
        (signal.SIGKILL, -signal.SIGKILL),  # no clean-up in dsgate: the kernel kills the build
    ],
)
def test_signal_during_a_go_build_stops_it(tmp_path: Path, sig: signal.Signals, expected_code: int) -> None:
    cache = tmp_path / "cache"
    modules = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    offline = {"GOPROXY": f"file://{modules}/cache/download", "GOSUMDB": "off"}
    env = tagged_env(tmp_path, DSGATE_CACHE=str(cache), GOCACHE=str(tmp_path / "gocache"), **offline)
    cmd = [sys.executable, "-m", "dsgate.cli", "tools", "install", "--no-progress", "opa"]
    proc = subprocess.Popen(
        launched(cmd), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for("the Go build's first compile", lambda: "compile" in tagged(env).values(), 300, proc)
        err = assert_cancelled(proc, sig, expected_code, env, tmp_path)
        if sig != signal.SIGKILL:
            assert "dsgate tools: interrupted" in err, err
            assert list((cache / "tmp").iterdir()) == []  # the build's directory and Go's work directory
            assert not (cache / "tools" / "opa").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
