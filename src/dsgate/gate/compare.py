"""helm v4 against helm v3: the two renders of one chart scenario compared as parsed documents.

Text never decides: whitespace, comments, key order and the order of documents are not differences
(helm v3.22 and v4.3 print the same chart with blank lines in different places). Documents are paired
by apiVersion, kind, namespace and name; a real difference names the resource and its first differing
paths with both values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from dsgate.gate.documents import Document

MAX_PATHS = 3  # differing paths shown per resource
MAX_VALUE = 80  # characters of a value shown


def _key(doc: Document) -> str:
    return f"{doc.api_version} {doc.ref}"


def _index(documents: Sequence[Document]) -> dict[str, list[Any]]:
    """Resource key -> its objects (a key twice in one render keeps both, in a fixed order)."""
    out: dict[str, list[Any]] = {}
    for doc in documents:
        out.setdefault(_key(doc), []).append(doc.obj)
    for objs in out.values():
        objs.sort(key=lambda o: json.dumps(o, sort_keys=True))
    return out


def _show(value: Any) -> str:
    text = "(absent)" if value is _ABSENT else json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


_ABSENT = object()


def diff_paths(left: Any, right: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted path, left value, right value) for each difference, depth first in key order."""
    if isinstance(left, dict) and isinstance(right, dict):
        for k in sorted(set(left) | set(right)):
            yield from diff_paths(left.get(k, _ABSENT), right.get(k, _ABSENT), f"{path}.{k}" if path else str(k))
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from diff_paths(a, b, f"{path}.{i}" if path else str(i))
    elif left != right or type(left) is not type(right):
        yield path or "(root)", left, right


def differences(left: Sequence[Document], right: Sequence[Document], left_name: str, right_name: str) -> list[str]:
    """One line per differing resource between two renders; [] when they are the same documents."""
    a, b = _index(left), _index(right)
    lines: list[str] = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            lines.append(f"{key.split(' ', 1)[1]} only in helm {left_name}")
        elif key not in a:
            lines.append(f"{key.split(' ', 1)[1]} only in helm {right_name}")
        elif a[key] != b[key]:
            if len(a[key]) != len(b[key]):
                lines.append(
                    f"{key.split(' ', 1)[1]}: {len(a[key])} documents in helm {left_name}, {len(b[key])} in helm {right_name}"
                )
                continue
            found = [d for x, y in zip(a[key], b[key], strict=True) for d in diff_paths(x, y)][:MAX_PATHS]
            shown = "; ".join(f"{p}: {left_name} {_show(x)} / {right_name} {_show(y)}" for p, x, y in found)
            lines.append(f"{key.split(' ', 1)[1]}: {shown}")
    return lines
