"""Where a chart's templates produce a field of a rendered document, and which values key sets it.

Templates are not YAML, so they are read as lines: a `key:` line at the key column of the block it is
looked for in, list items as `- ` lines, and template actions on lines of their own as what they are.
A field path is followed block by block from the template helm's `# Source:` comment names:

- a key written in the block: its line; the next part is looked for in its block;
- a list item (the part is the index of the item in the rendered list): the `- ` item whose `name:`
  is the item's rendered name, else the item at that index when the template writes exactly as many
  items as were rendered and nothing else produces items there; otherwise the list's own line;
- a key the block does not write but an `include "NAME"` (or `template "NAME"`) on a line of the block
  may produce: looked for in NAME's `define` (in any `_*.tpl` or template of the chart or of an unpacked
  subchart), and found there, at that file and line; not found, at the include's line, noted;
- a key the block does not write but a `toYaml .Values.x` line of the block produces: that line, set
  by `x`.

A values key is claimed only when the line that produces the field reads it directly: `key: {{
.Values.x }}` (every `.Values` reference on the line), `{{ toYaml .Values.x | nindent }}` as the
whole block of the key (or the whole block the field lies in), `{{ . }}` under `{{ with .Values.x }}`,
or a literal key right under `{{ if .Values.x }}`. A literal value (a hard-coded `hostPID: true`) and
a line whose values are computed elsewhere (a helper's `include`) claim nothing: a wrong "set by" is
worse than none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

Part = str | int
_ACTION_LINE = re.compile(r"^\s*\{\{.*\}\}\s*$")
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_DEFINE = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")
_INCLUDE = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"")
_OPENS = re.compile(r"\{\{-?\s*(?:if|with|range|define|block)\b")
_ENDS = re.compile(r"\{\{-?\s*end\b")
_WITH = re.compile(r"^\{\{-?\s*with\s+\$?\.Values\.([\w.]+)\s*-?\}\}$")
_IF = re.compile(r"^\{\{-?\s*if\s+\$?\.Values\.([\w.]+)\s*-?\}\}$")
_VALUES = re.compile(r"\$?\.Values\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_DOT = re.compile(r"(?<![\w)\].$])\.(?=[\s|)}])")  # a bare `.`: the value `with` bound
_DOT_FIELD = re.compile(r"(?<![\w)\].$])\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_INDENT = re.compile(r"\bn?indent\s+(\d+)")
_ROOT_OBJECTS = ("Values", "Release", "Chart", "Capabilities", "Template", "Files", "Subcharts")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _column(line: str) -> int:
    """The column of the key a line writes (after a list dash)."""
    stripped = line.lstrip(" ")
    return _indent(line) + (2 if stripped.startswith("- ") else 0)


def _is_content(line: str) -> bool:
    """A line that writes YAML (a key, an item, a scalar), not a blank, a comment or an action alone."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and not _ACTION_LINE.match(line)


def _produces(line: str) -> bool:
    """An action line that writes output (an include, a toYaml, a value), not control flow or an assignment."""
    if not _ACTION_LINE.match(line) or "{{/*" in line or "{{- /*" in line:
        return False
    body = _ACTION.search(line)
    words = body.group(1).split() if body else []
    return (
        bool(words)
        and words[0] not in ("if", "else", "with", "range", "end", "define", "block")
        and ":=" not in words[:3]
        and "=" not in words[1:2]
    )


@dataclass(frozen=True, eq=False)  # one per file (cached): compared and hashed by identity
class Text:
    """A template file's lines and, per line, the values key `.` is bound to there (by `with .Values.x`),
    and what the line is (read once: a chart's findings walk the same lines many times)."""

    path: Path
    lines: tuple[str, ...]
    dot: tuple[str, ...]  # "" where `.` is not a values key
    content: tuple[bool, ...] = ()  # writes YAML (see _is_content)
    producing: tuple[bool, ...] = ()  # an action line that writes output (see _produces)
    columns: tuple[int, ...] = ()  # the key column (see _column)

    @staticmethod
    def of(path: Path) -> Text:
        return _text(path)


@lru_cache(maxsize=256)
def _text(path: Path) -> Text:
    try:
        lines = tuple(path.read_text().splitlines())
    except (OSError, UnicodeDecodeError):
        lines = ()
    stack: list[str] = []
    dot: list[str] = []
    for line in lines:
        for action in _ACTION.finditer(line):
            words = action.group(1).split()
            if not words:
                continue
            if words[0] == "with":
                m = _WITH.match(action.group(0))
                stack.append(m.group(1) if m else "")
            elif words[0] in ("if", "range", "define", "block"):
                stack.append(stack[-1] if stack and words[0] == "if" else "")
            elif words[0] == "end" and stack:
                stack.pop()
        dot.append(stack[-1] if stack else "")
    return Text(
        path,
        lines,
        tuple(dot),
        tuple(map(_is_content, lines)),
        tuple(map(_produces, lines)),
        tuple(map(_column, lines)),
    )


def references(text: Text, index: int, part: str = "") -> list[str]:
    """The values keys line INDEX reads (its value after `PART:` when given): `.Values.x`, and `.`/`.y`
    where `with .Values.x` bound `.`."""
    line = text.lines[index]
    if part:
        line = line.split(f"{part}:", 1)[1] if f"{part}:" in line else ""
    out: list[str] = []
    for action in _ACTION.finditer(line):
        body = action.group(1)
        if _INCLUDE.search(body):
            return []  # a helper computes it: not certain which key
        out += _VALUES.findall(body)
        if text.dot[index]:
            if _DOT.search(body + " "):
                out.append(text.dot[index])
            out += [
                f"{text.dot[index]}.{name}"
                for name in _DOT_FIELD.findall(body)
                if name.split(".")[0] not in _ROOT_OBJECTS
            ]
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Block:
    """Lines [start, end) of a template whose keys sit at COLUMN (-1: the leftmost column they use)."""

    text: Text
    start: int
    end: int
    column: int = -1


@dataclass
class Hit:
    """Where a field is produced: a template file and 1-based line, the values keys that set it (each with
    the field parts below it, for a deeper key in the values file), and a note."""

    file: Path
    line: int
    claims: list[tuple[str, list[str]]] = field(default_factory=list)
    note: str = ""


def _end_of(text: Text, key_line: int, limit: int) -> int:
    """The end of the block under the key on KEY_LINE: the first content line left of its children."""
    column = text.columns[key_line]
    for j in range(key_line + 1, limit):
        line = text.lines[j]
        if text.content[j] and line.strip() == "---":
            return j
        if text.content[j]:
            indent = _indent(line)
            if indent < column or (indent == column and not line.lstrip().startswith("- ")):
                return j
    return limit


@lru_cache(maxsize=4096)
def _children(block: Block) -> tuple[int, list[int], list[int]]:
    """(key column, the key lines, the producing action lines) of BLOCK's own level."""
    text = block.text
    lines = text.lines
    column = (
        block.column
        if block.column >= 0
        else min((text.columns[j] for j in range(block.start, block.end) if text.content[j]), default=0)
    )
    keys: list[int] = []
    producers: list[int] = []
    owner = -1  # the last key without an inline value: what an action writes right under it is its value
    owned = False  # the owner's value has lines already
    for j in range(block.start, block.end):
        line = lines[j]
        if text.content[j]:
            if text.columns[j] == column and not line.lstrip().startswith("- "):
                keys.append(j)
                owner, owned = (j if line.rstrip().endswith(":") else -1), False
            elif _indent(line) < column:
                owner = -1
            else:
                owned = True
        elif text.producing[j]:
            m = _INDENT.search(line)
            out_column = int(m.group(1)) if m else _indent(line)
            # at the key column right under `key:` it may be the key's list (`env:` then `- name:`): the key's
            if owner < 0 or (out_column <= column and owned):
                producers.append(j)
    return column, keys, producers


def _key_line(block: Block, keys: Sequence[int], part: str) -> int:
    pattern = re.compile(rf"^\s*(?:- )?{re.escape(part)}:(\s|$)")
    return next((j for j in keys if pattern.match(block.text.lines[j])), -1)


def _items(block: Block) -> list[int]:
    """The lines of the `- ` items of a list block (at the leftmost dash column)."""
    lines = block.text.lines
    dashes = [j for j in range(block.start, block.end) if block.text.content[j] and lines[j].lstrip().startswith("- ")]
    if not dashes:
        return []
    column = min(_indent(lines[j]) for j in dashes)
    return [j for j in dashes if _indent(lines[j]) == column]


def _item_end(block: Block, items: Sequence[int], k: int) -> int:
    if k + 1 < len(items):
        return items[k + 1]
    column = _indent(block.text.lines[items[k]])
    for j in range(items[k] + 1, block.end):
        if block.text.content[j] and _indent(block.text.lines[j]) <= column:
            return j
    return block.end


def _pick_item(block: Block, index: int, name: str, rendered: int) -> int:
    """The position in _items of the item for the rendered item INDEX named NAME; -1 when not certain."""
    items = _items(block)
    if name:
        named = re.compile(rf"^\s*(?:- )?name:\s*[\"']?{re.escape(name)}[\"']?\s*$")
        for k, start in enumerate(items):
            key_column = _indent(block.text.lines[start]) + 2
            lines = [block.text.lines[j] for j in range(start, _item_end(block, items, k))]
            if any(named.match(line) and _column(line) == key_column for line in lines):
                return k
    column = _indent(block.text.lines[items[0]]) if items else 0
    produced = [
        j for j in range(block.start, block.end) if block.text.producing[j] and _indent(block.text.lines[j]) <= column
    ]
    controlled = [
        j
        for j in range(block.start, block.end)
        if _ACTION_LINE.match(block.text.lines[j]) and _indent(block.text.lines[j]) <= column
    ]
    if len(items) == rendered and not produced and not controlled and index < len(items):
        return index
    return -1


class Defines:
    """The named templates (`define`) of a chart and its unpacked subcharts: NAME -> (file, body block)."""

    def __init__(self, chart: Path) -> None:
        self._chart = chart
        self._found: dict[str, Block] | None = None

    def get(self, name: str) -> Block | None:
        if self._found is None:
            self._found = {}
            folders = [self._chart / "templates", *sorted(self._chart.glob("charts/*/templates"))]
            for folder in folders:
                for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
                    if path.is_file() and (path.suffix in (".tpl", ".yaml", ".yml", ".txt")):
                        self._scan(Text.of(path))
        return self._found.get(name)

    def _scan(self, text: Text) -> None:
        assert self._found is not None
        for i, line in enumerate(text.lines):
            m = _DEFINE.search(line)
            if not m:
                continue
            depth, end = 0, len(text.lines)
            for j in range(i, len(text.lines)):
                depth += len(_OPENS.findall(text.lines[j])) - len(_ENDS.findall(text.lines[j]))
                if depth <= 0:
                    end = j
                    break
            self._found.setdefault(m.group(1), Block(text, i + 1, end))


@dataclass
class Walk:
    """One field path followed through a chart's templates (see the module docstring)."""

    defines: Defines
    names: dict[int, str] = field(default_factory=dict)  # part index -> the rendered item's name
    sizes: dict[int, int] = field(default_factory=dict)  # part index -> the rendered list's length
    depth: int = 0

    def field(self, block: Block, parts: Sequence[Part], at: int = 0) -> Hit | None:
        """The deepest place of PARTS[AT:] in BLOCK; None when not even the first part is there."""
        text = block.text
        if at >= len(parts):
            return None
        part = parts[at]
        if isinstance(part, int):
            return None  # a list index is read by the list's own key (see _list)
        _, keys, producers = _children(block)
        line = _key_line(block, keys, part)
        if line < 0:
            return self._produced(block, producers, parts, at)
        here = Hit(text.path, line + 1, self._claims(text, line, part, parts[at + 1 :]))
        if references(text, line, part):
            return here  # the value, and every field below it, comes from the values this line reads
        if not text.lines[line].rstrip().endswith(":"):
            if at + 1 < len(parts):
                here.claims = []  # a literal inline value: the deeper field is not written here
            return here
        inner = Block(text, line + 1, _end_of(text, line, block.end))
        if at + 1 < len(parts):
            deeper = (
                self._list(inner, parts, at + 1) if isinstance(parts[at + 1], int) else self.field(inner, parts, at + 1)
            )
            if deeper is not None:
                return deeper
        here.claims = self._producer_claims(inner, parts[at + 1 :]) or (here.claims if at + 1 == len(parts) else [])
        return here

    def _list(self, block: Block, parts: Sequence[Part], at: int) -> Hit | None:
        index = parts[at]
        assert isinstance(index, int)
        items = _items(block)
        k = _pick_item(block, index, self.names.get(at, ""), self.sizes.get(at, -1)) if items else -1
        if k < 0:
            return None if items else self._produced(block, _children(block)[2], parts, at)  # items an include writes
        start = items[k]
        item = Block(block.text, start, _item_end(block, items, k), _column(block.text.lines[start]))
        if at + 1 == len(parts):
            return Hit(block.text.path, start + 1)
        return self.field(item, parts, at + 1) or Hit(block.text.path, start + 1)

    def _produced(self, block: Block, producers: Sequence[int], parts: Sequence[Part], at: int) -> Hit | None:
        """PARTS[AT] is not written in BLOCK: the include that produces it, or the values the one toYaml
        line of the block inserts; None when neither is certain."""
        text = block.text
        includes = [(j, m.group(1)) for j in producers for m in [_INCLUDE.search(text.lines[j])] if m]
        values = [j for j in producers if not _INCLUDE.search(text.lines[j])]
        unread: list[tuple[int, str]] = []  # includes whose define is not in the chart (a packed library chart)
        for j, name in includes if self.depth < 8 else ():
            body = self.defines.get(name)
            if body is None:
                unread.append((j, name))
                continue
            inner = Walk(self.defines, self.names, self.sizes, self.depth + 1)
            found = inner._list(body, parts, at) if isinstance(parts[at], int) else inner.field(body, parts, at)
            if found is not None:
                return found
        if len(unread) == 1 and len(includes) == 1 and not values:
            j, name = unread[0]
            return Hit(text.path, j + 1, note=f'written by include "{name}", whose define is not in the chart')
        if len(values) == 1 and not includes:
            claims = self._producer_claims(Block(text, values[0], values[0] + 1, 0), parts[at:])
            return Hit(text.path, values[0] + 1, claims) if claims else None
        return None

    def _claims(self, text: Text, line: int, part: str, below: Sequence[Part]) -> list[tuple[str, list[str]]]:
        """The values keys the key line LINE (of PART) reads, or the `if .Values.x` right above it."""
        rest = _strings(below)
        refs = references(text, line, part)
        if refs:
            return [(r, rest) for r in refs]
        above = next((j for j in range(line - 1, -1, -1) if text.lines[j].strip()), -1)
        if above >= 0 and (m := _IF.match(text.lines[above].strip())) and text.content[line]:
            return [(m.group(1), [])]
        return []

    def _producer_claims(self, block: Block, below: Sequence[Part]) -> list[tuple[str, list[str]]]:
        """The values a block's producing lines insert, when the block writes nothing literally itself."""
        if any(block.text.content[j] for j in range(block.start, block.end)):
            return []
        out: list[tuple[str, list[str]]] = []
        for j in range(block.start, block.end):
            if block.text.producing[j]:
                refs = references(block.text, j)
                if not refs:
                    return []  # something else (a helper, a variable) produces part of it
                out += [(r, _strings(below)) for r in refs]
        return out


def _strings(parts: Sequence[Part]) -> list[str]:
    """The leading mapping keys of PARTS (up to the first list index)."""
    out: list[str] = []
    for p in parts:
        if not isinstance(p, str) or p == "*":
            break
        out.append(p)
    return out


def whole_file(path: Path) -> Block:
    """Every line of a template."""
    return Block(Text.of(path), 0, len(Text.of(path).lines))
