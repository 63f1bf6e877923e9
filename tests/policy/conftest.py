"""Fixtures of the policy tests: the real OPA server and conftest binaries.

One `opa run --server` per test session (per xdist worker) serves the library; samples that need
parameters or exemptions PUT them under data.dsgate for the one query and delete them after.
A missing binary fails the tests (ToolMissing names the fix); nothing is skipped.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsgate.gate.evaluate import IGNORED
from dsgate.tools import tool_path
from tests.policy.helpers import Opa
from tests.support import POLICIES, free_port


@pytest.fixture(scope="session")
def opa_bin() -> Path:
    return tool_path("opa")  # raises ToolMissing with the fix: the test fails, it never skips


@pytest.fixture(scope="session")
def conftest_bin() -> Path:
    return tool_path("conftest")


@pytest.fixture(scope="session")
def opa(opa_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opa]:
    port = free_port()
    log = tmp_path_factory.mktemp("opa") / "opa.log"
    cmd = [
        str(opa_bin),
        "run",
        "--server",
        "--disable-telemetry",
        "--log-level",
        "error",
        "--addr",
        f"127.0.0.1:{port}",
        *(f"--ignore={pattern}" for pattern in IGNORED),
        str(POLICIES),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    server = Opa(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"opa run --server exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                server.request("GET", "/health")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"opa run --server did not become healthy on port {port}: {log.read_text()[-2000:]}")
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
