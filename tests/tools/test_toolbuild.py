"""`dsgate tools`: what each group installs, the one command a missing tool names, and a real build of
one tool (helm) into a throwaway cache: a wrong binary is rebuilt, a good one is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsgate.toolbuild.install import items_for
from dsgate.tools import TOOLS, ToolMissing, tool_path, version_of
from dsgate.versions import pinned

DAEMONSET = Path(__file__).parents[1] / "gate" / "data" / "community-daemonset.yaml"


def dsgate(
    *args: str, cache: Path, path: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSGATE_CACHE": str(cache)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "dsgate.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=900,
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("group", "expected_items"),
    [
        # the server check needs kube-apiserver and etcd
        ("check", ["helm", "helm-batch", "helm3", "helm3-batch", "opa", "kustomize", "kube-apiserver", "etcd", "crds"]),
        # the cluster is the check group plus the rest of the control plane and kwok
        (
            "cluster",
            [
                "helm",
                "helm-batch",
                "helm3",
                "helm3-batch",
                "opa",
                "kustomize",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kubectl",
                "etcd",
                "kwok",
                "kwokctl",
                "node_exporter",
                "crds",
            ],
        ),
        ("all", [*TOOLS, "crds", "sarif-schema"]),
    ],
)
def test_groups(group: str, expected_items: list[str]) -> None:
    assert items_for(group) == expected_items


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tool", "expected_command"),
    [
        ("helm", "dsgate tools install --for check"),
        ("opa", "dsgate tools install --for check"),
        ("regal", "dsgate tools install --for all"),
        ("kube-apiserver", "dsgate tools install --for check"),
        ("kwok", "dsgate tools install --for cluster"),
        ("registry", "dsgate tools install --for all"),
    ],
)
def test_missing_tool_names_its_install_command(
    tool: str, expected_command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSGATE_CACHE", str(tmp_path))
    with pytest.raises(ToolMissing) as exc:
        tool_path(tool)
    assert (
        str(exc.value)
        == f"{tool} {version_of(tool)} is not installed at {tmp_path}/tools/{tool}/{version_of(tool)}/{tool}; run '{expected_command}'"
    )


@pytest.mark.unit
def test_check_without_tools_fails_closed_naming_the_install_command(tmp_path: Path) -> None:
    proc = dsgate("check", "--no-config", str(DAEMONSET), cache=tmp_path / "empty")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "run 'dsgate tools install --for check'" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.unit
def test_doctor_names_the_gaps_and_the_command(tmp_path: Path) -> None:
    proc = dsgate("tools", "doctor", "--for", "check", cache=tmp_path)
    assert proc.returncode == 1
    rows = {line.split()[0]: line.split()[2] for line in proc.stdout.splitlines()[1:]}
    assert rows == dict.fromkeys(items_for("check"), "MISSING")
    assert proc.stderr.strip().endswith("run 'dsgate tools install --for check'")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "path", "expected_error"),
    [
        (["install", "no-such-tool"], None, "dsgate tools: unknown tool no-such-tool"),
        (["install", "helm"], "/usr/bin:/bin", "dsgate tools: helm: go is not on PATH; install Go >= 1.26"),
    ],
)
def test_install_errors_are_one_line_and_exit_2(
    args: list[str], path: str | None, expected_error: str, tmp_path: Path
) -> None:
    proc = dsgate("tools", *args, cache=tmp_path, path=path)
    assert proc.returncode == 2
    assert expected_error in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_install_builds_a_wrong_binary_again_and_keeps_a_good_one(tmp_path: Path) -> None:
    """helm, built for real into an empty cache (Go's build cache makes it a link, not a compile)."""
    cache = tmp_path / "cache"
    binary = cache / "tools" / "helm" / pinned()["HELM_VERSION"] / "helm"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\necho v0.0.1\n")  # an impostor at the cached path: wrong version
    binary.chmod(0o755)

    first = dsgate("tools", "install", "--no-progress", "helm", cache=cache)
    assert first.returncode == 0, first.stderr
    assert "[1/1] building helm" in first.stderr
    assert subprocess.run([binary, "version", "--short"], capture_output=True, text=True, check=True).stdout.startswith(
        pinned()["HELM_VERSION"]
    )
    assert (cache / "bin" / "helm").resolve() == binary
    assert not list((cache / "tmp").iterdir()), "the build's temporary directory is removed"

    second = dsgate("tools", "install", "--no-progress", "helm", cache=cache)
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip() == f"[1/1] helm {pinned()['HELM_VERSION']}: cached"
    path = dsgate("tools", "path", "helm", cache=cache)
    assert path.stdout.strip() == str(binary)
