"""Loading YAML streams: documents keep provenance; bad input names file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.gate.documents import DocumentError, Provenance, load_file, parse_stream

pytestmark = pytest.mark.unit

PROV = Provenance(source="x.yaml", kind="file")


@pytest.mark.parametrize(
    ("text", "expected_refs", "expected_lines"),
    [
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n", ["ConfigMap/n/a"], [1], id="one"
        ),
        pytest.param(
            "---\n# c\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
            ["ServiceAccount//s", "Namespace//n"],
            [4, 10],
            id="empty-docs-dropped",
        ),
        pytest.param("", [], [], id="empty-stream"),
    ],
)
def test_parse_stream(text: str, expected_refs: list[str], expected_lines: list[int]) -> None:
    docs = parse_stream(text, "x.yaml", PROV)
    assert [d.ref for d in docs] == expected_refs
    assert [d.line for d in docs] == expected_lines
    assert [d.index for d in docs] == list(range(len(expected_refs)))
    assert all(d.provenance is PROV for d in docs)


@pytest.mark.parametrize(
    ("text", "expected_message"),
    [
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   bad: indent\n",
            "x.yaml:5:",
            id="bad-indent-line-5",
        ),
        pytest.param("apiVersion: v1\nkind: [unclosed\n", "x.yaml:3:", id="unclosed-flow"),
        pytest.param("- a\n- b\n", "x.yaml:1: document is a list", id="not-a-mapping"),
        pytest.param(
            "apiVersion: v1\nmetadata: {name: a}\n", "x.yaml:1: document has no apiVersion/kind", id="no-kind"
        ),
        pytest.param(
            "apiVersion: v1\nkind: A\n---\nkind: B\n", "x.yaml:4: document has no apiVersion/kind", id="second-doc-line"
        ),
    ],
)
def test_parse_stream_rejects(text: str, expected_message: str) -> None:
    with pytest.raises(DocumentError) as err:
        parse_stream(text, "x.yaml", PROV)
    assert expected_message in str(err.value)


def test_load_file_missing(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read"):
        load_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("scalar", "expected_value"),
    [
        pytest.param("100m", "100m", id="quantity-string"),
        pytest.param("1.5", 1.5, id="float"),
        pytest.param(".1E+400", ".1E+400", id="overflowing-float-stays-a-string-as-in-go"),
        pytest.param("-1.0e+999", "-1.0e+999", id="overflowing-negative-float"),
        pytest.param(".inf", float("inf"), id="explicit-infinity"),
        pytest.param("-.Inf", float("-inf"), id="explicit-negative-infinity"),
        pytest.param("=", "=", id="value-tag"),
    ],
)
def test_scalars_read_as_kubernetes_reads_them(scalar: str, expected_value: object) -> None:
    docs = parse_stream(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {{k: {scalar}}}\n", "x.yaml", PROV
    )
    assert docs[0].obj["data"]["k"] == expected_value
