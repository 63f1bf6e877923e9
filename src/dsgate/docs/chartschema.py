"""Fill a chart's values.schema.json with the Kubernetes and CRD types it references.

Chart values that pass straight into a manifest (affinity, securityContext, extra containers and
volumes, relabelings, ...) are typed with `{"$ref": "#/definitions/<name>"}`. This module fills the
schema's `definitions` with the published schemas of those types and everything they reference:

- `io.k8s.*` from the strict Kubernetes schemas kubernetes-validate ships, for the OLDEST target
  version (a value must work on every Kubernetes the gate targets);
- `com.coreos.monitoring.v1.*` from the prometheus-operator CRDs set-up copies from its Go module.

On top, the checks dsgate's validator adds to the schemas (quantities parse, ports in range,
DNS-1123 container names, IANA port names) are written into the same definitions, from the same
patterns, so a value set the chart schema accepts renders objects the gate accepts.

    python -m dsgate.docs.chartschema CHART_DIR [--check]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dsgate import yamlc
from dsgate.errors import DsgateError
from dsgate.gate import names, validate
from dsgate.k8s import QUANTITY_PATTERN
from dsgate.versions import kube_target_versions, pinned

K8S_PREFIX = "io.k8s."
CRD_PREFIX = "com.coreos.monitoring.v1."
# Named types taken from the ServiceMonitor CRD: name -> path below the endpoint item schema.
CRD_TYPES = {
    f"{CRD_PREFIX}RelabelConfig": ("relabelings", "items"),
    f"{CRD_PREFIX}TLSConfig": ("tlsConfig",),
}
SEMANTIC_PATCHES: dict[str, dict[str, Any]] = {
    # definition -> {property path (dotted): schema keywords added}
    "io.k8s.api.core.v1.Container": {"name": {"pattern": names.DNS1123_LABEL.pattern, "maxLength": 63}},
    "io.k8s.api.core.v1.ContainerPort": {
        "containerPort": {"minimum": 1, "maximum": 65535},
        "hostPort": {"minimum": 1, "maximum": 65535},
        # IANA_SVC_NAME: a DNS-1123 label with at least one letter (JSON Schema regexes have no lookahead)
        "name": {"allOf": [{"pattern": names.DNS1123_LABEL.pattern}, {"pattern": "[a-z]"}], "maxLength": 15},
    },
}


class ChartSchemaError(DsgateError):
    pass


def _k8s_definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = validate._definitions(kube_target_versions()[0])["$defs"]
    return definitions


def _crd_definitions() -> dict[str, Any]:
    folder = validate.crd_dir() / "prometheus-operator" / pinned()["PROMETHEUS_OPERATOR_VERSION"]
    path = folder / "monitoring.coreos.com_servicemonitors.yaml"
    if not path.is_file():
        raise ChartSchemaError(f"{path} is missing; run 'make setup'")
    crd = yamlc.safe_load(path.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    endpoint = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["endpoints"]["items"]
    out = {}
    for name, path_parts in CRD_TYPES.items():
        node = endpoint["properties"]
        for part in path_parts[:-1]:
            node = node[part]
        node = node[path_parts[-1]] if path_parts[-1] != "items" else node["items"]
        out[name] = validate._structural_to_jsonschema(copy.deepcopy(node))
    return out


def _rewrite_refs(node: Any) -> Any:
    """2020-12 `#/$defs/X` (relative to the Kubernetes definitions file) -> draft-07 `#/definitions/X`."""
    if isinstance(node, list):
        return [_rewrite_refs(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = "#/definitions/" + value.rsplit("/", 1)[-1]
        elif key in ("x-kubernetes-group-version-kind", "$schema", "$id"):
            continue
        else:
            out[key] = _rewrite_refs(value)
    return out


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for n in node:
            yield from _refs(n)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/definitions/"):
                yield value.removeprefix("#/definitions/")
            else:
                yield from _refs(value)


def _patched(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    for prop, extra in SEMANTIC_PATCHES.get(name, {}).items():
        definition["properties"][prop].update(extra)
    if name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
        definition = {"oneOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "number"}]}
    return definition


def fill(schema: dict[str, Any]) -> dict[str, Any]:
    """SCHEMA with `definitions` holding exactly the closure of the types its body references."""
    body = {k: v for k, v in schema.items() if k != "definitions"}
    k8s = _k8s_definitions()
    crd: dict[str, Any] | None = None
    wanted = sorted(set(_refs(body)))
    definitions: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in definitions:
            continue
        if name.startswith(K8S_PREFIX) and name in k8s:
            definition = _rewrite_refs(k8s[name])
        elif name.startswith(CRD_PREFIX):
            crd = crd if crd is not None else _crd_definitions()
            if name not in crd:
                raise ChartSchemaError(f"unknown CRD type {name}; known: {', '.join(sorted(crd))}")
            definition = crd[name]
        else:
            raise ChartSchemaError(
                f"#/definitions/{name} is neither a Kubernetes {kube_target_versions()[0]} type nor a known CRD type"
            )
        definitions[name] = _patched(name, definition)
        wanted.extend(r for r in _refs(definitions[name]) if r not in definitions)
    return {**body, "definitions": dict(sorted(definitions.items()))}


def update(chart: Path, check: bool = False) -> bool:
    """Rewrite CHART/values.schema.json; with CHECK only report whether it is current."""
    path = chart / "values.schema.json"
    current = path.read_text()
    wanted = json.dumps(fill(json.loads(current)), indent=2) + "\n"
    if check:
        return current == wanted
    path.write_text(wanted)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dsgate.docs.chartschema", description=__doc__.split("\n\n")[0])
    parser.add_argument("chart", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 when values.schema.json is not current")
    args = parser.parse_args(argv)
    try:
        ok = update(args.chart, check=args.check)
    except (ChartSchemaError, OSError, json.JSONDecodeError) as exc:
        print(f"dsgate chartschema: {exc}", file=sys.stderr)
        return 2
    if not ok:
        print(
            f"{args.chart}/values.schema.json is stale: run 'python -m dsgate.docs.chartschema {args.chart}'",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
