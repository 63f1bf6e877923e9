"""The local cluster's topology file: node pools, their capacity, and the kwok timing knobs.

`load_topology(path)` parses and validates cluster/topology.yaml (unknown keys are errors,
quantities must parse); `Topology.nodes()` expands the pools into the Node objects dsgate
registers with the API server. The nodes look like ordinary linux kubelets: standard
well-known labels, addresses, nodeInfo and a pod CIDR, and no taint except the one a
control-plane pool carries (never kwok's `kwok.x-k8s.io/node=fake:NoSchedule`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.errors import DsgateError
from dsgate.k8s import parse_quantity
from dsgate.paths import CLUSTER_STAGES_DIR, DEFAULT_TOPOLOGY
from dsgate.versions import kubernetes_version

STAGES_DIR = CLUSTER_STAGES_DIR

CONTROL_PLANE_ROLE = "control-plane"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}
REQUIRED_RESOURCES = ("cpu", "memory", "pods")
ARCHES = ("amd64", "arm64")
# Addresses never collide: node N of pool P has InternalIP 10.P.(N // 250).(N % 250 + 2), and pod
# CIDR number P * MAX_NODES_PER_POOL + N, a /24 counted up from 10.56.0.0 (the last one of pool 19,
# node 2559, is 10.255.255.0/24). Nodes past a pool's count (`LocalCluster.add_node`) fit the same way.
MAX_POOLS = 20
MAX_NODES_PER_POOL = 2560
_POD_CIDR_BASE = 56  # second octet of the first pod /24; node addresses use 10.0-19.x.x

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_TOP_KEYS = {"apiVersion", "kind", "podReadyDelay", "podReadyJitter", "podDeleteDelay", "zones", "pools"}
_POOL_KEYS = {"name", "role", "count", "instanceType", "arch", "labels", "taints", "capacity", "allocatable"}
_TAINT_KEYS = {"key", "value", "effect"}
_TAINT_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}


class TopologyError(DsgateError, ValueError):
    """The topology file is invalid; the message names the file and the offending key."""


@dataclass(frozen=True)
class Pool:
    """A group of identical simulated nodes."""

    name: str
    count: int
    role: str = ""
    instance_type: str = ""
    arch: str = "amd64"
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()
    capacity: dict[str, str] = field(default_factory=dict)
    allocatable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topology:
    """Pools of nodes plus the pod timing the kwok stages simulate."""

    pools: tuple[Pool, ...]
    pod_ready_delay_ms: int = 2000
    pod_ready_jitter_ms: int = 1000
    pod_delete_delay_ms: int = 1000
    zones: tuple[str, ...] = ("zone-a",)
    source: str = "<inline>"

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.pools)

    def pool(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(f"topology has no pool {name!r} (pools: {', '.join(p.name for p in self.pools)})")

    def nodes(self) -> list[dict[str, Any]]:
        """Every Node object of the topology, in pool order."""
        out: list[dict[str, Any]] = []
        for pool_index, pool in enumerate(self.pools):
            for index in range(pool.count):
                out.append(node_manifest(self, pool_index, index))
        return out


def node_name(pool: Pool, index: int) -> str:
    return f"{pool.name}-{index}"


def pod_cidr(pool_index: int, index: int) -> str:
    """The /24 pod CIDR of node INDEX of pool POOL_INDEX (unique across pools, valid up to the limits)."""
    block = pool_index * MAX_NODES_PER_POOL + index
    return f"10.{_POD_CIDR_BASE + block // 256}.{block % 256}.0/24"


def node_manifest(topology: Topology, pool_index: int, index: int) -> dict[str, Any]:
    """The Node object for node INDEX of pool POOL_INDEX, status included (a kubelet registers it so)."""
    pool = topology.pools[pool_index]
    if index >= MAX_NODES_PER_POOL:
        raise TopologyError(f"pool {pool.name!r}: at most {MAX_NODES_PER_POOL} nodes per pool")
    name = node_name(pool, index)
    zone = topology.zones[index % len(topology.zones)]
    labels = {
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": pool.arch,
        "kubernetes.io/hostname": name,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": pool.arch,
        "node.kubernetes.io/instance-type": pool.instance_type or pool.name,
        "topology.kubernetes.io/region": "local",
        "topology.kubernetes.io/zone": zone,
    }
    taints = [dict(t) for t in pool.taints]
    if pool.role == CONTROL_PLANE_ROLE:
        labels[CONTROL_PLANE_LABEL] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        if not any(t.get("key") == CONTROL_PLANE_LABEL for t in taints):
            taints.insert(0, dict(CONTROL_PLANE_TAINT))
    labels.update(pool.labels)
    ip = f"10.{pool_index}.{index // 250}.{index % 250 + 2}"
    version = kubernetes_version()
    cidr = pod_cidr(pool_index, index)
    spec: dict[str, Any] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "capacity": dict(pool.capacity),
            "allocatable": dict(pool.allocatable or pool.capacity),
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "architecture": pool.arch,
                "operatingSystem": "linux",
                "osImage": "kwok simulated node",
                "kernelVersion": "6.8.0",
                "kubeletVersion": version,
                "kubeProxyVersion": version,
                "containerRuntimeVersion": "containerd://2.1.0",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


def parse_duration_ms(value: Any, where: str) -> int:
    """'2s', '500ms', '1.5s', '1m' or a number of seconds -> milliseconds."""
    if isinstance(value, bool):
        raise TopologyError(f"{where}: expected a duration like 2s or 500ms, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise TopologyError(f"{where}: duration must be >= 0, got {value!r}")
        return int(value * 1000)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise TopologyError(f"{where}: expected a duration like 2s or 500ms, got {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return int(number * {"ms": 1, "s": 1000, "m": 60000}[unit])


def _unknown(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise TopologyError(f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def _resources(raw: Any, where: str, required: bool) -> dict[str, str]:
    if raw is None:
        if required:
            raise TopologyError(f"{where}: is required (cpu, memory and pods)")
        return {}
    if not isinstance(raw, dict):
        raise TopologyError(f"{where}: expected a mapping of resource -> quantity")
    out: dict[str, str] = {}
    for key, value in raw.items():
        text = str(value)
        try:
            if parse_quantity(text) < 0:
                raise ValueError
        except ValueError:
            raise TopologyError(f"{where}.{key}: {value!r} is not a valid non-negative quantity") from None
        out[str(key)] = text
    missing = [r for r in REQUIRED_RESOURCES if r not in out]
    if missing:
        raise TopologyError(f"{where}: missing {', '.join(missing)} (cpu, memory and pods are required)")
    return out


def _pool(raw: Any, where: str) -> Pool:
    if not isinstance(raw, dict):
        raise TopologyError(f"{where}: expected a mapping")
    _unknown(set(raw), _POOL_KEYS, where)
    name = raw.get("name")
    if not isinstance(name, str) or not _DNS1123_LABEL.match(name) or len(name) > 50:
        raise TopologyError(f"{where}.name: {name!r} is not a DNS-1123 label of at most 50 characters")
    where = f"{where} ({name})"
    count = raw.get("count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_NODES_PER_POOL:
        raise TopologyError(f"{where}.count: expected an integer 0..{MAX_NODES_PER_POOL}, got {count!r}")
    role = raw.get("role", "") or ""
    if role not in ("", CONTROL_PLANE_ROLE):
        raise TopologyError(f"{where}.role: expected {CONTROL_PLANE_ROLE!r} or nothing, got {role!r}")
    arch = raw.get("arch", "amd64")
    if arch not in ARCHES:
        raise TopologyError(f"{where}.arch: expected one of {', '.join(ARCHES)}, got {arch!r}")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise TopologyError(f'{where}.labels: expected a mapping of string -> string (quote values like "true")')
    taints: list[dict[str, str]] = []
    for i, taint in enumerate(raw.get("taints") or []):
        if not isinstance(taint, dict):
            raise TopologyError(f"{where}.taints[{i}]: expected a mapping")
        _unknown(set(taint), _TAINT_KEYS, f"{where}.taints[{i}]")
        if not taint.get("key") or taint.get("effect") not in _TAINT_EFFECTS:
            raise TopologyError(
                f"{where}.taints[{i}]: needs a key and an effect in {', '.join(sorted(_TAINT_EFFECTS))}"
            )
        taints.append({k: str(v) for k, v in taint.items()})
    capacity = _resources(raw.get("capacity"), f"{where}.capacity", required=True)
    allocatable = _resources(raw.get("allocatable"), f"{where}.allocatable", required=False)
    for key, value in allocatable.items():
        if key in capacity and parse_quantity(value) > parse_quantity(capacity[key]):
            raise TopologyError(f"{where}.allocatable.{key}: {value} exceeds capacity {capacity[key]}")
    return Pool(
        name=name,
        count=count,
        role=role,
        instance_type=str(raw.get("instanceType", "") or ""),
        arch=arch,
        labels={str(k): v for k, v in labels.items()},
        taints=tuple(taints),
        capacity=capacity,
        allocatable=allocatable,
    )


def parse_topology(data: Any, source: str = "<inline>") -> Topology:
    """Validate a topology mapping (as read from YAML)."""
    if not isinstance(data, dict):
        raise TopologyError(f"{source}: expected a mapping with kind: Topology")
    _unknown(set(data), _TOP_KEYS, source)
    if data.get("kind") != "Topology":
        raise TopologyError(f"{source}: kind must be Topology, got {data.get('kind')!r}")
    raw_pools = data.get("pools")
    if not isinstance(raw_pools, list) or not raw_pools:
        raise TopologyError(f"{source}: pools must be a non-empty list")
    if len(raw_pools) > MAX_POOLS:
        raise TopologyError(f"{source}: at most {MAX_POOLS} pools")
    pools = tuple(_pool(p, f"{source}: pools[{i}]") for i, p in enumerate(raw_pools))
    names = [p.name for p in pools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TopologyError(f"{source}: duplicate pool name(s) {', '.join(dupes)}")
    if sum(p.count for p in pools) == 0:
        raise TopologyError(f"{source}: the pools have no nodes (every count is 0)")
    zones = data.get("zones") or ["zone-a"]
    if not isinstance(zones, list) or not all(isinstance(z, str) and _DNS1123_LABEL.match(z) for z in zones):
        raise TopologyError(f"{source}: zones must be a list of DNS-1123 labels")
    return Topology(
        pools=pools,
        pod_ready_delay_ms=parse_duration_ms(data.get("podReadyDelay", "2s"), f"{source}: podReadyDelay"),
        pod_ready_jitter_ms=parse_duration_ms(data.get("podReadyJitter", "1s"), f"{source}: podReadyJitter"),
        pod_delete_delay_ms=parse_duration_ms(data.get("podDeleteDelay", "1s"), f"{source}: podDeleteDelay"),
        zones=tuple(zones),
        source=source,
    )


def load_topology(path: Path | None = None) -> Topology:
    """Read and validate a topology file (default: cluster/topology.yaml)."""
    path = path or DEFAULT_TOPOLOGY
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TopologyError(f"cannot read topology file {path}: {exc.strerror}") from None
    try:
        data = yamlc.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError(f"{path}: not valid YAML: {exc}") from None
    return parse_topology(data, str(path))


def stage_documents(topology: Topology) -> list[dict[str, Any]]:
    """The kwok Stage objects from cluster/stages/, with the topology's pod delays applied."""
    docs: list[dict[str, Any]] = []
    for path in sorted(STAGES_DIR.glob("*.yaml")):
        for doc in yamlc.safe_load_all(path.read_text()):
            if doc:
                docs.append(doc)
    by_name = {d["metadata"]["name"]: d for d in docs}
    for required in ("node-initialize", "node-heartbeat", "pod-ready", "pod-ready-again", "pod-complete", "pod-delete"):
        if required not in by_name:
            raise TopologyError(f"{STAGES_DIR}: stage {required!r} is missing")
    ready = topology.pod_ready_delay_ms
    for name in ("pod-ready", "pod-ready-again"):
        by_name[name]["spec"]["delay"] = {
            "durationMilliseconds": ready,
            "jitterDurationMilliseconds": ready + topology.pod_ready_jitter_ms,
        }
    by_name["pod-delete"]["spec"]["delay"] = {"durationMilliseconds": topology.pod_delete_delay_ms}
    return docs


# Labels every kubelet sets per node, or that a topology expresses by its own keys: not a pool's shape.
_PER_NODE_LABELS = {
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    CONTROL_PLANE_LABEL,
}


def _pool_name(base: str, taken: set[str]) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:40] or "pool"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def topology_from_nodes(
    nodes: list[dict[str, Any]], keep_names: bool = False
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A topology of the shape of NODES (`kubectl get nodes -o yaml` items, or a live list): one pool per
    distinct (role, instance type, arch, labels, taints, capacity, allocatable), with its count; zones
    from the zone labels. Names and addresses are dropped; with KEEP_NAMES the second value maps each
    pool to its nodes' names (the topology format has no place for them)."""
    shapes: dict[str, tuple[dict[str, Any], list[str]]] = {}
    zones: set[str] = set()
    for node in nodes:
        meta, status = node.get("metadata") or {}, node.get("status") or {}
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        if labels.get("topology.kubernetes.io/zone"):
            zones.add(labels["topology.kubernetes.io/zone"])
        pool: dict[str, Any] = {
            "role": CONTROL_PLANE_ROLE if CONTROL_PLANE_LABEL in labels else "",
            "instanceType": labels.get("node.kubernetes.io/instance-type", ""),
            "arch": labels.get("kubernetes.io/arch", "amd64"),
            "labels": {k: v for k, v in sorted(labels.items()) if k not in _PER_NODE_LABELS},
            "taints": [
                {k: str(t[k]) for k in ("key", "value", "effect") if t.get(k)}
                for t in (node.get("spec") or {}).get("taints") or []
            ],
            "capacity": {k: str(v) for k, v in (status.get("capacity") or {}).items()},
            "allocatable": {k: str(v) for k, v in (status.get("allocatable") or {}).items()},
        }
        key = yaml.safe_dump(pool, sort_keys=True)
        shapes.setdefault(key, (pool, []))[1].append(str(meta.get("name", "")))
    taken: set[str] = set()
    pools, names = [], {}
    for pool, members in sorted(
        shapes.values(), key=lambda s: (s[0]["role"] != CONTROL_PLANE_ROLE, s[0]["instanceType"], -len(s[1]))
    ):
        name = _pool_name(pool["role"] or pool["instanceType"] or "pool", taken)
        entry = {"name": name, "count": len(members), **{k: v for k, v in pool.items() if v}}
        if entry.get("arch") == "amd64":
            del entry["arch"]
        pools.append(entry)
        if keep_names:
            names[name] = sorted(members)
    if len(pools) > MAX_POOLS:
        raise TopologyError(f"the nodes have {len(pools)} distinct shapes; a topology holds at most {MAX_POOLS} pools")
    data = {
        "apiVersion": "dsgate.dev/v1alpha1",
        "kind": "Topology",
        "zones": sorted(zones) or ["zone-a"],
        "pools": pools,
    }
    parse_topology(data, "exported topology")  # what it writes must load
    return data, names
