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

from dsgate.gate.documents import read_text, safe_load
from dsgate.gate.sources import kustomization_file
from dsgate.k8s import label_selector_matches

Obj = dict[str, Any]


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
        lambda: (
            "namespace" not in target or re.fullmatch(target["namespace"], meta.get("namespace", "") or "") is not None
        ),
        lambda: (
            "labelSelector" not in target or label_selector_matches(target["labelSelector"], meta.get("labels") or {})
        ),
        lambda: (
            "annotationSelector" not in target
            or label_selector_matches(target["annotationSelector"], meta.get("annotations") or {})
        ),
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
    doc = safe_load(read_text(origin), str(origin)) or {}
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
