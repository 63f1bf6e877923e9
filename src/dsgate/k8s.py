"""Kubernetes semantics dsgate needs in more than one place: label selectors, node selector
requirements and resource quantities, each written once.

The gate (patch targets, the semantic checks of validate) and the cluster (topology, deploy
eligibility) import from here; this module imports nothing of dsgate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

# A resource quantity (k8s.io/apimachinery resource.Quantity): a signed decimal and an optional
# binary (Ki..Ei), decimal SI (n, u, m, k..E) or exponent (e3, E-2) suffix. The pattern is also
# the one the chart schemas carry (JSON Schema `pattern`: anchored, no named groups).
QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$"
QUANTITY = re.compile(QUANTITY_PATTERN)
_SUFFIX = {
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate(("k", "M", "G", "T", "P", "E"))},
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
}


def is_quantity(value: object) -> bool:
    """VALUE (as a string) is a well-formed resource quantity."""
    return QUANTITY.match(str(value)) is not None


def parse_quantity(value: object) -> Decimal:
    """A resource quantity ('3800m', '16Gi', '1e3', 2) as a Decimal; ValueError if malformed."""
    text = str(value)
    match = QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    suffix = match.group(3) or ""
    try:
        number = Decimal(text.strip()[: len(text.strip()) - len(suffix)])
        if suffix[:1] in ("e", "E"):
            return number * Decimal(10) ** int(suffix[1:])
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {text!r}") from exc
    return number * _SUFFIX[suffix]


def requirement_matches(key: str, operator: str, values: Sequence[str], labels: Mapping[str, str]) -> bool:
    """One selector requirement against LABELS: In, NotIn, Exists, DoesNotExist (label selectors and
    node selectors) and Gt, Lt (node selectors: integer comparison). An unknown operator matches nothing."""
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if operator == "Gt" else have < want
    return False


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics (matchLabels AND matchExpressions); a null selector selects
    nothing, an empty one everything."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(
        requirement_matches(expr["key"], expr["operator"], expr.get("values") or [], labels)
        and expr["operator"] not in ("Gt", "Lt")
        for expr in selector.get("matchExpressions") or []
    )


def _split_requirements(selector: str) -> list[str]:
    """Split a label selector on the commas that are not inside `in (...)` sets."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """The string form of a label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) against LABELS."""
    for req in _split_requirements(selector):
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", req):
            key, op, values = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            ok = requirement_matches(key, "In" if op == "in" else "NotIn", values, labels)
        elif m := re.fullmatch(r"(\S+?)\s*(!=|==|=)\s*(\S*)", req):
            key, op, value = m.groups()
            ok = labels.get(key) == value if op in ("=", "==") else labels.get(key) != value
        elif req.startswith("!"):
            ok = requirement_matches(req[1:].strip(), "DoesNotExist", [], labels)
        else:
            ok = requirement_matches(req, "Exists", [], labels)
        if not ok:
            return False
    return True
