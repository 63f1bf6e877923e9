"""Generate a chart README's values table from helm-docs style comments in values.yaml.

Comment style (one per key, directly above it, indented like the key)::

    # -- Description, possibly continued
    # on further comment lines.
    # @default -- text shown instead of the literal default
    key: value

A description may start with a type in parentheses, ``# -- (string) ...``, to override the
type inferred from the value (useful for empty or null defaults).

Rules:
* every key must be documented;
* a documented map whose children carry no ``# --`` comments is one row (free-form maps such as
  ``nodeSelector``); once any child of a map is documented, all its children must be.

The table lives between ``<!-- values-table:start -->`` and ``<!-- values-table:end -->`` in the
chart's README.md. CLI: ``python -m dsgate.docs.chartdocs CHART_DIR [--check]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.errors import DsgateError

START_MARKER = "<!-- values-table:start -->"
END_MARKER = "<!-- values-table:end -->"
_DOC = re.compile(r"^#\s?--\s?(?:\((?P<type>[A-Za-z0-9_\[\]/ ]+)\)\s*)?(?P<text>.*)$")
_DEFAULT = re.compile(r"^#\s?@default\s+--\s?(?P<text>.*)$")


class ChartDocsError(DsgateError):
    """values.yaml is undocumented or malformed, or the README has no table markers."""


@dataclass(frozen=True)
class ValueDoc:
    """One row of the values table."""

    key: str  # dotted path, e.g. "image.tag"
    type: str
    default: str  # rendered default (markdown)
    description: str
    line: int  # 1-based line of the key in values.yaml


@dataclass(frozen=True)
class _Comment:
    description: str
    type: str | None
    default: str | None


def _comment_above(lines: list[str], key: yaml.Node) -> _Comment | None:
    """The `# --` comment block directly above KEY, if any.

    The block is the run of comment lines immediately above the key; its description starts at
    the last `# --` line and continues over the following plain comment lines. A key that does not
    start its line (inside a flow mapping) has no comment of its own.
    """
    key_line = key.start_mark.line
    if lines[key_line][: key.start_mark.column].strip():
        return None
    block: list[str] = []
    i = key_line - 1
    while i >= 0 and lines[i].lstrip().startswith("#"):
        block.insert(0, lines[i].strip())
        i -= 1
    starts = [n for n, text in enumerate(block) if _DOC.match(text)]
    if not starts:
        return None
    first = _DOC.match(block[starts[-1]])
    assert first is not None
    text = [first.group("text").strip()]
    default: str | None = None
    for raw in block[starts[-1] + 1 :]:
        if m := _DEFAULT.match(raw):
            default = m.group("text").strip()
        elif not raw.lstrip("#").strip().startswith("@"):
            text.append(raw.lstrip("#").strip())
    description = " ".join(t for t in text if t)
    return _Comment(description=description, type=first.group("type"), default=default)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def _render_default(value: Any) -> str:
    return "`" + json.dumps(value, separators=(",", ":"), sort_keys=False) + "`"


def _has_documented_child(node: yaml.MappingNode, lines: list[str]) -> bool:
    return any(_comment_above(lines, k) is not None for k, _ in node.value)


def _walk(
    node: yaml.MappingNode,
    prefix: str,
    lines: list[str],
    docs: list[ValueDoc],
    errors: list[str],
    origin: str,
) -> None:
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            errors.append(f"{origin}:{key_node.start_mark.line + 1}: complex mapping keys are not supported")
            continue
        path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
        line = key_node.start_mark.line
        comment = _comment_above(lines, key_node)
        nested = (
            isinstance(value_node, yaml.MappingNode) and value_node.value and _has_documented_child(value_node, lines)
        )
        if nested:
            assert isinstance(value_node, yaml.MappingNode)
            if comment is not None:
                docs.append(ValueDoc(path, comment.type or "object", "", comment.description, line + 1))
            _walk(value_node, path, lines, docs, errors, origin)
            continue
        if comment is None:
            errors.append(f"{origin}:{line + 1}: key '{path}' has no '# --' description comment")
            continue
        if not comment.description:
            errors.append(f"{origin}:{line + 1}: key '{path}' has an empty '# --' description")
        value = yamlc.safe_load(yaml.serialize(value_node))
        docs.append(
            ValueDoc(
                key=path,
                type=comment.type or _type_of(value),
                default=comment.default if comment.default is not None else _render_default(value),
                description=comment.description,
                line=line + 1,
            )
        )


def parse_values(path: Path) -> list[ValueDoc]:
    """Parse VALUES.YAML into table rows, in file order.

    Raises ChartDocsError listing every undocumented key (file:line and dotted path).
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ChartDocsError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ChartDocsError(f"{path}: malformed YAML: {exc}") from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise ChartDocsError(f"{path}: top level is not a mapping")
    docs: list[ValueDoc] = []
    errors: list[str] = []
    _walk(root, "", text.splitlines(), docs, errors, str(path))
    if errors:
        raise ChartDocsError("undocumented values:\n" + "\n".join(errors))
    return docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(docs: Sequence[ValueDoc]) -> str:
    """The markdown values table (no markers), one row per ValueDoc."""
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for d in docs:
        rows.append(f"| {_cell(d.key)} | {_cell(d.type)} | {_cell(d.default)} | {_cell(d.description)} |")
    return "\n".join(rows) + "\n"


def render_readme(readme: str, table: str) -> str:
    """README text with the block between the markers replaced by TABLE."""
    start = readme.find(START_MARKER)
    end = readme.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise ChartDocsError(f"README has no '{START_MARKER}' ... '{END_MARKER}' block")
    head = readme[: start + len(START_MARKER)]
    return f"{head}\n{table}{readme[end:]}"


def update_readme(chart_dir: Path, *, check: bool = False) -> bool:
    """Regenerate CHART_DIR/README.md's values table; return True if it was (or, with CHECK, would be) changed.

    With CHECK the README is never written.
    """
    readme_path = chart_dir / "README.md"
    try:
        current = readme_path.read_text()
    except OSError as exc:
        raise ChartDocsError(f"{readme_path}: cannot read: {exc.strerror}") from exc
    try:
        wanted = render_readme(current, render_table(parse_values(chart_dir / "values.yaml")))
    except ChartDocsError as exc:
        raise ChartDocsError(f"{readme_path}: {exc}") from exc
    if wanted == current:
        return False
    if not check:
        readme_path.write_text(wanted)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dsgate.docs.chartdocs", description=__doc__.splitlines()[0])
    parser.add_argument("chart_dir", type=Path, help="chart directory (with values.yaml and README.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale; do not write")
    args = parser.parse_args(argv)
    try:
        changed = update_readme(args.chart_dir, check=args.check)
    except ChartDocsError as exc:
        print(f"chartdocs: {exc}", file=sys.stderr)
        return 2
    if args.check and changed:
        print(
            f"chartdocs: {args.chart_dir / 'README.md'} is stale; run 'python -m dsgate.docs.chartdocs {args.chart_dir}'",
            file=sys.stderr,
        )
        return 1
    if changed:
        print(f"chartdocs: updated {args.chart_dir / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
