"""HelmRelease values as helm-controller merges them, and Argo CD image override strings."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from dsgate.gitops.argocd import kustomize_images
from dsgate.gitops.flux import Cluster
from dsgate.gitops.helmrelease import release_name, release_values, set_path
from dsgate.gitops.objects import GitOpsError

pytestmark = pytest.mark.unit


def _cm(name: str, data: dict[str, str], kind: str = "ConfigMap") -> dict[str, Any]:
    if kind == "Secret":
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "apps"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}, "data": data}


def _hr(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": spec,
    }


CLUSTER = Cluster()
for obj in (
    _cm("base", {"values.yaml": "a: 1\nnested: {x: 1, y: 2}\nlist: [1, 2]\n"}),
    _cm(
        "over",
        {
            "values.yaml": "nested: {y: 20}\nlist: [3]\n",
            "custom": "b: from-custom\n",
            "port": "8080",
            "quoted": '"8080"',
            "flag": "true",
        },
    ),
    _cm("creds", {"values.yaml": "password: s3cret\n"}, kind="Secret"),
):
    CLUSTER.add(obj, ())


@pytest.mark.parametrize(
    ("values_from", "values", "expected_values"),
    [
        ([{"kind": "ConfigMap", "name": "base"}], {}, {"a": 1, "nested": {"x": 1, "y": 2}, "list": [1, 2]}),
        # in order, maps merge deeply, lists replace; inline values win over everything
        (
            [{"kind": "ConfigMap", "name": "base"}, {"kind": "ConfigMap", "name": "over"}],
            {"nested": {"x": 100}},
            {"a": 1, "nested": {"x": 100, "y": 20}, "list": [3]},
        ),
        ([{"kind": "ConfigMap", "name": "over", "valuesKey": "custom"}], {}, {"b": "from-custom"}),
        ([{"kind": "Secret", "name": "creds"}], {}, {"password": "s3cret"}),
        # targetPath: set as helm --set does (typed), a quoted value stays a string
        (
            [{"kind": "ConfigMap", "name": "over", "valuesKey": "port", "targetPath": "server.port"}],
            {},
            {"server": {"port": 8080}},
        ),
        (
            [{"kind": "ConfigMap", "name": "over", "valuesKey": "quoted", "targetPath": "server.port"}],
            {},
            {"server": {"port": "8080"}},
        ),
        (
            [{"kind": "ConfigMap", "name": "over", "valuesKey": "flag", "targetPath": "a\\.b.c[1]"}],
            {},
            {"a.b": {"c": [None, True]}},
        ),
        # optional references may be missing, the whole object or the key
        (
            [
                {"kind": "ConfigMap", "name": "absent", "optional": True},
                {"kind": "ConfigMap", "name": "base", "valuesKey": "nope", "optional": True},
            ],
            {"z": 1},
            {"z": 1},
        ),
    ],
)
def test_release_values(
    values_from: list[dict[str, Any]], values: dict[str, Any], expected_values: dict[str, Any]
) -> None:
    assert release_values(_hr({"valuesFrom": values_from, "values": values}), CLUSTER) == expected_values


@pytest.mark.parametrize(
    ("values_from", "expected_error"),
    [
        (
            [{"kind": "ConfigMap", "name": "absent"}],
            "HelmRelease apps/web: valuesFrom ConfigMap apps/absent is defined nowhere",
        ),
        (
            [{"kind": "ConfigMap", "name": "base", "valuesKey": "nope"}],
            "valuesFrom key 'nope' of ConfigMap apps/base is defined nowhere",
        ),
        ([{"kind": "Pod", "name": "base"}], "valuesFrom kind 'Pod' is not ConfigMap or Secret"),
        ([{"kind": "ConfigMap", "name": "over", "valuesKey": "port"}], "is not a map of values"),
    ],
)
def test_release_values_errors(values_from: list[dict[str, Any]], expected_error: str) -> None:
    with pytest.raises(GitOpsError, match=expected_error):
        release_values(_hr({"valuesFrom": values_from}), CLUSTER)


@pytest.mark.parametrize(
    ("spec", "expected_name"),
    [({}, "web"), ({"targetNamespace": "edge"}, "edge-web"), ({"targetNamespace": "edge", "releaseName": "r"}, "r")],
)
def test_release_name(spec: dict[str, Any], expected_name: str) -> None:
    assert release_name(_hr(spec)) == expected_name


@pytest.mark.parametrize(
    ("path", "raw", "expected_values"),
    [
        ("a", "1", {"a": 1}),
        ("a", "01", {"a": "01"}),
        ("a", "null", {"a": None}),
        ("a.b", "'x'", {"a": {"b": "x"}}),
        ("list[0].name", "n", {"list": [{"name": "n"}]}),
    ],
)
def test_set_path(path: str, raw: str, expected_values: dict[str, Any]) -> None:
    values: dict[str, Any] = {}
    set_path(values, path, raw)
    assert values == expected_values


@pytest.mark.parametrize(
    ("images", "expected_images"),
    [
        (["registry.example.com/agent:2.0.0"], [{"name": "registry.example.com/agent", "newTag": "2.0.0"}]),
        (
            ["agent=mirror.example.com/agent:2.0.0"],
            [{"name": "agent", "newName": "mirror.example.com/agent", "newTag": "2.0.0"}],
        ),
        (["localhost:5000/agent@sha256:abc"], [{"name": "localhost:5000/agent", "digest": "sha256:abc"}]),
        (["localhost:5000/agent"], [{"name": "localhost:5000/agent"}]),
    ],
)
def test_argo_images(images: list[str], expected_images: list[dict[str, str]]) -> None:
    assert kustomize_images(images) == expected_images
