"""The differential test (`dsgate admission test`) on the real kube-apiserver v1.36.3: the gate and the
generated ValidatingAdmissionPolicies agree on every case, or the disagreement is one the allowlist
(divergences.ALLOWLIST) explains; and a policy whose CEL is wrong is caught.

The full run (every sample, every parameter at two overrides, every vap rule's disallowed pattern
injected into valid DaemonSets, property-generated DaemonSets: at least 1,750 cases compared) runs
once for the module; its report is asserted piece by piece so a red run says which promise broke.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsgate.admission import differential, divergences, library
from dsgate.admission.differential import Report
from dsgate.admission.localserver import LocalServer
from dsgate.paths import rules_dir
from tests.support import POLICIES

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("admission-server")]


@pytest.fixture(scope="module")
def report() -> Report:
    with LocalServer() as server:
        options = differential.Options(policies=POLICIES, allowlist=divergences.ALLOWLIST)
        got = differential.run(server.api, differential.renderer(POLICIES), options)
    print(got.summary())
    return got


def test_gate_and_admission_agree(report: Report) -> None:
    """Zero disagreements the allowlist does not explain, no CEL error, no stale entry, no type warning."""
    assert report.explained is not None
    assert report.problems() == [], report.summary()
    assert report.ok()


def test_at_least_1750_cases_are_compared(report: Report) -> None:
    assert report.minimum == differential.MIN_CASES == 1750
    assert report.compared >= 1750, report.summary()
    assert set(report.cases) == {"sample", "parameter", "injection", "property"}


def test_every_policy_type_checks(report: Report) -> None:
    """status.typeChecking of every installed policy, once the status controller has checked it, is empty;
    and the comparison covers every rule the library classifies vap."""
    assert report.type_checking == []
    vap = sorted(r.id for r in library.load(POLICIES).rules if r.admission == "vap")
    assert report.compared_rules == vap


def test_no_allowlist_entry_is_stale(report: Report) -> None:
    assert report.explained is not None
    assert report.explained.stale == []
    assert all(n > 0 for _, n in report.explained.used)
    assert all(entry.reason for entry in divergences.ALLOWLIST)


def test_every_compared_rule_fires_at_admission(report: Report) -> None:
    """No rule agrees only because neither side ever fires: each one fires at admission on some case,
    except the rules whose pattern the API server's validation refuses first; their denied samples are
    refused, and nothing else is."""
    never = sorted(r for r in report.compared_rules if report.fired[r] == 0)
    assert never == sorted(divergences.REFUSED_BEFORE_ADMISSION)
    refused = {case for case, _ in report.refused}
    for rule in never:
        assert any(f"/samples/{rule}/denied.yaml#" in case for case in refused), rule
    assert all(case.split(":")[0] in ("sample", "injection") for case in refused)


# A validation inverted: DS-ROL-004 (OnDelete) then fires on every RollingUpdate DaemonSet instead.
WRONG_RULE = "DS-ROL-004"
RIGHT = "expression: \"object.spec.?updateStrategy.?type.orValue('RollingUpdate') != 'OnDelete'\""
WRONG = "expression: \"object.spec.?updateStrategy.?type.orValue('RollingUpdate') == 'OnDelete'\""


def test_a_wrong_policy_makes_the_run_fail(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies, symlinks=False)
    cel = rules_dir(policies) / "rollout" / "admission.yaml"
    text = cel.read_text()
    assert text.count(RIGHT) == 1
    cel.write_text(text.replace(RIGHT, WRONG))
    # a small run: the samples, two bases, a few property cases; no minimum (the count is not the point)
    options = differential.Options(
        policies=policies, allowlist=divergences.ALLOWLIST, properties=20, bases=2, minimum=0, type_check=False
    )
    with LocalServer() as server:
        got = differential.run(server.api, differential.renderer(policies), options)
    assert not got.ok()
    assert got.explained is not None
    wrong = [d for d in got.explained.unexplained if d.rule == WRONG_RULE]
    assert len(wrong) > 20, got.summary()
    assert {d.pair for d in wrong} == {"defaulted-admission"}
    assert [d.describe() for d in got.explained.unexplained if d.rule != WRONG_RULE] == []
    assert any(WRONG_RULE in p for p in got.problems())
