"""Reports point at the line: field paths mapped to files and lines (dsgate.gate.locate).

Plain YAML is read with PyYAML here (no tools); charts and kustomizations are rendered with the real
helm and kustomize (marker render). Every expected line is the line a reader sees in the fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.gate import pipeline as gate
from dsgate.gate import report, templates
from dsgate.gate.documents import Provenance, load_file
from dsgate.gate.locate import Locator, field_parts, file_location, kustomize_inputs, source_template
from dsgate.gate.options import CheckOptions
from dsgate.gate.render import HelmBatch
from dsgate.gate.sourcekinds import ChartSource, KustomizeSource, discover
from dsgate.gate.sources import Job, Source
from dsgate.gate.stages import run_job
from tests.support import KUBE_TARGETS

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
        pytest.param(
            "spec.template.spec.containers[*].image", "container <node-exporter>", 26, id="list-item-named-by-message"
        ),
        pytest.param("spec.template.spec.containers[*].resources", "", 32, id="list-item-default-first"),
        pytest.param("spec.template.spec.containers.0.volumeMounts.0.readOnly", "", 36, id="schema-error-path"),
        pytest.param("spec.template.spec.priorityClassName", "", 18, id="missing-field-is-its-parent"),
        pytest.param(
            "spec.updateStrategy.rollingUpdate.maxUnavailable", "", 10, id="missing-subtree-is-deepest-present"
        ),
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


# field -> (1-based template line, the values keys claimed there), ids in the comments
TEMPLATE_LINES = {
    "spec.template.spec.priorityClassName": (
        17,
        ["priorityClassName"],
    ),  # `{{ . }}` under `with .Values.priorityClassName`
    "spec.template.spec.hostNetwork": (19, ["hostNetwork"]),  # read on the line itself
    "spec.template.spec.containers[0].image": (22, ["image.repository", "image.tag"]),  # every reference of the line
    "spec.template.spec.tolerations": (15, []),  # absent: the deepest key found, nothing claimed
    "spec.template.spec.containers[0].readinessProbe": (21, []),  # absent: the item, not `hostNetwork` two lines up
    "metadata.labels": (5, []),  # literal: no values
}


@pytest.mark.unit
@pytest.mark.parametrize(("field", "expected_line_and_claims"), TEMPLATE_LINES.items(), ids=list(TEMPLATE_LINES))
def test_template_line_and_claims(field: str, expected_line_and_claims: tuple[int, list[str]]) -> None:
    path = CHART / "templates" / "daemonset.yaml"
    walker = templates.Walk(templates.Defines(CHART))
    walker.names[4], walker.sizes[4] = "agent", 1
    hit = walker.field(templates.whole_file(path), field_parts(field))
    assert hit is not None
    assert (hit.line, [key for key, _ in hit.claims]) == expected_line_and_claims


@pytest.mark.unit
def test_kustomize_inputs_in_build_order() -> None:
    resources, patches, charts = kustomize_inputs(OVERLAY)
    assert (resources, charts) == ([(BASE / "daemonset.yaml").resolve()], [])
    assert [(p.path.name, bool(p.target)) for p in patches] == [("priority.yaml", False), ("tolerations.yaml", True)]


@pytest.mark.unit
def test_helm_charts_entries_are_found() -> None:
    _, _, charts = kustomize_inputs(Path(__file__).resolve().parents[2] / "kustomize" / "overlays" / "production")
    assert [(c.file.parent.name, c.note) for c in charts] == [
        ("node-exporter", "node-exporter"),
        ("fluentd", "fluentd"),
    ]
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
        pytest.param(
            "default",
            "spec.template.spec.priorityClassName",
            [("chart/templates/daemonset.yaml", 17), ("chart/values.yaml", 4)],
            id="unset-default",
        ),
        pytest.param(
            "bad",
            "spec.template.spec.priorityClassName",
            [("chart/templates/daemonset.yaml", 17), ("chart/ci/bad-values.yaml", 2)],
            id="scenario-sets-it",
        ),
        pytest.param(
            "bad",
            "spec.template.spec.hostNetwork",
            [("chart/templates/daemonset.yaml", 19), ("chart/ci/bad-values.yaml", 3)],
            id="scenario-host-network",
        ),
        pytest.param(
            "default",
            "spec.template.spec.containers[*].image",
            [("chart/templates/daemonset.yaml", 22), ("chart/values.yaml", 2), ("chart/values.yaml", 3)],
            id="image-repository-and-tag",
        ),
        pytest.param("default", "metadata.labels", [("chart/templates/daemonset.yaml", 5)], id="no-values"),
        pytest.param("default", "", [("chart/templates/daemonset.yaml", 2)], id="resource-is-its-kind-line"),
    ],
)
def test_chart_locations(scenario: str, field: str, expected_locations: list[tuple[str, int]]) -> None:
    values = () if scenario == "default" else (CHART / "ci" / f"{scenario}-values.yaml",)
    locate = _locations(ChartSource(CHART), scenario, values)
    label = f"{CHART}[{scenario}]"
    assert [(_rel(loc.file), loc.line) for loc in locate(label, "DaemonSet//dsgate-agent", field)] == expected_locations


@pytest.mark.render
@pytest.mark.parametrize(
    ("field", "expected_locations"),
    [
        pytest.param(
            "spec.template.spec.priorityClassName",
            [("kustomize/overlay/priority.yaml", 10)],
            id="strategic-merge-patch",
        ),
        pytest.param(
            "spec.template.spec.tolerations", [("kustomize/overlay/tolerations.yaml", 2)], id="json-6902-patch"
        ),
        pytest.param("spec.template.spec.hostNetwork", [("kustomize/base/daemonset.yaml", 18)], id="resource-file"),
        pytest.param("", [("kustomize/base/daemonset.yaml", 2)], id="resource"),
    ],
)
def test_kustomize_locations(field: str, expected_locations: list[tuple[str, int]]) -> None:
    locate = _locations(KustomizeSource(OVERLAY))
    assert [
        (_rel(loc.file), loc.line) for loc in locate(str(OVERLAY), "DaemonSet/agents/agent", field)
    ] == expected_locations


LIST = (
    DATA / "locate" / "list.yaml"
)  # a List: a ServiceAccount, a DaemonSet with a privileged init container, a nested List


@pytest.mark.unit
@pytest.mark.parametrize(
    ("ref", "field", "message", "expected_line"),
    [
        pytest.param("ServiceAccount/logging/log-agent", "", "", 5, id="first-item-is-its-own-line"),
        pytest.param("ServiceAccount/logging/log-agent", "metadata.name", "", 8, id="field-of-first-item"),
        pytest.param("DaemonSet/logging/log-agent", "", "", 10, id="second-item"),
        pytest.param(
            "DaemonSet/logging/log-agent",
            "spec.template.spec.containers[*].securityContext.privileged",
            "DaemonSet <logging/log-agent> init container <fix-permissions> is privileged",
            28,
            id="init-container-field",
        ),
        # a DaemonSet named like its main container: the message's `init container <...>` decides, not the resource's name
        pytest.param(
            "DaemonSet/logging/log-agent",
            "spec.template.spec.containers[*].securityContext.privileged",
            "DaemonSet <log-agent> init container <fix-permissions> is privileged",
            28,
            id="init-container-of-a-daemonset-named-like-its-container",
        ),
        pytest.param(
            "DaemonSet/logging/log-agent",
            "spec.template.spec.containers[*].securityContext.privileged",
            "DaemonSet <logging/log-agent> container <log-agent> is privileged",
            32,
            id="main-container-missing-field-is-its-parent",
        ),
        pytest.param(
            "DaemonSet/logging/log-agent",
            "spec.template.spec.containers[*].resources",
            "DaemonSet <logging/log-agent> init container <fix-permissions> has no memory limit",
            25,
            id="init-container-missing-field-is-the-item",
        ),
        pytest.param("ConfigMap/logging/log-agent-config", "data.level", "", 47, id="item-of-a-nested-list"),
    ],
)
def test_list_items_and_init_containers_in_plain_yaml(ref: str, field: str, message: str, expected_line: int) -> None:
    (document,) = [d for d in load_file(LIST, Provenance(str(LIST), "file")) if d.ref == ref]
    (location,) = file_location(document, field, message)
    assert (location.file, location.line) == (LIST.resolve(), expected_line)


AGENT = (
    DATA / "locate" / "agent"
)  # CNI-style: installer init container and securityContext from _helpers.tpl, a helper-made DaemonSet, a List
INIT = "DaemonSet <dsgate-agent> init container <install-plugin>"
MAIN = "DaemonSet <dsgate-agent> container <agent>"
SC = "spec.template.spec.containers[*].securityContext"


@pytest.mark.render
@pytest.mark.parametrize(
    ("scenario", "ref", "field", "message", "expected_locations"),
    [
        # the init container's own lines, in the helper that writes it; a literal value claims no values key
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            f"{SC}.privileged",
            INIT,
            [("agent/templates/_helpers.tpl", 11, "")],
            id="init-privileged",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.containers[*].image",
            INIT,
            [
                ("agent/templates/_helpers.tpl", 9, ""),
                ("agent/values.yaml", 6, "set by installer.repository"),
                ("agent/values.yaml", 7, "set by installer.tag"),
            ],
            id="init-image",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.containers[*].resources",
            INIT,
            [("agent/templates/_helpers.tpl", 8, "")],
            id="init-missing-field",
        ),
        # the main container's securityContext: the helper's toYaml line, set by the values key below it
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            f"{SC}.privileged",
            MAIN,
            [("agent/templates/_helpers.tpl", 20, ""), ("agent/values.yaml", 10, "set by securityContext.privileged")],
            id="main-privileged-from-values",
        ),
        pytest.param(
            "debug",
            "DaemonSet//dsgate-agent",
            f"{SC}.privileged",
            MAIN,
            [
                ("agent/templates/_helpers.tpl", 20, ""),
                ("agent/ci/debug-values.yaml", 2, "set by securityContext.privileged"),
            ],
            id="scenario-file-sets-it",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            f"{SC}.capabilities.drop",
            MAIN,
            [("agent/templates/_helpers.tpl", 20, ""), ("agent/values.yaml", 9, "set by securityContext")],
            id="missing-under-values-map-is-the-map",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.containers[*].readinessProbe",
            MAIN,
            [("agent/templates/daemonset.yaml", 27, "")],
            id="main-missing-field",
        ),
        # pod-level fields: a hard-coded value claims nothing, not the `hostNetwork` value on the line above
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.hostPID",
            "",
            [("agent/templates/daemonset.yaml", 17, "")],
            id="hard-coded-host-pid",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.hostNetwork",
            "",
            [("agent/templates/daemonset.yaml", 16, ""), ("agent/values.yaml", 8, "set by hostNetwork")],
            id="host-network-from-values",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.nodeSelector",
            "",
            [("agent/templates/daemonset.yaml", 19, ""), ("agent/values.yaml", 11, "set by nodeSelector")],
            id="with-dot",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.tolerations",
            "",
            [("agent/templates/daemonset.yaml", 22, ""), ("agent/values.yaml", 13, "set by tolerations")],
            id="to-yaml-block",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "spec.template.spec.volumes",
            "",
            [("agent/templates/daemonset.yaml", 42, "")],
            id="literal-host-path",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-agent",
            "metadata.labels",
            "",
            [("agent/templates/daemonset.yaml", 5, "")],
            id="labels-from-a-helper-claim-nothing",
        ),
        # a DaemonSet written wholly by a helper: its lines in the .tpl file, not line 1 of probe.yaml
        pytest.param(
            "default", "DaemonSet//dsgate-probe", "", "", [("agent/templates/_probe.tpl", 4, "")], id="helper-resource"
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-probe",
            "spec.template.spec.containers[*].image",
            "DaemonSet <dsgate-probe> container <probe>",
            [("agent/templates/_probe.tpl", 18, "")],
            id="helper-field",
        ),
        # `env:` then `with .Values.probeEnv` + toYaml at the key column: env's list, not where readinessProbe would be
        pytest.param(
            "default",
            "DaemonSet//dsgate-probe",
            "spec.template.spec.containers[*].readinessProbe",
            "DaemonSet <dsgate-probe> container <probe>",
            [("agent/templates/_probe.tpl", 17, "")],
            id="list-under-a-key-is-the-keys",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-probe",
            "spec.template.spec.priorityClassName",
            "",
            [("agent/templates/_probe.tpl", 15, "")],
            id="helper-missing-field",
        ),
        # two DaemonSets in one template (linux, windows), each found by the literal part of its name
        pytest.param(
            "default",
            "DaemonSet//dsgate-node",
            "spec.template.spec.containers[*].image",
            "DaemonSet <dsgate-node> container <node>",
            [("agent/templates/node.yaml", 16, "")],
            id="first-daemonset-of-a-template",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-node-windows",
            "spec.template.spec.containers[*].image",
            "DaemonSet <dsgate-node-windows> container <node>",
            [("agent/templates/node.yaml", 35, "")],
            id="second-daemonset-of-a-template",
        ),
        pytest.param(
            "default",
            "DaemonSet//dsgate-node-windows",
            "",
            "",
            [("agent/templates/node.yaml", 19, "")],
            id="second-daemonset-resource",
        ),
        # each item of a List at its own line
        pytest.param(
            "default",
            "ServiceAccount//dsgate-agent",
            "",
            "",
            [("agent/templates/accounts.yaml", 4, "")],
            id="list-first-item",
        ),
        pytest.param(
            "default",
            "ServiceAccount//dsgate-probe",
            "",
            "",
            [("agent/templates/accounts.yaml", 8, "")],
            id="list-second-item",
        ),
        pytest.param(
            "default",
            "ServiceAccount//dsgate-probe",
            "metadata.name",
            "",
            [("agent/templates/accounts.yaml", 11, "")],
            id="list-item-field",
        ),
    ],
)
def test_agent_chart_locations(
    scenario: str, ref: str, field: str, message: str, expected_locations: list[tuple[str, int, str]]
) -> None:
    values = () if scenario == "default" else (AGENT / "ci" / f"{scenario}-values.yaml",)
    locate = _locations(ChartSource(AGENT), scenario, values)
    assert [
        (_rel(loc.file), loc.line, loc.note) for loc in locate(f"{AGENT}[{scenario}]", ref, field, message)
    ] == expected_locations


@pytest.fixture(scope="module")
def agent_result() -> gate.GateResult:
    return gate.run(discover([AGENT]), CheckOptions(kube_versions=KUBE_TARGETS[-1:]))


@pytest.mark.render
@pytest.mark.parametrize(
    ("field", "subject", "expected_locations"),
    [
        # the init container's finding at the init container's lines, not the main container's (DS-SEC-007)
        (f"{SC}.privileged", "init container <install-plugin>", [("agent/templates/_helpers.tpl", 11, "")]),
        (
            f"{SC}.privileged",
            "container <agent>",
            [("agent/templates/_helpers.tpl", 20, ""), ("agent/values.yaml", 10, "set by securityContext.privileged")],
        ),
        (
            "spec.template.spec.containers[*].resources",
            "init container <install-plugin>",
            [("agent/templates/_helpers.tpl", 8, "")],
        ),  # DS-RES-001
        # DS-HST-005 names the host namespace it found: a hard-coded hostPID is not "set by hostNetwork"
        ("spec.template.spec.hostPID", "<dsgate-agent>", [("agent/templates/daemonset.yaml", 17, "")]),
        (
            "spec.template.spec.hostNetwork",
            "<dsgate-agent>",
            [("agent/templates/daemonset.yaml", 16, ""), ("agent/values.yaml", 8, "set by hostNetwork")],
        ),
        # a DaemonSet a helper writes: the helper's lines (DS-PRI-001)
        ("spec.template.spec.priorityClassName", "<dsgate-probe>", [("agent/templates/_probe.tpl", 15, "")]),
    ],
)
def test_agent_chart_findings_point_at_their_lines(
    agent_result: gate.GateResult, field: str, subject: str, expected_locations: list[tuple[str, int, str]]
) -> None:
    # chosen by field, not rule id: every finding the library gives on that field of that subject points there
    places = report.Places(agent_result)
    findings = [
        f
        for f in agent_result.findings
        if f.field == field and subject in f.message and ("init container" in f.message) == ("init " in subject)
    ]
    assert findings, f"no finding on {field} of {subject}"
    assert {tuple((_rel(loc.file), loc.line, loc.note) for loc in places.of_finding(f)) for f in findings} == {
        tuple(expected_locations)
    }


@pytest.mark.unit
def test_include_of_a_define_not_in_the_chart_points_at_the_include(tmp_path: Path) -> None:
    # a library chart packed as a .tgz: its defines are not read, so the include line is named, with a note
    (tmp_path / "templates").mkdir()
    path = tmp_path / "templates" / "daemonset.yaml"
    path.write_text(
        'apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      {{- include "common.podSpec" . | nindent 6 }}\n'
    )
    hit = templates.Walk(templates.Defines(tmp_path)).field(
        templates.whole_file(path), ["spec", "template", "spec", "containers", 0, "image"]
    )
    assert hit is not None
    assert (hit.line, hit.claims, hit.note) == (
        6,
        [],
        'written by include "common.podSpec", whose define is not in the chart',
    )


KUSTOMIZE_LIST = DATA / "locate" / "kustomize-list"  # a List resource; a patch gives only the main container resources


@pytest.mark.render
@pytest.mark.parametrize(
    ("ref", "field", "message", "expected_locations"),
    [
        pytest.param(
            "ServiceAccount/agents/agent", "", "", [("kustomize-list/agent-list.yaml", 5, "")], id="list-item-resource"
        ),
        pytest.param(
            "DaemonSet/agents/agent",
            "spec.template.spec.containers[*].securityContext.privileged",
            "DaemonSet <agents/agent> init container <installer> is privileged",
            [("kustomize-list/agent-list.yaml", 28, "")],
            id="init-container-in-a-list-item",
        ),
        # the patch sets resources on container <agent> only: the installer's missing resources are not the patch's
        pytest.param(
            "DaemonSet/agents/agent",
            "spec.template.spec.containers[*].resources",
            "DaemonSet <agents/agent> init container <installer> has no memory limit",
            [("kustomize-list/agent-list.yaml", 25, "")],
            id="patch-of-another-container-is-not-the-place",
        ),
        pytest.param(
            "DaemonSet/agents/agent",
            "spec.template.spec.containers[*].resources",
            "DaemonSet <agent> init container <installer> has no memory limit",
            [("kustomize-list/agent-list.yaml", 25, "")],
            id="init-container-of-a-daemonset-named-like-its-container",
        ),
        pytest.param(
            "DaemonSet/agents/agent",
            "spec.template.spec.containers[*].resources",
            "DaemonSet <agents/agent> container <agent> has no cpu limit",
            [("kustomize-list/resources.yaml", 12, "patch")],
            id="patch-of-this-container",
        ),
    ],
)
def test_kustomize_list_and_init_container_locations(
    ref: str, field: str, message: str, expected_locations: list[tuple[str, int, str]]
) -> None:
    locate = _locations(KustomizeSource(KUSTOMIZE_LIST))
    assert [
        (_rel(loc.file), loc.line, loc.note) for loc in locate(str(KUSTOMIZE_LIST), ref, field, message)
    ] == expected_locations


@pytest.mark.render
def test_condition_around_a_whole_resource_sets_no_field(tmp_path: Path) -> None:
    # `if .Values.linux.enabled` right above `kind:`: it decides whether the resource exists, it sets none of its fields
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("linux:\n  enabled: true\n")
    (chart / "templates" / "cm.yaml").write_text(
        "{{- if .Values.linux.enabled }}\nkind: ConfigMap\napiVersion: v1\nmetadata:\n  name: c\n{{- end }}\n"
    )
    locate = _locations(ChartSource(chart), "default")
    assert [(loc.file.name, loc.line, loc.note) for loc in locate(f"{chart}[default]", "ConfigMap//c", "")] == [
        ("cm.yaml", 2, "")
    ]
