"""hack/realworld.sh: gates every input of a directory and prints one table; runs on any directory.

The fixture directory (data/realworld) holds one input per outcome, each with an `.args` file (the
per-input options the script reads), plus things that are not inputs (a .txt file, a hidden
.values/ directory) which must not appear in the table.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "hack" / "realworld.sh"
DATA = Path(__file__).parent / "data" / "realworld"

pytestmark = pytest.mark.policy


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        check=False,
    )


def table(stdout: str) -> dict[str, list[str]]:
    """input -> [exit, denies, warns, schema errors, errors, seconds] from the Markdown table."""
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in stdout.splitlines() if line.startswith("|")
    ]
    assert rows[0] == ["input", "exit", "denies", "warns", "schema errors", "errors", "seconds"]
    return {row[0]: row[1:] for row in rows[2:]}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[str]], Path]:
    out = tmp_path_factory.mktemp("realworld-out")
    proc = run("-o", str(out), str(DATA))
    assert proc.returncode == 0, proc.stderr
    return table(proc.stdout), out


@pytest.mark.parametrize(
    ("name", "expected_exit", "expected_denies", "expected_schema", "expected_errors"),
    [
        ("agent", "1", "many", "0", "0"),  # a privileged DaemonSet without resources: denies, exit 1
        ("broken-chart", "2", "0", "0", "1"),  # a chart whose template fails: one render error, exit 2
        ("configmap.yaml", "0", "0", "0", "0"),  # a single YAML file is an input; nothing to report
        ("unknown-kind.yaml", "2", "0", "0", "1"),  # a kind without schema: fail closed, one error
        (
            "unknown-kind-allowed.yaml",
            "0",
            "0",
            "0",
            "0",
        ),  # same file, its .args adds --allow-kind: the args are applied
    ],
)
def test_row(
    result: tuple[dict[str, list[str]], Path],
    name: str,
    expected_exit: str,
    expected_denies: str,
    expected_schema: str,
    expected_errors: str,
) -> None:
    rows, out = result
    exit_code, denies, _warns, schema, errors, seconds = rows[name]
    assert exit_code == expected_exit
    assert int(denies) > 0 if expected_denies == "many" else denies == expected_denies
    assert (schema, errors) == (expected_schema, expected_errors)
    assert float(seconds) > 0
    base = name.rsplit(".", 1)[0] if name.endswith(".yaml") else name
    assert (out / f"{base}.json").is_file() and (out / f"{base}.err").is_file()  # -o keeps each report


def test_only_inputs_are_rows(result: tuple[dict[str, list[str]], Path]) -> None:
    rows, _ = result
    # notes.txt, the .args files and the hidden .values/ directory are not inputs
    assert sorted(rows) == ["agent", "broken-chart", "configmap.yaml", "unknown-kind-allowed.yaml", "unknown-kind.yaml"]


@pytest.mark.parametrize(
    ("setup", "expected_message"),
    [
        ("missing", "is not a directory"),  # a directory that does not exist: a clear usage error
        ("empty", "holds no input"),  # an empty directory: nothing to gate is an error, not an empty table
        ("no-dsgate", "is not executable"),  # DSGATE pointing nowhere: says how to make the venv
    ],
)
def test_usage_errors(tmp_path: Path, setup: str, expected_message: str) -> None:
    target = tmp_path / "corpus"
    env: dict[str, str] = {}
    if setup != "missing":
        target.mkdir()
    if setup == "no-dsgate":
        (target / "one.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        env["DSGATE"] = str(tmp_path / "nothing")
    proc = run(str(target), env=env)
    assert proc.returncode == 2
    assert expected_message in proc.stderr and proc.stdout == ""
