"""Strict schema validation of rendered documents.

Built-in kinds are validated against the strict JSON schemas that kubernetes-validate ships
(one set per Kubernetes minor); CRD kinds against the `openAPIV3Schema` of the real CRDs that
set-up copies from the prometheus-operator and autoscaler Go modules. Validators are built once
per (version, kind): jsonschema-rs decides valid or not, python-jsonschema lists every error of an
invalid document. Null list entries are refused (see reject_null_items). On top of the schemas come
the checks they miss: quantities parse, ports are in range, names follow their kind's rule (see names).

Over 400 lines on purpose: the built-in and CRD schema sets share one compile cache and one error
format, so a document's verdict never depends on which set its kind came from.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from dsgate import jsoncache, yamlc
from dsgate.errors import DsgateError
from dsgate.gate.apiversions import removed
from dsgate.gate.documents import Document
from dsgate.gate.names import DNS1123_LABEL, name_error
from dsgate.k8s import is_quantity
from dsgate.tools import CRD_SOURCES, cache_dir, install_command
from dsgate.versions import pinned

if TYPE_CHECKING:  # python-jsonschema is imported when a document is invalid (0.1-0.2 s of a clean run's start)
    import jsonschema


@dataclass(frozen=True)
class SchemaError:
    """One validation problem of one document."""

    document: Document
    kube_version: str
    path: str  # dotted path inside the object, "" for the root
    message: str
    unknown_kind: bool = False  # no schema at all: the gate treats this as an input error (exit 2)

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return (
            f"{self.document.ref} ({self.document.provenance.label}) against {self.kube_version}{where}: {self.message}"
        )


class ValidationSetupError(DsgateError):
    """Schemas are missing (a set-up problem, not a document problem)."""


def _package_dir(name: str) -> Path:
    """The folder of the installed package NAME, found without importing it (kubernetes_validate's
    __init__ imports python-jsonschema, which a clean run never needs)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValidationSetupError(f"the Python package {name} is not installed; reinstall dsgate")
    return Path(spec.submodule_search_locations[0])


SCHEMA_ROOT = _package_dir("kubernetes_validate") / "kubernetes-json-schema"


# ---------------------------------------------------------------- built-in kinds


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


@functools.cache
def _schema_dir(kube_version: str) -> Path:
    """The strict schema directory for the newest shipped minor not newer than kube_version."""
    wanted = _minor(kube_version)
    shipped = sorted(
        (_minor(p.name[1:].split("-")[0]), p.name) for p in SCHEMA_ROOT.iterdir() if p.name.endswith("-local-strict")
    )
    usable = [name for minor, name in shipped if minor <= wanted]
    if not usable or _minor(usable[-1][1:].split("-")[0]) != wanted:
        have = ", ".join(f"{a}.{b}" for (a, b), _ in shipped)
        raise ValidationSetupError(
            f"no Kubernetes {kube_version} schemas in kubernetes-validate (has {have}); pick a shipped version or upgrade the package"
        )
    return Path(str(SCHEMA_ROOT / usable[-1]))


NOT_NULL: dict[str, Any] = {"not": {"type": "null"}}


SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")  # keyword -> {name: schema}


def reject_null_items(schema: Any) -> Any:
    """SCHEMA with every array item schema refusing null.

    The published schemas let any item be null (`type: [object, null]`), but the API server decodes a
    null list entry into an empty value: an empty container port, toleration or env var that it then
    rejects or misreads. A null entry is a templating accident, never an intent.
    """
    if isinstance(schema, list):
        return [reject_null_items(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: {name: reject_null_items(s) for name, s in v.items()}
        if k in SCHEMA_MAPS and isinstance(v, dict)
        else reject_null_items(v)
        for k, v in schema.items()
    }
    items = out.get("items")
    if isinstance(items, dict) and items != NOT_NULL and NOT_NULL not in items.get("allOf", []):
        if isinstance(items.get("type"), list):
            out["items"] = {**items, "type": [t for t in items["type"] if t != "null"]}
        elif "type" not in items:
            out["items"] = {"allOf": [items, NOT_NULL]}
    return out


@functools.cache
def _definitions(kube_version: str) -> dict[str, Any]:
    """The shipped `_definitions.json` of KUBE_VERSION, null list entries refused (see reject_null_items)."""
    document = json.loads((_schema_dir(kube_version) / "_definitions.json").read_text())
    definitions: dict[str, Any] = reject_null_items(document)
    return definitions


DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
DEFS = "$defs"
_DEF_REF = f"#/{DEFS}/"


def _referenced(node: Any) -> Iterator[str]:
    """The names of the definitions that NODE's own $refs point at."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and _DEF_REF in ref:
            yield ref.split(_DEF_REF, 1)[1]
        for value in node.values():
            yield from _referenced(value)
    elif isinstance(node, list):
        for value in node:
            yield from _referenced(value)


def _reachable(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """DOCUMENT (a definitions document) with only the definitions SCHEMA reaches, however indirectly."""
    definitions, kept = document[DEFS], dict[str, Any]()
    todo = list(_referenced(schema))
    while todo:
        name = todo.pop()
        if name not in kept and name in definitions:
            kept[name] = definitions[name]
            todo.extend(_referenced(kept[name]))
    return {**{k: v for k, v in document.items() if k != DEFS}, DEFS: kept}


@functools.cache
def _inputs_digest(kube_version: str) -> bytes:
    """What every prepared schema of KUBE_VERSION is computed from: its definitions file and this module."""
    definitions = (_schema_dir(kube_version) / "_definitions.json").read_bytes()
    return jsoncache.key([definitions, jsoncache.source(__file__)]).encode()


def _prepared_pair(entry: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A prepared (schema, definitions) entry as _prepared keeps it; TypeError for any other shape."""
    schema, definitions = entry["schema"], entry["definitions"]
    if not (isinstance(schema, dict) and isinstance(definitions, dict)):
        raise TypeError("a prepared schema entry of another shape")
    return schema, definitions


def _prepared(
    kube_version: str, name: bytes, build: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema, the definitions it reaches) of the schema BUILD makes, kept in dsgate's cache under NAME
    (the schema's own file, or its text): a DaemonSet reaches 119 of 771 definitions, and reading the
    1.6 MB definitions file, refusing nulls in it and registering it cost 50 ms per version and process."""

    def prepare() -> dict[str, Any]:
        schema = build()
        return {"schema": schema, "definitions": _reachable(schema, _definitions(kube_version))}

    key = jsoncache.key([_inputs_digest(kube_version), name])
    return jsoncache.load_or_build("kind-schemas", key, prepare, _prepared_pair)


class _Schema:
    """One schema behind two engines: jsonschema-rs answers "valid?" in microseconds; only an invalid
    instance goes to the reference implementation (python-jsonschema), for every error with its path.
    Almost every rendered document is valid, so the gate pays the Rust price. DEFINITIONS is the
    definitions document its $refs resolve in (DEFINITIONS_URI), None for a self-contained schema."""

    def __init__(self, schema: dict[str, Any], definitions: dict[str, Any] | None = None) -> None:
        self.schema = schema
        self.definitions = definitions
        registry = jsonschema_rs.Registry([(DEFINITIONS_URI, definitions)]) if definitions is not None else None
        self.fast = jsonschema_rs.validator_for(schema, registry=registry)

    @functools.cached_property
    def full(self) -> jsonschema.protocols.Validator:
        import jsonschema
        from referencing import Registry, Resource

        if self.definitions is not None:
            registry = Registry().with_resource(DEFINITIONS_URI, Resource.from_contents(self.definitions))
            return jsonschema.Draft202012Validator(self.schema, registry=registry)
        return jsonschema.Draft202012Validator(self.schema)

    def errors(self, instance: Any) -> list[tuple[str, str]]:
        """(dotted path, message) for every error of INSTANCE; [] when valid."""
        if self.fast.is_valid(instance):
            return []
        found = [(_error_path(e), _explain(e)) for e in self.full.iter_errors(instance)]
        if not found:  # the engines disagree: never drop the fast engine's verdict
            found = [(".".join(map(str, e.instance_path)), e.message) for e in self.fast.iter_errors(instance)]
        return sorted(found, key=lambda pm: pm[0].split("."))


def _group_file_part(api_version: str) -> str:
    """apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1."""
    return re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)


@functools.cache
def _builtin_schema(kube_version: str, api_version: str, kind: str) -> _Schema | None:
    path = _schema_dir(kube_version) / f"{kind.lower()}-{_group_file_part(api_version)}.json"
    if not path.exists():
        return None
    text = path.read_bytes()
    schema, definitions = _prepared(kube_version, text, lambda: reject_null_items(json.loads(text)))
    # Only trust the file if it really is this group/version/kind (file names drop the domain).
    gvks = schema.get("x-kubernetes-group-version-kind", [])
    group, _, version = api_version.rpartition("/")
    if gvks and not any(
        g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind for g in gvks
    ):
        return None
    return _Schema(schema, definitions)


# ---------------------------------------------------------------- CRD kinds

CRD_TOOL = "crds"  # their name in dsgate.tools.SCHEMA_SETS, which also lists the sets (CRD_SOURCES)
# The API group each CRD set serves: a set's files are parsed only when a document of its group
# needs them (the Argo CD CRDs alone are megabytes of YAML).
CRD_GROUPS: dict[str, str] = {
    "prometheus-operator": "monitoring.coreos.com",
    "vertical-pod-autoscaler": "autoscaling.k8s.io",
    "flux-source": "source.toolkit.fluxcd.io",
    "flux-kustomize": "kustomize.toolkit.fluxcd.io",
    "flux-helm": "helm.toolkit.fluxcd.io",
    "argo-cd": "argoproj.io",
    "policy-reports": "wgpolicyk8s.io",
    "openreports": "openreports.io",
}


def crd_dir() -> Path:
    return cache_dir() / "crds"


def _structural_to_jsonschema(node: Any) -> Any:
    """Turn a CRD structural schema into strict JSON Schema.

    `nullable` widens the type with null, int-or-string drops the type, and every object with
    declared properties rejects unknown fields unless x-kubernetes-preserve-unknown-fields says so
    (the API server's strict field validation does the same).
    """
    if isinstance(node, list):
        return [_structural_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _structural_to_jsonschema(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _crd_files() -> dict[str, list[Path]]:
    """Every CRD set's files; raise ValidationSetupError when a set is missing (fail closed before any
    CRD kind is checked, whichever set it needs)."""
    out: dict[str, list[Path]] = {}
    for name, (_, key) in CRD_SOURCES.items():
        folder = crd_dir() / name / pinned()[key]
        files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        if not files:
            raise ValidationSetupError(
                f"CRD schemas for {name} {pinned()[key]} are missing in {folder}; run '{install_command(CRD_TOOL)}'"
            )
        out[name] = files
    return out


@functools.cache
def _crd_folder_schemas(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema for every served version of the CRDs of CRD set NAME, kept in
    dsgate's cache by the files' contents and this module (parsing them is most of a CRD kind's cost)."""
    files = _crd_files()[name]

    def parse() -> list[list[Any]]:
        return [
            [api_version, kind, schema]
            for path in files
            for crd in yamlc.safe_load_all(path.read_text())
            for (api_version, kind), schema in crd_version_schemas(crd).items()
        ]

    def decode(entries: Any) -> dict[tuple[str, str], dict[str, Any]]:  # ValueError, TypeError: another shape
        return {(api_version, kind): schema for api_version, kind, schema in entries}

    key = jsoncache.key(
        [jsoncache.source(__file__), *(part for p in files for part in (p.name.encode(), p.read_bytes()))]
    )
    return jsoncache.load_or_build("crd-schemas", key, parse, decode)


def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema for every served version of every cached CRD."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for name in CRD_SOURCES:
        schemas.update(_crd_folder_schemas(name))
    return schemas


def crd_version_schemas(crd: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema for every served version of CRD (a CustomResourceDefinition
    object; anything else, or a CRD without schemas, gives nothing)."""
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        return {}
    spec = crd.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("names"), dict):
        return {}
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for ver in spec.get("versions") or []:
        raw = (ver.get("schema") or {}).get("openAPIV3Schema") if isinstance(ver, dict) else None
        if not raw or not ver.get("served", True):
            continue
        schema = _structural_to_jsonschema(copy.deepcopy(raw))
        props = schema.setdefault("properties", {})
        # metadata is validated as ObjectMeta separately; the CRD says only "object". apiVersion and
        # kind are always allowed at the root, declared or not (the API server adds them).
        props["metadata"] = {"type": "object"}
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        schemas[(f"{spec.get('group')}/{ver.get('name')}", str(spec["names"].get("kind")))] = schema
    return schemas


@functools.cache
def _crd_schema(api_version: str, kind: str) -> _Schema | None:
    group = api_version.split("/")[0] if "/" in api_version else ""
    for name in _crd_files():
        if CRD_GROUPS.get(name) == group:
            schema = _crd_folder_schemas(name).get((api_version, kind))
            if schema is not None:
                return _Schema(schema)
    return None


@functools.cache
def _object_meta_schema(kube_version: str) -> _Schema:
    ref = {"$ref": f"{DEFINITIONS_URI}{_DEF_REF}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    return _Schema(*_prepared(kube_version, json.dumps(ref).encode(), lambda: ref))


# ---------------------------------------------------------------- checks the schemas miss

IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _mapping(value: Any) -> dict[str, Any]:
    """VALUE if it is a mapping, else empty: the schema pass reports wrong shapes, these checks skip them."""
    return value if isinstance(value, dict) else {}


def _entries(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) for the mapping items of a list; other shapes are the schema pass's to report."""
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = _mapping(obj.get("spec"))
    return spec if obj.get("kind") == "Pod" else _mapping(_mapping(spec.get("template")).get("spec"))


def _container_errors(base: str, container: dict[str, Any]) -> Iterator[tuple[str, str]]:
    cname = container.get("name")
    if isinstance(cname, str) and (len(cname) > 63 or not DNS1123_LABEL.match(cname)):
        yield f"{base}.name", f"{cname!r} is not a valid DNS-1123 label"
    resources = _mapping(container.get("resources"))
    for section in ("requests", "limits"):
        for res, qty in _mapping(resources.get(section)).items():
            if not is_quantity(qty):
                yield f"{base}.resources.{section}.{res}", f"{qty!r} is not a valid quantity"
    for j, port in _entries(container.get("ports")):
        for field in ("containerPort", "hostPort"):
            value = port.get(field)
            if isinstance(value, int) and not 1 <= value <= 65535:
                yield f"{base}.ports.{j}.{field}", f"{value} is out of range 1-65535"
        pname = port.get("name")
        if isinstance(pname, str) and (len(pname) > 15 or not IANA_SVC_NAME.match(pname)):
            yield f"{base}.ports.{j}.name", f"{pname!r} is not a valid port name (IANA_SVC_NAME, at most 15 characters)"


def _semantic_errors(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, message) for what the OpenAPI schemas cannot express."""
    kind = obj.get("kind", "")
    name = _mapping(obj.get("metadata")).get("name")
    if isinstance(name, str) and (problem := name_error(str(obj.get("apiVersion", "")), str(kind), name)):
        yield "metadata.name", problem
    pod = _pod_spec(obj)
    prefix = "spec" if kind == "Pod" else "spec.template.spec"
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in _entries(pod.get(group)):
            yield from _container_errors(f"{prefix}.{group}.{i}", container)
    if kind == "Service":
        for j, port in _entries(_mapping(obj.get("spec")).get("ports")):
            for field in ("port", "targetPort", "nodePort"):
                value = port.get(field)
                if isinstance(value, int) and not (1 <= value <= 65535 or (field == "nodePort" and value == 0)):
                    yield f"spec.ports.{j}.{field}", f"{value} is out of range 1-65535"


# ---------------------------------------------------------------- entry points


def _error_path(err: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in err.absolute_path)


def _explain(err: jsonschema.ValidationError) -> str:
    if err.validator == "not" and err.validator_value == NOT_NULL["not"]:
        return "null list entry (the API server turns it into an empty value); remove it"
    if err.validator == "additionalProperties" and err.validator_value is False:
        inner = err.message.split("(", 1)[-1].rstrip(")")
        return "unknown field(s) " + inner.replace(" were unexpected", "").replace(" was unexpected", "")
    return err.message


class Validator:
    """Validate documents against the schemas of one or more Kubernetes versions."""

    def __init__(self, kube_versions: Iterable[str], allow_kinds: Iterable[str] = (), crds: Iterable[Any] = ()) -> None:
        self.kube_versions = [v.lstrip("v") for v in kube_versions]
        self.allow_kinds = set(allow_kinds)
        for version in self.kube_versions:
            _schema_dir(version)  # fail fast on an unsupported version
        # CRDs of the input (and --crd / dsgate.yaml crds:) define their kinds, as in a cluster
        self.input_crds: dict[tuple[str, str], _Schema] = {}
        self.add_crds(crds)

    def add_crds(self, crds: Iterable[Any]) -> None:
        """Let the CustomResourceDefinitions CRDS define the schemas of their kinds."""
        for crd in crds:
            for key, schema in crd_version_schemas(crd).items():
                self.input_crds[key] = _Schema(schema)

    def for_versions(self, kube_versions: Iterable[str]) -> Validator:
        """This validator for other Kubernetes versions (same allowed kinds and input CRDs)."""
        other = Validator(kube_versions, self.allow_kinds)
        other.input_crds = self.input_crds
        return other

    def validate(self, document: Document) -> list[SchemaError]:
        """Every error of DOCUMENT against every target version."""
        return [
            SchemaError(document, version, path, message, unknown)
            for version, path, message, unknown in self._check(document.obj)
        ]

    def _check(self, obj: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        errors: list[tuple[str, str, str, bool]] = []
        for version in self.kube_versions:
            gone = removed(api_version, kind, version)
            if gone is not None:
                errors.append((version, "apiVersion", gone.removed_message(), False))
                continue
            schema = _builtin_schema(version, api_version, kind)
            meta: _Schema | None = None
            if schema is None:
                schema = self.input_crds.get((api_version, kind)) or _crd_schema(api_version, kind)
                meta = _object_meta_schema(version) if schema is not None else None
            if schema is None:
                if kind not in self.allow_kinds and f"{api_version}/{kind}" not in self.allow_kinds:
                    message = (
                        f"unknown kind {api_version}/{kind}: no Kubernetes {self.kube_versions[0]}+ schema and no CustomResourceDefinition defines it; "
                        "add its CRD to the input (a CustomResourceDefinition document or a chart's crds/), pass --crd PATH or list it under "
                        "crds: in dsgate.yaml, or fix apiVersion/kind (allowKinds accepts it unchecked)"
                    )
                    errors.append((version, "", message, True))
                continue
            errors.extend((version, path, message, False) for path, message in schema.errors(obj))
            if meta is not None:
                errors.extend(
                    (version, f"metadata.{path}".rstrip("."), message, False)
                    for path, message in meta.errors(obj.get("metadata") or {})
                )
        for path, message in _semantic_errors(obj):
            errors.append((",".join(self.kube_versions), path, message, False))
        return errors

    def validate_all(self, documents: Iterable[Document]) -> list[SchemaError]:
        return [e for d in documents for e in self.validate(d)]
