"""dsgate.jsoncache: an answer is built once per key and read back after; a cache that cannot be
read or written costs the computation, never the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate import jsoncache

pytestmark = pytest.mark.unit


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DSGATE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class Builder:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


@pytest.mark.parametrize(
    ("parts_a", "parts_b", "expected_same"),
    [
        ([b"a", b"b"], [b"a", b"b"], True),
        ([b"a", b"b"], [b"b", b"a"], False),
        ([b"ab", b""], [b"a", b"b"], False),  # the parts' lengths are in the key
        ([b"a"], [b"a", b""], False),
    ],
)
def test_key(parts_a: list[bytes], parts_b: list[bytes], expected_same: bool) -> None:
    assert (jsoncache.key(parts_a) == jsoncache.key(parts_b)) == expected_same
    assert len(jsoncache.key(parts_a)) == 32


def test_built_once_then_read(cache: Path) -> None:
    build = Builder({"x": [1, "two", None]})
    assert jsoncache.load_or_build("t", "k", build) == {"x": [1, "two", None]}
    assert jsoncache.load_or_build("t", "k", build) == {"x": [1, "two", None]}
    assert build.calls == 1
    assert [p.name for p in (cache / "t").iterdir()] == ["k.json"]  # nothing left aside


@pytest.mark.parametrize(
    ("damage", "expected_calls"),
    [
        ("truncated", 1),  # unreadable JSON: built again, and the good file replaces it
        ("directory", 2),  # the file's path is a directory: built each time, never raised
    ],
)
def test_damaged_cache_costs_the_computation(cache: Path, damage: str, expected_calls: int) -> None:
    build = Builder([1, 2, 3])
    path = cache / "t" / "k.json"
    path.parent.mkdir(parents=True)
    if damage == "truncated":
        path.write_text("[1, 2, ")
    else:
        path.mkdir()
    assert jsoncache.load_or_build("t", "k", build) == [1, 2, 3]
    assert jsoncache.load_or_build("t", "k", build) == [1, 2, 3]
    assert build.calls == expected_calls
    assert sorted(p.name for p in path.parent.iterdir()) == ["k.json"]  # nothing left aside


def test_a_value_json_cannot_hold_is_answered_not_kept(cache: Path) -> None:
    build = Builder({"when": {1, 2}})  # a set: json.dumps refuses it
    assert [jsoncache.load_or_build("t", "k", build) for _ in range(2)] == [{"when": {1, 2}}] * 2
    assert build.calls == 2
    assert list((cache / "t").iterdir()) == []


def _pair(value: list[int]) -> tuple[int, int]:
    first, second = value  # ValueError for another length
    return first, second


def test_a_cached_value_of_another_shape_is_built_again_and_replaced(cache: Path) -> None:
    build = Builder([1, 2])
    path = cache / "t" / "k.json"
    path.parent.mkdir(parents=True)
    path.write_text("[1, 2, 3]")
    answers = [jsoncache.load_or_build("t", "k", build, _pair) for _ in range(2)]
    assert answers == [(1, 2), (1, 2)]
    assert build.calls == 1  # the second read the replaced file
    assert path.read_text() == "[1,2]"
