"""Source discovery: charts, kustomizations (not components) and plain YAML are found, nothing is hard-listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.gate.sourcekinds import discover
from dsgate.gate.sources import SourceError

pytestmark = pytest.mark.unit


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"c/Chart.yaml": "name: c", "c/templates/a.yaml": "", "c/ci/x-values.yaml": ""},
            [("chart", "c")],
            id="chart-not-descended",
        ),
        pytest.param(
            {
                "k/base/kustomization.yaml": "resources: []",
                "k/overlays/dev/kustomization.yaml": "resources: []",
                "k/components/pdb/kustomization.yaml": "kind: Component",
            },
            [("kustomize", "k/base"), ("kustomize", "k/overlays/dev")],
            id="kustomizations-without-components",
        ),
        pytest.param({"m/a.yaml": "", "m/b.yml": "", "m/README.md": ""}, [("files", "m")], id="plain-yaml-dir"),
        pytest.param({"m/a.yaml": "", "m/sub/b.yaml": ""}, [("files", "m"), ("files", "m/sub")], id="nested-dirs"),
        # dsgate's own dsgate.yaml at a repository's root is configuration, never a manifest (it gave "no apiVersion/kind", exit 2)
        pytest.param(
            {"r/dsgate.yaml": "sources: [.]", "r/sub/a.yaml": ""}, [("files", "r/sub")], id="config-is-not-a-manifest"
        ),
        # a library chart renders nothing itself (helm refuses): the charts that depend on it render it
        pytest.param(
            {
                "charts/lib/Chart.yaml": "name: lib\ntype: library",
                "charts/app/Chart.yaml": "name: app\ntype: application",
            },
            [("chart", "charts/app")],
            id="library-chart-skipped",
        ),
    ],
)
def test_discover(tmp_path: Path, files: dict[str, str], expected: list[tuple[str, str]]) -> None:
    _tree(tmp_path, files)
    found = discover([tmp_path / expected[0][1].split("/")[0]])
    assert [(s.kind, str(s.path.relative_to(tmp_path))) for s in found] == expected


def test_chart_scenarios(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "c/Chart.yaml": "",
            "c/ci/default-values.yaml": "",
            "c/ci/b-values.yaml": "",
            "c/ci/a-values.yaml": "",
            "c/ci/notes.txt": "",
        },
    )
    (source,) = discover([tmp_path / "c"], [tmp_path / "extra.yaml"])
    # the -f file is layered under every scenario: first, then the ci file on top (helm: last file wins)
    assert [(name, [p.relative_to(tmp_path).as_posix() for p in files]) for name, files in source.scenarios()] == [
        ("default", ["extra.yaml"]),
        ("a", ["extra.yaml", "c/ci/a-values.yaml"]),
        ("b", ["extra.yaml", "c/ci/b-values.yaml"]),
    ]


@pytest.mark.parametrize(
    ("files", "target", "expected_message"),
    [
        pytest.param({}, "missing", "no such file or directory", id="missing"),
        pytest.param({"empty/README.md": "x"}, "empty", "nothing to gate", id="no-documents"),
        pytest.param({"a.txt": "x"}, "a.txt", "not a YAML file", id="not-yaml"),
        pytest.param(
            {"lib/Chart.yaml": "name: lib\ntype: library"},
            "lib",
            "a library chart .* check the charts that depend on it",
            id="library-chart",
        ),
    ],
)
def test_discover_rejects(tmp_path: Path, files: dict[str, str], target: str, expected_message: str) -> None:
    _tree(tmp_path, files)
    with pytest.raises(SourceError, match=expected_message):
        discover([tmp_path / target])
