"""Hostile input to `dsgate check`: every case exits 2 with one line naming the file and the cause,
never a traceback (no UnicodeDecodeError, RecursionError, segfault of the YAML parser)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile.support import MINIMAL_DS, assert_no_traceback, assert_refused
from tests.support import dsgate_check

pytestmark = [pytest.mark.hostile, pytest.mark.render]

Case = Callable[[Path], tuple[list[str | Path], list[str]]]  # tmp dir -> (check args, expected fragments)


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _with_config(tmp: Path, limits: str, *sources: str) -> list[str | Path]:
    _write(tmp / "dsgate.yaml", f"sources: [{', '.join(sources)}]\nlimits: {limits}\n")
    return ["--config", tmp / "dsgate.yaml"]


def non_utf8(tmp: Path) -> tuple[list[str | Path], list[str]]:
    data = MINIMAL_DS.encode().replace(b"name: agent,", b"name: ag\xffent,", 1)
    path = _write(tmp / "in" / "ds.yaml", data)
    offset = data.index(0xFF)
    return ["--no-config", path.parent], [str(path), f"byte offset {offset}", "line 3"]


def random_bytes(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "in" / "noise.yaml", random.Random(16).randbytes(4096))
    return ["--no-config", path.parent], [str(path)]


def _nested_annotation(opening: str, closing: str, depth: int) -> str:
    return MINIMAL_DS.replace(
        "metadata: {name: agent, namespace: agents}",
        f"metadata:\n  name: agent\n  annotations:\n    deep: {opening * depth}1{closing * depth}",
    )


def flow_nested_5000(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "in" / "deep.yaml", _nested_annotation("[", "]", 5000))
    return ["--no-config", path.parent], [str(path), "depth=100"]


def flow_nested_200000(
    tmp: Path,
) -> tuple[list[str | Path], list[str]]:  # libyaml's composer would overflow the C stack
    path = _write(tmp / "in" / "deep.yaml", _nested_annotation("[", "]", 200_000))
    return ["--no-config", path.parent], [str(path), "depth=100"]


def block_nested_5000(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "in" / "deep.yaml", MINIMAL_DS + "  extra:\n  " + "- " * 5000 + "x\n")
    return ["--no-config", path.parent], [str(path), "depth=100"]


def mapping_nested_5000(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "in" / "deep.yaml", _nested_annotation("{a: ", "}", 5000))
    return ["--no-config", path.parent], [str(path), "depth=100"]


def config_nested_5000(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "dsgate.yaml", "parameters: " + "[" * 5000 + "]" * 5000 + "\n")
    return ["--config", path, "."], [str(path), "depth=100"]


def config_not_utf8(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "dsgate.yaml", b"sources: [caf\xe9]\n")
    return ["--config", path, "."], [str(path), "byte offset 13"]


def file_symlink_outside(tmp: Path) -> tuple[list[str | Path], list[str]]:
    _write(tmp / "in" / "ds.yaml", MINIMAL_DS)
    (tmp / "in" / "host.yaml").symlink_to("/etc/hostname")
    return ["--no-config", tmp / "in"], [str(tmp / "in" / "host.yaml"), "outside the checked directory"]


def dir_symlink_outside(tmp: Path) -> tuple[list[str | Path], list[str]]:
    _write(tmp / "elsewhere" / "secret.yaml", MINIMAL_DS)
    _write(tmp / "in" / "ds.yaml", MINIMAL_DS)
    (tmp / "in" / "sub").symlink_to(tmp / "elsewhere")
    return ["--no-config", tmp / "in"], [str(tmp / "in" / "sub"), "outside the checked directory"]


def file_size_limit(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "in" / "ds.yaml", MINIMAL_DS + "# padding\n" * 200)
    return _with_config(tmp, "{fileSize: 1Ki}", "in"), [str(path), "fileSize=1024", "dsgate.yaml"]


def documents_limit(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(
        tmp / "in" / "ds.yaml", "---\n".join(MINIMAL_DS.replace("name: agent,", f"name: agent{i},") for i in range(5))
    )
    return _with_config(tmp, "{documents: 3}", "in"), [str(path), "documents=3"]


def documents_limit_across_files(tmp: Path) -> tuple[list[str | Path], list[str]]:
    for i in range(4):
        _write(tmp / "in" / f"ds{i}.yaml", MINIMAL_DS.replace("name: agent,", f"name: agent{i},"))
    return _with_config(tmp, "{documents: 3}", "in"), [str(tmp / "in"), "documents=3"]


def depth_limit_configured(tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = _write(tmp / "in" / "ds.yaml", _nested_annotation("[", "]", 8))
    return _with_config(tmp, "{depth: 5}", "in"), [str(path), "depth=5"]


def bad_limit_value(tmp: Path) -> tuple[list[str | Path], list[str]]:
    _write(tmp / "in" / "ds.yaml", MINIMAL_DS)
    return _with_config(tmp, "{fileSize: -3}", "in"), ["dsgate.yaml", "limits.fileSize"]


def unknown_limit(tmp: Path) -> tuple[list[str | Path], list[str]]:
    _write(tmp / "in" / "ds.yaml", MINIMAL_DS)
    return _with_config(tmp, "{cpu: 3}", "in"), ["dsgate.yaml", "unknown limit(s) cpu"]


def _chart(tmp: Path, template: str, name: str = "hog") -> Path:
    chart = tmp / name
    _write(chart / "Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    _write(chart / "templates" / "cm.yaml", template)
    return chart


def chart_render_size(tmp: Path) -> tuple[list[str | Path], list[str]]:
    _chart(tmp, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  big: {{ repeat 4096 "x" | quote }}\n')
    return _with_config(tmp, "{renderSize: 2Ki}", "hog"), [str(tmp / "hog"), "renderSize=2048", "[default]"]


def chart_nested_output(tmp: Path) -> tuple[list[str | Path], list[str]]:
    _chart(
        tmp,
        'apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: deep}\nspec:\n  a: {{ repeat 5000 "[" }}{{ repeat 5000 "]" }}\n',
    )
    return ["--no-config", tmp / "hog"], [str(tmp / "hog"), "depth=100", "[default]"]


@pytest.mark.parametrize(
    "case",
    [
        non_utf8,
        random_bytes,
        flow_nested_5000,
        flow_nested_200000,
        block_nested_5000,
        mapping_nested_5000,
        config_nested_5000,
        config_not_utf8,
        file_symlink_outside,
        dir_symlink_outside,
        file_size_limit,
        documents_limit,
        documents_limit_across_files,
        depth_limit_configured,
        bad_limit_value,
        unknown_limit,
        chart_render_size,
        chart_nested_output,
    ],
)
def test_refused_with_one_line(case: Case, tmp_path: Path) -> None:
    args, expected_fragments = case(tmp_path)
    assert_refused(dsgate_check(*args, cwd=tmp_path), expected_fragments)


def test_symlink_inside_the_root_is_followed_once(tmp_path: Path) -> None:
    _write(tmp_path / "in" / "ds.yaml", MINIMAL_DS)
    (tmp_path / "in" / "again").symlink_to(tmp_path / "in")  # a loop: walked once, not forever
    (tmp_path / "in" / "alias.yml").symlink_to(tmp_path / "in" / "ds.yaml")
    proc = dsgate_check("--no-config", "--format", "json", tmp_path / "in", cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1), proc.stderr


def test_a_named_symlink_is_the_root(tmp_path: Path) -> None:
    """The path the user names may itself be a link: what it points to is what they asked to check."""
    _write(tmp_path / "real" / "ds.yaml", MINIMAL_DS)
    (tmp_path / "named").symlink_to(tmp_path / "real")
    proc = dsgate_check("--no-config", tmp_path / "named", cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1), proc.stderr
