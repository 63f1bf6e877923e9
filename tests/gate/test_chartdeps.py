"""Local chart dependencies (file://): which charts a kustomization inflates, and when the packaged copy in
charts/ is stale. The rebuild itself, through the real helm, is in tests/charts/test_shared_helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsgate.gate.chartdeps import kustomize_charts, local_dependencies, stale

pytestmark = pytest.mark.unit

APP = "name: app\nversion: 1.0.0\ndependencies:\n  - name: lib\n    version: 0.1.x\n    repository: file://../lib\n  - name: remote\n    version: 1.x\n    repository: https://charts.example.com\n"


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _age(path: Path, seconds: float) -> None:
    """Set PATH's modification time SECONDS in the past."""
    when = path.stat().st_mtime - seconds
    os.utime(path, (when, when))


def test_local_dependencies_are_the_file_ones(tmp_path: Path) -> None:
    _tree(tmp_path, {"app/Chart.yaml": APP})
    assert local_dependencies(tmp_path / "app") == [("lib", tmp_path / "app" / "../lib")]


@pytest.mark.parametrize(
    ("built", "edited", "library", "expected_stale"),
    [
        # nothing packaged yet (a fresh clone): build
        pytest.param(False, "", True, True, id="not-built"),
        # packaged after the last edit: current
        pytest.param(True, "", True, False, id="current"),
        # the library edited after it was packaged: rebuild
        pytest.param(True, "lib/templates/_a.tpl", True, True, id="library-edited"),
        # the chart's dependency list edited: rebuild
        pytest.param(True, "app/Chart.yaml", True, True, id="chart-yaml-edited"),
        # a copied chart without the library's source: the packaged copy is what there is
        pytest.param(True, "", False, False, id="no-source-but-packaged"),
        # neither packaged nor a source: build (helm names the missing directory)
        pytest.param(False, "", False, True, id="no-source-not-packaged"),
    ],
)
def test_stale(tmp_path: Path, built: bool, edited: str, library: bool, expected_stale: bool) -> None:
    files = {"app/Chart.yaml": APP}
    if library:
        files |= {
            "lib/Chart.yaml": "name: lib\ntype: library\nversion: 0.1.0\n",
            "lib/templates/_a.tpl": '{{- define "lib.a" -}}{{- end }}\n',
        }
    _tree(tmp_path, files)
    for rel in files:
        _age(tmp_path / rel, 100)
    if built:
        _tree(tmp_path, {"app/charts/lib-0.1.0.tgz": "packaged"})
        _age(tmp_path / "app/charts/lib-0.1.0.tgz", 50)
    if edited:
        (tmp_path / edited).write_text((tmp_path / edited).read_text() + "\n")
    assert stale(tmp_path / "app") is expected_stale


def test_chart_without_local_dependencies_is_never_stale(tmp_path: Path) -> None:
    _tree(tmp_path, {"c/Chart.yaml": "name: c\nversion: 1.0.0\n"})
    assert stale(tmp_path / "c") is False


@pytest.mark.parametrize(
    ("files", "start", "expected"),
    [
        # a base inflating a chart beside it (chartHome), reached from an overlay through resources
        pytest.param(
            {
                "charts/agent/Chart.yaml": "name: agent",
                "k/base/kustomization.yaml": "helmGlobals:\n  chartHome: ../../charts\nhelmCharts:\n  - name: agent\n",
                "k/overlay/kustomization.yaml": "resources:\n  - ../base\n  - https://example.com/remote\n",
            },
            "k/overlay",
            ["charts/agent"],
            id="overlay-to-base",
        ),
        # a component inflating a chart from the default chartHome (charts/ below it)
        pytest.param(
            {
                "k/comp/charts/agent/Chart.yaml": "name: agent",
                "k/comp/kustomization.yaml": "kind: Component\nhelmCharts:\n  - name: agent\n",
                "k/top/kustomization.yaml": "components:\n  - ../comp\n",
            },
            "k/top",
            ["k/comp/charts/agent"],
            id="component-default-chart-home",
        ),
        # a chart that is not there locally (pulled from a repo by kustomize): not ours to build
        pytest.param(
            {"k/kustomization.yaml": "helmCharts:\n  - name: remote\n    repo: https://charts.example.com\n"},
            "k",
            [],
            id="pulled-chart",
        ),
        # two paths to one base: once
        pytest.param(
            {
                "charts/agent/Chart.yaml": "name: agent",
                "k/base/kustomization.yaml": "helmGlobals:\n  chartHome: ../../charts\nhelmCharts:\n  - name: agent\n",
                "k/a/kustomization.yaml": "resources:\n  - ../base\n",
                "k/top/kustomization.yaml": "resources:\n  - ../a\n  - ../base\n",
            },
            "k/top",
            ["charts/agent"],
            id="diamond",
        ),
    ],
)
def test_kustomize_charts(tmp_path: Path, files: dict[str, str], start: str, expected: list[str]) -> None:
    _tree(tmp_path, files)
    found = kustomize_charts(tmp_path / start)
    assert [str(p.resolve().relative_to(tmp_path.resolve())) for p in found] == expected
