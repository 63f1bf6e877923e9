"""Admission is on in the local cluster: Priority, PodSecurity and ValidatingAdmissionPolicy each act."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.dynamic.exceptions import DynamicApiError

from dsgate.cluster import kube
from dsgate.cluster.lifecycle import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

RESTRICTED_OK_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "busybox:1.37.0", **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


@pytest.fixture
def namespace(local_cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    labels: dict[str, str] = getattr(request, "param", {})
    name = f"adm-{uuid.uuid4().hex[:6]}"
    dyn = local_cluster.dynamic()
    kube.create(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    kube.wait_for(
        "default ServiceAccount in the namespace",
        lambda: kube.get_or_none(dyn, "v1", "ServiceAccount", "default", name),
        30,
    )
    yield name
    kube.resource(dyn, "v1", "Namespace").delete(name=name)


def _rejected(local_cluster: LocalCluster, obj: dict[str, Any], namespace: str) -> tuple[int, str]:
    """(HTTP status, Status message) of a create the API server refuses."""
    with pytest.raises(DynamicApiError) as err:
        kube.create(local_cluster.dynamic(), obj, namespace)
    return err.value.status, _message(err.value)


def _message(err: DynamicApiError) -> str:
    return str(json.loads(err.body)["message"])


def test_priority_admission_resolves_system_node_critical(local_cluster: LocalCluster, namespace: str) -> None:
    dyn = local_cluster.dynamic()
    pc = kube.get_or_none(dyn, "scheduling.k8s.io/v1", "PriorityClass", "system-node-critical")
    assert pc is not None and pc["value"] == 2000001000
    created = kube.create(dyn, _pod("critical", priorityClassName="system-node-critical"), namespace)
    assert created["spec"]["priority"] == 2000001000
    status, message = _rejected(local_cluster, _pod("unknown-class", priorityClassName="no-such-class"), namespace)
    assert status == 403
    assert "no PriorityClass with name no-such-class was found" in message


@pytest.mark.parametrize("namespace", [{"pod-security.kubernetes.io/enforce": "restricted"}], indirect=True)
def test_pod_security_restricted_namespace_rejects_privileged_pod(local_cluster: LocalCluster, namespace: str) -> None:
    status, message = _rejected(
        local_cluster, _pod("privileged", container={"securityContext": {"privileged": True}}), namespace
    )
    assert status == 403
    assert 'violates PodSecurity "restricted:latest"' in message
    assert 'privileged (container "c" must not set securityContext.privileged=true)' in message
    created = kube.create(
        local_cluster.dynamic(), _pod("compliant", container={"securityContext": RESTRICTED_OK_SECURITY}), namespace
    )
    assert created["metadata"]["name"] == "compliant"


def test_validating_admission_policy_rejects_an_object(local_cluster: LocalCluster, namespace: str) -> None:
    dyn = local_cluster.dynamic()
    policy_name = f"no-latest-{namespace}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ]
            },
            "validations": [
                {
                    "expression": "!has(object.data) || !('tag' in object.data) || object.data.tag != 'latest'",
                    "message": "tag latest is not allowed",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name},
        "spec": {
            "policyName": policy_name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
        },
    }
    kube.create(dyn, policy)
    kube.create(dyn, binding)
    try:
        bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"tag": "latest"}}

        def denied() -> DynamicApiError | None:
            # The policy takes effect once the API server's informers see it (about a second).
            try:
                kube.create(dyn, bad, namespace)
            except DynamicApiError as exc:
                return exc
            kube.resource(dyn, "v1", "ConfigMap").delete(name="bad", namespace=namespace)
            return None

        err = kube.wait_for("the ValidatingAdmissionPolicy to take effect", denied, 30, interval=0.5)
        assert err.status == 422
        assert f"ValidatingAdmissionPolicy '{policy_name}'" in _message(err)
        assert "tag latest is not allowed" in _message(err)
        good = kube.create(
            dyn,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"}, "data": {"tag": "1.2.3"}},
            namespace,
        )
        assert good["metadata"]["name"] == "good"
    finally:
        kube.resource(dyn, "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding").delete(
            name=policy_name
        )
        kube.resource(dyn, "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy").delete(name=policy_name)
