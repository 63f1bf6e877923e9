"""The cases of the differential test (`dsgate admission test`): DaemonSets with the parameters to judge them by.

Four sources, all deterministic (a seed, no clock), so a red run names a case that fails again:

- `sample`: the DaemonSet of every policy sample (policies/dsgate/rules/*/samples), with the
  parameters its `# data:` header gives; the rest of the sample's data (the fleet's nodes, the
  exemptions of dsgate.yaml) goes to the gate only, as the gate would have it.
- `parameter`: every parameter of the library at two overrides (the defaults are every other case),
  on the valid DaemonSets (the allowed samples and the charts' rendered DaemonSets).
- `injection`: each rule's disallowed pattern, the difference from its allowed sample to its denied
  sample, applied to each valid DaemonSet.
- `property`: DaemonSets drawn from a grammar of the features the rules look at (agents, images,
  host namespaces, privileges, host paths, resources, probes, tolerations, strategies with and
  without a surge, exemptions), by a seeded random.Random, judged in turn by the defaults and by
  three fleets of known size (PROPERTY_PARAMETERS).

A case is one DaemonSet; its verdicts are computed by differential.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgate import yamlc
from dsgate.paths import rules_dir

NAMESPACE = "dsgate-diff"  # where a case without a namespace is created
JSON = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One DaemonSet to judge three ways, with the parameters (dsgate.yaml `parameters:`) to judge it by."""

    id: str  # unique and stable, e.g. sample:policies/dsgate/rules/rollout/samples/DS-ROL-001/denied.yaml#3
    source: str  # sample | parameter | injection | property
    daemonset: JSON
    parameters: JSON = field(default_factory=dict)
    gate_data: JSON = field(default_factory=dict)  # data.dsgate besides parameters, for the gate only
    context: tuple[JSON, ...] = ()  # the other documents of a sample, for the gate on the raw manifest
    rule: str = ""  # the rule a sample or an injection is about

    @property
    def namespace(self) -> str:
        return str((self.daemonset.get("metadata") or {}).get("namespace") or NAMESPACE)

    @property
    def group(self) -> str:
        """The parameter set's key: cases of one group are judged with one params object."""
        return json.dumps(self.parameters, sort_keys=True)


# ---------------------------------------------------------------------------------------- samples


def _header_data(text: str) -> JSON:
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        if sep and key == "data":
            data = json.loads(value.strip())
            return data if isinstance(data, dict) else {}
    return {}


def sample_files(policies: Path | None = None) -> list[Path]:
    return sorted(rules_dir(policies).glob("*/samples/*/*.yaml"))


def sample_cases(policies: Path | None = None) -> list[Case]:
    """One case per DaemonSet of every policy sample."""
    root = rules_dir(policies).parents[1]
    cases: list[Case] = []
    for path in sample_files(policies):
        text = path.read_text()
        data = _header_data(text)
        documents = [d for d in yamlc.safe_load_all(text) if isinstance(d, dict)]
        parameters = data.get("parameters") or {}
        rest = {k: v for k, v in data.items() if k != "parameters"}
        for index, doc in enumerate(documents):
            if doc.get("kind") != "DaemonSet" or doc.get("apiVersion") != "apps/v1":
                continue
            others = tuple(d for d in documents if d is not doc)
            cases.append(
                Case(
                    id=f"sample:{path.relative_to(root)}#{index}",
                    source="sample",
                    daemonset=doc,
                    parameters=parameters,
                    gate_data=rest,
                    context=others,
                    rule=path.parent.name,
                )
            )
    return cases


def valid_daemonsets(samples: Sequence[Case]) -> list[tuple[str, JSON]]:
    """(name, DaemonSet) of the allowed samples that need no parameters or data."""
    return [
        (case.id.removeprefix("sample:"), case.daemonset)
        for case in samples
        if Path(case.id.split("#")[0]).name.startswith("allowed") and not case.parameters and not case.gate_data
    ]


# ------------------------------------------------------------------------------------- parameters


def overrides(defaults: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Two overrides of each parameter, chosen by the type of its default to move a verdict: a list
    emptied and given other names, a number lowered and raised, a flag flipped, a quantity tightened."""
    special: dict[str, tuple[Any, Any]] = {
        "max_unavailable_ceiling": ("10%", 2),
        "rollout_time_budget": ("5m", "2h"),
        "agent_limit_budget": ({"cpu": "100m", "memory": "64Mi"}, {"cpu": "4", "memory": "8Gi"}),
        "node_request_budget": ({"cpu": "50m", "memory": "32Mi"}, {"cpu": "8", "memory": "16Gi"}),
        "cluster_nodes": (50, 1000),
        "large_cluster_threshold": (10, 5000),
        "rollout_pod_ready_seconds": (1, 600),
        "allowed_registries": (
            ["registry.k8s.io"],
            ["quay.io", "docker.io", "registry.k8s.io", "ghcr.io", "public.ecr.aws"],
        ),
        "allowed_capabilities": (["NET_ADMIN", "SYS_ADMIN"], ["NET_BIND_SERVICE"]),
        "allowed_priority_classes": ([], ["system-node-critical", "system-cluster-critical"]),
        "writable_host_paths": ([], ["/var/log", "/var/lib/fluentd"]),
    }
    for name in sorted(defaults):
        default = defaults[name]
        if name in special:
            yield from ((name, value) for value in special[name])
        elif isinstance(default, bool):
            yield (name, not default)
            yield (name, default)  # given explicitly: a need's parameter given overrides the catalogue
        elif isinstance(default, list):
            yield (name, [])
            yield (name, ["node-exporter", "fluentd", "calico-node", "sample-agent"])
        else:
            raise ValueError(
                f"no overrides for parameter {name} (default {default!r}); add them to diffcases.overrides"
            )


def parameter_cases(defaults: Mapping[str, Any], bases: Sequence[tuple[str, JSON]]) -> list[Case]:
    return [
        Case(
            id=f"parameter:{name}={json.dumps(value, sort_keys=True)}:{base}",
            source="parameter",
            daemonset=ds,
            parameters={name: value},
        )
        for name, value in overrides(defaults)
        for base, ds in bases
    ]


# ------------------------------------------------------------------------------------- injections

Op = tuple[str, tuple[str, ...], Any]  # ("set" | "del" | "append", path, value); "*" in a path: every item


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)


def diff(before: Any, after: Any, path: tuple[str, ...] = ()) -> list[Op]:
    """The edits that turn BEFORE into AFTER, at key granularity. An item of a list of named objects
    (containers, volumes, ports) is matched by name and its edits apply to every item (`*`): the
    pattern goes into each container of another DaemonSet; other lists are replaced whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        ops: list[Op] = []
        for key in sorted(set(before) | set(after)):
            if key not in after:
                ops.append(("del", (*path, key), None))
            elif key not in before and _named(after[key]):  # a new list of named items: each one appended
                ops.extend(("append", (*path, key), item) for item in after[key])
            elif key not in before:
                ops.append(("set", (*path, key), after[key]))
            else:
                ops.extend(diff(before[key], after[key], (*path, key)))
        return ops
    if _named(before) and _named(after) and before != after:
        by_name = {i["name"]: i for i in before}
        ops = []
        for item in after:
            if item["name"] in by_name:
                ops.extend(diff(by_name[item["name"]], item, (*path, "*")))
            else:
                ops.append(("append", path, item))
        return ops
    return [] if before == after else [("set", path, after)]


def _apply(target: Any, op: Op) -> None:
    kind, path, value = op
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for item in target if isinstance(target, list) else []:
            _apply(item, (kind, rest, value))
        return
    if not isinstance(target, dict):
        return
    if not rest:
        if kind == "set":
            target[head] = copy.deepcopy(value)
        elif kind == "del":
            target.pop(head, None)
        else:
            items = target.setdefault(head, [])
            if isinstance(items, list) and all(i.get("name") != value.get("name") for i in items):
                items.append(copy.deepcopy(value))
        return
    if head not in target and kind != "del":
        target[head] = [] if rest[0] == "*" else {}
    if head in target:
        _apply(target[head], (kind, rest, value))


def inject(base: JSON, ops: Sequence[Op]) -> JSON:
    """BASE with OPS applied to its spec (never its selector) and its annotations: the result is still
    BASE's DaemonSet, now with the pattern; when the pattern changes the pod template's labels, the
    selector follows them (the API server refuses a selector that does not match its template)."""
    out = copy.deepcopy(base)
    for op in ops:
        path = op[1]
        if (path[:1] == ("spec",) and path[1:2] != ("selector",)) or path[:2] == ("metadata", "annotations"):
            _apply(out, op)
    spec = out.get("spec") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        spec["selector"] = {"matchLabels": dict(labels)}
    return out


def injection_cases(samples: Sequence[Case], bases: Sequence[tuple[str, JSON]], rules: Sequence[str]) -> list[Case]:
    """Each rule of RULES: its disallowed pattern (allowed sample -> denied sample) in each valid DaemonSet."""
    by_rule: dict[str, dict[str, Case]] = {}
    for case in (c for c in samples if c.rule in rules):
        name = Path(case.id.split("#")[0]).name
        if name in ("allowed.yaml", "denied.yaml"):
            by_rule.setdefault(case.rule, {}).setdefault(name.removesuffix(".yaml"), case)
    cases = []
    for rule, pair in sorted(by_rule.items()):
        if set(pair) != {"allowed", "denied"}:
            continue
        ops = diff(pair["allowed"].daemonset, pair["denied"].daemonset)
        params = pair["denied"].parameters
        for base, ds in bases:
            cases.append(
                Case(
                    id=f"injection:{rule}:{base}",
                    source="injection",
                    daemonset=inject(ds, ops),
                    parameters=params,
                    rule=rule,
                )
            )
    return cases


# ------------------------------------------------------------------------------------- properties

AGENTS = ("node-exporter", "fluentd", "calico-node", "sample-agent", "")
IMAGES = (
    "quay.io/prometheus/node-exporter:v1.9.1",
    "docker.io/fluent/fluentd-kubernetes-daemonset:v1.18-debian-forward-1",
    "registry.k8s.io/pause:3.10",
    "ghcr.io/example/agent:1.2.3",
    "public.ecr.aws/example/agent:2.0",
    "busybox",
    "busybox:latest",
    "example.com:5000/team/agent",
)
DIGEST = "@sha256:" + "0123456789abcdef" * 4
HOST_PATHS = ("/var/log", "/var/lib/fluentd", "/proc", "/sys", "/", "/var/run/docker.sock", "/etc")
CAPABILITIES = ("NET_ADMIN", "SYS_ADMIN", "NET_BIND_SERVICE", "SYS_PTRACE", "ALL")
RULE_IDS_FOR_EXEMPTION = ("DS-HST-001", "DS-PRI-001", "DS-ROL-005", "DS-SEC-001", "DS-IMG-002")


def _maybe(rng: random.Random, p: float = 0.5) -> bool:
    return rng.random() < p


def _quantity(rng: random.Random, resource: str) -> str:
    if resource == "cpu":
        return rng.choice(("10m", "100m", "250m", "500m", "1", "2", "0.5", "1500m"))
    return rng.choice(("16Mi", "64Mi", "128Mi", "200M", "512Mi", "1Gi", "2Gi", "3Gi"))


def _resources(rng: random.Random) -> JSON:
    out: JSON = {}
    for kind in ("requests", "limits"):
        if _maybe(rng, 0.7):
            out[kind] = {r: _quantity(rng, r) for r in ("cpu", "memory") if _maybe(rng, 0.8)}
    if "requests" in out and "limits" in out:  # the API server refuses a request above its limit
        for r in list(out["requests"]):
            if r in out["limits"]:
                out["requests"][r] = out["limits"][r]
    return out


def _security_context(rng: random.Random) -> JSON:
    sc: JSON = {}
    if _maybe(rng, 0.2):
        sc["privileged"] = True
    elif _maybe(rng, 0.7):
        sc["allowPrivilegeEscalation"] = _maybe(rng, 0.2)
    if _maybe(rng, 0.6):
        caps: JSON = {"drop": ["ALL"]} if _maybe(rng, 0.8) else {}
        if _maybe(rng, 0.3):
            caps["add"] = rng.sample(CAPABILITIES, rng.randint(1, 2))
        sc["capabilities"] = caps
    if _maybe(rng, 0.6):
        sc["readOnlyRootFilesystem"] = _maybe(rng, 0.7)
    if _maybe(rng, 0.5):
        sc["runAsNonRoot"] = _maybe(rng, 0.7)
        if sc["runAsNonRoot"] and _maybe(rng):
            sc["runAsUser"] = rng.choice((65534, 1000))
        elif not sc["runAsNonRoot"] and _maybe(rng):
            sc["runAsUser"] = 0
    return sc


def _probe(rng: random.Random, port: int) -> JSON:
    return rng.choice(
        ({"httpGet": {"path": "/", "port": port}}, {"tcpSocket": {"port": port}}, {"exec": {"command": ["true"]}})
    )


def _container(rng: random.Random, name: str, volumes: Sequence[str], init: bool, host_ports: set[int]) -> JSON:
    image = rng.choice(IMAGES) + (DIGEST if _maybe(rng, 0.3) else "")
    c: JSON = {"name": name, "image": image}
    if _maybe(rng, 0.3):
        c["imagePullPolicy"] = rng.choice(("Always", "IfNotPresent", "Never"))
    if resources := _resources(rng):
        c["resources"] = resources
    if sc := _security_context(rng):
        c["securityContext"] = sc
    port = rng.choice((9100, 24224, 8080))
    if not init and _maybe(rng, 0.6):
        c["ports"] = [{"name": "metrics", "containerPort": port}]
        if _maybe(rng, 0.3) and port not in host_ports:  # the API server refuses a host port twice in a pod
            c["ports"][0]["hostPort"] = port
            host_ports.add(port)
    if not init:
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if _maybe(rng, 0.5):
                c[probe] = _probe(rng, port)
    mounts = [
        {"name": v, "mountPath": f"/host/{v}", **({"readOnly": True} if _maybe(rng, 0.6) else {})}
        for v in volumes
        if _maybe(rng, 0.7)
    ]
    if mounts:
        c["volumeMounts"] = mounts
    return c


def _strategy(rng: random.Random) -> JSON:
    roll = rng.random()
    if roll < 0.15:
        return {}
    if roll < 0.25:
        return {"type": "OnDelete"}
    rolling: JSON = {}
    if _maybe(rng, 0.3):
        # a surge: the API server refuses it next to a non-zero maxUnavailable (an absent one is defaulted to 1)
        rolling["maxSurge"] = rng.choice((1, 2, "10%", "25%", "100%"))
        rolling["maxUnavailable"] = rng.choice((0, "0%"))
    else:
        # never 0 here: the API server refuses maxUnavailable and maxSurge both zero (an absent surge is defaulted to 0)
        if _maybe(rng, 0.8):
            rolling["maxUnavailable"] = (
                rng.choice((1, 2, 10, "10%", "25%", "50%", "100%")) if _maybe(rng, 0.9) else "5%"
            )
        if _maybe(rng, 0.3):
            rolling["maxSurge"] = rng.choice((0, "0%"))
    return {"type": "RollingUpdate", "rollingUpdate": rolling} if rolling or _maybe(rng) else {"type": "RollingUpdate"}


def _tolerations(rng: random.Random) -> list[JSON]:
    choices = (
        {"operator": "Exists"},
        {"operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    )
    return [copy.deepcopy(t) for t in choices if _maybe(rng, 0.3)]


def _pod(rng: random.Random) -> JSON:
    volumes = [f"host{i}" for i in range(rng.randint(0, 3))]
    host_ports: set[int] = set()
    pod: JSON = {
        "containers": [_container(rng, f"c{i}", volumes, False, host_ports) for i in range(rng.randint(1, 3))],
    }
    if _maybe(rng, 0.25):
        pod["initContainers"] = [_container(rng, "init", volumes, True, host_ports)]
    if volumes:
        pod["volumes"] = [{"name": v, "hostPath": {"path": rng.choice(HOST_PATHS)}} for v in volumes]
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if _maybe(rng, 0.2):
            pod[flag] = True
    if _maybe(rng, 0.6):
        pod["priorityClassName"] = rng.choice(("system-node-critical", "system-cluster-critical", "agents-high"))
    if tolerations := _tolerations(rng):
        pod["tolerations"] = tolerations
    if _maybe(rng, 0.5):
        pod["securityContext"] = {"seccompProfile": {"type": rng.choice(("RuntimeDefault", "Unconfined"))}}
    if _maybe(rng, 0.15):
        pod["nodeSelector"] = {"kubernetes.io/os": rng.choice(("linux", "windows"))}
    if _maybe(rng, 0.4):
        pod["serviceAccountName"] = "agent"
    if _maybe(rng, 0.2):
        pod["terminationGracePeriodSeconds"] = rng.choice((0, 30, 600))
    return pod


def property_daemonset(rng: random.Random, index: int) -> JSON:
    """One DaemonSet the API server accepts, its features drawn by RNG."""
    agent = rng.choice(AGENTS)
    labels = {"app.kubernetes.io/name": agent} if agent else {"app": f"agent-{index}"}
    if _maybe(rng, 0.7):
        labels["app.kubernetes.io/instance"] = "prop"
    metadata: JSON = {"name": f"prop-{index}", "namespace": NAMESPACE, "labels": dict(labels)}
    if _maybe(rng, 0.1):
        rule = rng.choice(RULE_IDS_FOR_EXEMPTION)
        metadata["annotations"] = {f"dsgate.io/exempt.{rule}": "property test: an exemption with a reason"}
    spec: JSON = {
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": _pod(rng)},
    }
    if strategy := _strategy(rng):
        spec["updateStrategy"] = strategy
    if _maybe(rng, 0.6):
        spec["minReadySeconds"] = rng.choice((0, 5, 10, 30))
    if _maybe(rng, 0.2):
        spec["revisionHistoryLimit"] = rng.choice((0, 3, 10))
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata, "spec": spec}


# The parameters property cases are judged by, in turn: the defaults (cluster_nodes unknown), and
# fleets of known size, where the rollout rules (DS-ROL-002's scaled comparison, DS-ROL-003,
# DS-ROL-007's estimate) decide on each drawn strategy: a large fleet, a small one with a short budget
# and an integer ceiling, and a tiny one where a percentage ceiling scales to one node.
PROPERTY_PARAMETERS: tuple[JSON, ...] = (
    {},
    {"cluster_nodes": 1000},
    {"cluster_nodes": 40, "rollout_time_budget": "10m", "max_unavailable_ceiling": 2},
    {"cluster_nodes": 3, "max_unavailable_ceiling": "10%", "large_cluster_threshold": 2},
)


def property_cases(count: int, seed: int, parameters: Sequence[JSON] = PROPERTY_PARAMETERS) -> list[Case]:
    """COUNT DaemonSets drawn by SEED, the i-th judged by PARAMETERS[i % len(PARAMETERS)]."""
    rng = random.Random(seed)
    return [
        Case(
            id=f"property:{seed}:{i}",
            source="property",
            daemonset=property_daemonset(rng, i),
            parameters=dict(parameters[i % len(parameters)]) if parameters else {},
        )
        for i in range(count)
    ]
