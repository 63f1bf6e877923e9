"""Removed and deprecated Kubernetes API versions, read from the one table apiversions.yaml.

A document whose apiVersion/kind a target minor no longer serves is an error of that document
(exit 1), with the release that removed it and the replacement, as Pluto reports it, instead of an
"unknown kind"; one deprecated in or before a target minor, and still served, is a warning.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from dsgate import yamlc
from dsgate.gate.documents import Document
from dsgate.gate.evaluate import Finding
from dsgate.paths import API_VERSIONS_FILE

DEPRECATED_API_RULE = "deprecated-api"  # the rule id of the warning (not a Rego rule: the gate raises it)


@dataclass(frozen=True)
class ApiVersion:
    api_version: str
    kind: str
    deprecated_in: str
    removed_in: str  # "" while still served
    replacement: str  # "" when there is none

    def removed_message(self) -> str:
        use = f"use {self.replacement}" if self.replacement else "it has no replacement; remove the object"
        return f"{self.api_version} {self.kind} was removed in Kubernetes v{self.removed_in} (deprecated in v{self.deprecated_in}); {use}"

    def deprecated_message(self) -> str:
        use = f"; use {self.replacement}" if self.replacement else ""
        return f"{self.api_version} {self.kind} is deprecated since Kubernetes v{self.deprecated_in}{use}"


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


@functools.cache
def table() -> dict[tuple[str, str], ApiVersion]:
    """(apiVersion, kind) -> its entry."""
    raw = yamlc.safe_load(API_VERSIONS_FILE.read_text())
    out: dict[tuple[str, str], ApiVersion] = {}
    for api_version, kinds, deprecated_in, removed_in, replacement in raw["apis"]:
        for kind in kinds:
            out[(api_version, kind)] = ApiVersion(api_version, kind, deprecated_in, removed_in, replacement)
    return out


def removed(api_version: str, kind: str, kube_version: str) -> ApiVersion | None:
    """The entry when KUBE_VERSION no longer serves apiVersion/kind."""
    entry = table().get((api_version, kind))
    if entry is None or not entry.removed_in or _minor(kube_version) < _minor(entry.removed_in):
        return None
    return entry


def deprecated(api_version: str, kind: str, kube_versions: Sequence[str]) -> ApiVersion | None:
    """The entry when apiVersion/kind is deprecated in one of KUBE_VERSIONS and removed in none."""
    entry = table().get((api_version, kind))
    if entry is None or any(removed(api_version, kind, v) for v in kube_versions):
        return None
    return entry if any(_minor(v) >= _minor(entry.deprecated_in) for v in kube_versions) else None


def deprecation_warnings(documents: Sequence[Document], kube_versions: Sequence[str]) -> list[Finding]:
    """A warning for each document whose API version one of KUBE_VERSIONS deprecates (see apiversions)."""
    out: list[Finding] = []
    for doc in documents:
        entry = deprecated(doc.api_version, doc.kind, kube_versions)
        if entry is not None:
            use = (
                f"Move to {entry.replacement}."
                if entry.replacement
                else "Remove the object; the API has no replacement."
            )
            scenarios = doc.provenance.scenarios
            out.append(
                Finding(
                    DEPRECATED_API_RULE,
                    "hygiene",
                    "warn",
                    doc.ref,
                    doc.provenance.label,
                    entry.deprecated_message(),
                    use,
                    exempted=False,
                    scenarios=scenarios,
                )
            )
    return out
