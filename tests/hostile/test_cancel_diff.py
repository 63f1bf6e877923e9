"""Cancelling `dsgate diff --base REF`: SIGTERM or SIGINT while it renders the base side (extracted from
git into a temporary directory) stops every render, removes the base tree, and exits 143 or 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.support import SLOW_TEMPLATE, assert_cancelled, launched, tagged, tagged_env, wait_for

pytestmark = [pytest.mark.hostile, pytest.mark.render]

FAST_TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fast}\n"


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _repo(tmp: Path) -> Path:
    """A repository whose main renders for minutes (the slow chart); the working tree renders at once."""
    repo = tmp / "repo"
    chart = repo / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(SLOW_TEMPLATE)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    (chart / "templates" / "cm.yaml").write_text(FAST_TEMPLATE)
    return repo


@pytest.mark.parametrize(("sig", "expected_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_diff_renders_the_base(tmp_path: Path, sig: signal.Signals, expected_code: int) -> None:
    repo = _repo(tmp_path)
    env = tagged_env(tmp_path)
    cmd = [sys.executable, "-m", "dsgate.cli", "diff", "--no-config", "--base", "main", "c"]
    proc = subprocess.Popen(launched(cmd), cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def base_renders() -> bool:
        # the head side is rendered (and its renderer gone) before the base tree is extracted
        extracted = any((tmp_path / "tmp").glob("dsgate-runs-*/run-*/dsgate-diff-*/tree/c/templates/cm.yaml"))
        return extracted and any(name in ("helm-batch", "helm") for name in tagged(env).values())

    try:
        wait_for("diff to render the base side", base_renders, 120, proc)
        err = assert_cancelled(proc, sig, expected_code, env, tmp_path)
        assert err.strip().splitlines()[-1].startswith("dsgate: error: interrupted"), err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
