"""The allowlist of the differential test: each known disagreement between the three verdicts, with its reason.

A disagreement is one rule on one case whose three verdicts (the gate on the raw DaemonSet, the gate
on the object the API server defaulted, admission) are not all equal; `differs` names the pair
that disagrees:

- `raw-defaulted`: defaulting changed the gate's verdict, and admission agrees with the gate on the
  defaulted object (e.g. the API server sets `maxUnavailable: 1` before admission sees it);
- `defaulted-admission`: the gate and admission disagree on the same object (the CEL and the Rego
  differ: a bug, or something CEL cannot express);
- `raw-admission`: defaulting changed the gate's verdict but admission says what the gate said of the
  raw manifest;
- `context-raw`: the gate's verdict on a sample's DaemonSet changes with the sample's other
  documents (a rule classified `vap` that needs another object).

An entry matches a disagreement by rule, pair and `when`, conditions on the raw DaemonSet (a dotted
path, `[*]` for every list item, and `absent`, `present` or `equals`), plus optionally `source`
(sample | parameter | injection | property), `fires` (the side that fires: raw | defaulted |
admission), and `case` (a regular expression the case id must match). Every condition must hold.
An entry that matches nothing in a run is stale and fails the run, as does a disagreement no entry
explains.

ALLOWLIST below is dsgate's own: the divergences of its library's policies, each with its reason
(`dsgate admission test` and tests/admission/test_differential.py run with it). load() reads the same
format from a YAML file (`divergences:` and a list of entries) for a library of one's own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.errors import DsgateError

PAIRS = ("raw-defaulted", "defaulted-admission", "raw-admission", "context-raw")
SOURCES = ("sample", "parameter", "injection", "property")
SIDES = ("raw", "defaulted", "admission", "context")
_MISSING = object()


class AllowlistError(DsgateError):
    """The allowlist file is malformed (exit 2)."""


@dataclass(frozen=True)
class Disagreement:
    """One rule on one case whose verdicts differ."""

    case: str
    source: str
    rule: str
    pair: str
    fires: tuple[str, ...]  # the verdicts in which the rule fires
    daemonset: dict[str, Any]  # the raw DaemonSet (what `when` looks at)

    def describe(self) -> str:
        return f"{self.rule} {self.pair} (fires in: {', '.join(self.fires) or 'none'}) on {self.case}"


@dataclass(frozen=True)
class Entry:
    rule: str
    differs: str
    reason: str
    when: tuple[dict[str, Any], ...] = ()
    source: str = ""
    fires: str = ""
    case: str = ""

    def matches(self, d: Disagreement) -> bool:
        return (
            d.rule == self.rule
            and d.pair == self.differs
            and (not self.source or d.source == self.source)
            and (not self.fires or self.fires in d.fires)
            and (not self.case or re.search(self.case, d.case) is not None)
            and all(_holds(cond, d.daemonset) for cond in self.when)
        )

    def describe(self) -> str:
        return f"{self.rule} {self.differs}: {self.reason}"


def _values(obj: Any, path: Sequence[str]) -> list[Any]:
    """Every value at PATH in OBJ (`[*]` fans out over a list); _MISSING where a key is absent."""
    if not path:
        return [obj]
    head, rest = path[0], path[1:]
    if head.endswith("[*]"):
        key = head[:-3]
        items = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
        if not isinstance(items, list):
            return [_MISSING]
        return [v for item in items for v in _values(item, rest)]
    if not isinstance(obj, dict) or head not in obj:
        return [_MISSING]
    return _values(obj[head], rest)


def _holds(cond: dict[str, Any], obj: dict[str, Any]) -> bool:
    values = _values(obj, str(cond["path"]).split("."))
    if cond.get("absent"):
        return all(v is _MISSING for v in values)
    if cond.get("present"):
        return any(v is not _MISSING for v in values)
    return any(v == cond["equals"] for v in values)


def _entry(raw: Any, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise AllowlistError(f"{where}: an entry must be a mapping with rule, differs, reason")
    missing = [k for k in ("rule", "differs", "reason") if not raw.get(k)]
    if missing:
        raise AllowlistError(f"{where}: missing {', '.join(missing)}")
    if raw["differs"] not in PAIRS:
        raise AllowlistError(f"{where}: differs {raw['differs']!r} is not one of {', '.join(PAIRS)}")
    if raw.get("source", "") and raw["source"] not in SOURCES:
        raise AllowlistError(f"{where}: source {raw['source']!r} is not one of {', '.join(SOURCES)}")
    if raw.get("fires", "") and raw["fires"] not in SIDES:
        raise AllowlistError(f"{where}: fires {raw['fires']!r} is not one of {', '.join(SIDES)}")
    when = raw.get("when") or []
    for cond in when:
        if not isinstance(cond, dict) or "path" not in cond or not ({"absent", "present", "equals"} & set(cond)):
            raise AllowlistError(f"{where}: a `when` condition needs path and one of absent, present, equals")
    if not when and not raw.get("case"):
        raise AllowlistError(f"{where}: give `when` conditions or a `case` pattern: an entry must be precise")
    return Entry(
        rule=str(raw["rule"]),
        differs=str(raw["differs"]),
        reason=" ".join(str(raw["reason"]).split()),
        when=tuple(when),
        source=str(raw.get("source", "")),
        fires=str(raw.get("fires", "")),
        case=str(raw.get("case", "")),
    )


def from_mappings(raw: Sequence[Any], where: str = "allowlist") -> list[Entry]:
    """RAW (the mappings of an allowlist) as entries, each checked as load() checks a file's."""
    return [_entry(item, f"{where}[{i}]") for i, item in enumerate(raw)]


def load(path: Path) -> list[Entry]:
    """The entries of the allowlist file PATH (a missing file is an empty list)."""
    if not path.is_file():
        return []
    try:
        data = yamlc.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise AllowlistError(f"{path}: not YAML: {exc}") from None
    entries = data.get("divergences") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise AllowlistError(f"{path}: expected a mapping with a list `divergences:`")
    return [_entry(raw, f"{path}: divergences[{i}]") for i, raw in enumerate(entries)]


# dsgate's own divergences (see the module's docstring); every entry must explain at least one
# disagreement of a full run, or the run fails (a stale entry).
ALLOWLIST: tuple[Entry, ...] = tuple(
    from_mappings(
        [
            {
                "rule": "DS-ROL-003",
                "differs": "raw-defaulted",
                "fires": "admission",
                "when": [{"path": "spec.updateStrategy.rollingUpdate.maxUnavailable", "absent": True}],
                "reason": "The API server defaults an absent maxUnavailable of a RollingUpdate DaemonSet to 1 before "
                "admission runs: on a cluster above large_cluster_threshold admission sees a fixed number and "
                "warns, where the gate on the raw manifest has no maxUnavailable to judge (DS-ROL-001 reports the "
                "absence there, in CI only).",
            },
        ],
        "divergences.ALLOWLIST",
    )
)

# Rules whose disallowed pattern the API server's own validation refuses before admission runs: their
# samples and injections get no verdict (the dry-run fails), and their policy never fires at admission.
# Any other refused case fails the run (a generated case the API server refuses is a generator bug).
REFUSED_BEFORE_ADMISSION: dict[str, str] = {
    "DS-HST-003": "Bidirectional mount propagation in a container that is not privileged is refused by the "
    "API server's pod template validation (mountPropagation: Forbidden) before admission: the policy restates it "
    "for the gate's message",
    "DS-HYG-001": "A selector that does not match the pod template's labels is refused by the API server's "
    "DaemonSet validation (`selector` does not match template `labels`) before admission",
}


@dataclass(frozen=True)
class Explained:
    unexplained: list[Disagreement]
    used: list[tuple[Entry, int]]  # each entry with the number of disagreements it explains
    stale: list[Entry]


def explain(disagreements: Sequence[Disagreement], entries: Sequence[Entry]) -> Explained:
    counts = [0] * len(entries)
    unexplained = []
    for d in disagreements:
        hit = [i for i, e in enumerate(entries) if e.matches(d)]
        for i in hit:
            counts[i] += 1
        if not hit:
            unexplained.append(d)
    used = list(zip(entries, counts, strict=True))
    return Explained(unexplained, used, [e for e, n in used if n == 0])
