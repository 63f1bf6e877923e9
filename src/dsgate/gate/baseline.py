"""A baseline file for adopting the gate on charts that already have findings (brownfield).

`dsgate check --write-baseline FILE` records every finding of the run that is not exempted; a later
`dsgate check --baseline FILE` reports the findings recorded there as suppressed (`exempted`, with
the reason "in baseline FILE"), so only new findings fail, and lists the entries that no longer
occur, so they can be removed from the file.

A finding's fingerprint is the first 16 hex digits of the SHA-256 of its rule id, resource
(`Kind/namespace/name`), source (the chart, kustomization or file path, relative to the baseline
file's directory, without the scenario) and field (the offending field's dotted path, list items as
`[*]`), joined by NUL. It has no line numbers, message text, scenario, helm or Kubernetes version,
so it survives edits elsewhere in the file, reordered scenarios and new target versions. Two
findings of one rule on the same field of the same resource (two containers, say) share a
fingerprint: the baseline then covers both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsgate.errors import DsgateError
from dsgate.gate.controls import relative, source_path
from dsgate.gate.evaluate import Finding

if TYPE_CHECKING:
    from dsgate.gate.pipeline import GateResult

VERSION = 1
REASON_PREFIX = "in baseline "  # the exemption reason of a finding the baseline suppresses, before the file's path
FIELDS = ("fingerprint", "rule", "resource", "source", "field", "severity", "message")


class BaselineError(DsgateError, ValueError):
    """The baseline file cannot be read or written; the message names the file and the fix."""


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    rule: str
    resource: str
    source: str
    field: str
    severity: str
    message: str  # for the reader of the file; not part of the fingerprint


def fingerprint(rule: str, resource: str, source: str, field: str) -> str:
    return hashlib.sha256("\0".join((rule, resource, source, field)).encode()).hexdigest()[:16]


def entry_of(f: Finding, root: Path) -> Entry:
    """F's baseline entry; its source relative to ROOT (the baseline file's directory)."""
    source = relative(source_path(f.source), root)
    return Entry(
        fingerprint(f.rule, f.resource, source, f.field), f.rule, f.resource, source, f.field, f.severity, f.message
    )


def write(path: Path, findings: Iterable[Finding]) -> int:
    """Record FINDINGS (the ones not exempted) in PATH; the number of entries written."""
    entries = {e.fingerprint: e for e in (entry_of(f, path.parent) for f in findings if not f.exempted)}
    doc = {
        "version": VERSION,
        "fingerprint": "sha256(rule NUL resource NUL source NUL field)[:16]",
        "findings": [asdict(entries[k]) for k in sorted(entries)],
    }
    try:
        path.write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as exc:
        raise BaselineError(f"cannot write the baseline {path}: {exc.strerror}") from None
    return len(entries)


def read(path: Path) -> dict[str, Entry]:
    """The entries of the baseline file PATH by fingerprint."""
    try:
        doc: Any = json.loads(path.read_text())
    except OSError as exc:
        raise BaselineError(
            f"{path}: cannot read the baseline ({exc.strerror}); create it with --write-baseline {path}"
        ) from None
    except ValueError as exc:
        raise BaselineError(f"{path}: not a baseline file ({exc}); recreate it with --write-baseline {path}") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"{path}: not a version {VERSION} baseline file; recreate it with --write-baseline {path}")
    out: dict[str, Entry] = {}
    for i, raw in enumerate(doc["findings"]):
        if not isinstance(raw, dict) or any(not isinstance(raw.get(k), str) for k in FIELDS):
            raise BaselineError(
                f"{path}: findings[{i}] needs string {', '.join(FIELDS)}; recreate the file with --write-baseline {path}"
            )
        out[raw["fingerprint"]] = Entry(**{k: raw[k] for k in FIELDS})
    return out


def apply(result: GateResult, path: Path, entries: Mapping[str, Entry]) -> None:
    """Mark RESULT's findings recorded in ENTRIES as exempted by the baseline PATH, and (when every
    render succeeded) add a notice per entry whose source was checked and that no longer occurs."""
    seen: set[str] = set()
    findings = []
    for f in result.findings:
        entry = entry_of(f, path.parent)
        seen.add(entry.fingerprint)
        if not f.exempted and entry.fingerprint in entries:
            f = replace(f, exempted=True, exemption=f"{REASON_PREFIX}{path}")
        findings.append(f)
    result.findings = findings
    if result.errors:
        return  # something did not run: an entry that did not occur may still be there
    checked = {relative(str(o.job.source.path), path.parent) for o in result.renders}
    fixed = [e for k, e in sorted(entries.items()) if k not in seen and e.source in checked]
    for e in fixed:
        result.notices.append(
            f"baseline {path}: {e.rule} on {e.resource} in {e.source} ({e.fingerprint}) no longer occurs; remove the entry"
        )


@dataclass
class Step:
    """The baseline step of a run: read PATH before the run (errors exit 2 early), or WRITE it from the run's findings."""

    path: Path
    write: bool = False
    entries: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def of(cls, path: Path, write_it: bool) -> Step:
        return cls(path, True) if write_it else cls(path, False, read(path))

    def __call__(self, result: GateResult) -> None:
        if self.write:
            if result.errors:
                result.errors.append(f"baseline {self.path} not written: the run did not complete (errors above)")
                return
            try:
                count = write(self.path, result.findings)
            except BaselineError as exc:
                result.errors.append(str(exc))
                return
            result.notices.append(
                f"baseline {self.path}: recorded {count} findings; later runs with --baseline {self.path} fail only on new ones"
            )
            self.entries = read(self.path)
        apply(result, self.path, self.entries)
