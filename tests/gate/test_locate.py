"""Reports point at the line: field paths mapped to files and lines (dsgate.gate.locate).

Plain YAML is read with PyYAML here (no tools); charts and kustomizations are rendered with the real
helm and kustomize (marker render). Every expected line is the line a reader sees in the fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.gate.documents import Provenance, load_file
from dsgate.gate.locate import Locator, field_parts, file_location, kustomize_inputs, source_template, template_line, values_reference
from dsgate.gate.pipeline import Job, run_job
from dsgate.gate.render import HelmBatch
from dsgate.gate.sources import Source

DATA = Path(__file__).parent / "data"
COMMUNITY = DATA / "community-daemonset.yaml"
CHART = DATA / "locate" / "chart"
OVERLAY = DATA / "locate" / "kustomize" / "overlay"
BASE = DATA / "locate" / "kustomize" / "base"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("field", "expected_parts"),
    [
        ("spec.template.spec.containers[*].image", ["spec", "template", "spec", "containers", "*", "image"]),
        ("spec.template.spec.containers.0.image", ["spec", "template", "spec", "containers", 0, "image"]),
        ("spec.volumes[2]", ["spec", "volumes", 2]),
        ("", []),
    ],
)
def test_field_parts(field: str, expected_parts: list[str | int]) -> None:
    assert field_parts(field) == expected_parts


@pytest.mark.unit
@pytest.mark.parametrize(
    ("field", "message", "expected_line"),
    [
        pytest.param("", "", 3, id="no-field-is-the-resource"),
        pytest.param("spec.template.spec.tolerations", "", 21, id="present-field"),
        pytest.param("spec.template.spec.containers[*].image", "container <node-exporter>", 26, id="list-item-named-by-message"),
        pytest.param("spec.template.spec.containers[*].resources", "", 32, id="list-item-default-first"),
        pytest.param("spec.template.spec.containers.0.volumeMounts.0.readOnly", "", 36, id="schema-error-path"),
        pytest.param("spec.template.spec.priorityClassName", "", 18, id="missing-field-is-its-parent"),
        pytest.param("spec.updateStrategy.rollingUpdate.maxUnavailable", "", 10, id="missing-subtree-is-deepest-present"),
        pytest.param("spec.template.spec.containers.7.image", "", 24, id="index-out-of-range-is-the-list"),
    ],
)
def test_plain_yaml_field_lines(field: str, message: str, expected_line: int) -> None:
    (document,) = load_file(COMMUNITY, Provenance(str(COMMUNITY), "file"))
    (location,) = file_location(document, field, message)
    assert (location.file, location.line) == (COMMUNITY.resolve(), expected_line)


@pytest.mark.unit
def test_second_document_of_a_file_is_found_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\n# second\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: v\n"
    )
    first, second = load_file(path)
    assert file_location(second, "data.k")[0].line == 12
    assert file_location(first, "metadata.name")[0].line == 4


# lines: 1 ---, 2-4 document A (its # Source: on 2), 5 ---, 6-7 document B of a subchart, 8 ---, 9 document C without a comment
STREAM = "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: A\n---\n# Source: c/charts/sub/templates/b.yaml\nkind: B\n---\nkind: C\n"
SOURCES = {
    3: "c/templates/a.yaml",  # the comment above the first content line
    1: "c/templates/a.yaml",  # a document that starts at its separator
    7: "c/charts/sub/templates/b.yaml",  # the second document, from a subchart
    5: "c/charts/sub/templates/b.yaml",
    9: "",  # no comment: the search stops at the separator
}


@pytest.mark.unit
@pytest.mark.parametrize(("line", "expected_template"), SOURCES.items(), ids=[f"line-{n}" for n in SOURCES])
def test_source_template(line: int, expected_template: str) -> None:
    assert source_template(STREAM, line) == expected_template


# field -> (1-based template line, the .Values reference read there), ids in the comments
TEMPLATE_LINES = {
    "spec.template.spec.priorityClassName": (17, "priorityClassName"),  # the `with` action above the key
    "spec.template.spec.hostNetwork": (19, "hostNetwork"),  # on the line itself
    "spec.template.spec.containers[*].image": (22, "image.repository"),  # the first reference
    "spec.template.spec.tolerations": (15, ""),  # absent: the deepest key found
    "metadata.labels": (5, ""),  # no values
}


@pytest.mark.unit
@pytest.mark.parametrize(("field", "expected_line_and_reference"), TEMPLATE_LINES.items(), ids=list(TEMPLATE_LINES))
def test_template_line_and_values_reference(field: str, expected_line_and_reference: tuple[int, str]) -> None:
    text = (CHART / "templates" / "daemonset.yaml").read_text()
    line = template_line(text, field_parts(field))
    assert (line + 1, values_reference(text, line)) == expected_line_and_reference


@pytest.mark.unit
def test_kustomize_inputs_in_build_order() -> None:
    resources, patches, charts = kustomize_inputs(OVERLAY)
    assert (resources, charts) == ([(BASE / "daemonset.yaml").resolve()], [])
    assert [(p.path.name, bool(p.target)) for p in patches] == [("priority.yaml", False), ("tolerations.yaml", True)]


@pytest.mark.unit
def test_helm_charts_entries_are_found() -> None:
    _, _, charts = kustomize_inputs(Path(__file__).resolve().parents[2] / "kustomize" / "overlays" / "production")
    assert [(c.file.parent.name, c.note) for c in charts] == [("node-exporter", "node-exporter"), ("fluentd", "fluentd")]
    assert all(c.file.read_text().splitlines()[c.line - 1].strip() == f"- name: {c.note}" for c in charts)


def _locations(source: Source, scenario: str = "", values: tuple[Path, ...] = ()) -> Locator:
    with HelmBatch(1) as batch:
        outcome = run_job(Job(source, scenario, values), batch)
    assert not outcome.error, outcome.error
    return Locator([outcome])


def _rel(path: Path) -> str:
    return path.relative_to(DATA.resolve() / "locate").as_posix()


@pytest.mark.render
@pytest.mark.parametrize(
    ("scenario", "field", "expected_locations"),
    [
        pytest.param("default", "spec.template.spec.priorityClassName", [("chart/templates/daemonset.yaml", 17), ("chart/values.yaml", 4)], id="unset-default"),
        pytest.param(
            "bad", "spec.template.spec.priorityClassName", [("chart/templates/daemonset.yaml", 17), ("chart/ci/bad-values.yaml", 2)], id="scenario-sets-it"
        ),
        pytest.param(
            "bad", "spec.template.spec.hostNetwork", [("chart/templates/daemonset.yaml", 19), ("chart/ci/bad-values.yaml", 3)], id="scenario-host-network"
        ),
        pytest.param("default", "spec.template.spec.containers[*].image", [("chart/templates/daemonset.yaml", 22), ("chart/values.yaml", 2)], id="image"),
        pytest.param("default", "metadata.labels", [("chart/templates/daemonset.yaml", 5)], id="no-values"),
        pytest.param("default", "", [("chart/templates/daemonset.yaml", 2)], id="resource-is-its-kind-line"),
    ],
)
def test_chart_locations(scenario: str, field: str, expected_locations: list[tuple[str, int]]) -> None:
    values = () if scenario == "default" else (CHART / "ci" / f"{scenario}-values.yaml",)
    locate = _locations(Source("chart", CHART), scenario, values)
    label = f"{CHART}[{scenario}]"
    assert [(_rel(loc.file), loc.line) for loc in locate(label, "DaemonSet//dsgate-agent", field)] == expected_locations


@pytest.mark.render
@pytest.mark.parametrize(
    ("field", "expected_locations"),
    [
        pytest.param("spec.template.spec.priorityClassName", [("kustomize/overlay/priority.yaml", 10)], id="strategic-merge-patch"),
        pytest.param("spec.template.spec.tolerations", [("kustomize/overlay/tolerations.yaml", 2)], id="json-6902-patch"),
        pytest.param("spec.template.spec.hostNetwork", [("kustomize/base/daemonset.yaml", 18)], id="resource-file"),
        pytest.param("", [("kustomize/base/daemonset.yaml", 2)], id="resource"),
    ],
)
def test_kustomize_locations(field: str, expected_locations: list[tuple[str, int]]) -> None:
    locate = _locations(Source("kustomize", OVERLAY))
    assert [(_rel(loc.file), loc.line) for loc in locate(str(OVERLAY), "DaemonSet/agents/agent", field)] == expected_locations
