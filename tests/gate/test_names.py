"""metadata.name follows its kind's own rule, as the API server checks it: the client-side check
(dsgate.gate.names, through the Validator) and the real kube-apiserver agree on every row."""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.gate import servercheck
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.validate import Validator
from tests.support import NEWEST_KUBE

RULES = {
    "rbac": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    "ref": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "default"}],
}


def _obj(kind: str, name: str) -> dict[str, Any]:
    """A minimal valid KIND named NAME."""
    meta = {"name": name}
    rbac = "rbac.authorization.k8s.io/v1"
    return {
        "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "b"}},
        "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": meta},
        "Service": {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"ports": [{"port": 80}]}},
        "DaemonSet": {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "template": {
                    "metadata": {"labels": {"app": "a"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
                },
            },
        },
        "ClusterRole": {"apiVersion": rbac, "kind": "ClusterRole", "metadata": meta, "rules": RULES["rbac"]},
        "Role": {"apiVersion": rbac, "kind": "Role", "metadata": meta, "rules": RULES["rbac"]},
        "ClusterRoleBinding": {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": RULES["ref"],
            "subjects": RULES["subjects"],
        },
        "RoleBinding": {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": RULES["ref"],
            "subjects": RULES["subjects"],
        },
    }[kind]


NAMES = [
    # kind, name, expected_valid: a short reason per row
    pytest.param("ClusterRole", "system:controller:x", True, id="clusterrole-colons"),  # RBAC: a path segment
    pytest.param("ClusterRoleBinding", "metallb:speaker", True, id="clusterrolebinding-colon"),
    pytest.param("Role", "Leader_Election", True, id="role-upper-underscore"),  # a path segment allows both
    pytest.param("RoleBinding", "agent:read", True, id="rolebinding-colon"),
    pytest.param("ClusterRole", "a/b", False, id="clusterrole-slash"),  # '/' would break the URL
    pytest.param("ClusterRole", "50%", False, id="clusterrole-percent"),
    pytest.param("Role", "..", False, id="role-dotdot"),
    pytest.param("ConfigMap", "agent.config", True, id="configmap-dots"),  # a DNS-1123 subdomain
    pytest.param("ConfigMap", "agent:config", False, id="configmap-colon"),
    pytest.param("DaemonSet", "Agent", False, id="daemonset-upper"),
    pytest.param("DaemonSet", "1agent", True, id="daemonset-leading-digit"),
    pytest.param("DaemonSet", "a" * 254, False, id="daemonset-254"),  # over 253 characters
    pytest.param("Namespace", "agents-system", True, id="namespace-label"),  # a DNS-1123 label
    pytest.param("Namespace", "agents.system", False, id="namespace-dot"),
    pytest.param("Service", "agent-metrics", True, id="service-label"),  # a DNS-1123 label
    pytest.param("Service", "9agent", True, id="service-leading-digit"),  # 1.36: RelaxedServiceNameValidation is on
    pytest.param("Service", "Agent", False, id="service-upper"),
    pytest.param("Service", "agent.metrics", False, id="service-dot"),
]


def _name_errors(obj: dict[str, Any]) -> list[str]:
    doc = Document(obj, Provenance("t.yaml", "file"))
    return [e.message for e in Validator([NEWEST_KUBE]).validate(doc) if e.path == "metadata.name"]


@pytest.mark.unit
@pytest.mark.parametrize(("kind", "name", "expected_valid"), NAMES)
def test_client_side_name_rule(kind: str, name: str, expected_valid: bool) -> None:
    errors = _name_errors(_obj(kind, name))
    assert (errors == []) == expected_valid, errors
    assert all(e.startswith(f"{name!r} is not a valid ") for e in errors)


@pytest.mark.server
@pytest.mark.parametrize(("kind", "name", "expected_valid"), NAMES)
def test_the_api_server_agrees(server: servercheck.ApiServer, kind: str, name: str, expected_valid: bool) -> None:
    answer = server.dry_run(_obj(kind, name), "default")
    assert answer is not None
    assert (answer[0] < 300) == expected_valid, answer[1].get("message")
