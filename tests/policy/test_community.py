"""Manifests written like common community defaults are denied for exactly those reasons."""

from __future__ import annotations

import pytest

from tests.policy.helpers import COMMUNITY, Opa, load_sample

pytestmark = pytest.mark.policy

# Everything else in these manifests is compliant, so each default maps to its rule alone.
CASES = [
    # file, expected non-exempted rules
    pytest.param("no-pdb.yaml", {"DS-PDB-001"}, id="no-pdb"),
    pytest.param("empty-priority.yaml", {"DS-PRI-001"}, id="empty-priority"),
    pytest.param("empty-resources.yaml", {"DS-RES-001"}, id="empty-resources"),
    # Only the legacy node-role.kubernetes.io/master:NoSchedule taint is tolerated: no control-plane
    # toleration (DS-TOL-001) and no NoExecute one (DS-TOL-004).
    pytest.param("noschedule-only-tolerations.yaml", {"DS-TOL-001", "DS-TOL-004"}, id="noschedule-only-tolerations"),
    pytest.param("no-seccomp.yaml", {"DS-SEC-005"}, id="no-seccomp"),
    pytest.param(
        "all-defaults.yaml",
        {"DS-PDB-001", "DS-PRI-001", "DS-RES-001", "DS-TOL-001", "DS-TOL-004", "DS-SEC-005"},
        id="all-defaults",
    ),
    # The seed article's manifest: no app.kubernetes.io/name label, but its image (prom/node-exporter)
    # is node-exporter's in the well-known agents catalogue: host namespaces and the blanket toleration
    # are allowed, and it is node-critical, so it needs a PodDisruptionBudget (DS-PDB-001). It tolerates
    # every NoSchedule taint but no NoExecute one (DS-TOL-004).
    pytest.param(
        "seed-article-node-exporter.yaml",
        {
            "DS-HST-002",
            "DS-HST-004",
            "DS-HYG-002",
            "DS-IMG-002",
            "DS-PRB-001",
            "DS-PRB-002",
            "DS-PRI-001",
            "DS-ROL-001",
            "DS-ROL-005",
            "DS-SEC-001",
            "DS-SEC-002",
            "DS-SEC-003",
            "DS-SEC-005",
            "DS-SEC-006",
            "DS-SEC-008",
            "DS-PDB-001",
            "DS-TOL-004",
        },
        id="seed-article",
    ),
]


@pytest.mark.parametrize(("name", "expected_rules"), CASES)
def test_community_default_denied_for_exactly_its_reasons(opa: Opa, name: str, expected_rules: set[str]) -> None:
    sample = load_sample(COMMUNITY / name)
    findings = opa.findings(sample.gate_input())
    assert {f["rule"] for f in findings if not f["exempted"]} == expected_rules


def test_every_community_manifest_is_tested() -> None:
    assert {p.name for p in COMMUNITY.glob("*.yaml")} == {c.values[0] for c in CASES}
