"""helm-batch (helm v4's command tree in one process) and helm3-batch (helm v3's) are byte-identical
to the helm binary of their major, and convert their output's documents as kubectl does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsgate.gate.documents import Provenance, parse_stream
from dsgate.gate.render import (
    HelmBatch,
    RenderError,
    RenderKilled,
    Template,
    documents_of,
    helm_template,
    helm_template_text,
)
from dsgate.gate.sourcekinds import discover
from tests.support import CHARTS, KUBE_TARGETS, NEWEST_KUBE

pytestmark = pytest.mark.render

PROV = Provenance("chart", "chart")

SCENARIOS = [
    pytest.param(source.path, values, id=f"{source.path.name}-{name}")
    for source in discover([CHARTS])
    for name, values in source.scenarios()
]


HELMS = ("v4", "v3")


@pytest.fixture(scope="module")
def batch() -> Iterator[HelmBatch]:
    with HelmBatch(size=1) as pool:
        yield pool


def test_a_stopped_pool_refuses_rather_than_waits() -> None:
    """No helm3-batch was started before the pool stopped: a v3 render is refused, it does not wait for ever."""
    pool = HelmBatch(size=1)
    pool.close()
    with pytest.raises(RenderKilled, match=r"^helm3-batch was stopped with the run$"):
        pool.run(["version", "--short"], "v3")


def test_a_dying_batch_fails_its_render_and_the_next_one_gets_a_new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGATE_HELM3_BATCH", "/bin/false")
    chart = CHARTS / "node-exporter"
    expected = f"helm template {chart} was killed: helm3-batch exited with code 1"
    with HelmBatch(size=1) as pool:
        for _ in range(2):
            with pytest.raises(RenderKilled, match=f"^{re.escape(expected)}$"):
                pool.run(["template", "x", str(chart)], "v3")


def test_both_majors_are_served(batch: HelmBatch) -> None:
    """`dsgate tools install` built helm3-batch beside helm-batch: no v3 render falls back to the binary here."""
    assert [batch.serves(helm) for helm in HELMS] == [True, True]


@pytest.mark.parametrize(("chart", "values_files"), SCENARIOS)
@pytest.mark.parametrize("kube_version", [KUBE_TARGETS[0], NEWEST_KUBE])
@pytest.mark.parametrize("helm", HELMS)
def test_byte_identical(
    batch: HelmBatch, chart: Path, values_files: tuple[Path, ...], kube_version: str, helm: str
) -> None:
    binary = helm_template_text(chart, values_files=values_files, kube_version=kube_version, helm=helm)
    batched = helm_template(chart, values_files=values_files, kube_version=kube_version, helm=helm, batch=batch)
    assert batched.text == binary
    # Our charts avoid every YAML 1.1 reading where sigs.k8s.io/yaml and PyYAML differ.
    parsed = parse_stream(binary, "helm", PROV)
    assert batched.objects == [(d.line, d.obj) for d in parsed]


@pytest.mark.parametrize(
    ("template", "expected_objects"),
    [
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: x\n",
            [(3, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "x"}})],
            id="plain",
        ),
        pytest.param(
            "# only a comment\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n",
            [(3, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})],
            id="comment-only-and-empty-documents-dropped",
        ),
        # Where kubectl (sigs.k8s.io/yaml, YAML 1.1) and PyYAML disagree, the gate reads what the
        # API server would be sent: y/n are booleans (keys become "true"/"false"), 1e3 is a number.
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: y\n  n: 1e3\n  o: on\n  t: 2024-01-01\n",
            [
                (
                    3,
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "a"},
                        "data": {"k": True, "false": 1000, "o": True, "t": "2024-01-01"},
                    },
                )
            ],
            id="yaml-1.1-as-kubectl-reads-it",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: x\n  k: z\n",
            [(3, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "z"}})],
            id="duplicate-key-last-wins",
        ),
    ],
)
def test_documents_converted_as_kubectl_does(
    batch: HelmBatch, tmp_path: Path, template: str, expected_objects: list[tuple[int, object]]
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: t\nversion: 0.1.0\n")
    (tmp_path / "templates" / "t.yaml").write_text(template)
    rendered = helm_template(tmp_path, batch=batch)
    # helm prints "---" and a "# Source:" comment before each document: the object starts on line 3.
    assert rendered.objects == expected_objects
    docs = documents_of(rendered, "helm", PROV)
    assert [(d.line, d.obj, d.index) for d in docs] == [
        (line, obj, i) for i, (line, obj) in enumerate(expected_objects)
    ]


def test_without_conversion_the_text_is_parsed_here() -> None:
    text = "---\n# Source: t\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"
    assert [(d.line, d.obj) for d in documents_of(Template(text), "helm", PROV)] == [
        (3, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})
    ]


@pytest.mark.parametrize("helm", HELMS)
def test_values_dict_identical(batch: HelmBatch, helm: str) -> None:
    values = {"podAnnotations": {"example.com/a": "b"}}
    chart = CHARTS / "node-exporter"
    assert helm_template_text(chart, values=values, helm=helm, batch=batch) == helm_template_text(
        chart, values=values, helm=helm
    )


@pytest.mark.parametrize("helm", HELMS)
def test_errors_identical(batch: HelmBatch, tmp_path: Path, helm: str) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (tmp_path / "templates" / "x.yaml").write_text('{{ fail "values.x is required" }}\n')
    messages = []
    for runner in (None, batch):
        with pytest.raises(RenderError) as err:
            helm_template_text(tmp_path, helm=helm, batch=runner)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "values.x is required" in messages[0]


@pytest.mark.parametrize(
    ("values", "expected_ok"),
    [
        pytest.param({}, True, id="valid"),
        pytest.param({"updateStrategy": {"type": "Foo"}}, False, id="invalid-enum"),
        pytest.param({"bogus": 1}, False, id="unknown-key"),
        pytest.param({"podAnnotations": {"a": "b"}}, True, id="valid-again"),
    ],
)
@pytest.mark.parametrize("chart", ["node-exporter", "fluentd"])
@pytest.mark.parametrize("helm", HELMS)
def test_schema_errors_identical_with_cached_schemas(
    batch: HelmBatch, chart: str, values: dict[str, object], expected_ok: bool, helm: str
) -> None:
    """helm-batch reuses each chart's compiled values schema: verdicts and messages stay helm's."""
    outcomes = []
    for runner in (None, batch):
        try:
            outcomes.append(("ok", helm_template_text(CHARTS / chart, values=values, helm=helm, batch=runner)))
        except RenderError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0] == outcomes[1]
    assert (outcomes[0][0] == "ok") == expected_ok


@pytest.mark.parametrize("helm", HELMS)
def test_changed_schema_is_not_served_from_the_cache(batch: HelmBatch, tmp_path: Path, helm: str) -> None:
    """Both majors carry the schema cache (patch-helm.sh): it is keyed by the schema's text."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: schemaed\nversion: 0.1.0\n")
    (tmp_path / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {size: {{ .Values.size | quote }}}\n"
    )
    schema = tmp_path / "values.schema.json"
    schema.write_text('{"type": "object", "properties": {"size": {"type": "integer"}}}')
    with pytest.raises(RenderError, match="size"):
        helm_template_text(tmp_path, values={"size": "big"}, helm=helm, batch=batch)
    schema.write_text('{"type": "object", "properties": {"size": {"type": "string"}}}')
    assert 'size: "big"' in helm_template_text(tmp_path, values={"size": "big"}, helm=helm, batch=batch)
