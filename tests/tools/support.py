"""Helpers of the packaging tests: the checkout, a sample DaemonSet the policies deny, running commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from dsgate.gate.render import build_dependencies
from dsgate.tools import cache_dir, tool_path
from dsgate.versions import pinned

REPO = Path(__file__).resolve().parents[2]
DAEMONSET = REPO / "tests" / "gate" / "data" / "community-daemonset.yaml"
SYSTEM_PATH = "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"  # a runner's PATH: no venv of this checkout on it
GIT_ID = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def uv() -> str:
    """The pinned uv that hack/venv.sh caches."""
    path = cache_dir() / "tools" / "uv" / pinned()["UV_VERSION"] / "bin" / "uv"
    assert path.exists(), f"{path} missing: run 'make setup'"
    return str(path)


def python_interpreter(version: str) -> Path:
    """A working interpreter of Python VERSION ("3.12"): on PATH, else one of pyenv's builds. Fails the
    test when the machine has none (a pyenv shim that refuses to run does not count)."""
    candidates = [Path(found)] if (found := shutil.which(f"python{version}")) else []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    for path in candidates:
        probe = subprocess.run(
            [str(path), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return path
    raise AssertionError(
        f"no working Python {version} on this machine (tried {[str(c) for c in candidates]}): install it to test the package on it"
    )


def run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, ok: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run CMD; with ok, fail the test (showing its output) unless it exits 0."""
    full_env = {**os.environ, "UV_CACHE_DIR": str(cache_dir() / "uv-cache"), **GIT_ID, **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=full_env, timeout=timeout, check=False)
    if ok:
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def readme_block(name: str) -> str:
    """The fenced block after `<!-- quickstart: NAME -->` in README.md."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- quickstart: {re.escape(name)} -->\n```\w*\n(.*?)\n```", text, re.S)
    assert match, f"README.md has no quick-start block {name!r}"
    return match.group(1) + "\n"


PRIVILEGED_NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
  labels:
    pod-security.kubernetes.io/enforce: privileged
---
"""


def clean_manifests() -> str:
    """The node-exporter chart's default render, in a namespace at the Pod Security level the chart
    needs (privileged): what dsgate's own gate passes."""
    build_dependencies(REPO / "charts" / "node-exporter")  # the library chart, into charts/ (gitignored)
    render = run(
        [
            str(tool_path("helm")),
            "template",
            "node-exporter",
            str(REPO / "charts" / "node-exporter"),
            "--namespace",
            "monitoring",
        ]
    ).stdout
    return PRIVILEGED_NAMESPACE + render
