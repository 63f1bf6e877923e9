"""Strict schema validation: built-in kinds, real CRD schemas, and the checks schemas miss."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dsgate.gate import validate
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.validate import ValidationSetupError, Validator
from tests.support import KUBE_TARGETS, NEWEST_KUBE

pytestmark = pytest.mark.unit

DS: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "mon"},
    "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "template": {
            "metadata": {"labels": {"app": "a"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "x:1",
                        "ports": [{"name": "metrics", "containerPort": 9100}],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    }
                ]
            },
        },
    },
}
SM: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "sm"},
    "spec": {"selector": {"matchLabels": {"app": "a"}}, "endpoints": [{"port": "metrics", "interval": "30s"}]},
}
VPA: dict[str, Any] = {
    "apiVersion": "autoscaling.k8s.io/v1",
    "kind": "VerticalPodAutoscaler",
    "metadata": {"name": "v"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent"},
        "updatePolicy": {"updateMode": "Off"},
    },
}


def _doc(obj: dict[str, Any]) -> Document:
    return Document(obj, Provenance("t.yaml", "file"))


def _with(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value
    return out


C0 = "spec.template.spec.containers.0"


@pytest.mark.parametrize(
    ("obj", "expected_errors"),
    [
        pytest.param(DS, [], id="valid-daemonset"),
        pytest.param(SM, [], id="valid-servicemonitor-crd"),
        pytest.param(VPA, [], id="valid-vpa-crd"),
        pytest.param(_with(DS, "spec.bogus", 1), [("spec", "unknown field(s) 'bogus'")], id="unknown-field"),
        pytest.param(
            _with(DS, "spec.minReadySeconds", "ten"),
            [("spec.minReadySeconds", "'ten' is not of type 'integer'")],
            id="wrong-type",
        ),
        pytest.param(
            _with(DS, f"{C0}.resources.requests.cpu", "1x"),
            [(f"{C0}.resources.requests.cpu", "'1x' is not a valid quantity")],
            id="bad-quantity",
        ),
        pytest.param(
            _with(DS, f"{C0}.ports.0.containerPort", 70000),
            [(f"{C0}.ports.0.containerPort", "70000 is out of range 1-65535")],
            id="port-range",
        ),
        pytest.param(
            _with(DS, f"{C0}.ports.0.name", "Metrics_Port_Long"),
            [(f"{C0}.ports.0.name", "not a valid port name")],
            id="port-name",
        ),
        pytest.param(
            _with(DS, "metadata.name", "Agent_1"), [("metadata.name", "not a valid DNS-1123 subdomain")], id="dns-name"
        ),
        pytest.param(_with(DS, f"{C0}.name", "C"), [(f"{C0}.name", "not a valid DNS-1123 label")], id="container-name"),
        pytest.param(
            _with(SM, "spec.endpoints.0.scrapeTimout", "5s"),
            [("spec.endpoints.0", "unknown field(s) 'scrapeTimout'")],
            id="crd-unknown-field",
        ),
        pytest.param(
            _with(SM, "metadata.labelz", {}), [("metadata", "unknown field(s) 'labelz'")], id="crd-metadata-strict"
        ),
        pytest.param(
            _with(VPA, "spec.updatePolicy.updateMode", "Sometimes"),
            [("spec.updatePolicy.updateMode", "'Sometimes' is not one of")],
            id="crd-enum",
        ),
        # null list entries: the API server decodes them into empty values it rejects or misreads
        pytest.param(_with(DS, f"{C0}.ports", [None]), [(f"{C0}.ports.0", "null list entry")], id="null-port"),
        pytest.param(
            _with(DS, f"{C0}.args", ["-v", None]), [(f"{C0}.args.1", "None is not of type 'string'")], id="null-arg"
        ),
        pytest.param(
            _with(DS, "spec.template.spec.tolerations", [None]),
            [("spec.template.spec.tolerations.0", "null list entry")],
            id="null-toleration",
        ),
        # wrong shapes: the schema pass names them; the semantic checks must not crash on them
        pytest.param(
            _with(DS, f"{C0}.ports", ["9100"]), [(f"{C0}.ports.0", "'9100' is not of type 'object'")], id="string-port"
        ),
        pytest.param(
            _with(DS, f"{C0}.resources", "small"),
            [(f"{C0}.resources", "'small' is not of type 'object'")],
            id="string-resources",
        ),
        pytest.param(
            _with(DS, f"{C0}.resources.limits", ["1"]),
            [(f"{C0}.resources.limits", "['1'] is not of type 'object'")],
            id="list-limits",
        ),
        pytest.param(
            _with(DS, "spec.template.spec.containers", "c"),
            [("spec.template.spec.containers", "'c' is not of type 'array'")],
            id="string-containers",
        ),
        pytest.param(
            _with(DS, "spec.template", []), [("spec.template", "[] is not of type 'object'")], id="list-template"
        ),
        pytest.param(
            {**DS, "metadata": ["agent"]}, [("metadata", "['agent'] is not of type 'object'")], id="list-metadata"
        ),
        pytest.param(
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            [("", "unknown kind example.com/v1/Widget")],
            id="unknown-kind",
        ),
        pytest.param(
            {"apiVersion": "apps/v1beta2", "kind": "DaemonSet", "metadata": {"name": "w"}},
            [
                (
                    "apiVersion",
                    "apps/v1beta2 DaemonSet was removed in Kubernetes v1.16 (deprecated in v1.9); use apps/v1",
                )
            ],
            id="removed-api",
        ),
    ],
)
def test_validate(obj: dict[str, Any], expected_errors: list[tuple[str, str]]) -> None:
    errors = Validator([NEWEST_KUBE]).validate(_doc(obj))
    assert len(errors) == len(expected_errors), [str(e) for e in errors]
    for err, (path, fragment) in zip(errors, expected_errors, strict=True):
        assert err.path == path
        assert fragment in err.message


def test_every_error_reported_for_every_version() -> None:
    obj = _with(_with(DS, "spec.bogus", 1), "spec.minReadySeconds", "x")
    errors = Validator(list(KUBE_TARGETS)).validate(_doc(obj))
    assert sorted({e.kube_version for e in errors}) == sorted(KUBE_TARGETS)
    assert len(errors) == 8


def test_allow_kinds() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert Validator([NEWEST_KUBE], allow_kinds=["Widget"]).validate(_doc(widget)) == []
    assert Validator([NEWEST_KUBE], allow_kinds=["example.com/v1/Widget"]).validate(_doc(widget)) == []


def test_unsupported_version() -> None:
    with pytest.raises(ValidationSetupError, match=r"no Kubernetes 1\.12\.0 schemas"):
        Validator(["1.12.0"])


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


def test_every_ref_names_a_definition_the_prepared_schemas_keep() -> None:
    """A prepared schema carries only the definitions it reaches (validate._reachable): every $ref of
    every shipped kind and definition is one it can follow, and what it keeps holds every name reached."""
    document = validate._definitions(NEWEST_KUBE)
    definitions = document[validate.DEFS]
    folder = validate._schema_dir(NEWEST_KUBE)
    kinds = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if p.name != "_definitions.json"]
    assert len(kinds) > 500
    unknown = {
        r for node in [*kinds, document] for r in _refs(node) if r.split(validate._DEF_REF)[-1] not in definitions
    }
    assert unknown == set()
    for schema in kinds:
        kept = validate._reachable(schema, document)[validate.DEFS]
        reached = {r.split(validate._DEF_REF)[-1] for node in [schema, *kept.values()] for r in _refs(node)}
        assert reached == set(kept), schema.get("$id")


BROKEN_DS = _with(_with(_with(DS, f"{C0}.ports.0.containerPort", "x"), "metadata.labels", {"a": 1}), "spec.bogus", 1)
BROKEN_META = {"name": "m", "labels": {"a": 1}, "finalizers": "x"}
META_REF = {"$ref": f"{validate.DEFINITIONS_URI}{validate._DEF_REF}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def test_cached_schemas_answer_as_the_whole_definitions_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prepared schemas (a kind's, and ObjectMeta's for CRD kinds), first built, then read back
    from dsgate's cache, then built again over a cached file of the wrong shape, report exactly what
    they report against the whole definitions file."""
    monkeypatch.setenv("DSGATE_CACHE", str(tmp_path))
    answers = []
    for damaged in (False, False, True):  # built, read from the cache, then a cache file of another shape
        for path in (tmp_path / "kind-schemas").glob("*.json") if damaged else ():
            path.write_text('{"schema": []}')
        for cached in (validate._builtin_schema, validate._object_meta_schema, validate._inputs_digest):
            cached.cache_clear()
        daemonset = validate._builtin_schema(NEWEST_KUBE, "apps/v1", "DaemonSet")
        assert daemonset is not None
        answers.append((daemonset.errors(BROKEN_DS), validate._object_meta_schema(NEWEST_KUBE).errors(BROKEN_META)))
    assert len(list((tmp_path / "kind-schemas").iterdir())) == 2
    definitions = validate._definitions(NEWEST_KUBE)
    kind = json.loads((validate._schema_dir(NEWEST_KUBE) / "daemonset-apps-v1.json").read_text())
    whole = (
        validate._Schema(validate.reject_null_items(kind), definitions).errors(BROKEN_DS),
        validate._Schema(META_REF, definitions).errors(BROKEN_META),
    )
    assert answers[0] == answers[1] == answers[2] == whole
    assert all(len(errors) >= 2 for errors in whole), whole


def test_cached_crd_schemas_are_the_parsed_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CRD set's schemas, parsed, then read back from dsgate's cache, then parsed again over a cached
    file of another shape, are the same; and a ServiceMonitor is judged alike each time."""
    (tmp_path / "crds").symlink_to(validate.crd_dir())
    monkeypatch.setenv("DSGATE_CACHE", str(tmp_path))
    caches = (validate._crd_files, validate._crd_folder_schemas, validate._crd_schema)
    answers = []
    try:
        for damaged in (False, False, True):
            for path in (tmp_path / "crd-schemas").glob("*.json") if damaged else ():
                path.write_text('[["only", "two"]]')
            for cached in caches:
                cached.cache_clear()
            broken = _with(SM, "spec.endpoints.0.interval", 30)
            folder = validate._crd_folder_schemas("prometheus-operator")
            answers.append((folder, Validator([NEWEST_KUBE]).validate(_doc(broken))))
    finally:
        for cached in caches:  # the next test reads the CRDs where DSGATE_CACHE says again
            cached.cache_clear()
    assert len(list((tmp_path / "crd-schemas").iterdir())) == 1
    assert answers[0] == answers[1] == answers[2]
    assert ("monitoring.coreos.com/v1", "ServiceMonitor") in answers[0][0]
    assert [e.path for e in answers[0][1]] == ["spec.endpoints.0.interval"]
