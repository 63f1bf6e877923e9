"""Kustomize `patches:` whose explicit target selects nothing.

kustomize itself accepts such a patch silently (the build succeeds, byte-identical to the base), so a
typo in a target would let an overlay pass the gate without its change. The gate checks every patch
target of a kustomization and, recursively, of its components against the build output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate.gate.sources import kustomization_file

Obj = dict[str, Any]


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
    """The string form of a Kubernetes label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`)."""
    for req in _split_requirements(selector):
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", req):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            ok = (key in labels and labels[key] in values) if op == "in" else (labels.get(key) not in values)
        elif m := re.fullmatch(r"(\S+?)\s*(!=|==|=)\s*(\S*)", req):
            key, op, value = m.groups()
            ok = labels.get(key) == value if op in ("=", "==") else labels.get(key) != value
        elif req.startswith("!"):
            ok = req[1:].strip() not in labels
        else:
            ok = req in labels
        if not ok:
            return False
    return True


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels AND matchExpressions); null selects nothing."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def target_matches(target: Mapping[str, Any], obj: Obj) -> bool:
    """kustomize's patch-target semantics: exact group/version/kind, anchored regexes for name and
    namespace, label and annotation selectors."""
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    meta = obj.get("metadata") or {}
    checks: list[Callable[[], bool]] = [
        lambda: "group" not in target or target["group"] == group,
        lambda: "version" not in target or target["version"] == version,
        lambda: "kind" not in target or target["kind"] == obj.get("kind"),
        lambda: "name" not in target or re.fullmatch(target["name"], meta.get("name", "")) is not None,
        lambda: "namespace" not in target or re.fullmatch(target["namespace"], meta.get("namespace", "") or "") is not None,
        lambda: "labelSelector" not in target or label_selector_matches(target["labelSelector"], meta.get("labels") or {}),
        lambda: "annotationSelector" not in target or label_selector_matches(target["annotationSelector"], meta.get("annotations") or {}),
    ]
    return all(check() for check in checks)


@dataclass(frozen=True)
class PatchTarget:
    origin: Path  # the kustomization file declaring the patch
    index: int
    target: Mapping[str, Any] = field(compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.origin} patches[{self.index}] target {dict(self.target)}"


def patch_targets(directory: Path) -> Iterator[PatchTarget]:
    """The explicit patch targets of DIRECTORY's kustomization and, recursively, of its components.

    Resources (bases, other overlays) are not followed: they are checked against their own builds.
    """
    origin = kustomization_file(directory)
    if origin is None:
        return
    doc = yaml.load(origin.read_text(), Loader=yaml.CSafeLoader) or {}
    if not isinstance(doc, dict):
        return
    for i, patch in enumerate(doc.get("patches") or []):
        if isinstance(patch, dict) and patch.get("target"):
            yield PatchTarget(origin, i, patch["target"])
    for comp in doc.get("components") or []:
        yield from patch_targets((directory / comp).resolve())


def unmatched_patch_targets(directory: Path, objs: list[Obj]) -> list[PatchTarget]:
    """Patch targets (see patch_targets) that select none of OBJS, the build's output.

    Evaluated on the final objects: exact as long as no later transformer renames objects or removes
    labels (namePrefix/nameSuffix would make this report a false 'matches nothing').
    """
    return [t for t in patch_targets(directory) if not any(target_matches(t.target, o) for o in objs)]
