"""The render matrix: every chart x scenario x helm v4/v3 x Kubernetes version, and every kustomization.

Sources are discovered (none is hard-listed). Each goes through the whole static gate: real helm and
kustomize, strict schemas of the last four minors, the policy library in a real OPA server. Every
render must be identical under helm v4 and v3, valid, and pass with zero denies.
"""

from __future__ import annotations

import pytest

from dsgate.config import load
from dsgate.gate import pipeline as gate
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from dsgate.gate.sources import Source
from dsgate.versions import kube_target_versions
from tests.support import CHARTS, KUSTOMIZE, REPO

pytestmark = [pytest.mark.render, pytest.mark.policy]

SOURCES = discover([CHARTS, KUSTOMIZE])


def test_sources_discovered() -> None:
    kinds = {(s.kind, s.path.name) for s in SOURCES}
    assert {("chart", "node-exporter"), ("chart", "fluentd")} <= kinds
    assert sum(1 for s in SOURCES if s.kind == "kustomize") >= 7  # 2 bases + 5 overlays at least


@pytest.mark.parametrize("source", [pytest.param(s, id=str(s.path.relative_to(REPO))) for s in SOURCES])
def test_source_passes_the_gate(source: Source) -> None:
    result = gate.run(
        [source],
        CheckOptions(
            policy_data=load(REPO / "dsgate.yaml").policy_data,
            kube_versions=tuple(kube_target_versions()),
            helm_versions=("v4", "v3"),
        ),
    )
    assert result.errors == []
    assert result.mismatches == []
    assert [str(e) for e in result.schema_errors] == []
    assert [(f.rule, f.resource, f.message) for f in result.denies] == []
    if source.kind == "chart":
        expected = len(source.scenarios()) * 2 * len(kube_target_versions())
        assert len(result.renders) == expected
