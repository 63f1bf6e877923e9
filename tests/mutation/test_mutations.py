"""Policy mutation tests: break one property of a passing render, the expected rule must catch it.

The base is each chart's default render (which passes the library with zero denies). Every operator
changes exactly one property; the mutant goes through the real OPA server and must produce a
finding of the expected rule id with the expected severity. The mutation score must be 100%.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dsgate.gate.documents import Document, Provenance
from dsgate.gate.evaluate import Finding, OpaServer, default_policy_dir
from dsgate.gate.sourcekinds import render_chart
from tests.support import CHARTS, daemonset, pod_spec

pytestmark = pytest.mark.policy

Objs = list[dict[str, Any]]


def _pod(objs: Objs) -> dict[str, Any]:
    return pod_spec(daemonset(objs))


def _c0(objs: Objs) -> dict[str, Any]:
    return _pod(objs)["containers"][0]


def _set_pod(key: str, value: Any) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        _pod(objs)[key] = value

    return op


def _drop_kind(kind: str) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        objs[:] = [o for o in objs if o["kind"] != kind]

    return op


def _pdb_max_unavailable(objs: Objs) -> None:
    for o in objs:
        if o["kind"] == "PodDisruptionBudget":
            o["spec"].pop("minAvailable", None)
            o["spec"]["maxUnavailable"] = 1


def _pdb_unhealthy_policy(policy: str) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        for o in objs:
            if o["kind"] == "PodDisruptionBudget":
                o["spec"]["unhealthyPodEvictionPolicy"] = policy

    return op


def _pdb_percentage(objs: Objs) -> None:
    for o in objs:
        if o["kind"] == "PodDisruptionBudget":
            o["spec"]["minAvailable"] = "50%"


def _strategy(**rolling: Any) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        daemonset(objs)["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}

    return op


def _on_delete(objs: Objs) -> None:
    daemonset(objs)["spec"]["updateStrategy"] = {"type": "OnDelete"}


def _resources(fn: Callable[[dict[str, Any]], None]) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        fn(_c0(objs).setdefault("resources", {}))

    return op


def _container(key: str, value: Any) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        if value is None:
            _c0(objs).pop(key, None)
        else:
            _c0(objs)[key] = value

    return op


def _sec(key: str, value: Any) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        ctx = _c0(objs).setdefault("securityContext", {})
        if value is None:
            ctx.pop(key, None)
        else:
            ctx[key] = value

    return op


def _no_pod_seccomp(objs: Objs) -> None:
    _pod(objs).get("securityContext", {}).pop("seccompProfile", None)
    for c in _pod(objs)["containers"]:
        c.get("securityContext", {}).pop("seccompProfile", None)


def _no_run_as_non_root(objs: Objs) -> None:
    for ctx in [
        _pod(objs).get("securityContext", {}),
        *(c.get("securityContext", {}) for c in _pod(objs)["containers"]),
    ]:
        ctx.pop("runAsNonRoot", None)
        ctx.pop("runAsUser", None)


def _writable_host_path(objs: Objs) -> None:
    for m in _c0(objs)["volumeMounts"]:
        vol = next(v for v in _pod(objs)["volumes"] if v["name"] == m["name"])
        if "hostPath" in vol:
            m["readOnly"] = False
            return
    raise AssertionError("no hostPath mount to mutate")


def _untyped_host_path(objs: Objs) -> None:
    next(v for v in _pod(objs)["volumes"] if "hostPath" in v)["hostPath"].pop("type", None)


def _bidirectional(objs: Objs) -> None:
    _c0(objs)["volumeMounts"][0]["mountPropagation"] = "Bidirectional"


def _duplicate_daemonset_same_host_port(objs: Objs) -> None:
    twin = copy.deepcopy(daemonset(objs))
    twin["metadata"]["name"] += "-twin"
    objs.append(twin)


def _mismatched_selector(objs: Objs) -> None:
    daemonset(objs)["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "someone-else"


def _drop_name_label(objs: Objs) -> None:
    ds = daemonset(objs)
    ds["metadata"]["labels"].pop("app.kubernetes.io/name", None)
    ds["spec"]["template"]["metadata"]["labels"].pop("app.kubernetes.io/name", None)
    ds["spec"]["selector"]["matchLabels"].pop("app.kubernetes.io/name", None)


def _image(ref: str) -> Callable[[Objs], None]:
    def op(objs: Objs) -> None:
        _c0(objs)["image"] = ref

    return op


def _same_probes(objs: Objs) -> None:
    c = _c0(objs)
    c["livenessProbe"] = copy.deepcopy(c["readinessProbe"])


def _exempt_without_reason(objs: Objs) -> None:
    daemonset(objs)["metadata"].setdefault("annotations", {})["dsgate.io/exempt.DS-PRI-001"] = ""


def _second_heavy_agent(objs: Objs) -> None:
    """A second, different agent whose requests push the per-node sum over the budget."""
    twin = copy.deepcopy(daemonset(objs))
    twin["metadata"]["name"] = "heavy-agent"
    for c in twin["spec"]["template"]["spec"]["containers"]:
        c["resources"] = {
            "requests": {"cpu": "950m", "memory": "2000Mi"},
            "limits": {"cpu": "950m", "memory": "2000Mi"},
        }
        for port in c.get("ports") or []:
            port.pop("hostPort", None)
    objs.append(twin)


def _toleration_seconds(objs: Objs) -> None:
    _pod(objs)["tolerations"] = [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
        # key-less, so the DaemonSet controller's own unreachable toleration does not replace it
        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]


def _blanket_for_unlisted_agent(objs: Objs) -> None:
    ds = daemonset(objs)
    for labels in (
        ds["metadata"]["labels"],
        ds["spec"]["template"]["metadata"]["labels"],
        ds["spec"]["selector"]["matchLabels"],
    ):
        labels["app.kubernetes.io/name"] = "custom-agent"
    for container in ds["spec"]["template"]["spec"]["containers"]:  # else the catalogue knows it by its image
        container["image"] = "quay.io/example/custom-agent:v1.0.0"
    for o in objs:
        if o["kind"] == "PodDisruptionBudget":
            o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "custom-agent"


# (id, chart, operator, expected rule, expected severity)
MUTANTS: list[tuple[str, str, Callable[[Objs], None], str, str]] = [
    ("drop-tolerations", "node-exporter", _set_pod("tolerations", []), "DS-TOL-001", "deny"),
    (
        "drop-control-plane-toleration-only",
        "node-exporter",
        _set_pod("tolerations", [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]),
        "DS-TOL-001",
        "deny",
    ),
    ("noexecute-with-toleration-seconds", "node-exporter", _toleration_seconds, "DS-TOL-003", "deny"),
    ("blanket-toleration-unlisted-agent", "node-exporter", _blanket_for_unlisted_agent, "DS-TOL-002", "warn"),
    (
        "no-schedule-only-tolerations",
        "fluentd",
        _set_pod("tolerations", [{"operator": "Exists", "effect": "NoSchedule"}]),
        "DS-TOL-004",
        "warn",
    ),
    ("delete-pdb", "node-exporter", _drop_kind("PodDisruptionBudget"), "DS-PDB-001", "warn"),
    ("delete-pdb-fluentd", "fluentd", _drop_kind("PodDisruptionBudget"), "DS-PDB-001", "warn"),
    ("pdb-if-healthy-budget", "fluentd", _pdb_unhealthy_policy("IfHealthyBudget"), "DS-PDB-003", "warn"),
    ("pdb-max-unavailable", "node-exporter", _pdb_max_unavailable, "DS-PDB-002", "deny"),
    ("pdb-percentage", "fluentd", _pdb_percentage, "DS-PDB-002", "deny"),
    ("clear-priority", "node-exporter", _set_pod("priorityClassName", ""), "DS-PRI-001", "deny"),
    ("other-priority", "fluentd", _set_pod("priorityClassName", "high-priority"), "DS-PRI-001", "deny"),
    ("drop-limits", "node-exporter", _resources(lambda r: r.pop("limits", None)), "DS-RES-001", "deny"),
    ("drop-requests-fluentd", "fluentd", _resources(lambda r: r.pop("requests", None)), "DS-RES-001", "deny"),
    (
        "memory-limit-ne-request",
        "node-exporter",
        _resources(lambda r: r["limits"].__setitem__("memory", "999Mi")),
        "DS-RES-002",
        "deny",
    ),
    (
        "limits-over-budget",
        "fluentd",
        _resources(
            lambda r: r.update({"limits": {"cpu": "8", "memory": "16Gi"}, "requests": {"cpu": "8", "memory": "16Gi"}})
        ),
        "DS-RES-003",
        "deny",
    ),
    ("max-unavailable-100pct", "node-exporter", _strategy(maxUnavailable="100%", maxSurge=0), "DS-ROL-002", "deny"),
    ("no-max-unavailable", "fluentd", _strategy(maxSurge=0), "DS-ROL-001", "warn"),
    ("on-delete", "node-exporter", _on_delete, "DS-ROL-004", "warn"),
    (
        "min-ready-seconds-0",
        "node-exporter",
        lambda o: daemonset(o)["spec"].__setitem__("minReadySeconds", 0),
        "DS-ROL-005",
        "warn",
    ),
    ("max-surge-with-host-port", "node-exporter", _strategy(maxUnavailable=0, maxSurge=1), "DS-ROL-006", "deny"),
    ("drop-readiness-probe", "node-exporter", _container("readinessProbe", None), "DS-PRB-001", "deny"),
    ("drop-liveness-probe", "fluentd", _container("livenessProbe", None), "DS-PRB-002", "deny"),
    ("liveness-equals-readiness", "node-exporter", _same_probes, "DS-PRB-003", "warn"),
    ("image-latest", "node-exporter", _image("quay.io/prometheus/node-exporter:latest"), "DS-IMG-001", "deny"),
    ("image-no-tag", "fluentd", _image("fluent/fluentd-kubernetes-daemonset"), "DS-IMG-001", "deny"),
    (
        "image-registry-not-allowed",
        "node-exporter",
        _image("evil.example.com/node-exporter:v1.12.1"),
        "DS-IMG-004",
        "warn",
    ),
    ("image-branch-tag", "node-exporter", _image("quay.io/prometheus/node-exporter:master"), "DS-IMG-001", "deny"),
    (
        "image-minor-version-tag",
        "fluentd",
        _image("docker.io/fluent/fluentd-kubernetes-daemonset:v1.19"),
        "DS-IMG-001",
        "deny",
    ),
    ("writable-host-path", "node-exporter", _writable_host_path, "DS-HST-001", "deny"),
    ("host-path-without-type", "node-exporter", _untyped_host_path, "DS-HST-002", "warn"),
    ("bidirectional-propagation", "node-exporter", _bidirectional, "DS-HST-003", "deny"),
    ("host-network-without-dns-policy", "node-exporter", _set_pod("dnsPolicy", "ClusterFirst"), "DS-HST-004", "warn"),
    ("host-network-unlisted-agent", "fluentd", _set_pod("hostNetwork", True), "DS-HST-005", "deny"),
    ("duplicate-host-port", "node-exporter", _duplicate_daemonset_same_host_port, "DS-HST-006", "deny"),
    ("run-as-root", "node-exporter", _no_run_as_non_root, "DS-SEC-001", "deny"),
    ("privilege-escalation", "node-exporter", _sec("allowPrivilegeEscalation", True), "DS-SEC-002", "deny"),
    ("no-drop-all", "node-exporter", _sec("capabilities", {}), "DS-SEC-003", "deny"),
    (
        "add-net-admin",
        "node-exporter",
        _sec("capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]}),
        "DS-SEC-004",
        "deny",
    ),
    ("no-seccomp", "node-exporter", _no_pod_seccomp, "DS-SEC-005", "deny"),
    ("writable-root-fs", "fluentd", _sec("readOnlyRootFilesystem", False), "DS-SEC-006", "warn"),
    ("privileged", "node-exporter", _sec("privileged", True), "DS-SEC-007", "deny"),
    ("token-without-rbac", "node-exporter", _set_pod("automountServiceAccountToken", True), "DS-SEC-008", "warn"),
    ("selector-mismatch", "node-exporter", _mismatched_selector, "DS-HYG-001", "deny"),
    ("drop-name-label", "fluentd", _drop_name_label, "DS-HYG-002", "warn"),
    ("exemption-without-reason", "node-exporter", _exempt_without_reason, "DS-HYG-003", "deny"),
    ("second-agent-over-node-budget", "node-exporter", _second_heavy_agent, "DS-RES-004", "deny"),
]

# Mutants that need policy parameters, on a ci scenario that passes under them:
# (id, chart, scenario, operator, parameters, expected rule, expected severity)
PARAM_MUTANTS: list[tuple[str, str, str, Callable[[Objs], None], dict[str, Any], str, str]] = [
    (
        "integer-max-unavailable-on-1000-nodes",
        "node-exporter",
        "large-cluster",
        _strategy(maxUnavailable=1, maxSurge=0),
        {"cluster_nodes": 1000},
        "DS-ROL-003",
        "warn",
    ),
    (
        "no-digest-when-required",
        "fluentd",
        "hardened",
        _image("docker.io/fluent/fluentd-kubernetes-daemonset:v1.19.2-debian-forward-1.0"),
        {"require_digest": True},
        "DS-IMG-003",
        "deny",
    ),
]


@pytest.fixture(scope="module")
def opa() -> Iterator[OpaServer]:
    with OpaServer(default_policy_dir()) as server:
        yield server


@pytest.fixture(scope="module")
def opa_with() -> Iterator[Callable[[dict[str, Any]], OpaServer]]:
    """OPA servers started with the given policy parameters, one per parameter set, stopped at the end."""
    servers: dict[str, OpaServer] = {}

    def get(parameters: dict[str, Any]) -> OpaServer:
        key = json.dumps(parameters, sort_keys=True)
        if key not in servers:
            servers[key] = OpaServer(default_policy_dir(), data={"parameters": parameters})
            servers[key].start()
        return servers[key]

    yield get
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def base_renders() -> dict[str, Objs]:
    """Default renders by chart name, and ci scenario renders by "chart/scenario"."""
    renders = {chart: render_chart(CHARTS / chart).objects for chart in ("node-exporter", "fluentd")}
    for _, chart, scenario, *_ in PARAM_MUTANTS:
        renders[f"{chart}/{scenario}"] = render_chart(
            CHARTS / chart, values_files=[CHARTS / chart / "ci" / f"{scenario}-values.yaml"]
        ).objects
    return renders


def evaluate(opa: OpaServer, objs: Objs, label: str) -> list[Finding]:
    prov = Provenance(label, "chart", scenario="mutant")
    return opa.evaluate([Document(o, prov, i) for i, o in enumerate(objs)])


@pytest.mark.parametrize("chart", ["node-exporter", "fluentd"])
def test_base_render_is_clean(opa: OpaServer, base_renders: dict[str, Objs], chart: str) -> None:
    findings = evaluate(opa, base_renders[chart], chart)
    assert [f for f in findings if f.severity == "deny" and not f.exempted] == []


@pytest.mark.parametrize(
    ("mutant", "chart", "operator", "expected_rule", "expected_severity"), [pytest.param(*m, id=m[0]) for m in MUTANTS]
)
def test_mutant_caught(
    opa: OpaServer,
    base_renders: dict[str, Objs],
    mutant: str,
    chart: str,
    operator: Callable[[Objs], None],
    expected_rule: str,
    expected_severity: str,
) -> None:
    objs = copy.deepcopy(base_renders[chart])
    operator(objs)
    assert objs != base_renders[chart], f"operator {mutant} changed nothing"
    findings = evaluate(opa, objs, f"{chart}:{mutant}")
    caught = {(f.rule, f.severity) for f in findings if not f.exempted}
    assert (expected_rule, expected_severity) in caught, (
        f"{mutant} not caught by {expected_rule}; findings: {sorted(caught)}"
    )


@pytest.mark.parametrize(
    ("mutant", "chart", "scenario", "operator", "parameters", "expected_rule", "expected_severity"),
    [pytest.param(*m, id=m[0]) for m in PARAM_MUTANTS],
)
def test_parameter_mutant_caught(
    opa_with: Callable[[dict[str, Any]], OpaServer],
    base_renders: dict[str, Objs],
    mutant: str,
    chart: str,
    scenario: str,
    operator: Callable[[Objs], None],
    parameters: dict[str, Any],
    expected_rule: str,
    expected_severity: str,
) -> None:
    server = opa_with(parameters)
    base = base_renders[f"{chart}/{scenario}"]
    assert [f for f in evaluate(server, base, chart) if f.severity == "deny"] == [], (
        "the base must pass under these parameters"
    )
    objs = copy.deepcopy(base)
    operator(objs)
    caught = {(f.rule, f.severity) for f in evaluate(server, objs, f"{chart}:{mutant}") if not f.exempted}
    assert (expected_rule, expected_severity) in caught, (
        f"{mutant} not caught by {expected_rule}; findings: {sorted(caught)}"
    )


def test_mutation_score(
    opa: OpaServer,
    opa_with: Callable[[dict[str, Any]], OpaServer],
    base_renders: dict[str, Objs],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cases = [(m, c, op, {}, r, sev) for m, c, op, r, sev in MUTANTS]
    cases += [(m, f"{c}/{scenario}", op, params, r, sev) for m, c, scenario, op, params, r, sev in PARAM_MUTANTS]
    caught = 0
    for mutant, base, operator, parameters, expected_rule, expected_severity in cases:
        objs = copy.deepcopy(base_renders[base])
        operator(objs)
        server = opa_with(parameters) if parameters else opa
        if any(f.rule == expected_rule and f.severity == expected_severity for f in evaluate(server, objs, mutant)):
            caught += 1
    score = caught / len(cases)
    with capsys.disabled():
        print(f"\nmutation score: {caught}/{len(cases)} = {score:.0%}")
    assert score == 1.0
