"""Regal, built by `dsgate tools install` to read Rego v1, lints the library clean and catches what it should."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dsgate.tools import tool_path
from tests.policy.helpers import POLICIES

pytestmark = pytest.mark.policy

LONG_MESSAGE = "x" * 130


def regal_lint(policies: Path) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [str(tool_path("regal")), "lint", "--format", "json", str(policies)],
        cwd=policies.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {"error": proc.stdout + proc.stderr}
    return proc.returncode, report


def test_library_lints_clean() -> None:
    code, report = regal_lint(POLICIES)
    assert report.get("violations", []) == [], report
    assert code == 0
    assert report["summary"]["files_scanned"] >= 20


@pytest.mark.parametrize(
    ("file_name", "rego", "expected_code", "expected_rules"),
    [
        pytest.param("x.rego", "package x\n\nallow if input.a == 1\n", 0, [], id="v1-syntax-parses"),
        pytest.param("x.rego", "package x\n\ncount := 1\n", 3, ["rule-shadows-builtin"], id="shadowed-builtin"),
        pytest.param(
            "x.rego", "package x\n\nallow if {\n\tprint(input.a)\n}\n", 3, ["print-or-trace-call"], id="print-call"
        ),
        pytest.param("x.rego", f'package x\n\nmessage := "{LONG_MESSAGE}"\n', 3, ["line-length"], id="long-line"),
        pytest.param(
            "x_test.rego",
            f'package x_test\n\ntest_message if input.m != "{LONG_MESSAGE}"\n',
            0,
            [],
            id="long-line-allowed-in-tests",
        ),
    ],
)
def test_catches_planted_violations(
    tmp_path: Path, file_name: str, rego: str, expected_code: int, expected_rules: list[str]
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES / ".regal", policies / ".regal")
    (policies / "x").mkdir()
    (policies / "x" / file_name).write_text(rego)
    code, report = regal_lint(policies)
    assert [v["title"] for v in report.get("violations", [])] == expected_rules, report
    assert code == expected_code


def test_rego_v0_syntax_is_a_parse_error(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES / ".regal", policies / ".regal")
    (policies / "x.rego").write_text("package x\n\nallow {\n\tinput.a == 1\n}\n")
    code, report = regal_lint(policies)
    assert code != 0
    assert "rego_parse_error" in report.get("error", ""), report
