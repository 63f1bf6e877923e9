"""dsgate.docs.chartdocs: helm-docs style values.yaml comments -> README values table, and every chart's
README is current."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.support import CHARTS

from dsgate.docs.chartdocs import (
    END_MARKER,
    START_MARKER,
    ChartDocsError,
    ValueDoc,
    main,
    parse_values,
    render_table,
    update_readme,
)

pytestmark = pytest.mark.render

CHARTS_WITH_TABLES = sorted(p.parent for p in CHARTS.glob("*/README.md") if START_MARKER in p.read_text())


def _chart(tmp_path: Path, values: str, readme: str | None = None) -> Path:
    (tmp_path / "values.yaml").write_text(textwrap.dedent(values))
    (tmp_path / "README.md").write_text(readme if readme is not None else f"# t\n\n{START_MARKER}\n{END_MARKER}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("values", "expected_rows"),
    [
        pytest.param(
            """\
            # -- Pull policy.
            pullPolicy: IfNotPresent
            """,
            [ValueDoc("pullPolicy", "string", '`"IfNotPresent"`', "Pull policy.", 2)],
            id="scalar",
        ),
        pytest.param(
            """\
            # -- The image.
            image:
              # -- Tag; multi-line
              # description.
              # @default -- appVersion
              tag: ""
              # -- (int) Replicas.
              count: null
            """,
            [
                ValueDoc("image", "object", "", "The image.", 2),
                ValueDoc("image.tag", "string", "appVersion", "Tag; multi-line description.", 6),
                ValueDoc("image.count", "int", "`null`", "Replicas.", 8),
            ],
            id="nested-multiline-default-and-type-override",
        ),
        pytest.param(
            """\
            # -- Node selector (free-form map: one row).
            nodeSelector:
              kubernetes.io/os: linux
            # some unrelated comment
            # -- Tolerations.
            tolerations:
              - operator: Exists
            # -- Flags.
            flags: {a: [1, 2], b: true}
            """,
            [
                ValueDoc(
                    "nodeSelector",
                    "object",
                    '`{"kubernetes.io/os":"linux"}`',
                    "Node selector (free-form map: one row).",
                    2,
                ),
                ValueDoc("tolerations", "list", '`[{"operator":"Exists"}]`', "Tolerations.", 6),
                ValueDoc("flags", "object", '`{"a":[1,2],"b":true}`', "Flags.", 9),
            ],
            id="free-form-map-list-and-flow-style",
        ),
        pytest.param(
            """\
            # -- Pipes | in text.
            x: "a|b"
            """,
            [ValueDoc("x", "string", '`"a|b"`', "Pipes | in text.", 2)],
            id="pipes",
        ),
    ],
)
def test_parse_values(tmp_path: Path, values: str, expected_rows: list[ValueDoc]) -> None:
    assert parse_values(_chart(tmp_path, values) / "values.yaml") == expected_rows


@pytest.mark.parametrize(
    ("values", "expected_error"),
    [
        pytest.param("a: 1\n", "values.yaml:1: key 'a' has no '# --' description comment", id="undocumented"),
        pytest.param("# plain comment\na: 1\n", "key 'a' has no '# --'", id="plain-comment-is-not-doc"),
        pytest.param(
            "# -- A.\na:\n  # -- B.\n  b: 1\n  c: 2\n",
            "values.yaml:5: key 'a.c' has no '# --'",
            id="sibling-of-documented-child",
        ),
        pytest.param("# -- A.\na: 1\n\nb: 2\n", "key 'b' has no", id="blank-line-separates-comment"),
        pytest.param("# --\na: 1\n", "key 'a' has an empty '# --' description", id="empty-description"),
        pytest.param("a: [1\n", "malformed YAML", id="malformed"),
    ],
)
def test_parse_values_rejects(tmp_path: Path, values: str, expected_error: str) -> None:
    with pytest.raises(ChartDocsError) as info:
        parse_values(_chart(tmp_path, values) / "values.yaml")
    assert expected_error in str(info.value)


def test_render_table_escapes_pipes() -> None:
    table = render_table([ValueDoc("x", "string", '`"a|b"`', "A | B.", 2)])
    assert table.splitlines() == [
        "| Key | Type | Default | Description |",
        "|-----|------|---------|-------------|",
        '| x | string | `"a\\|b"` | A \\| B. |',
    ]


def test_update_and_check_round_trip(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "# -- A.\na: 1\n", f"# t\nintro\n{START_MARKER}\nold table\n{END_MARKER}\nfooter\n")
    assert update_readme(chart, check=True) is True
    assert "old table" in (chart / "README.md").read_text()  # --check never writes
    assert update_readme(chart) is True
    text = (chart / "README.md").read_text()
    assert (
        text
        == f"# t\nintro\n{START_MARKER}\n| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n| a | int | `1` | A. |\n{END_MARKER}\nfooter\n"
    )
    assert update_readme(chart, check=True) is False


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = _chart(tmp_path, "# -- A.\na: 1\n")
    assert main([str(chart), "--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert main([str(chart)]) == 0
    assert main([str(chart), "--check"]) == 0
    (chart / "values.yaml").write_text("a: 1\n")
    assert main([str(chart), "--check"]) == 2
    assert "no '# --' description" in capsys.readouterr().err


def test_missing_markers(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "# -- A.\na: 1\n", "# no markers\n")
    with pytest.raises(ChartDocsError, match="values-table:start"):
        update_readme(chart)


def test_node_exporter_has_a_table() -> None:
    assert CHARTS / "node-exporter" in CHARTS_WITH_TABLES


@pytest.mark.parametrize("chart", CHARTS_WITH_TABLES, ids=lambda p: p.name)
def test_chart_readme_is_current(chart: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.docs.chartdocs", str(chart), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
