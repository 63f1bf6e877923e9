"""The parameters at admission: the DsgateParameters CRD (dsgate.io/v1alpha1, cluster-scoped) and its one object.

Every parameter of `data.dsgate.lib.parameter_docs` is a field of the object's `spec`, under the same
name, typed from its default (a structural schema, so CEL type-checks `params.spec.<name>`): a bool,
an integer, a number, a string, a list of strings (an empty default is a list of names, so of
strings too), a mapping (the cpu/memory budgets), and int-or-string for a default that is a
percentage (max_unavailable_ceiling takes `2` or `10%`, as rollout.rego does). The object `dsgate`
holds the defaults merged with dsgate.yaml's `parameters:` as lib.parameters merges them for the gate
(object.union: a mapping key by key). A value given as a number where the default is a string
(`cpu: 2`) is written as that string; any other mismatch, or a parameter the library does not know,
is an AdmissionError: the cluster would otherwise enforce something else than `dsgate check`.

Besides the parameters, the spec carries what the CEL needs from the library's data:
- `given_parameters`: the names dsgate.yaml sets (a need's parameter given explicitly overrides the
  agent catalogue for that need, lib.allowed_needs);
- `catalogue`: data.dsgate.agents.catalogue as lib._catalogue sees it ([] while well_known_agents is
  not true), each need whose parameter is given turned off (false, or []): CEL may test either;
- `helper_images`: data.dsgate.agents.helpers (CEL tests well_known_agents itself);
- `wave_overhead`: data.dsgate.model.rollout.wave_overhead (policies/model.json), DS-ROL-007's model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsgate.admission.library import AdmissionError
from dsgate.docs.catalogue import Parameter

GROUP = "dsgate.io"
VERSION = "v1alpha1"
KIND = "DsgateParameters"
PLURAL = "dsgateparameters"
NAME = "dsgate"  # the one params object every binding's paramRef names
GIVEN = "given_parameters"
CATALOGUE = "catalogue"
HELPERS = "helper_images"
WAVE_OVERHEAD = "wave_overhead"
API_VERSION = f"{GROUP}/{VERSION}"
MANAGED_BY = {"app.kubernetes.io/managed-by": "dsgate"}
_PERCENT = re.compile(r"^\d+(\.\d+)?%$")
# lib.allowed_needs (policies/dsgate/lib/documents.rego): a catalogue need -> the parameter that, when
# dsgate.yaml gives it, replaces the catalogue for that need.
NEED_PARAMETERS = {
    "root": "root_agents",
    "privileged": "privileged_agents",
    "blanket_tolerations": "blanket_toleration_agents",
    "node_critical": "node_critical_agents",
    "host_namespaces": "host_namespace_agents",
    "capabilities": "allowed_capabilities",
    "writable_host_paths": "writable_host_paths",
}


@dataclass(frozen=True)
class LibraryData:
    """What the CEL reads of the library's data besides the parameters."""

    catalogue: list[dict[str, Any]] = field(default_factory=list)  # data.dsgate.agents.catalogue
    helpers: list[str] = field(default_factory=list)  # data.dsgate.agents.helpers
    wave_overhead: dict[str, float] = field(default_factory=dict)  # data.dsgate.model.rollout.wave_overhead


def schema_of(value: Any) -> dict[str, Any]:
    """The OpenAPI schema of a value like VALUE (a parameter's default, a catalogue entry)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"x-kubernetes-int-or-string": True} if _PERCENT.match(value) else {"type": "string"}
    if isinstance(value, list):
        items: dict[str, Any] = {"type": "string"}
        if value and all(isinstance(v, dict) for v in value):
            merged: dict[str, Any] = {}
            for v in value:
                merged |= v
            items = schema_of(merged)
        return {"type": "array", "items": items}
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: schema_of(v) for k, v in sorted(value.items())}}
    raise AdmissionError(
        f"a parameter default of type {type(value).__name__} has no schema; use a scalar, list or mapping"
    )


def crd(parameters: Sequence[Parameter], data: LibraryData) -> dict[str, Any]:
    """The CustomResourceDefinition of DsgateParameters, one field per parameter and per piece of library data."""
    properties = {p.name: {**schema_of(p.default), "description": p.description} for p in parameters}
    properties[GIVEN] = {
        **schema_of([]),
        "description": "The parameters dsgate.yaml sets (the others have their defaults).",
    }
    properties[CATALOGUE] = {
        **schema_of(data.catalogue),
        "description": "The well-known agents (data.dsgate.agents.catalogue); a need whose parameter is given is off.",
    }
    properties[HELPERS] = {**schema_of([]), "description": "Helper sidecar images (data.dsgate.agents.helpers)."}
    properties[WAVE_OVERHEAD] = {
        "type": "object",
        "properties": {k: {"type": "number"} for k in sorted(data.wave_overhead)},
        "description": "The rollout model's controller overhead per wave (data.dsgate.model.rollout.wave_overhead).",
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "labels": dict(MANAGED_BY)},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {"kind": KIND, "plural": PLURAL, "singular": KIND.lower(), "listKind": f"{KIND}List"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "The dsgate policy library's parameters, read by its admission policies.",
                            "required": ["spec"],
                            "properties": {
                                "spec": {"type": "object", "required": sorted(properties), "properties": properties}
                            },
                        }
                    },
                }
            ],
        },
    }


def obj(parameters: Sequence[Parameter], given: Mapping[str, Any], data: LibraryData) -> dict[str, Any]:
    """The DsgateParameters object `dsgate`: the defaults of PARAMETERS merged with GIVEN (dsgate.yaml)."""
    known = {p.name: p for p in parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise AdmissionError(
            f"dsgate.yaml parameters {', '.join(unknown)}: not parameters of the library; known: {', '.join(sorted(known))}"
        )
    spec: dict[str, Any] = {p.name: _typed(p.name, given.get(p.name, p.default), p.default) for p in parameters}
    spec[GIVEN] = sorted(given)
    spec[CATALOGUE] = catalogue(data.catalogue, spec.get("well_known_agents") is True, set(given))
    spec[HELPERS] = sorted(data.helpers)
    spec[WAVE_OVERHEAD] = {k: float(v) for k, v in sorted(data.wave_overhead.items())}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": NAME, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def catalogue(entries: Sequence[dict[str, Any]], enabled: bool, given: set[str]) -> list[dict[str, Any]]:
    """The catalogue as the CEL reads it: none unless ENABLED, a need off when its parameter is GIVEN."""
    if not enabled:
        return []
    out = []
    for entry in entries:
        needs = dict(entry.get("needs") or {})
        for need, parameter in NEED_PARAMETERS.items():
            if parameter in given and need in needs:
                needs[need] = [] if isinstance(needs[need], list) else False
        out.append({**entry, "needs": needs})
    return out


def _typed(name: str, value: Any, default: Any) -> Any:
    """VALUE as the type of DEFAULT; AdmissionError when it is not one."""
    schema = schema_of(default)
    kind = schema.get("type", "int-or-string")
    if kind == "int-or-string" and (_integer(value) or (isinstance(value, str) and value)):
        return value
    if kind == "string" and isinstance(value, int | float | str) and not isinstance(value, bool):
        return str(value)
    if (kind == "boolean" and isinstance(value, bool)) or (kind == "integer" and _integer(value)):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "array" and isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    if kind == "object" and isinstance(value, dict) and set(value) <= set(schema["properties"]):
        return {k: str(v) for k, v in {**default, **value}.items()}  # object.union merges a mapping key by key
    raise AdmissionError(
        f"dsgate.yaml parameters.{name} is {value!r}; the library expects a {kind} like its default {default!r}"
    )


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
