"""The library runs unchanged under the real `conftest test --combine` and gives OPA's deny/warn sets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dsgate.paths import MODEL_FILE
from tests.policy.helpers import COMMUNITY, POLICIES, REPO, Opa, Sample, load_sample, rule_samples

pytestmark = pytest.mark.policy

SAMPLES = rule_samples() + [load_sample(p) for p in sorted(COMMUNITY.glob("*.yaml"))]


def _representative(sample: Sample, first_denied: set[str]) -> bool:
    """The fast set: every community sample; every sample with data (parameters, data exemptions),
    with annotation exemptions, with several DaemonSets (cross-document rules) or about a warn
    rule; and the first denied sample of each category."""
    daemonsets = sum(1 for d in sample.documents if d.get("kind") == "DaemonSet")
    if sample.verdict == "community" or sample.data or sample.exempted or daemonsets > 1:
        return True
    if sample.rule in ("DS-ROL-004", "DS-PRB-003", "DS-IMG-002"):
        return sample.verdict == "denied"
    if sample.verdict == "denied" and sample.category not in first_denied:
        first_denied.add(sample.category)
        return True
    return False


_seen: set[str] = set()
FAST = [s for s in SAMPLES if _representative(s, _seen)]
SLOW = [s for s in SAMPLES if s not in FAST]


def run_conftest(conftest: Path, sample: Sample, tmp: Path) -> dict[str, Any]:
    """`conftest test --combine` on one sample file; its data (if any) goes in with --data."""
    # conftest reads only the .rego files of --policy: the library's data (its models) goes in with --data
    cmd = [
        str(conftest),
        "test",
        "--combine",
        "--no-color",
        "--output",
        "json",
        "--policy",
        str(POLICIES),
        "--data",
        str(MODEL_FILE),
    ]
    if sample.data:
        data_file = tmp / (sample.id.replace("/", "_") + ".json")
        data_file.write_text(json.dumps({"dsgate": sample.data}))
        cmd += ["--data", str(data_file)]
    proc = subprocess.run([*cmd, sample.id], cwd=REPO, capture_output=True, text=True, check=False)
    # conftest exits 1 when there are failures, 0 otherwise (warnings do not fail without --fail-on-warn).
    assert proc.returncode in (0, 1), f"conftest failed on {sample.id} ({proc.returncode}): {proc.stderr}"
    results = json.loads(proc.stdout)
    assert len(results) == 1, results
    return {"returncode": proc.returncode, **results[0]}


def messages(results: list[dict[str, Any]] | None) -> set[str]:
    return {r["msg"] for r in results or []}


def assert_same_as_opa(opa: Opa, answer: dict[str, Any], sample: Sample) -> None:
    # OPA gets the sample in conftest 0.71's shape: one entry per document, each with the file path.
    shaped = [{"path": sample.id, "contents": doc} for doc in sample.documents]
    expected_deny = messages(opa.query("main.deny", shaped, sample.data))
    expected_warn = messages(opa.query("main.warn", shaped, sample.data))
    assert messages(answer.get("failures")) == expected_deny
    assert messages(answer.get("warnings")) == expected_warn
    assert answer["returncode"] == (1 if expected_deny else 0)
    reported = {r["metadata"]["rule"] for r in (answer.get("failures") or []) + (answer.get("warnings") or [])}
    if sample.verdict == "denied":
        assert reported == {sample.rule} | sample.expect
    elif sample.verdict == "allowed":
        assert reported == set(sample.expect)


@pytest.mark.parametrize("sample", [pytest.param(s, id=s.id) for s in FAST])
def test_conftest_gives_the_same_deny_and_warn_sets(
    opa: Opa, conftest_bin: Path, tmp_path: Path, sample: Sample
) -> None:
    assert_same_as_opa(opa, run_conftest(conftest_bin, sample, tmp_path), sample)


@pytest.mark.slow
@pytest.mark.parametrize("sample", [pytest.param(s, id=s.id) for s in SLOW])
def test_conftest_gives_the_same_deny_and_warn_sets_on_every_sample(
    opa: Opa, conftest_bin: Path, tmp_path: Path, sample: Sample
) -> None:
    assert_same_as_opa(opa, run_conftest(conftest_bin, sample, tmp_path), sample)


def test_fast_set_covers_every_category_and_community_sample() -> None:
    assert {s.category for s in FAST if s.category} == {s.category for s in SAMPLES if s.category}
    assert {s.id for s in SAMPLES if s.verdict == "community"} <= {s.id for s in FAST}
    assert len(FAST) + len(SLOW) == len(SAMPLES)


def test_conftest_reports_rule_metadata(conftest_bin: Path, tmp_path: Path) -> None:
    """The non-msg keys of a deny object reach conftest's output as metadata."""
    sample = next(s for s in SAMPLES if s.id == "policies/dsgate/rules/priority/samples/DS-PRI-001/denied.yaml")
    answer = run_conftest(conftest_bin, sample, tmp_path)
    assert [(f["metadata"]["rule"], f["metadata"]["resource"]) for f in answer["failures"]] == [
        ("DS-PRI-001", "DaemonSet/monitoring/node-exporter")
    ]


@pytest.mark.parametrize(
    ("text", "expected_names"),
    [
        # one document
        ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n", ["a"]),
        # several documents, one of them empty: conftest 0.71 sends one entry per non-empty document,
        # each with the file's path (earlier conftest versions sent one entry with an array)
        (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
            ["a", "b"],
        ),
    ],
)
def test_combine_input_shape(conftest_bin: Path, tmp_path: Path, text: str, expected_names: list[str]) -> None:
    """The input contract (policies/README.md) matches what the real `conftest parse --combine` produces."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(text)
    proc = subprocess.run(
        [str(conftest_bin), "parse", "--combine", str(manifest)], capture_output=True, text=True, check=True
    )
    entries = json.loads(proc.stdout)
    assert [(e["path"], e["contents"]["metadata"]["name"]) for e in entries] == [
        (str(manifest), n) for n in expected_names
    ]
