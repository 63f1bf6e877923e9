"""The helm command kustomize runs (dsgate.gate.helmshim): helm's own answer to `version --short`
without a helm process, everything else the pinned helm's, byte for byte; helm itself when the
answer cannot be taken or the script cannot be written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dsgate.gate import helmshim
from dsgate.gate.render import kustomize_build_text
from dsgate.tools import tool_path
from tests.support import CHARTS, KUSTOMIZE

pytestmark = pytest.mark.render

HELM, KUSTOMIZE_BIN = tool_path("helm"), tool_path("kustomize")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache of the test's own; the pinned tools named by their paths (DSGATE_<TOOL>)."""
    monkeypatch.setenv("DSGATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DSGATE_HELM", str(HELM))
    monkeypatch.setenv("DSGATE_KUSTOMIZE", str(KUSTOMIZE_BIN))
    return tmp_path / "cache"


def outcome(command: Path, *args: str) -> tuple[int, str, str]:
    proc = subprocess.run([str(command), *args], capture_output=True, text=True, check=False, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


ARGS = [
    pytest.param(("version", "--short"), False, id="kustomize-version-check"),
    pytest.param(("version",), True, id="version-long"),
    pytest.param(("version", "--short", "--debug"), True, id="version-other-flags"),
    pytest.param(("--short", "version"), True, id="version-other-order"),
    pytest.param(("template", "x", str(CHARTS / "node-exporter"), "--namespace", "m"), True, id="template"),
    pytest.param(("template", "x", "/nonexistent-chart"), True, id="template-error"),
    pytest.param(("no-such-command",), True, id="unknown-command"),
]


@pytest.mark.parametrize(("args", "expected_helm_process"), ARGS)
def test_the_script_answers_as_helm_does(cache: Path, args: tuple[str, ...], expected_helm_process: bool) -> None:
    command = helmshim.helm_command(HELM)
    assert command.parent.parent == cache / helmshim.FOLDER and command.name == "helm"
    assert outcome(command, *args) == outcome(HELM, *args)


@pytest.mark.parametrize(("args", "expected_helm_process"), ARGS)
def test_only_the_version_check_is_answered_without_helm(
    cache: Path, tmp_path: Path, args: tuple[str, ...], expected_helm_process: bool
) -> None:
    log = tmp_path / "calls"
    helm = tmp_path / "helm"
    helm.write_text(f'#!/bin/sh\necho "$*" >> {log}\necho v4.0.0\n')
    helm.chmod(0o755)
    command = helmshim.helm_command(helm)
    assert log.read_text() == "version --short\n"  # the answer, taken once
    outcome(command, *args)
    expected_calls = ["version --short", *([" ".join(args)] if expected_helm_process else [])]
    assert log.read_text().splitlines() == expected_calls


def test_the_script_is_made_once_and_kept(cache: Path) -> None:
    first = helmshim.helm_command(HELM)
    made = first.stat().st_mtime_ns
    assert helmshim.helm_command(HELM) == first and first.stat().st_mtime_ns == made


def test_another_helm_binary_gets_its_own_script(cache: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bin" / "helm"
    copy.parent.mkdir()
    shutil.copy2(HELM, copy)
    assert helmshim.helm_command(copy) != helmshim.helm_command(HELM)
    assert f"exec {copy} " in helmshim.helm_command(copy).read_text()


@pytest.mark.parametrize(
    ("fake_helm", "expected_script"),
    [
        pytest.param("#!/bin/sh\necho 'v4.0.0'\n", True, id="answers"),
        pytest.param("#!/bin/sh\necho broken >&2\nexit 1\n", False, id="version-fails"),
        pytest.param(None, False, id="not-executable"),
    ],
)
def test_a_helm_whose_version_fails_is_given_to_kustomize_itself(
    cache: Path, tmp_path: Path, fake_helm: str | None, expected_script: bool
) -> None:
    helm = tmp_path / "helm"
    helm.write_text(fake_helm or "not a program")
    helm.chmod(0o755 if fake_helm else 0o644)
    command = helmshim.helm_command(helm)
    assert (command != helm) == expected_script
    if expected_script:
        assert outcome(command, "version", "--short") == (0, "v4.0.0\n", "")


def test_an_unwritable_cache_gives_kustomize_helm_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("DSGATE_CACHE", str(blocked / "cache"))  # under a file: nothing can be made
    assert helmshim.helm_command(HELM) == HELM


def test_an_overlay_with_helm_charts_builds_as_with_helm_itself(cache: Path) -> None:
    """The real kustomize through the script and through helm give the same stream."""
    overlay = KUSTOMIZE / "bases" / "node-exporter"
    through_helm = subprocess.run(
        [str(KUSTOMIZE_BIN), "build", "--enable-helm", "--helm-command", str(HELM), str(overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert kustomize_build_text(overlay) == through_helm
    assert list((cache / helmshim.FOLDER).glob("*/helm"))  # the build went through the script
