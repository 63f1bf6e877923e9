"""Exemptions at admission: each one a CEL condition, true when the object is NOT exempt.

The validating policy joins them in its variable `exempt`, which each validation asks first
(dsgate.admission.policies says why not matchConditions); the mutating policy takes them as its
matchConditions, so an exempt object is not mutated.

The gate's exemptions (policies/dsgate/lib/documents.rego) are of two sources. The annotation
`dsgate.io/exempt.<rule-id>: "<reason>"` (with a reason) exempts the annotated object; dsgate.yaml's
`exemptions:` entries exempt a resource `Kind/namespace/name` and/or every object a selector matches
(`namespace` and `name` globs, a `labels` selector of the object's labels, an `image` glob one of its
containers' images matches). CEL has no
clock: an entry without a reason, with an invalid date or already expired is left out, as the gate
ignores it, and a policy that renders an entry with an expiry carries it in the annotation
`dsgate.io/exemptions-expire` (the earliest date): render and install again after that day. A
namespace-less resource (`DaemonSet//name`, a manifest without metadata.namespace) matches in every
namespace. Globs take `*` and `?`; a pattern with `[`, `{` or `\\` is an AdmissionError (CEL regular
expressions would read it differently).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dsgate.admission.library import AdmissionError

ANNOTATION_PREFIX = "dsgate.io/exempt."  # documents.rego's annotation_prefix
EXPIRY_ANNOTATION = "dsgate.io/exemptions-expire"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IMAGES = (
    "(has(object.spec.template.spec.initContainers) ? object.spec.template.spec.initContainers : []) + "
    "(has(object.spec.template.spec.containers) ? object.spec.template.spec.containers : [])"
)


def cel_string(text: str) -> str:
    """TEXT as a CEL string literal (CEL's escapes are JSON's)."""
    return json.dumps(text)


def _regex(glob: str, where: str) -> str:
    if any(c in glob for c in "[{\\"):
        raise AdmissionError(f"{where}: glob {glob!r} uses [, {{ or \\; at admission only * and ? are supported")
    return "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob) + "$"


def annotation_condition(rule_id: str) -> dict[str, str]:
    """Not exempt by the annotation dsgate.io/exempt.RULE_ID with a reason."""
    key = cel_string(ANNOTATION_PREFIX + rule_id)
    annotations = "object.metadata.annotations"
    return {
        "name": "not-exempt-by-annotation",
        "expression": f"!(has({annotations}) && {key} in {annotations} && {annotations}[{key}].trim() != '')",
    }


def active(entry: Mapping[str, Any], today: datetime.date) -> bool:
    """Whether a dsgate.yaml exemption suppresses findings today (a reason, a valid expiry not passed)."""
    expires = str(entry.get("expires", ""))
    if not str(entry.get("reason", "")).strip() or not _DATE.match(expires):
        return False
    try:
        return datetime.date.fromisoformat(expires) >= today
    except ValueError:
        return False


def data_conditions(
    rule_id: str, exemptions: Sequence[Mapping[str, Any]], today: datetime.date
) -> tuple[list[dict[str, str]], str]:
    """The matchConditions of dsgate.yaml's active exemptions from RULE_ID, and the earliest expiry among them."""
    conditions, expiries = [], []
    for i, entry in enumerate(exemptions):
        if entry.get("rule") != rule_id or not active(entry, today):
            continue
        where = f"dsgate.yaml exemptions[{i}]"
        parts = []
        if entry.get("resource"):
            parts += _resource(str(entry["resource"]), where)
        if entry.get("selector"):
            parts += _selector(entry["selector"], where)
        conditions.append({"name": f"not-exempt-by-dsgate-yaml-{i}", "expression": f"!({' && '.join(parts)})"})
        expiries.append(str(entry["expires"]))
    return conditions, min(expiries, default="")


def _resource(ref: str, where: str) -> list[str]:
    kind, _, rest = ref.partition("/")
    namespace, _, name = rest.partition("/")
    if not kind or not name:
        raise AdmissionError(f"{where}: resource {ref!r} must be Kind/namespace/name")
    parts = [f"object.kind == {cel_string(kind)}", f"object.metadata.name == {cel_string(name)}"]
    return parts + ([f"request.namespace == {cel_string(namespace)}"] if namespace else [])


def _selector(selector: Mapping[str, Any], where: str) -> list[str]:
    parts = []
    if "namespace" in selector:
        parts.append(f"request.namespace.matches({cel_string(_regex(selector['namespace'], where))})")
    if "name" in selector:
        parts.append(f"object.metadata.name.matches({cel_string(_regex(selector['name'], where))})")
    if "image" in selector:
        image = cel_string(_regex(selector["image"], where))
        parts.append(f"({_IMAGES}).exists(c, has(c.image) && c.image.matches({image}))")
    if "labels" in selector:
        parts += labels_condition(selector["labels"])
    return parts


def labels_condition(selector: Mapping[str, Any]) -> list[str]:
    """CEL over object.metadata.labels for a label selector (lib.selector_matches' semantics)."""
    labels = "(has(object.metadata.labels) ? object.metadata.labels : {})"
    parts = [
        f"{cel_string(k)} in {labels} && {labels}[{cel_string(k)}] == {cel_string(v)}"
        for k, v in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        key, values = cel_string(expression["key"]), json.dumps([str(v) for v in expression.get("values", [])])
        parts.append(
            {
                "In": f"({key} in {labels} && {labels}[{key}] in {values})",
                "NotIn": f"!({key} in {labels} && {labels}[{key}] in {values})",
                "Exists": f"{key} in {labels}",
                "DoesNotExist": f"!({key} in {labels})",
            }[expression["operator"]]
        )
    return parts
