"""helm v4 against v3 compared as parsed documents: what never makes a mismatch, and what a real one reports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate.compare import differences
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from tests.support import KUBE_TARGETS, NEWEST_KUBE

CHARTS = Path(__file__).parent / "data" / "charts"
PROV = Provenance("chart", "chart")


def _docs(*objs: dict[str, Any]) -> list[Document]:
    return [Document(o, PROV, i) for i, o in enumerate(objs)]


def _sa(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": "ns", "annotations": annotations},
    }


def _reordered(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in reversed(list(obj))}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("left", "right", "expected_lines"),
    [
        pytest.param([_sa("a"), _sa("b")], [_sa("b"), _sa("a")], [], id="document-order"),
        pytest.param([_sa("a", x="1", y="2")], [_reordered(_sa("a", y="2", x="1"))], [], id="key-order"),
        pytest.param(
            [_sa("a", x="1")],
            [_sa("a", x="2")],
            ['ServiceAccount/ns/a: metadata.annotations.x: v4 "1" / v3 "2"'],
            id="value",
        ),
        pytest.param(
            [_sa("a", x="1")],
            [_sa("a")],
            ['ServiceAccount/ns/a: metadata.annotations.x: v4 "1" / v3 (absent)'],
            id="key-absent",
        ),
        pytest.param(
            [_sa("a", x="1")],
            [_sa("a", x=1)],
            ['ServiceAccount/ns/a: metadata.annotations.x: v4 "1" / v3 1'],
            id="type",
        ),
        pytest.param([_sa("a"), _sa("b")], [_sa("a")], ["ServiceAccount/ns/b only in helm v4"], id="resource-missing"),
        pytest.param([_sa("a")], [_sa("a"), _sa("c")], ["ServiceAccount/ns/c only in helm v3"], id="resource-extra"),
        pytest.param(
            [_sa("a", p="1", q="1", r="1", s="1")],
            [_sa("a", p="2", q="2", r="2", s="2")],
            [
                'ServiceAccount/ns/a: metadata.annotations.p: v4 "1" / v3 "2"; metadata.annotations.q: v4 "1" / v3 "2"; metadata.annotations.r: v4 "1" / v3 "2"'
            ],
            id="first-three-paths",
        ),
    ],
)
def test_differences(left: list[dict[str, Any]], right: list[dict[str, Any]], expected_lines: list[str]) -> None:
    assert differences(_docs(*left), _docs(*right), "v4", "v3") == expected_lines


def _gate(chart: Path) -> gate.GateResult:
    return gate.run(discover([chart]), CheckOptions(kube_versions=KUBE_TARGETS[-2:], helm_versions=("v4", "v3")))


@pytest.mark.render
def test_blank_lines_and_comments_are_no_mismatch() -> None:
    result = _gate(CHARTS / "blank-lines")
    texts = {o.job.helm: o.text for o in result.renders if o.job.kube_version == NEWEST_KUBE}
    assert texts["v4"] != texts["v3"], "the fixture must print differently under helm v3 and v4, else it tests nothing"
    assert result.errors == []
    assert result.mismatches == []


@pytest.mark.render
def test_real_difference_reported_once_per_scenario_with_paths() -> None:
    result = _gate(CHARTS / "helm-version")
    # helm's own version string (how the build stamps it is helm's business): v4.x against v3.x
    assert len(result.mismatches) == 1, result.mismatches
    assert re.fullmatch(
        re.escape(
            f"{CHARTS / 'helm-version'}[default]: helm v4 and v3 render different documents (Kubernetes 1.35.0, 1.36.0): "
        )
        + re.escape("ServiceAccount//dsgate-agent: metadata.annotations.example.com/rendered-by: ")
        + r'v4 "v4\.[^"]*" / v3 "v3\.[^"]*"',
        result.mismatches[0],
    ), result.mismatches
    assert result.exit_code() == 1
