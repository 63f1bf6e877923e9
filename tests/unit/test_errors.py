"""dsgate.errors: every exception class dsgate defines derives from the one DsgateError base (exit
code and one-line message), and `dsgate check` turns one into its exit code in one place."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import dsgate
from dsgate import procs
from dsgate.errors import DsgateError

pytestmark = pytest.mark.unit


def _exception_classes() -> dict[str, type[Exception]]:
    """Every exception class defined (not imported) in a module under src/dsgate, by qualified name.
    Signals are not errors: procs.Cancelled is a KeyboardInterrupt (not an Exception) on purpose."""
    found: dict[str, type[Exception]] = {}
    for info in pkgutil.walk_packages(dsgate.__path__, "dsgate."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == info.name:
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_exception_class_derives_from_dsgate_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 25  # the walk found the package's exceptions (a broken walk finds none)
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, DsgateError))
    assert outside == []


@pytest.mark.parametrize(
    ("args", "expected_message"),
    [
        (
            ["check", "no-such-path"],
            "dsgate: error: no-such-path: no such file or directory\n",
        ),  # SourceError from discovery
        (
            ["check", "--config", "missing.yaml"],
            "dsgate: error: missing.yaml: no such config file\n",
        ),  # checked before loading
    ],
)
def test_check_turns_a_dsgate_error_into_exit_2_and_one_line(
    tmp_path: Path, args: list[str], expected_message: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", *args], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, expected_message, "")


def test_dsgate_error_carries_its_exit_code_and_message() -> None:
    err = DsgateError("chart x: helm failed; fix the template")
    assert (err.exit_code, err.message) == (2, "chart x: helm failed; fix the template")


def _raises(exc: BaseException) -> Callable[[], int]:
    def run() -> int:
        raise exc

    return run


@pytest.mark.parametrize(
    ("run", "expected_exit", "expected_stderr"),
    [
        (lambda: 1, 1, ""),  # a verdict passes through
        (_raises(DsgateError("bad input")), 2, "dsgate x: error: bad input\n"),
        (
            _raises(FileNotFoundError(2, "No such file or directory", "v.yaml")),
            2,
            "dsgate x: error: [Errno 2] No such file or directory: 'v.yaml'\n",
        ),
        (
            _raises(KeyError("kind")),
            2,
            "dsgate x: error: internal error (KeyError: 'kind'); rerun with DSGATE_DEBUG=1 for the traceback and report it\n",
        ),
        (
            _raises(procs.Cancelled(signal.SIGTERM)),
            143,
            "dsgate x: error: interrupted (SIGTERM); every process dsgate started was stopped\n",
        ),
    ],
)
def test_every_command_error_is_one_line_and_an_exit_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    run: Callable[[], int],
    expected_exit: int,
    expected_stderr: str,
) -> None:
    monkeypatch.delenv("DSGATE_DEBUG", raising=False)
    stopped: list[bool] = []  # stop_all itself would kill this worker's other tests' servers
    monkeypatch.setattr(procs, "stop_all", lambda: stopped.append(True))
    assert procs.guarded("dsgate x", run) == expected_exit
    assert capsys.readouterr().err == expected_stderr
    assert stopped == ([True] if expected_exit >= 128 else [])


def test_a_crash_shows_its_traceback_with_dsgate_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGATE_DEBUG", "1")
    with pytest.raises(KeyError):
        procs.guarded("dsgate x", _raises(KeyError("kind")))


def test_a_sub_command_error_is_one_line_named_after_it(tmp_path: Path) -> None:
    """Sub-commands with a parser of their own go through the same guard as `check`, named after
    the sub-command: `dsgate report merge` on a file that is not a shard report."""
    (tmp_path / "r.json").write_text("[]")
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "report", "merge", "r.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr
        == "dsgate report: error: r.json: not a shard report; write each with dsgate check --shard I/N --format json -o FILE\n"
    )
