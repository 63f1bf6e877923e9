"""The nodes of a fleet from a file, for `dsgate check --nodes FILE`: the output of `kubectl get nodes
-o yaml` (a List of Nodes, or Node documents), or a dsgate topology file (kind: Topology, expanded to
its nodes). Each node is kept as what the coverage rules read: name, labels, taints, allocatable
(data.dsgate.nodes); their count is the fleet size (parameter cluster_nodes, which DS-ROL-007's
rollout-time estimate and the large-cluster rules use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.cluster.topology import TopologyError, parse_topology
from dsgate.errors import DsgateError


class FleetError(DsgateError, ValueError):
    """The nodes file cannot be read: exit 2, naming the file and what is wrong."""


def _slim(node: dict[str, Any]) -> dict[str, Any]:
    meta = node.get("metadata") or {}
    return {
        "name": str(meta.get("name", "")),
        "labels": {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        "taints": [
            {k: str(t[k]) for k in ("key", "value", "effect") if t.get(k) is not None}
            for t in (node.get("spec") or {}).get("taints") or []
        ],
        "allocatable": {str(k): str(v) for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()},
    }


def load_nodes(path: Path) -> list[dict[str, Any]]:
    """The nodes in PATH (see the module docstring); FleetError when it holds none or is not YAML."""
    try:
        docs = [d for d in yamlc.safe_load_all(path.read_text()) if d]
    except OSError as exc:
        raise FleetError(f"--nodes {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise FleetError(f"--nodes {path}: not valid YAML: {exc}") from None
    nodes: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "Topology":
            try:
                nodes += parse_topology(doc, str(path)).nodes()
            except TopologyError as exc:
                raise FleetError(str(exc)) from None
        elif doc.get("kind") in ("List", "NodeList"):
            nodes += [i for i in doc.get("items") or [] if isinstance(i, dict) and i.get("kind", "Node") == "Node"]
        elif doc.get("kind") == "Node":
            nodes.append(doc)
    if not nodes:
        raise FleetError(
            f"--nodes {path}: holds no Node (expected `kubectl get nodes -o yaml` output or a kind: Topology file)"
        )
    return [_slim(n) for n in nodes]
