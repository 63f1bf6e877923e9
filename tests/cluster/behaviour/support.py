"""What the behaviour experiments share: a DaemonSet builder, API shortcuts, and the plot each test writes.

Every DaemonSet here is written for the experiment (no third-party manifest): a minimal agent
whose knobs are the ones the policy rules talk about.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube
from dsgate.cluster.observe import Timeline
from dsgate.cluster.plot import timeline_png

CONTROL_PLANE_TOLERATION = {
    "key": "node-role.kubernetes.io/control-plane",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def agent(
    name: str,
    *,
    tolerations: list[dict[str, Any]] | None = None,
    node_selector: dict[str, str] | None = None,
    host_port: int | None = None,
    host_network: bool = False,
    priority_class: str | None = None,
    min_ready_seconds: int = 0,
    strategy: dict[str, Any] | None = None,
    cpu: str = "10m",
    tag: str = "v1",
) -> dict[str, Any]:
    """A DaemonSet of one container with the given scheduling and rollout settings."""
    labels = {"app.kubernetes.io/name": name}
    port: dict[str, Any] = {"name": "metrics", "containerPort": host_port or 9100}
    if host_port:
        port["hostPort"] = host_port
    pod: dict[str, Any] = {
        "containers": [
            {
                "name": "agent",
                "image": f"registry.example/dsgate/{name}:{tag}",
                "ports": [port],
                "resources": {"requests": {"cpu": cpu, "memory": "16Mi"}, "limits": {"memory": "16Mi"}},
            }
        ],
        "terminationGracePeriodSeconds": 1,
    }
    if tolerations:
        pod["tolerations"] = tolerations
    if node_selector:
        pod["nodeSelector"] = node_selector
    if host_network:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    if priority_class:
        pod["priorityClassName"] = priority_class
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod},
        "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
    }
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "labels": labels}, "spec": spec}


def create(dyn: DynamicClient, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    return kube.create(dyn, copy.deepcopy(obj), namespace=namespace)


def patch(
    dyn: DynamicClient, api_version: str, kind: str, name: str, body: dict[str, Any], namespace: str | None = None
) -> dict[str, Any]:
    res = kube.resource(dyn, api_version, kind)
    if res.namespaced:
        return dict(res.patch(body=body, name=name, namespace=namespace).to_dict())
    return dict(res.patch(body=body, name=name).to_dict())


def new_version(
    dyn: DynamicClient, namespace: str, name: str, tag: str = "v2", annotations: dict[str, str] | None = None
) -> None:
    """Roll the DaemonSet to another image tag (and pod annotations): a new revision."""
    template: dict[str, Any] = {
        "spec": {"containers": [{"name": "agent", "image": f"registry.example/dsgate/{name}:{tag}"}]}
    }
    if annotations:
        template["metadata"] = {"annotations": annotations}
    patch(dyn, "apps/v1", "DaemonSet", name, {"spec": {"template": template}}, namespace)


def pods_by_node(dyn: DynamicClient, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    """Live (not terminating) pods of the agent NAME by node."""
    pods = kube.list_items(dyn, "v1", "Pod", namespace, f"app.kubernetes.io/name={name}")
    return {p["spec"].get("nodeName") or "": p for p in pods if not p["metadata"].get("deletionTimestamp")}


def plot(
    timeline: Timeline, out: Path, name: str, series: tuple[str, ...], limits: dict[str, float] | None = None
) -> Path:
    """Write the experiment's timeline PNG under OUT and check it is a real PNG."""
    path = timeline_png(timeline, out / f"{name}.png", series=series, limits=limits)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000, f"{path} is not a drawn PNG"
    return path
