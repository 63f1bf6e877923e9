"""Each base's Namespace carries the Pod Security level its agent needs, and no looser.

The pod template each base builds is checked against the Pod Security Standards controls
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, v1.33 as pinned by the
labels): the strictest level the pod passes must be the namespace's `enforce` level, and the baseline
controls it exceeds are the ones the namespace comment gives as the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import by_kind, pod_spec

from .support import Obj, bases, build, daemonsets

pytestmark = pytest.mark.render

PSS = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")

# Baseline "Capabilities": adding anything beyond this list is forbidden.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip # the list as the Pod Security Standards page prints it, several a line
# Baseline "Sysctls": the safe set.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip # several sysctls a line, as the Pod Security Standards page lists them
# Restricted "Volume Types": the only volume sources allowed.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _containers(spec: Obj) -> Iterator[Obj]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(group) or []


def _security_contexts(spec: Obj) -> Iterator[Obj]:
    yield spec.get("securityContext") or {}
    for c in _containers(spec):
        yield c.get("securityContext") or {}


def baseline_violations(spec: Obj) -> set[str]:  # noqa: C901  # one branch per Pod Security Standard baseline control, in the standard's order
    """The baseline controls SPEC (a pod spec) exceeds."""
    found: set[str] = set()
    contexts = list(_security_contexts(spec))
    if any((sc.get("windowsOptions") or {}).get("hostProcess") for sc in contexts):
        found.add("HostProcess")
    if any(spec.get(f) for f in ("hostNetwork", "hostPID", "hostIPC")):
        found.add("Host Namespaces")
    if any((c.get("securityContext") or {}).get("privileged") for c in _containers(spec)):
        found.add("Privileged Containers")
    for c in _containers(spec):
        added = set(((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            found.add("Capabilities")
    if any("hostPath" in v for v in spec.get("volumes") or []):
        found.add("HostPath Volumes")
    if any(p.get("hostPort") for c in _containers(spec) for p in c.get("ports") or []):
        found.add("Host Ports")
    if any(
        (sc.get("appArmorProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost") for sc in contexts
    ):
        found.add("AppArmor")
    for sc in contexts:
        se = sc.get("seLinuxOptions") or {}
        if (
            se.get("user")
            or se.get("role")
            or se.get("type")
            not in (None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
        ):
            found.add("SELinux")
    if any((c.get("securityContext") or {}).get("procMount") not in (None, "Default") for c in _containers(spec)):
        found.add("/proc Mount Type")
    if any((sc.get("seccompProfile") or {}).get("type") == "Unconfined" for sc in contexts):
        found.add("Seccomp")
    if any(s.get("name") not in SAFE_SYSCTLS for s in (spec.get("securityContext") or {}).get("sysctls") or []):
        found.add("Sysctls")
    return found


def restricted_violations(spec: Obj) -> set[str]:
    """The restricted-only controls SPEC exceeds (on top of baseline)."""
    found: set[str] = set()
    pod_sc = spec.get("securityContext") or {}
    containers = list(_containers(spec))
    if any(set(v) - {"name"} - RESTRICTED_VOLUMES for v in spec.get("volumes") or []):
        found.add("Volume Types")
    if any((c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False for c in containers):
        found.add("Privilege Escalation")
    if not all(
        (c.get("securityContext") or {}).get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True for c in containers
    ):
        found.add("Running as Non-root")
    if any(sc.get("runAsUser") == 0 for sc in _security_contexts(spec)):
        found.add("Running as Non-root user")
    seccomp_ok = ("RuntimeDefault", "Localhost")
    if not all(
        ((c.get("securityContext") or {}).get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        in seccomp_ok
        for c in containers
    ):
        found.add("Seccomp")
    for c in containers:
        caps = (c.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.add("Capabilities")
    return found


def strictest_level(spec: Obj) -> str:
    if baseline_violations(spec):
        return "privileged"
    return "baseline" if restricted_violations(spec) else "restricted"


@pytest.mark.parametrize(
    ("base", "expected_baseline_violations"),
    [
        # host namespaces (hostNetwork, hostPID), /proc /sys / from the host, hostPort 9100
        pytest.param("node-exporter", {"Host Namespaces", "HostPath Volumes", "Host Ports"}, id="node-exporter"),
        # only the log and pos_file hostPaths; root is fine at baseline
        pytest.param("fluentd", {"HostPath Volumes"}, id="fluentd"),
    ],
)
def test_agent_exceeds_exactly_the_stated_baseline_controls(base: str, expected_baseline_violations: set[str]) -> None:
    (ds,) = daemonsets(build(bases()[base].path).objects).values()
    assert baseline_violations(pod_spec(ds)) == expected_baseline_violations


@pytest.mark.parametrize("base", sorted(bases()))
def test_namespace_enforces_the_strictest_level_the_agent_passes(base: str) -> None:
    objs = build(bases()[base].path).objects
    (namespace,) = by_kind(objs, "Namespace")
    labels: dict[str, Any] = namespace["metadata"].get("labels") or {}
    levels = {ds["metadata"]["name"]: strictest_level(pod_spec(ds)) for ds in daemonsets(objs).values()}
    assert levels, f"{base}: no DaemonSet"
    # The namespace can be no stricter than its loosest workload needs.
    order = ["restricted", "baseline", "privileged"]
    needed = max(levels.values(), key=order.index)
    assert labels.get(PSS + "enforce") == needed
    # audit/warn are set, never looser than enforce, and every mode's version is pinned.
    for mode in MODES:
        assert order.index(labels[PSS + mode]) <= order.index(labels[PSS + "enforce"])
        assert re.fullmatch(r"v1\.\d+", labels[PSS + mode + "-version"])


def test_pss_checks_can_tell_levels_apart() -> None:
    # Guards the checker itself: a hardened, host-free pod is restricted; root makes it baseline.
    hardened: Obj = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    assert strictest_level(hardened) == "restricted"
    as_root = {**hardened, "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}}
    assert strictest_level(as_root) == "baseline"
    with_host_path = {**hardened, "volumes": [{"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}}]}
    assert baseline_violations(with_host_path) == {"HostPath Volumes"}
