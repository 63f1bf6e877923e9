"""Kubernetes documents with their provenance, and strict YAML loading; list objects (`kind: List`,
DaemonSetList, ...) are expanded into their items, as kubectl does.

Input is hostile until read: bytes are decoded as strict UTF-8 (an error names the byte offset),
files over the size limit are not read, and a document nested deeper than the depth limit is
refused before anything recursive (PyYAML's constructor, json, jsonschema, OPA) sees it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate.errors import DsgateError
from dsgate.limits import LimitError, Limits


class _Loader(yaml.CSafeLoader):
    """The C safe loader, read the way Kubernetes' Go YAML reads these scalars.

    - YAML 1.1's `=` value tag is the string "=".
    - A float-looking plain scalar that overflows a float64 (`.1E+400`) is a string, as in Go, where
      the failed ParseFloat leaves it a string (a quantity the API server accepts), not infinity.
    """


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float | str:
    value = loader.construct_yaml_float(node)
    if math.isinf(value) and not node.value.lower().lstrip("+-").startswith(".inf"):
        return str(node.value)
    return value


def _construct_value(loader: _Loader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:value", _construct_value)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


class DocumentError(DsgateError):
    """Input YAML could not be loaded; the message names the file and line."""


@dataclass(frozen=True)
class Provenance:
    """Where a document came from: the source, and how it was produced."""

    source: str  # chart dir, kustomization dir, or YAML file
    kind: str  # "chart" | "kustomize" | "file"
    scenario: str = ""  # values file / scenario name for charts
    overlay: str = ""  # kustomization path for kustomize sources
    helm_version: str = ""
    kube_version: str = ""
    via: tuple[str, ...] = ()  # GitOps: the objects that produced this one (Kustomization ns/name, ...)
    cluster: str = ""  # GitOps: the cluster it lands in ("" the entry point's own; an Argo CD destination otherwise)

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The scenario this document was rendered in, as a finding names it (dedup merges findings
        across scenarios); () when there is none, or when the scenario field is a GitOps chain (via)."""
        return (self.scenario,) if self.scenario and not self.via else ()

    @property
    def label(self) -> str:
        """A short human name: source plus scenario or overlay."""
        extra = self.scenario or ""
        return f"{self.source}[{extra}]" if extra else self.source


@dataclass(frozen=True)
class Document:
    """One Kubernetes object plus where it came from."""

    obj: dict[str, Any]
    provenance: Provenance
    index: int = 0  # position in its stream
    line: int = 0  # first line in its stream (1-based), 0 if unknown
    file: str = ""  # the YAML file it was read from (plain YAML sources), "" for renders
    item: tuple[int, ...] = ()  # an item of a list object (`kind: List`): its index in `items`, per nesting level

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def ref(self) -> str:
        """Kind/namespace/name, the resource id used in findings."""
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass
class Render:
    """The documents of one render (one chart scenario, one overlay, or one file set)."""

    provenance: Provenance
    documents: list[Document] = field(default_factory=list)

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [d.obj for d in self.documents]


def to_document(
    obj: Any, origin: str, line: int, provenance: Provenance, index: int, item: tuple[int, ...] = ()
) -> Document:
    """OBJ, a loaded document starting at LINE of ORIGIN (ITEM: the item of a list object there), as a
    Document; raise DocumentError unless it is a Kubernetes object mapping."""
    if not isinstance(obj, dict):
        raise DocumentError(f"{origin}:{line}: document is a {type(obj).__name__}, not a Kubernetes object mapping")
    if not obj.get("apiVersion") or not obj.get("kind"):
        raise DocumentError(
            f"{origin}:{line}: document has no apiVersion/kind; every document must be a Kubernetes object"
        )
    return Document(obj=obj, provenance=provenance, index=index, line=line, item=item)


def is_list(obj: Any) -> bool:
    """A list object as kubectl writes it (`kind: List`, or a typed list such as DaemonSetList) with its `items`."""
    return isinstance(obj, dict) and str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list)


def expand_items(obj: Any, origin: str, line: int) -> list[tuple[tuple[int, ...], Any]]:
    """OBJ, or the items of a list object (nested lists too), each with its index path in `items` (()
    for OBJ itself) and given the list's apiVersion and the kind without "List" when it has none, as
    kubectl's decoder (UnstructuredList) does."""
    if not is_list(obj):
        return [((), obj)]
    item_kind = str(obj["kind"]).removesuffix("List")
    out: list[tuple[tuple[int, ...], Any]] = []
    for i, item in enumerate(obj["items"]):
        if not isinstance(item, dict):
            raise DocumentError(
                f"{origin}:{line}: items[{i}] of the {obj['kind']} is a {type(item).__name__}, not a Kubernetes object mapping"
            )
        if item_kind and not item.get("kind"):
            item = {**item, "kind": item_kind}
        if item_kind and not item.get("apiVersion"):
            item = {**item, "apiVersion": obj.get("apiVersion")}
        out.extend(((i, *path), inner) for path, inner in expand_items(item, origin, line))
    return out


def _documents(objects: Iterable[tuple[int, Any]], origin: str, provenance: Provenance) -> list[Document]:
    """(line, object) pairs as Documents, list objects expanded into their items."""
    docs: list[Document] = []
    for line, obj in objects:
        for path, item in expand_items(obj, origin, line):
            docs.append(to_document(item, origin, line, provenance, len(docs), path))
    return docs


def decode(data: bytes, origin: str) -> str:
    """DATA as UTF-8; DocumentError naming ORIGIN, the byte offset and the line otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DocumentError(
            f"{origin}: invalid UTF-8 at byte offset {exc.start} (line {line}): byte 0x{data[exc.start]:02x}; manifests must be UTF-8"
        ) from None


def check_shape(text: str, origin: str, limits: Limits) -> None:
    """Raise LimitError when TEXT has more documents, or a value nested deeper, than LIMITS allow.

    Walks libyaml's events, which it produces without recursion; composing nodes recurses in C and
    crashes the process on a few ten thousand nested brackets, so this runs first. Errors of the
    YAML itself are left to the parse that follows (it names line and column).
    """
    depth = documents = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limits.depth:
                    where = f"{origin}:{event.start_mark.line + 1}" if event.start_mark else origin
                    raise limits.exceeded(where, "depth", f"a value nested more than {limits.depth} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > limits.documents:
                    raise limits.exceeded(origin, "documents", f"more than {limits.documents} documents")
    except yaml.YAMLError:
        return


def malformed(exc: yaml.YAMLError, origin: str) -> DocumentError:
    """The error for YAML that PyYAML refuses: ORIGIN with the line and column when PyYAML knows them."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        return DocumentError(f"{where}: malformed YAML: {exc.problem or exc}")
    return DocumentError(f"{origin}: malformed YAML: {exc}")


def safe_load(text: str, origin: str, limits: Limits | None = None) -> Any:
    """The single YAML document of TEXT (a config or kustomization file), depth-checked: never a
    RecursionError. DocumentError names ORIGIN and the line."""
    check_shape(text, origin, limits or Limits())
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise malformed(exc, origin) from None


# A YAML stream -> its documents as (first line, JSON object) pairs, read as kubectl reads them
# (helm-batch's sigs.k8s.io/yaml), or the reason the stream does not convert.
Converter = Callable[[str], "list[tuple[int, Any]] | str"]


def documents_from(objects: Sequence[tuple[int, Any]], origin: str, provenance: Provenance) -> list[Document]:
    """Documents from already converted (line, object) pairs."""
    return _documents(objects, origin, provenance)


def unconvertible(
    text: str, origin: str, provenance: Provenance, reason: str, limits: Limits | None = None
) -> DocumentError:
    """The error for a stream kubectl's reader rejects: PyYAML's, which names the line and column,
    when PyYAML rejects it too; else the reader's own REASON."""
    try:
        parse_stream(text, origin, provenance, limits)
    except DocumentError as exc:
        return exc
    return DocumentError(f"{origin}: not YAML that kubectl reads: {reason}")


def read_stream(
    text: str, origin: str, provenance: Provenance, convert: Converter | None = None, limits: Limits | None = None
) -> list[Document]:
    """TEXT's documents: read as kubectl reads them through CONVERT (which applies the limits
    itself), else parsed here with PyYAML."""
    if convert is None:
        return parse_stream(text, origin, provenance, limits)
    try:
        converted = convert(text)
    except LimitError as exc:  # the converter's message starts at ": "
        raise LimitError(f"{origin}{exc}") from None
    if isinstance(converted, str):
        raise unconvertible(text, origin, provenance, converted, limits)
    return documents_from(converted, origin, provenance)


def parse_stream(text: str, origin: str, provenance: Provenance, limits: Limits | None = None) -> list[Document]:
    """Parse a multi-document YAML stream; empty documents are dropped.

    Raises DocumentError naming ORIGIN and the line on malformed YAML, and on a
    document that is not a mapping with apiVersion and kind; LimitError past the
    documents or depth limit.
    """
    check_shape(text, origin, limits or Limits())
    objects: list[tuple[int, Any]] = []
    try:
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                obj = loader.construct_document(node)
                if obj is not None:
                    objects.append((node.start_mark.line + 1, obj))
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise malformed(exc, origin) from exc
    return _documents(objects, origin, provenance)


def read_text(path: Path, limits: Limits | None = None) -> str:
    """PATH's text: DocumentError when unreadable or not UTF-8, LimitError when over the file size limit."""
    limits = limits or Limits()
    try:
        with path.open("rb") as fh:
            data = fh.read(limits.file_size + 1)
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > limits.file_size:
        raise limits.exceeded(str(path), "file_size", f"a file larger than {limits.file_size} bytes")
    return decode(data, str(path))


def load_file(
    path: Path, provenance: Provenance | None = None, convert: Converter | None = None, limits: Limits | None = None
) -> list[Document]:
    """Load every document of a YAML file (through CONVERT when given, as read_stream)."""
    prov = provenance or Provenance(source=str(path), kind="file")
    return [
        dataclasses.replace(d, file=str(path))
        for d in read_stream(read_text(path, limits), str(path), prov, convert, limits)
    ]


def load_crds(paths: Sequence[Path], charts: Sequence[Path] = ()) -> list[Any]:
    """The CustomResourceDefinitions of PATHS (files, or directories of YAML files) and of each chart's
    crds/ folder (helm installs them, `helm template` leaves them out). Raise DocumentError for
    a path that is missing or holds no CRD."""
    found: list[Any] = []
    for chart in charts:
        for folder in (chart / "crds", *sorted((chart / "charts").glob("*/crds"))):
            for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
                if path.suffix in (".yaml", ".yml", ".json"):
                    found.extend(d.obj for d in load_file(path) if d.kind == "CustomResourceDefinition")
    for root in paths:
        if not root.exists():
            raise DocumentError(f"--crd {root}: no such file or directory")
        files = (
            sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json")) if root.is_dir() else [root]
        )
        crds = [d.obj for path in files for d in load_file(path) if d.kind == "CustomResourceDefinition"]
        if not crds:
            raise DocumentError(
                f"--crd {root}: holds no CustomResourceDefinition; name a CRD file or a directory of them"
            )
        found.extend(crds)
    return found
