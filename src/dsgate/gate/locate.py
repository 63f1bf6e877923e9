"""Where a problem is in the repository: the file and line a report points at.

A finding names a resource and, from its rule's METADATA, the dotted path of the offending field
(`spec.template.spec.containers[*].image`; `[*]` is the list item the message names); a schema error
names the path of the error (`spec.template.spec.containers.0.image`). They are mapped to lines:

- a plain YAML file: the line of the field in that file (the deepest part of the path the file has:
  the parent, for a field that is missing), or of the resource when no field applies; an item of a
  `kind: List` at its own lines;
- a chart render: the template named by helm's `# Source:` comment above the document, followed into
  the `define`s it includes (`_helpers.tpl`), at the line that writes the field (see templates), and,
  for each values key that line certainly reads, the values file and line that set it (the
  scenario's values files first, last one wins, then values.yaml); no values location when the line
  writes a literal or a helper computes it;
- a kustomization: the last patch (strategic merge or JSON 6902) that sets the field on the resource,
  else the resource file that declares the resource.

A `containers[*]` field whose message names an init container is looked for in `initContainers`.
Lines come from PyYAML's node positions (a position index of the source text), never from the
objects the gate evaluated, so they are the lines a reader sees in the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.gate import templates
from dsgate.gate.documents import Document
from dsgate.gate.patchtargets import target_matches
from dsgate.gate.sources import RenderOutcome, kustomization_file

Part = str | int  # a mapping key, a list index, or "*" (the list item the message names)
_PART = re.compile(r"\[(\*|\d+)\]|([^.\[\]]+)")
_SOURCE = re.compile(r"^# Source: (\S+)")
_VALUES_REF = re.compile(r"\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
_NAMED = re.compile(r"<([^<>]+)>")
_BOUNDARY = re.compile(r"^(---|\.\.\.)(\s|$)")  # a line that ends a YAML document
_CONTAINER = re.compile(r"\bcontainer <([^<>]+)>")


@dataclass(frozen=True)
class Location:
    """A file (absolute) and a 1-based line (0: the file as a whole), with what it shows."""

    file: Path
    line: int = 0
    note: str = ""


def field_parts(field: str) -> list[Part]:
    """`a.b[*].c` and `a.b.0.c` as ["a", "b", "*"/0, "c"]."""
    parts: list[Part] = []
    for m in _PART.finditer(field):
        item, key = m.group(1), m.group(2)
        token = item if item is not None else key
        parts.append(int(token) if token.isdigit() else token)
    return parts


def _is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))


@lru_cache(maxsize=256)
def _documents(text: str) -> tuple[yaml.Node, ...]:
    """The non-empty document nodes of TEXT (positions only; nothing is constructed)."""
    try:
        return tuple(node for node in yaml.compose_all(text, Loader=yaml.CSafeLoader) if not _is_null(node))
    except yaml.YAMLError:
        return ()


@lru_cache(maxsize=256)
def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _get(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _scalar(node: yaml.Node, *keys: str) -> str:
    for key in keys:
        found = _get(node, key)
        if found is None:
            return ""
        node = found[1]
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _pick(items: Sequence[yaml.Node], names: Sequence[str], strict: bool = False) -> int:
    """The list item whose `name` the message names, else the first (STRICT: else none, -1)."""
    for i, item in enumerate(items):
        if _scalar(item, "name") in names:
            return i
    return -1 if strict else 0


def walk(node: yaml.Node, parts: Sequence[Part], names: Sequence[str] = (), strict: bool = False) -> tuple[int, int]:
    """(1-based line of the deepest part of PARTS under NODE, how many parts were found); STRICT: a `[*]`
    item must be the one the message names (a patch's list holds only the items it changes)."""
    line, depth = node.start_mark.line + 1, 0
    for part in parts:
        if isinstance(node, yaml.SequenceNode) and node.value and (part == "*" or isinstance(part, int)):
            index = part if isinstance(part, int) else _pick(node.value, names, strict)
            if index < 0 or index >= len(node.value):
                break
            node = node.value[index]
            line = node.start_mark.line + 1
        elif isinstance(part, str) and (found := _get(node, part)) is not None:
            key, node = found
            line = key.start_mark.line + 1
        else:
            break
        depth += 1
    return line, depth


def _node_of(nodes: Sequence[yaml.Node], document: Document) -> yaml.Node | None:
    """DOCUMENT's node: the one starting at its line, else the one at its index (not for a list's item)."""
    for node in nodes:
        if node.start_mark.line + 1 == document.line:
            return node
    for node in nodes:  # a reader that counts a document's first line differently
        if node.start_mark.line + 1 <= document.line <= node.end_mark.line:
            return node
    return nodes[document.index] if document.index < len(nodes) and not document.item else None


def _named(message: str) -> list[str]:
    """The list item names a message gives: the container it names (`container <x>`, `init container <x>`)
    when it names one, else every `<...>` (the resource's own name may be a container's name too)."""
    containers = _CONTAINER.findall(message)
    return containers or _NAMED.findall(message)


def _item_node(node: yaml.Node, item: Sequence[int]) -> yaml.Node:
    """The node of the list item ITEM (index path in `items`) of the list object NODE."""
    for index in item:
        found = _get(node, "items")
        if found is None or not isinstance(found[1], yaml.SequenceNode) or index >= len(found[1].value):
            break
        node = found[1].value[index]
    return node


def _objects(node: yaml.Node) -> list[yaml.Node]:
    """NODE, or the item nodes of a list object (nested lists too)."""
    found = _get(node, "items")
    if _scalar(node, "kind").endswith("List") and found is not None and isinstance(found[1], yaml.SequenceNode):
        return [inner for item in found[1].value for inner in _objects(item)]
    return [node]


def concrete(obj: Any, parts: Sequence[Part], names: Sequence[str], indices: bool = True) -> list[Part]:
    """PARTS on the rendered object OBJ: `containers[*]` becomes `initContainers[*]` when the container the
    message names is an init container, and (with INDICES) each `[*]` the index of the item the message
    names (else of the first item); the path stops at a list the object does not have."""
    out: list[Part] = []
    node: Any = obj
    for i, part in enumerate(parts):
        if part == "*" or isinstance(part, int):
            if not isinstance(node, list) or not node:
                if not indices:
                    out.append(part)
                    continue
                break
            index = (
                part
                if isinstance(part, int)
                else next((k for k, item in enumerate(node) if isinstance(item, dict) and item.get("name") in names), 0)
            )
            if index >= len(node):
                break
            out.append(index if indices else part)
            node = node[index]
            continue
        if part == "containers" and i + 1 < len(parts) and parts[i + 1] == "*" and isinstance(node, dict):
            init = [c.get("name") for c in node.get("initContainers") or [] if isinstance(c, dict)]
            main = [c.get("name") for c in node.get("containers") or [] if isinstance(c, dict)]
            if any(n in init for n in names) and not any(n in main for n in names):
                part = "initContainers"
        out.append(part)
        node = node.get(part) if isinstance(node, dict) else None
    return out


def file_location(document: Document, field: str, message: str = "") -> list[Location]:
    """A document read from a plain YAML file: the field's line there (in its item of a `kind: List`)."""
    path = Path(document.file).resolve()
    node, offset = _file_node(_read(path), document)
    if node is None:
        return [Location(path, document.line)]
    node = _item_node(node, document.item)
    line, _ = walk(node, concrete(document.obj, field_parts(field), _named(message)), _named(message))
    return [Location(path, line + offset)]


def _file_node(text: str, document: Document) -> tuple[yaml.Node | None, int]:
    """DOCUMENT's node in TEXT and the number of lines before the text it was composed from: only
    its own document when one starts at its line (a file of thousands of documents is not composed
    whole for each finding), else the whole file as _node_of finds it."""
    if document.line > 0:
        lines = text.splitlines(keepends=True)
        start = document.line - 1
        end = next((i for i in range(start + 1, len(lines)) if _BOUNDARY.match(lines[i])), len(lines))
        own = _documents("".join(lines[start:end]))
        if len(own) == 1 and own[0].start_mark.line == 0:
            return own[0], start
    return _node_of(_documents(text), document), 0


# ---------------------------------------------------------------------------------------------- charts


def source_template(text: str, line: int) -> str:
    """The template helm's `# Source:` comment names for the document starting at LINE of TEXT."""
    lines = text.splitlines()
    i = max(line - 1, 0)
    for j in range(i, len(lines)):  # the comment may follow the document's first line (`---`)
        if m := _SOURCE.match(lines[j]):
            return m.group(1)
        if lines[j].strip() not in ("---", "") and not lines[j].startswith("#"):
            break
    for j in range(i - 1, -1, -1):
        if m := _SOURCE.match(lines[j]):
            return m.group(1)
        if lines[j].strip() == "---":
            break
    return ""


def _values_line(path: Path, dotted: str) -> int:
    nodes = _documents(_read(path))
    if not nodes:
        return 0
    parts = dotted.split(".")
    line, depth = walk(nodes[0], parts)
    return line if depth == len(parts) else 0


@lru_cache(maxsize=64)
def _defines(chart: Path) -> templates.Defines:
    return templates.Defines(chart)


def _document_block(path: Path, kind: str, name: str) -> templates.Block:
    """The part of a template between `---` lines that writes `kind: KIND` (the whole file when none does);
    of several, the one whose `name:` line's literal text is all in NAME (the longest such literal)."""
    whole = templates.whole_file(path)
    lines = whole.text.lines
    pattern = re.compile(rf"^kind:\s*[\"']?{re.escape(kind)}[\"']?\s*$")
    sections: list[templates.Block] = []
    for at in (i for i, line in enumerate(lines) if pattern.match(line)):
        start = next((i + 1 for i in range(at, -1, -1) if lines[i].strip() == "---"), 0)
        end = next((i for i in range(at, len(lines)) if lines[i].strip() == "---"), len(lines))
        sections.append(templates.Block(whole.text, start, end))
    if len(sections) <= 1:
        return sections[0] if sections else whole

    def fit(block: templates.Block) -> int:
        line = next((lines[j] for j in range(block.start, block.end) if re.match(r"^  name:", lines[j])), "")
        literal = [
            part
            for part in re.split(r"\{\{.*?\}\}", line.split(":", 1)[1] if line else "")
            for part in [part.strip(" \"'")]
            if part
        ]
        return sum(map(len, literal)) if all(part in name for part in literal) else -1

    return max(sections, key=fit)


def _values_locations(
    chart: Path, template: Path, values_files: Sequence[Path], claims: Sequence[tuple[str, list[str]]]
) -> list[Location]:
    """The values file and line of each claimed key (the deepest part of it, below the key, that a file
    sets; the scenario's files first, last one wins, then values.yaml); a subchart's keys under its name."""
    sub = template.relative_to(chart).parts[1] if template.relative_to(chart).parts[0] == "charts" else ""
    files = [*(p.resolve() for p in reversed(values_files)), chart / "values.yaml"]
    out: list[Location] = []
    for key, below in claims:
        candidates = [(path, f"{sub}.{key}" if sub else key) for path in files]
        if sub:
            candidates.append((chart / "charts" / sub / "values.yaml", key))
        found = None
        for depth in range(len(below), -1, -1):
            dotted = ".".join([key, *below[:depth]])
            found = next(
                (
                    (path, pre, at)
                    for path, pre in candidates
                    if (at := _values_line(path, ".".join([pre, *below[:depth]])))
                ),
                None,
            )
            if found is not None:
                out.append(Location(found[0], found[2], f"set by {dotted}"))
                break
    return list(dict.fromkeys(out))


@lru_cache(maxsize=4096)
def _walk(
    chart: Path,
    path: Path,
    ref: tuple[str, str],  # the document's kind and name
    parts: tuple[Part, ...],
    item: tuple[Part, ...],
    names: tuple[tuple[int, str], ...],
    sizes: tuple[tuple[int, int], ...],
) -> templates.Hit | None:
    """The template place of PARTS (the resource's, ITEM's `kind`, when none is found); the same for every
    scenario of a chart, so computed once."""
    walker = templates.Walk(_defines(chart), dict(names), dict(sizes))
    block = _document_block(path, *ref)
    hit = walker.field(block, list(parts)) if parts else None
    if hit is None and (hit := walker.field(block, [*item, "kind"])) is not None:
        hit.claims = []  # the resource as a whole: an `if .Values.x.enabled` around it does not set a field
    return hit


def chart_location(
    document: Document, chart: Path, rendered: str, values_files: Sequence[Path], field: str, message: str = ""
) -> list[Location]:
    """A chart render's document: where its templates produce the field (see templates), plus the values
    file and line of each values key that certainly sets it."""
    chart = chart.resolve()
    template = source_template(rendered, document.line)
    if not template:
        return [Location(chart / "Chart.yaml")]
    path = chart / template.split("/", 1)[1] if "/" in template else chart / template
    names = _named(message)
    item: list[Part] = [p for index in document.item for p in ("items", index)]
    parts = [*item, *concrete(document.obj, field_parts(field), names)]
    walker = templates.Walk(_defines(chart))
    node_of_list = _node_of(_documents(rendered), document) if item else None
    for level, index in enumerate(document.item):  # a `kind: List`'s items: found by their index
        found = _get(node_of_list, "items") if node_of_list is not None else None
        if found is None or not isinstance(found[1], yaml.SequenceNode):
            break
        walker.sizes[2 * level + 1] = len(found[1].value)
        node_of_list = found[1].value[index] if index < len(found[1].value) else None
    node: Any = document.obj
    for i, part in enumerate(parts[len(item) :], start=len(item)):  # the rendered lists along the path
        if isinstance(part, int) and isinstance(node, list):
            walker.sizes[i] = len(node)
            node = node[part] if part < len(node) else None
            walker.names[i] = str(node.get("name", "")) if isinstance(node, dict) else ""
        else:
            node = node.get(part) if isinstance(node, dict) else None
    hit = _walk(
        chart,
        path,
        (document.kind, document.name),
        tuple(parts),
        tuple(item),
        tuple(walker.names.items()),
        tuple(walker.sizes.items()),
    )
    if hit is None:
        return [Location(path)]
    return [Location(hit.file, hit.line, hit.note), *_values_locations(chart, path, values_files, hit.claims)]


# ------------------------------------------------------------------------------------------ kustomize


@dataclass(frozen=True)
class _Patch:
    path: Path
    target: dict[str, Any] | None


def _kustomization(directory: Path) -> dict[str, Any]:
    path = kustomization_file(directory)
    if path is None:
        return {}
    try:
        doc = yamlc.safe_load(_read(path))
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _kustomization_lines(directory: Path) -> tuple[Path | None, yaml.Node | None]:
    path = kustomization_file(directory)
    nodes = _documents(_read(path)) if path else ()
    return path, (nodes[0] if nodes else None)


def kustomize_inputs(
    directory: Path, seen: frozenset[Path] = frozenset()
) -> tuple[list[Path], list[_Patch], list[Location]]:
    """The resource files, the patch files (in the order kustomize applies them) and the helmCharts
    entries (kustomization file and line, note: the chart's name) of a kustomization, recursively."""
    directory = directory.resolve()
    if directory in seen:
        return [], [], []
    seen = seen | {directory}
    doc = _kustomization(directory)
    resources: list[Path] = []
    patches: list[_Patch] = []
    charts: list[Location] = []
    for entry in [*(doc.get("resources") or []), *(doc.get("bases") or [])]:
        path = directory / str(entry)
        if path.is_dir():
            more, more_patches, more_charts = kustomize_inputs(path, seen)
            resources += more
            patches += more_patches
            charts += more_charts
        elif path.is_file():
            resources.append(path.resolve())
    origin, node = _kustomization_lines(directory)
    listed = _get(node, "helmCharts") if node is not None else None
    if origin is not None and listed is not None and isinstance(listed[1], yaml.SequenceNode):
        charts += [Location(origin, item.start_mark.line + 1, _scalar(item, "name")) for item in listed[1].value]
    own: list[_Patch] = []
    for key in ("patches", "patchesJson6902"):
        for entry in doc.get(key) or []:
            if isinstance(entry, dict) and entry.get("path"):
                own.append(_Patch((directory / str(entry["path"])).resolve(), entry.get("target")))
    for entry in doc.get("patchesStrategicMerge") or []:
        if isinstance(entry, str) and (directory / entry).is_file():
            own.append(_Patch((directory / entry).resolve(), None))
    for comp in doc.get("components") or []:
        more, more_patches, more_charts = kustomize_inputs(directory / str(comp), seen)
        resources += more
        own += more_patches
        charts += more_charts
    return resources, patches + own, charts


def _same_object(node: yaml.Node, obj: dict[str, Any]) -> bool:
    """NODE declares OBJ, allowing for a namePrefix/nameSuffix added later."""
    name = str((obj.get("metadata") or {}).get("name", ""))
    declared = _scalar(node, "metadata", "name")
    return _scalar(node, "kind") == obj.get("kind") and bool(declared) and declared in name


def _json_patch_line(node: yaml.Node, parts: Sequence[Part]) -> int:
    """The line of the JSON 6902 operation whose path is the field, an ancestor or a descendant of it."""
    if not isinstance(node, yaml.SequenceNode):
        return 0
    for op in node.value:
        pointer = [p.replace("~1", "/").replace("~0", "~") for p in _scalar(op, "path").split("/")[1:]]
        common = min(len(pointer), len(parts))
        if common and all(a == "*" or str(a) == b for a, b in zip(parts[:common], pointer[:common], strict=True)):
            line: int = op.start_mark.line
            return line + 1
    return 0


def kustomize_location(document: Document, directory: Path, field: str, message: str = "") -> list[Location]:  # noqa: C901  # follows kustomize's own resolution order (resources, patches, components, helmCharts), one branch per place an object can come from
    """A kustomize build's document: the last patch that sets the field, else the resource file declaring
    it, else the helmCharts entry that inflates it (the chart named in the resource's name)."""
    resources, patches, charts = kustomize_inputs(directory)
    names = _named(message)
    parts = concrete(document.obj, field_parts(field), names, indices=False)
    found: Location | None = None
    for patch in patches if parts else ():
        for node in _documents(_read(patch.path)):
            if isinstance(node, yaml.SequenceNode):
                if (
                    patch.target
                    and target_matches(patch.target, document.obj)
                    and (line := _json_patch_line(node, parts))
                ):
                    found = Location(patch.path, line, "patch")
                continue
            if patch.target and not target_matches(patch.target, document.obj):
                continue
            if not patch.target and not _same_object(node, document.obj):
                continue
            line, depth = walk(node, parts, names, strict=True)
            if depth == len(parts):
                found = Location(patch.path, line, "patch")
    if found is not None:
        return [found]
    for path in resources:
        for node in (item for top in _documents(_read(path)) for item in _objects(top)):
            if _same_object(node, document.obj):
                return [Location(path, walk(node, parts, names)[0])]
    name = str((document.obj.get("metadata") or {}).get("name", ""))
    for chart in sorted(charts, key=lambda c: -len(c.note)):
        if chart.note and chart.note in name:
            return [Location(chart.file, chart.line, f"helmCharts {chart.note}")]
    origin = kustomization_file(directory.resolve())
    return [Location(origin or directory.resolve(), 0)]


class Locator:
    """Locations of the problems of a gate result's renders, by (source label, resource ref)."""

    def __init__(self, renders: Sequence[RenderOutcome]) -> None:
        self._docs: dict[tuple[str, str], tuple[RenderOutcome, Document]] = {}
        for outcome in renders:
            for document in outcome.documents:
                self._docs.setdefault((document.provenance.label, document.ref), (outcome, document))

    def __call__(self, label: str, ref: str, field: str = "", message: str = "") -> list[Location]:
        """Where the resource REF of source LABEL is at fault (at FIELD when given); [] when unknown."""
        found = self._docs.get((label, ref))
        if found is None:
            return []
        outcome, document = found
        return outcome.job.source.locate(outcome, document, field, message)


def repo_root(start: Path | None = None) -> Path:
    """The repository root above START (default: the working directory): the nearest directory
    with a `.git`, else START itself."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here
