"""dsgate.k8s: the Kubernetes semantics the gate and the cluster share (quantities, selectors)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dsgate.k8s import is_quantity, label_selector_matches, parse_quantity, requirement_matches, selector_matches

pytestmark = pytest.mark.unit

LABELS = {"app": "agent", "tier": "node", "gen": "3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("3800m", Decimal("3.8"), id="milli"),
        pytest.param("16Gi", Decimal(16 * 1024**3), id="binary-suffix"),
        pytest.param("1k", Decimal(1000), id="decimal-suffix"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("110", Decimal(110), id="plain"),
        pytest.param(".5", Decimal("0.5"), id="leading-dot"),
        pytest.param("-2", Decimal(-2), id="negative"),
        pytest.param(2, Decimal(2), id="an-int"),
    ],
)
def test_parse_quantity(text: Any, expected: Decimal) -> None:
    assert parse_quantity(text) == expected
    assert is_quantity(text)


@pytest.mark.parametrize("text", ["lots", "1GB", "1.2.3", "", "Gi", "1 Gi"])
def test_malformed_quantities_rejected(text: str) -> None:
    assert not is_quantity(text)
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("key", "operator", "values", "expected_match"),
    [
        ("app", "In", ["agent", "other"], True),
        ("app", "In", ["other"], False),
        ("missing", "In", ["agent"], False),
        ("app", "NotIn", ["other"], True),
        ("missing", "NotIn", ["agent"], True),
        ("app", "NotIn", ["agent"], False),
        ("tier", "Exists", [], True),
        ("missing", "Exists", [], False),
        ("missing", "DoesNotExist", [], True),
        ("tier", "DoesNotExist", [], False),
        ("gen", "Gt", ["2"], True),
        ("gen", "Gt", ["3"], False),
        ("gen", "Lt", ["4"], True),
        ("app", "Gt", ["1"], False),  # not an integer label
        ("gen", "Gt", [], False),  # no value to compare with
        ("app", "Near", ["agent"], False),  # an unknown operator matches nothing
    ],
)
def test_requirement(key: str, operator: str, values: list[str], expected_match: bool) -> None:
    assert requirement_matches(key, operator, values, LABELS) is expected_match


@pytest.mark.parametrize(
    ("selector", "expected_match"),
    [
        pytest.param(None, False, id="null-selects-nothing"),
        pytest.param({}, True, id="empty-selects-everything"),
        pytest.param({"matchLabels": {"app": "agent"}}, True, id="match-labels"),
        pytest.param({"matchLabels": {"app": "agent", "tier": "edge"}}, False, id="match-labels-all-must-match"),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["node"]}]}, True, id="expression"
        ),
        pytest.param(
            {"matchLabels": {"app": "agent"}, "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            False,
            id="labels-and-expressions",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["1"]}]},
            False,
            id="gt-is-not-a-label-selector-operator",
        ),
    ],
)
def test_label_selector(selector: dict[str, Any] | None, expected_match: bool) -> None:
    assert selector_matches(selector, LABELS) is expected_match


@pytest.mark.parametrize(
    ("selector", "expected_match"),
    [
        ("app=agent", True),
        ("app==agent,tier=node", True),
        ("app!=agent", False),
        ("app in (agent, other),tier notin (edge)", True),
        ("app in (other)", False),
        ("tier", True),
        ("!tier", False),
        ("!missing,app", True),
    ],
)
def test_string_selector(selector: str, expected_match: bool) -> None:
    assert label_selector_matches(selector, LABELS) is expected_match
