"""Cancelling `dsgate check`: SIGINT and SIGTERM stop every child (helm-batch, helm, OPA) and remove
temporary state, exit 130 or 143; a SIGKILLed dsgate leaves no child behind either (PDEATHSIG).

Each test starts dsgate with its signal dispositions set explicitly (support.launched), so the
result does not depend on how pytest itself was started."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.support import descendants, launched, still_running, wait_for

pytestmark = [pytest.mark.hostile, pytest.mark.render]

# 400 million empty template iterations: minutes of CPU, no memory.
SLOW_TEMPLATE = "{{- range until 20000 }}{{- range until 20000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\n"
CHILDREN = {"helm-batch", "opa", "helm3"}


def _slow_repo(tmp: Path) -> Path:
    chart = tmp / "slow"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: slow\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(SLOW_TEMPLATE)
    config = tmp / "dsgate.yaml"
    config.write_text("sources: [slow]\nkubeVersions: [1.36.0]\nhelmVersions: [v4, v3]\n")
    return config


def _start(tmp: Path, sigint: str = "default") -> tuple[subprocess.Popen[str], dict[int, tuple[str, int]]]:
    config = _slow_repo(tmp)
    cmd = [sys.executable, "-m", "dsgate.cli", "check", "--config", str(config), "--no-deploy"]
    proc = subprocess.Popen(launched(cmd, sigint), cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    proc, children = _start(tmp_path, launched_with)
    try:
        temp_dirs = _opa_tmp(children)
        assert temp_dirs, "OPA's temporary directory not found"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == expected_code, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("dsgate: error: interrupted"), err
        assert still_running(children) == {}
        assert [d for d in temp_dirs if d.exists()] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_leaves_no_child(tmp_path: Path) -> None:
    proc, children = _start(tmp_path)
    proc.kill()
    proc.wait()
    wait_for("the children of a SIGKILLed dsgate to die", lambda: still_running(children) == {}, 30)
