"""Every sample manifest through the real OPA server: denied by exactly its rule, or allowed."""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.docs.catalogue import read_library
from tests.policy.helpers import POLICIES, Opa, Sample, rule_samples

pytestmark = pytest.mark.policy

SAMPLES = rule_samples()
DENIED = [pytest.param(s, id=s.id) for s in SAMPLES if s.verdict == "denied"]
ALLOWED = [pytest.param(s, id=s.id) for s in SAMPLES if s.verdict == "allowed"]


def reported(findings: list[dict[str, Any]]) -> set[str]:
    """Rules with a finding that is not exempted (deny or warn)."""
    return {f["rule"] for f in findings if not f["exempted"]}


def exempted(findings: list[dict[str, Any]]) -> set[str]:
    return {f["rule"] for f in findings if f["exempted"]}


def test_samples_exist() -> None:
    assert len(DENIED) >= 40 and len(ALLOWED) >= 40, f"{len(DENIED)} denied, {len(ALLOWED)} allowed samples"


@pytest.mark.parametrize("sample", DENIED)
def test_denied_sample_reports_exactly_its_rule(opa: Opa, sample: Sample) -> None:
    findings = opa.findings(sample.gate_input(), sample.data)
    assert reported(findings) == {sample.rule} | sample.expect
    assert exempted(findings) == set(sample.exempted)
    # The folder's category is the rule's category in its METADATA.
    assert {f["category"] for f in findings if f["rule"] == sample.rule} == {sample.category}


@pytest.mark.parametrize("sample", ALLOWED)
def test_allowed_sample_has_no_findings(opa: Opa, sample: Sample) -> None:
    findings = opa.findings(sample.gate_input(), sample.data)
    assert reported(findings) == set(sample.expect)
    assert exempted(findings) == set(sample.exempted)


@pytest.mark.parametrize("sample", [pytest.param(s, id=s.id) for s in SAMPLES if s.exempted])
def test_exempted_finding_carries_its_reason(opa: Opa, sample: Sample) -> None:
    findings = opa.findings(sample.gate_input(), sample.data)
    reasons = {f["exemption"] for f in findings if f["exempted"]}
    assert len(reasons) == 1 and reasons != {""}


@pytest.mark.parametrize("sample", [pytest.param(s, id=s.id) for s in SAMPLES if s.verdict == "denied"][:5])
def test_file_and_document_inputs_give_the_same_findings(opa: Opa, sample: Sample) -> None:
    """One entry per document (the gate, conftest 0.71) and one per file with an array agree."""
    by_document = opa.findings(sample.gate_input(), sample.data)
    by_file = opa.findings(sample.combined_input(), sample.data)
    assert {(f["rule"], f["resource"], f["message"]) for f in by_file} == {
        (f["rule"], f["resource"], f["message"]) for f in by_document
    }
    assert {f["path"] for f in by_file} == {sample.id}


def test_every_rule_has_an_allowed_and_a_denied_sample() -> None:
    rules, _ = read_library(POLICIES)
    by_rule: dict[str, set[str]] = {}
    for sample in SAMPLES:
        by_rule.setdefault(sample.rule, set()).add(sample.verdict)
    assert set(by_rule) == {r.id for r in rules}, "sample folders and rule ids differ"
    assert {rule for rule, verdicts in by_rule.items() if verdicts != {"allowed", "denied"}} == set()
    assert {s.id for s in SAMPLES if s.category != next(r.category for r in rules if r.id == s.rule)} == set()
