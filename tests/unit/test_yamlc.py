"""dsgate.yamlc: libyaml with PyYAML's safe constructors reads what yaml.safe_load reads."""

from __future__ import annotations

import pytest
import yaml

from dsgate import yamlc

pytestmark = pytest.mark.unit

TEXTS = [
    pytest.param("a: 1\nb: [x, y]\n", id="mapping"),
    pytest.param("on: yes\noff: no\nn: ~\n", id="yaml-1.1-booleans-and-null"),
    pytest.param("t: 2026-12-08\nf: 1.5e3\no: 0o17\nh: 0x1f\n", id="timestamps-and-numbers"),
    pytest.param("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n", id="anchor-and-merge-key"),
    pytest.param("s: |\n  two\n  lines\nq: 'it''s'\n", id="block-and-quoted-scalars"),
    pytest.param("bin: !!binary aGVsbG8=\n", id="binary"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("text", TEXTS)
def test_safe_load_reads_what_pyyaml_reads(text: str) -> None:
    assert yamlc.safe_load(text) == yaml.safe_load(text)


def test_safe_load_all_reads_every_document() -> None:
    text = "a: 1\n---\n---\n- 2\n...\n---\nb: !!str 3\n"
    assert list(yamlc.safe_load_all(text)) == list(yaml.safe_load_all(text)) == [{"a": 1}, None, [2], {"b": "3"}]


@pytest.mark.parametrize(
    ("text", "expected_line"),
    [pytest.param("a: [1\nb: 2\n", 2, id="unclosed-flow"), pytest.param("a: 1\n b: 2\n", 2, id="bad-indent")],
)
def test_errors_are_pyyaml_errors_with_the_line(text: str, expected_line: int) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yamlc.safe_load(text)
    assert caught.value.problem_mark is not None
    assert caught.value.problem_mark.line + 1 == expected_line


@pytest.mark.parametrize("tagged", ["!!python/object:os.system x", "!!python/name:os.system"])
def test_python_tags_are_refused(tagged: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        yamlc.safe_load(f"a: {tagged}\n")


def test_it_is_the_c_parser() -> None:
    assert yaml.__with_libyaml__
    assert yamlc._LOADER is yaml.CSafeLoader
