"""The OPA server stage against the real opa binary: the findings contract, and failing closed."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dsgate.gate.documents import Document, Provenance, load_file
from dsgate.gate.evaluate import EvaluationError, OpaServer, default_policy_dir, policy_input
from tests.policy.helpers import sample_files

pytestmark = pytest.mark.policy

DOC = Document(
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "a", "namespace": "n"}},
    Provenance("src", "file"),
)
GOOD_FINDING = '{"rule": "T-1", "category": "priority", "severity": "deny", "resource": "DaemonSet/n/a", "message": "m", "remediation": "r", "exempted": false}'


def _library(tmp_path: Path, body: str, package: str = "main") -> Path:
    lib = tmp_path / "policies"
    lib.mkdir(exist_ok=True)
    (lib / "p.rego").write_text(f"package {package}\n\n{body}\n")
    return lib


@pytest.mark.parametrize(
    ("body", "expected_rules"),
    [
        pytest.param(
            f'findings contains f if {{\n\tsome d in input\n\td.contents.kind == "DaemonSet"\n\tf := {GOOD_FINDING}\n}}',
            ["T-1"],
            id="one-finding",
        ),
        pytest.param("findings := set()", [], id="no-findings"),
        pytest.param(
            'findings contains object.union(f, {"exempted": data.dsgate.flag}) if {\n\tf := ' + GOOD_FINDING + "\n}",
            ["T-1"],
            id="reads-data",
        ),
    ],
)
def test_findings_contract(tmp_path: Path, body: str, expected_rules: list[str]) -> None:
    with OpaServer(_library(tmp_path, body), data={"flag": True}) as opa:
        findings = opa.evaluate([DOC])
    assert [f.rule for f in findings] == expected_rules
    assert all(f.source == "src" for f in findings)


@pytest.mark.parametrize(
    ("body", "package", "expected_message"),
    [
        pytest.param('findings := "nope"', "main", "expected a list", id="not-a-set"),
        pytest.param('findings contains {"rule": "x"}', "main", "malformed finding", id="missing-keys"),
        pytest.param(
            f'findings contains object.union({GOOD_FINDING}, {{"severity": "fatal"}})',
            "main",
            "severity 'fatal'",
            id="bad-severity",
        ),
        pytest.param("findings := set()", "other", "answered no result", id="entrypoint-undefined"),
    ],
)
def test_malformed_answers_fail_closed(tmp_path: Path, body: str, package: str, expected_message: str) -> None:
    with OpaServer(_library(tmp_path, body, package)) as opa, pytest.raises(EvaluationError, match=expected_message):
        opa.evaluate([DOC])


@pytest.mark.parametrize(
    ("body", "renders", "expected_message"),
    [
        pytest.param('batch := "nope"', 1, "answered str for a batch of 1 renders", id="not-a-list"),
        pytest.param("batch := []", 2, "answered 0 answers for a batch of 2 renders", id="too-few"),
        pytest.param("batch := [[], [], []]", 2, "answered 3 answers for a batch of 2 renders", id="too-many"),
        pytest.param('batch := [[{"rule": "x"}]]', 1, "malformed finding", id="malformed-finding"),
        pytest.param("findings := set()", 1, "answered no result for data.main.batch", id="entrypoint-undefined"),
    ],
)
def test_malformed_batch_answers_fail_closed(tmp_path: Path, body: str, renders: int, expected_message: str) -> None:
    with OpaServer(_library(tmp_path, body)) as opa, pytest.raises(EvaluationError, match=expected_message):
        opa.evaluate_batch([[DOC]] * renders)


def _sample_renders() -> list[list[Document]]:
    """The policy samples that need no data of their own (the coverage samples need the fleet's nodes)."""
    return [load_file(path) for path in sample_files() if "\n# data:" not in "\n" + path.read_text()[:2000]]


@pytest.mark.parametrize("renders", [1, 7, 40, None], ids=lambda n: f"{n or 'all'}-renders")
def test_batched_findings_equal_one_request_per_render(renders: int | None) -> None:
    samples = _sample_renders()[:renders]
    with OpaServer(default_policy_dir()) as opa, ThreadPoolExecutor(4) as pool:
        expected = [opa.evaluate(documents) for documents in samples]
        assert list(opa.evaluate_all(samples, pool)) == expected
    assert sum(map(len, expected)) > 0 or renders == 1


def test_policy_that_does_not_compile_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="OPA exited with code"):
        OpaServer(_library(tmp_path, "findings contains x if {")).start()


def test_missing_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGATE_OPA", str(tmp_path / "no-opa"))
    with pytest.raises(EvaluationError, match="OPA is not available"):
        OpaServer(_library(tmp_path, "findings := set()")).start()


def test_killed_server_is_an_error(tmp_path: Path) -> None:
    with OpaServer(_library(tmp_path, "findings := set()")) as opa:
        assert opa.evaluate([DOC]) == []
        assert opa.pid is not None
        os.kill(opa.pid, signal.SIGKILL)
        assert opa.process is not None
        opa.process.wait()
        with pytest.raises(EvaluationError, match="OPA server died"):
            opa.evaluate([DOC])


def test_timeout_is_an_error(tmp_path: Path) -> None:
    slow = "findings := {x | some x in numbers.range(1, 30000000); x < 0}"
    with (
        OpaServer(_library(tmp_path, slow), timeout=0.3) as opa,
        pytest.raises(EvaluationError, match="did not answer within"),
    ):
        opa.evaluate([DOC])


def test_server_binds_loopback_and_stops(tmp_path: Path) -> None:
    opa = OpaServer(_library(tmp_path, "findings := set()"))
    opa.start()
    proc = opa.process
    assert proc is not None
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert f"127.0.0.1:{opa.port}".encode() in cmdline
    opa.stop()
    assert proc.poll() is not None


def test_input_shape_is_conftest_combine() -> None:
    assert policy_input([DOC]) == [{"path": "src#0", "contents": DOC.obj}]
