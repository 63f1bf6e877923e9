"""Inputs kubectl accepts: list objects, removed and deprecated API versions, CRDs in the input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import yamlc
from dsgate.gate import pipeline as gate
from dsgate.gate.apiversions import deprecation_warnings
from dsgate.gate.documents import DocumentError, Provenance, parse_stream
from dsgate.gate.options import CheckOptions
from dsgate.gate.validate import Validator
from tests.support import KUBE_TARGETS, NEWEST_KUBE

DATA = Path(__file__).parent / "data"
PROV = Provenance("in.yaml", "file")
TARGETS = [KUBE_TARGETS[0], NEWEST_KUBE]  # the oldest and the newest Kubernetes the gate targets


def _sa(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}, **extra}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("stream", "expected_docs"),
    [
        pytest.param(
            {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [_sa("a"), _sa("b")]},
            [("v1", "ServiceAccount", "a"), ("v1", "ServiceAccount", "b")],
            id="kubectl-get-list",
        ),
        pytest.param(
            {"apiVersion": "apps/v1", "kind": "DaemonSetList", "items": [{"metadata": {"name": "ds"}, "spec": {}}]},
            [("apps/v1", "DaemonSet", "ds")],
            id="typed-list-items-without-kind",
        ),
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [{"apiVersion": "v1", "kind": "List", "items": [_sa("inner")]}, _sa("outer")],
            },
            [("v1", "ServiceAccount", "inner"), ("v1", "ServiceAccount", "outer")],
            id="nested",
        ),
        pytest.param({"apiVersion": "v1", "kind": "List", "items": []}, [], id="empty"),
    ],
)
def test_lists_expand_into_items(stream: dict[str, Any], expected_docs: list[tuple[str, str, str]]) -> None:
    docs = parse_stream(yaml.safe_dump(_sa("before")) + "---\n" + yaml.safe_dump(stream), "in.yaml", PROV)
    assert [(d.api_version, d.kind, d.name) for d in docs] == [("v1", "ServiceAccount", "before"), *expected_docs]
    assert [d.index for d in docs] == list(range(len(docs)))


@pytest.mark.unit
def test_list_item_that_is_no_object_names_it() -> None:
    with pytest.raises(
        DocumentError, match=r"^in.yaml:1: items\[1\] of the List is a str, not a Kubernetes object mapping$"
    ):
        parse_stream(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [_sa("a"), "oops"]}), "in.yaml", PROV)


def _errors(obj: dict[str, Any], validator: Validator | None = None) -> list[tuple[str, str, bool]]:
    (doc,) = parse_stream(yaml.safe_dump(obj), "in.yaml", PROV)
    return sorted({(e.path, e.message, e.unknown_kind) for e in (validator or Validator(TARGETS)).validate(doc)})


def _workload(api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("api_version", "kind", "expected_since"),
    [
        pytest.param("extensions/v1beta1", "DaemonSet", "v1.16 (deprecated in v1.8); use apps/v1", id="ds"),
        pytest.param("policy/v1beta1", "PodDisruptionBudget", "v1.25 (deprecated in v1.21); use policy/v1", id="pdb"),
        pytest.param(
            "policy/v1beta1",
            "PodSecurityPolicy",
            "v1.25 (deprecated in v1.21); it has no replacement; remove the object",
            id="psp",
        ),
    ],
)
def test_removed_api_is_a_document_error_naming_release_and_replacement(
    api_version: str, kind: str, expected_since: str
) -> None:
    expected = f"{api_version} {kind} was removed in Kubernetes {expected_since}"
    assert _errors(_workload(api_version, kind)) == [("apiVersion", expected, False)]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("obj", "kube_versions", "expected_warnings"),
    [
        pytest.param(
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"}},
            ["1.32.0", "1.33.0"],
            [
                (
                    "deprecated-api",
                    "warn",
                    "v1 Endpoints is deprecated since Kubernetes v1.33; use discovery.k8s.io/v1 EndpointSlice",
                )
            ],
            id="deprecated-in-a-target",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"}},
            ["1.31.0", "1.32.0"],
            [],
            id="not-yet-deprecated",
        ),
        pytest.param(_workload("apps/v1", "DaemonSet"), TARGETS, [], id="current"),
        pytest.param(
            _workload("policy/v1beta1", "PodDisruptionBudget"), TARGETS, [], id="removed-is-an-error-not-a-warning"
        ),
    ],
)
def test_deprecated_api_warns(
    obj: dict[str, Any], kube_versions: list[str], expected_warnings: list[tuple[str, str, str]]
) -> None:
    docs = parse_stream(yaml.safe_dump(obj), "in.yaml", PROV)
    assert [(f.rule, f.severity, f.message) for f in deprecation_warnings(docs, kube_versions)] == expected_warnings


def _crd() -> dict[str, Any]:
    (crd,) = yamlc.safe_load_all((DATA / "inputs" / "crd-widget.yaml").read_text())
    return dict(crd)


def _widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.dsgate.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("obj", "expected_errors"),
    [
        pytest.param(_widget(size=2, colour="red"), [], id="valid"),
        pytest.param(_widget(size=0), [("spec.size", "0 is less than the minimum of 1", False)], id="minimum"),
        pytest.param(_widget(size=1, shape="round"), [("spec", "unknown field(s) 'shape'", False)], id="unknown-field"),
    ],
)
def test_crd_in_the_input_defines_its_kind(obj: dict[str, Any], expected_errors: list[tuple[str, str, bool]]) -> None:
    assert _errors(obj, Validator(TARGETS, crds=[_crd()])) == expected_errors


@pytest.mark.unit
def test_unknown_kind_says_how_to_provide_its_crd() -> None:
    ((path, message, unknown),) = _errors(_widget(size=1))
    assert (path, unknown) == ("", True)
    assert (
        "no CustomResourceDefinition defines it" in message
        and "--crd PATH" in message
        and "crds: in dsgate.yaml" in message
    )


def _gate(paths: list[Path], **kwargs: Any) -> gate.GateResult:
    from dsgate.gate.sourcekinds import discover

    return gate.run(discover(paths), CheckOptions(kube_versions=tuple(TARGETS), **kwargs))


@pytest.mark.policy
@pytest.mark.parametrize(
    ("files", "crd_paths", "expected_exit"),
    [
        pytest.param(["crd-widget.yaml", "widget.yaml"], [], 0, id="crd-document-in-the-set"),
        pytest.param(["widget.yaml"], ["crd-widget.yaml"], 0, id="crd-option"),
        pytest.param(["widget.yaml"], [], 2, id="no-crd"),
    ],
)
def test_crds_define_kinds_in_the_gate(
    tmp_path: Path, files: list[str], crd_paths: list[str], expected_exit: int
) -> None:
    for name in files:
        (tmp_path / name).write_text((DATA / "inputs" / name).read_text())
    result = _gate([tmp_path], crds=tuple(DATA / "inputs" / p for p in crd_paths))
    assert (result.exit_code(), result.schema_errors) == (expected_exit, [])


@pytest.mark.render
def test_chart_crds_folder_defines_kinds() -> None:
    result = _gate([DATA / "charts" / "with-crds"])
    assert (result.errors, result.schema_errors, result.exit_code()) == ([], [], 0)


@pytest.mark.policy
def test_list_and_removed_api_through_the_gate(tmp_path: Path) -> None:
    items = [_sa("one"), _workload("extensions/v1beta1", "DaemonSet")]
    (tmp_path / "list.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    result = _gate([tmp_path])
    assert result.errors == []
    assert [(e.document.ref, e.path, e.message) for e in result.schema_errors] == [
        (
            "DaemonSet//x",
            "apiVersion",
            "extensions/v1beta1 DaemonSet was removed in Kubernetes v1.16 (deprecated in v1.8); use apps/v1",
        )
    ]
    assert result.exit_code() == 1
