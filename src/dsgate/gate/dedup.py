"""One finding per problem: the same finding from several chart scenarios is reported once.

A chart is rendered once per scenario (its defaults and every `ci/*-values.yaml`), and usually most
scenarios share most problems: one upstream chart gave 520 denies from 39 scenarios, a dozen distinct
ones. Findings that differ only in their scenario are merged into one that lists every scenario it
occurs in (in render order); its `source` stays the first scenario's label, so it is located in that
scenario's render. Renders of one scenario under several helm majors or Kubernetes versions share a
label and were merged already when evaluated. Exit codes do not change: a deny is a deny however many
scenarios it occurs in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from dsgate.gate.evaluate import Finding


def _key(f: Finding) -> tuple[object, ...]:
    return (
        f.origin,
        f.rule,
        f.category,
        f.severity,
        f.resource,
        f.message,
        f.remediation,
        f.exempted,
        f.exemption,
        f.via,
        f.field,
    )


def merge_scenarios(findings: Sequence[Finding]) -> list[Finding]:
    """FINDINGS with those equal but for their scenario merged, each listing its scenarios; first-seen order."""
    merged: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        key = _key(f)
        first = merged.get(key)
        if first is None:
            merged[key] = f
        elif not set(f.scenarios) <= set(first.scenarios):
            merged[key] = dataclasses.replace(
                first, scenarios=(*first.scenarios, *(s for s in f.scenarios if s not in first.scenarios))
            )
    return list(merged.values())
