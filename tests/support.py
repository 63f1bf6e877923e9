"""Helpers every test area shares: repository locations, the pinned Kubernetes versions, lookups
in rendered objects, a free local port, and `dsgate check` run as CI runs it. Area-specific helpers live in each area's support module
and build on these."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dsgate.gate.evaluate import IGNORED
from dsgate.net import free_port
from dsgate.paths import POLICIES_DIR, REPO_ROOT
from dsgate.tools import tool_path
from dsgate.versions import kube_target_versions

__all__ = [
    "CHARTS",
    "KUBE_TARGETS",
    "KUSTOMIZE",
    "NEWEST_KUBE",
    "POLICIES",
    "REPO",
    "Objects",
    "by_kind",
    "daemonset",
    "dsgate_check",
    "find",
    "free_port",
    "opa_findings",
    "pod_spec",
]

REPO = REPO_ROOT
CHARTS = REPO / "charts"
KUSTOMIZE = REPO / "kustomize"
POLICIES = POLICIES_DIR
# The Kubernetes versions the gate validates against by default (versions.env), and the newest.
KUBE_TARGETS = tuple(kube_target_versions())
NEWEST_KUBE = KUBE_TARGETS[-1]

Objects = list[dict[str, Any]]


def by_kind(objs: Objects, kind: str) -> Objects:
    """Every object of KIND, in order."""
    return [o for o in objs if o.get("kind") == kind]


def find(objs: Objects, kind: str) -> dict[str, Any] | None:
    """The one object of KIND, None when absent (several is an AssertionError)."""
    hits = by_kind(objs, kind)
    assert len(hits) <= 1, f"{len(hits)} objects of kind {kind}"
    return hits[0] if hits else None


def daemonset(objs: Objects) -> dict[str, Any]:
    """The one DaemonSet of OBJS (AssertionError if none or several)."""
    ds = find(objs, "DaemonSet")
    assert ds is not None, "no DaemonSet rendered"
    return ds


def pod_spec(ds: dict[str, Any]) -> dict[str, Any]:
    """The pod template spec of a DaemonSet."""
    spec: dict[str, Any] = ds["spec"]["template"]["spec"]
    return spec


def dsgate_check(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`dsgate check ARGS` in a fresh process (this environment, no colour, plus ENV), output captured
    and decoded leniently (hostile input may make it print bytes that are not UTF-8); TIMEOUT seconds."""
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "check", *map(str, args)],
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )


def opa_findings(entries: list[dict[str, Any]], tmp_path: Path, policies: Path = POLICIES) -> list[dict[str, Any]]:
    """data.main.findings of the library in POLICIES (the real opa, `opa eval`, the gate's ignore list)
    for ENTRIES, the `{"path", "contents"}` input `conftest test --combine` gives."""
    input_file = tmp_path / "opa-input.json"
    input_file.write_text(json.dumps(entries))
    cmd = [
        str(tool_path("opa")),
        "eval",
        "--format",
        "json",
        "--data",
        str(policies),
        *(f"--ignore={p}" for p in IGNORED),
    ]
    proc = subprocess.run(
        [*cmd, "--input", str(input_file), "data.main.findings"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["result"]
    assert result, f"data.main.findings is undefined: is the policy library loaded? {proc.stdout}"
    return list(result[0]["expressions"][0]["value"])
