"""gate.run end to end on synthetic inputs: fail closed when OPA dies mid-run; identical renders evaluated once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from tests.support import KUBE_TARGETS, NEWEST_KUBE

pytestmark = pytest.mark.policy

DATA = Path(__file__).parent / "data"


def _opa_children() -> list[int]:
    """PIDs of `opa run --server` processes whose parent is this test process."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and len(cmdline) > 2 and cmdline[0].endswith(b"opa") and cmdline[1] == b"run":
            pids.append(int(entry.name))
    return pids


def test_opa_killed_mid_run_fails_closed(tmp_path: Path) -> None:
    # 40 renders: OPA answers several concurrently, so after the first answer many are still pending
    for i in range(40):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "ds.yaml").write_text(
            (DATA / "community-daemonset.yaml").read_text().replace("name: node-exporter", f"name: agent-{i}")
        )
    sources = discover([tmp_path])
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        # after the renders (first half) and the first evaluation, kill the real OPA server
        if done == total // 2 + 1 and not killed:
            for pid in _opa_children():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    result = gate.run(sources, CheckOptions(kube_versions=(NEWEST_KUBE,)), progress=progress)
    assert killed, "the test did not find the OPA server to kill"
    assert result.exit_code() == 2
    assert any("OPA" in e and ("died" in e or "failed" in e) for e in result.errors), result.errors


def test_each_distinct_render_evaluated_once(tmp_path: Path) -> None:
    (tmp_path / "ds.yaml").write_text((DATA / "community-daemonset.yaml").read_text())
    result = gate.run(discover([tmp_path]), CheckOptions(kube_versions=KUBE_TARGETS[-2:]))
    keys = [(f.source, f.rule, f.resource, f.message) for f in result.findings]
    assert len(keys) == len(set(keys))
    assert result.exit_code() == 1
