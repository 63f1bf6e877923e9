"""dsgate.errors: every exception class dsgate defines derives from the one DsgateError base (exit
code and one-line message), and `dsgate check` turns one into its exit code in one place."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import dsgate
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
