"""The Evidence column's source: evidence(...) markers on the behaviour experiments (read with ast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.docs.evidence import cell, collect, render_table

pytestmark = pytest.mark.unit


def test_every_runtime_hazard_rule_has_an_experiment() -> None:
    found = collect()
    assert {e.rule_id for e in found} == {
        "DS-TOL-001",
        "DS-TOL-003",
        "DS-TOL-004",
        "DS-ROL-004",
        "DS-ROL-005",
        "DS-ROL-006",
        "DS-PDB-002",
        "DS-PRI-001",
    }
    assert all(e.test.startswith("tests/cluster/behaviour/test_") and "::test_" in e.test for e in found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            '@pytest.mark.evidence("DS-X-1", "shows it")\ndef test_a(): pass\n',
            [("DS-X-1", "shows it", "test_a")],
            id="marker",
        ),
        pytest.param("@pytest.mark.unit\ndef test_a(): pass\n", [], id="other-marker"),
        pytest.param('@pytest.mark.evidence("DS-X-1", "shows it")\ndef helper(): pass\n', [], id="not-a-test"),
    ],
)
def test_collect(tmp_path: Path, source: str, expected: list[tuple[str, str, str]]) -> None:
    (tmp_path / "test_x.py").write_text(source)
    assert [(e.rule_id, e.claim, e.test.split("::")[1]) for e in collect(tmp_path)] == expected


def test_marker_without_claim_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text('@pytest.mark.evidence("DS-X-1")\ndef test_a(): pass\n')
    with pytest.raises(ValueError, match=r"test_x.py: line 1: pytest.mark.evidence takes two strings"):
        collect(tmp_path)


def test_table_links_each_experiment(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text('@pytest.mark.evidence("DS-X-1", "shows it")\ndef test_a(): pass\n')
    found = collect(tmp_path)
    assert cell(found, "../").endswith(": shows it") and "[`test_a`](../" in cell(found, "../")
    table = render_table({"DS-X-1": "A rule"}, found)
    assert "| DS-X-1 | A rule | [`test_a`](" in table
    assert cell([], "") == "-"
