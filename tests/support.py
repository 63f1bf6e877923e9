"""Helpers every test area shares: repository locations, the pinned Kubernetes versions, lookups
in rendered objects, and a free local port. Area-specific helpers live in each area's support module
and build on these."""

from __future__ import annotations

from typing import Any

from dsgate.gate.evaluate import free_port
from dsgate.paths import POLICIES_DIR, REPO_ROOT
from dsgate.versions import kube_target_versions

__all__ = ["CHARTS", "KUBE_TARGETS", "KUSTOMIZE", "NEWEST_KUBE", "POLICIES", "REPO", "Objects", "by_kind", "daemonset", "find", "free_port", "pod_spec"]

REPO = REPO_ROOT
CHARTS = REPO / "charts"
KUSTOMIZE = REPO / "kustomize"
POLICIES = POLICIES_DIR
# The Kubernetes versions the gate validates against by default (versions.env), and the newest.
KUBE_TARGETS = tuple(kube_target_versions())
NEWEST_KUBE = KUBE_TARGETS[-1]

Objects = list[dict[str, Any]]


def by_kind(objs: Objects, kind: str) -> Objects:
    """Every object of KIND, in order."""
    return [o for o in objs if o.get("kind") == kind]


def find(objs: Objects, kind: str) -> dict[str, Any] | None:
    """The one object of KIND, None when absent (several is an AssertionError)."""
    hits = by_kind(objs, kind)
    assert len(hits) <= 1, f"{len(hits)} objects of kind {kind}"
    return hits[0] if hits else None


def daemonset(objs: Objects) -> dict[str, Any]:
    """The one DaemonSet of OBJS (AssertionError if none or several)."""
    ds = find(objs, "DaemonSet")
    assert ds is not None, "no DaemonSet rendered"
    return ds


def pod_spec(ds: dict[str, Any]) -> dict[str, Any]:
    """The pod template spec of a DaemonSet."""
    spec: dict[str, Any] = ds["spec"]["template"]["spec"]
    return spec
