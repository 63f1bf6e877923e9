"""Each overlay's and each component's stated intent (kustomize/README.md), asserted on its build.

Rows are (kustomization, check, expected): the check runs on every DaemonSet of the build and must
return `expected` for each of them. Components are checked alone on top of every base they apply to;
overlays as built. Every discovered overlay and component must have at least one row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from dsgate.k8s import parse_quantity as quantity
from dsgate.k8s import selector_matches
from tests.support import by_kind, pod_spec

from .support import (
    Build,
    Kustomization,
    Obj,
    StackBuild,
    agent,
    bases,
    build,
    component_stacks,
    components,
    daemonsets,
    overlays,
)

pytestmark = pytest.mark.render

MIRROR = "ghcr.io/example-org/mirror/"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
GPU_LABEL = "nvidia.com/gpu.present"


@dataclass(frozen=True)
class Ctx:
    """What a check may look at besides the DaemonSet: the whole build and the base's DaemonSet."""

    objs: list[Obj]
    base: Obj  # the same agent's DaemonSet as its base builds it (the charts' defaults)


Check = Callable[[Obj, Ctx], Any]


# ---------------------------------------------------------------- checks


def priority(ds: Obj, ctx: Ctx) -> Any:
    return pod_spec(ds).get("priorityClassName")


def rollout(ds: Obj, ctx: Ctx) -> tuple[Any, Any, Any]:
    strategy = ds["spec"].get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return strategy.get("type"), rolling.get("maxUnavailable"), rolling.get("maxSurge")


def max_unavailable_is_percentage(ds: Obj, ctx: Ctx) -> bool:
    value = rollout(ds, ctx)[1]
    return isinstance(value, str) and re.fullmatch(r"[1-9][0-9]?%", value) is not None


def min_ready_seconds(ds: Obj, ctx: Ctx) -> Any:
    return ds["spec"].get("minReadySeconds")


def resources_profile(ds: Obj, ctx: Ctx) -> Any:
    return (ds["metadata"].get("annotations") or {}).get("dsgate.io/resources-profile")


def _requests(ds: Obj) -> tuple[float, float]:
    requests = pod_spec(ds)["containers"][0]["resources"]["requests"]
    return quantity(requests["cpu"]), quantity(requests["memory"])


def requests_vs_base(ds: Obj, ctx: Ctx) -> str:
    """ "smaller"/"larger" when both cpu and memory requests moved that way from the base's."""
    pairs = list(zip(_requests(ds), _requests(ctx.base), strict=True))
    if all(new < old for new, old in pairs):
        return "smaller"
    if all(new > old for new, old in pairs):
        return "larger"
    return "same" if all(new == old for new, old in pairs) else "mixed"


def memory_request_equals_limit(ds: Obj, ctx: Ctx) -> bool:
    res = pod_spec(ds)["containers"][0]["resources"]
    return quantity(res["requests"]["memory"]) == quantity(res["limits"]["memory"])


def tolerates_explicitly(key: str, effect: str) -> Check:
    """A keyed `Exists` toleration for KEY:EFFECT without tolerationSeconds (never evicted)."""

    def check(ds: Obj, ctx: Ctx) -> bool:
        return any(
            t.get("key") == key
            and t.get("operator") == "Exists"
            and t.get("effect") == effect
            and "tolerationSeconds" not in t
            for t in pod_spec(ds).get("tolerations") or []
        )

    check.__name__ = f"tolerates_{key}:{effect}"
    return check


def base_tolerations_kept(ds: Obj, ctx: Ctx) -> bool:
    mine = pod_spec(ds).get("tolerations") or []
    return all(t in mine for t in pod_spec(ctx.base).get("tolerations") or [])


def node_selector(key: str) -> Check:
    def check(ds: Obj, ctx: Ctx) -> Any:
        return (pod_spec(ds).get("nodeSelector") or {}).get(key)

    check.__name__ = f"node_selector[{key}]"
    return check


def affinity_as_base(ds: Obj, ctx: Ctx) -> bool:
    return pod_spec(ds).get("affinity") == pod_spec(ctx.base).get("affinity")


def _images(ds: Obj) -> list[str]:
    spec = pod_spec(ds)
    return [c["image"] for c in (spec.get("initContainers") or []) + spec["containers"]]


def images_mirrored(ds: Obj, ctx: Ctx) -> bool:
    """Every image is the base's image with its registry host replaced by the mirror (tag kept)."""
    expected = [MIRROR + image.split("/", 1)[1] for image in _images(ctx.base)]
    return _images(ds) == expected


def images_as_base(ds: Obj, ctx: Ctx) -> bool:
    return _images(ds) == _images(ctx.base)


def pdb_forms(ds: Obj, ctx: Ctx) -> list[tuple[Any, bool, Any]]:
    """(minAvailable, has maxUnavailable, unhealthyPodEvictionPolicy) of every PDB selecting the pods."""
    ns, labels = ds["metadata"].get("namespace"), ds["spec"]["template"]["metadata"]["labels"]
    return [
        (p["spec"].get("minAvailable"), "maxUnavailable" in p["spec"], p["spec"].get("unhealthyPodEvictionPolicy"))
        for p in by_kind(ctx.objs, "PodDisruptionBudget")
        if p["metadata"].get("namespace") == ns and selector_matches(p["spec"].get("selector"), labels)
    ]


def servicemonitors_scraping(ds: Obj, ctx: Ctx) -> int:
    """ServiceMonitors that reach these pods: same namespace, selecting a Service that selects the
    pods and has the endpoint's port name, which targets a named container port of the pods."""
    ns, labels = ds["metadata"].get("namespace"), ds["spec"]["template"]["metadata"]["labels"]
    container_ports = {p.get("name") for c in pod_spec(ds)["containers"] for p in c.get("ports") or []}
    services = [
        s
        for s in by_kind(ctx.objs, "Service")
        if s["metadata"].get("namespace") == ns
        and s["spec"].get("selector")
        and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
    ]
    count = 0
    for sm in by_kind(ctx.objs, "ServiceMonitor"):
        if sm["metadata"].get("namespace") != ns:
            continue
        for svc in services:
            if not selector_matches(sm["spec"].get("selector"), svc["metadata"].get("labels") or {}):
                continue
            ports = {p.get("name"): p for p in svc["spec"].get("ports") or []}
            endpoints = sm["spec"].get("endpoints") or []
            if endpoints and all(
                e.get("port") in ports and ports[e["port"]].get("targetPort") in container_ports for e in endpoints
            ):
                count += 1
    return count


def template_label(key: str) -> Check:
    def check(ds: Obj, ctx: Ctx) -> Any:
        return ds["spec"]["template"]["metadata"]["labels"].get(key)

    check.__name__ = f"template_label[{key}]"
    return check


# ---------------------------------------------------------------- the intent table

PRIORITY = ("system-node-critical",)
WORKING_PDB = [(1, False, "AlwaysAllow")]

INTENT = [
    # --- overlays
    pytest.param("overlays/dev", resources_profile, "small", id="dev-small-profile"),
    pytest.param("overlays/dev", requests_vs_base, "smaller", id="dev-requests-below-chart-defaults"),
    pytest.param("overlays/dev", memory_request_equals_limit, True, id="dev-memory-request-eq-limit"),
    pytest.param("overlays/dev", images_as_base, True, id="dev-upstream-images"),
    pytest.param("overlays/dev", servicemonitors_scraping, 0, id="dev-no-servicemonitor"),
    pytest.param("overlays/dev", template_label("dsgate.io/environment"), "dev", id="dev-environment-label"),
    pytest.param(
        "overlays/staging",
        tolerates_explicitly(CONTROL_PLANE, "NoSchedule"),
        True,
        id="staging-control-plane-noschedule",
    ),
    pytest.param(
        "overlays/staging", tolerates_explicitly(CONTROL_PLANE, "NoExecute"), True, id="staging-control-plane-noexecute"
    ),
    pytest.param("overlays/staging", priority, *PRIORITY, id="staging-priority"),
    pytest.param("overlays/staging", pdb_forms, WORKING_PDB, id="staging-pdb"),
    pytest.param("overlays/staging", servicemonitors_scraping, 1, id="staging-servicemonitor"),
    pytest.param("overlays/staging", images_mirrored, True, id="staging-mirror"),
    pytest.param("overlays/staging", resources_profile, "chart-default", id="staging-chart-default-size"),
    pytest.param(
        "overlays/staging", template_label("dsgate.io/environment"), "staging", id="staging-environment-label"
    ),
    pytest.param("overlays/production", pdb_forms, WORKING_PDB, id="production-pdb"),
    pytest.param("overlays/production", max_unavailable_is_percentage, True, id="production-maxunavailable-percentage"),
    pytest.param("overlays/production", rollout, ("RollingUpdate", "5%", 0), id="production-rollout"),
    pytest.param("overlays/production", priority, *PRIORITY, id="production-priority"),
    pytest.param(
        "overlays/production", tolerates_explicitly(CONTROL_PLANE, "NoSchedule"), True, id="production-control-plane"
    ),
    pytest.param("overlays/production", resources_profile, "large", id="production-large-profile"),
    pytest.param("overlays/production", requests_vs_base, "larger", id="production-requests-above-chart-defaults"),
    pytest.param("overlays/production", memory_request_equals_limit, True, id="production-memory-request-eq-limit"),
    pytest.param("overlays/production", servicemonitors_scraping, 1, id="production-servicemonitor"),
    pytest.param("overlays/production", images_mirrored, True, id="production-mirror"),
    pytest.param(
        "overlays/production", template_label("dsgate.io/environment"), "production", id="production-environment-label"
    ),
    pytest.param("overlays/production-1000-nodes", rollout, ("RollingUpdate", "10%", 0), id="p1000-rollout-10-percent"),
    pytest.param("overlays/production-1000-nodes", min_ready_seconds, 30, id="p1000-min-ready-seconds"),
    pytest.param("overlays/production-1000-nodes", pdb_forms, WORKING_PDB, id="p1000-pdb"),
    pytest.param("overlays/production-1000-nodes", priority, *PRIORITY, id="p1000-priority"),
    pytest.param(
        "overlays/production-1000-nodes",
        tolerates_explicitly(CONTROL_PLANE, "NoSchedule"),
        True,
        id="p1000-control-plane",
    ),
    pytest.param("overlays/production-1000-nodes", resources_profile, "large", id="p1000-large-profile"),
    pytest.param("overlays/production-1000-nodes", servicemonitors_scraping, 1, id="p1000-servicemonitor"),
    pytest.param(
        "overlays/production-1000-nodes",
        template_label("dsgate.io/environment"),
        "production",
        id="p1000-is-production",
    ),
    pytest.param(
        "overlays/production-1000-nodes", template_label("dsgate.io/fleet-size"), "1000", id="p1000-fleet-label"
    ),
    pytest.param("overlays/gpu-pool", node_selector(GPU_LABEL), "true", id="gpu-pool-gpu-selector"),
    pytest.param("overlays/gpu-pool", node_selector("kubernetes.io/os"), "linux", id="gpu-pool-linux-kept"),
    pytest.param(
        "overlays/gpu-pool", tolerates_explicitly("nvidia.com/gpu", "NoSchedule"), True, id="gpu-pool-gpu-taint"
    ),
    pytest.param("overlays/gpu-pool", affinity_as_base, True, id="gpu-pool-affinity-kept"),
    pytest.param("overlays/gpu-pool", priority, *PRIORITY, id="gpu-pool-priority"),
    pytest.param("overlays/gpu-pool", pdb_forms, WORKING_PDB, id="gpu-pool-pdb"),
    pytest.param("overlays/gpu-pool", template_label("dsgate.io/node-pool"), "gpu", id="gpu-pool-label"),
    # --- components, each alone on every base it applies to
    pytest.param(
        "components/control-plane",
        tolerates_explicitly(CONTROL_PLANE, "NoSchedule"),
        True,
        id="control-plane-noschedule",
    ),
    pytest.param(
        "components/control-plane", tolerates_explicitly(CONTROL_PLANE, "NoExecute"), True, id="control-plane-noexecute"
    ),
    pytest.param("components/control-plane", base_tolerations_kept, True, id="control-plane-additive"),
    pytest.param("components/node-critical", priority, *PRIORITY, id="node-critical-priority"),
    pytest.param("components/gpu-only", node_selector(GPU_LABEL), "true", id="gpu-only-selector"),
    pytest.param("components/gpu-only", node_selector("kubernetes.io/os"), "linux", id="gpu-only-linux-kept"),
    pytest.param(
        "components/gpu-only", tolerates_explicitly("nvidia.com/gpu", "NoSchedule"), True, id="gpu-only-gpu-taint"
    ),
    pytest.param("components/gpu-only", base_tolerations_kept, True, id="gpu-only-tolerations-additive"),
    pytest.param("components/gpu-only", affinity_as_base, True, id="gpu-only-affinity-kept"),
    pytest.param("components/large-cluster", rollout, ("RollingUpdate", "10%", 0), id="large-cluster-rollout"),
    pytest.param("components/large-cluster", min_ready_seconds, 30, id="large-cluster-min-ready"),
    pytest.param("components/resources-small", resources_profile, "small", id="resources-small-marker"),
    pytest.param("components/resources-small", requests_vs_base, "smaller", id="resources-small-requests"),
    pytest.param("components/resources-small", memory_request_equals_limit, True, id="resources-small-memory-eq"),
    pytest.param("components/resources-large", resources_profile, "large", id="resources-large-marker"),
    pytest.param("components/resources-large", requests_vs_base, "larger", id="resources-large-requests"),
    pytest.param("components/resources-large", memory_request_equals_limit, True, id="resources-large-memory-eq"),
    pytest.param("components/pdb", pdb_forms, WORKING_PDB, id="pdb-working-form"),
    pytest.param("components/servicemonitor", servicemonitors_scraping, 1, id="servicemonitor-both"),
    pytest.param(
        "components/servicemonitor/node-exporter", servicemonitors_scraping, 1, id="servicemonitor-node-exporter"
    ),
    pytest.param("components/servicemonitor/fluentd", servicemonitors_scraping, 1, id="servicemonitor-fluentd"),
    pytest.param("components/image-mirror", images_mirrored, True, id="image-mirror-rewrite"),
]


def _row_names() -> set[str]:
    return {p.values[0] for p in INTENT}


def _base_daemonsets() -> dict[str, Obj]:
    """Agent name -> DaemonSet as its base builds it."""
    out: dict[str, Obj] = {}
    for base in bases().values():
        for ds in daemonsets(build(base.path).objects).values():
            out[agent(ds)] = ds
    return out


def _builds_for(rel: str, stack_build: StackBuild) -> list[Build]:
    for overlay in overlays():
        if overlay.rel == rel:
            return [build(overlay.path)]
    stacks = [stack_build(comp, base_names)[1] for comp, base_names in component_stacks() if comp.rel == rel]
    assert stacks, f"{rel}: neither a discovered overlay nor a discovered component"
    return stacks


@pytest.mark.parametrize(("name", "check", "expected"), INTENT)
def test_intent(name: str, check: Check, expected: Any, stack_build: StackBuild) -> None:
    base = _base_daemonsets()
    checked = 0
    for built in _builds_for(name, stack_build):
        for ref, ds in daemonsets(built.objects).items():
            assert check(ds, Ctx(built.objects, base[agent(ds)])) == expected, f"{name}: {ref}"
            checked += 1
    assert checked, f"{name}: no DaemonSet to check"


@pytest.mark.parametrize("kust", overlays() + components(), ids=lambda k: k.rel)
def test_every_kustomization_has_intent_rows(kust: Kustomization) -> None:
    assert kust.rel in _row_names(), f"{kust.rel} has no row in INTENT: state what it is for and assert it"
