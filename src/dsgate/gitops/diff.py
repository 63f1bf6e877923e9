"""`dsgate diff --base REF`: what a change does to what the clusters get, for a pull-request review.

Both sides (the working tree and REF, extracted with `git archive` into a temporary directory) are
rendered with the same settings through the gate's own render step; objects are matched by chain
(source and GitOps chain) and kind/namespace/name, and each change is shown as a unified diff of the
rendered YAML, grouped by chain. Flagged as blocking (exit 1):
- a DaemonSet whose spec.selector changes (immutable: the API server refuses the update);
- a Service whose spec.clusterIP changes (immutable);
- an object renamed or moved to another namespace (same kind, same chain, one removed and one
  added): the old one is pruned, so for a DaemonSet every pod is deleted and recreated.
For every DaemonSet whose pod template changes: it rolls every pod; the rollout budget
(maxUnavailable / maxSurge) and, with --nodes N, the number of waves.
"""

from __future__ import annotations

import difflib
import json
import math
import subprocess
import tarfile
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import procs
from dsgate.errors import DsgateError
from dsgate.gate.documents import Document
from dsgate.gate.sources import Source
from dsgate.gate.stages import helm_batch, plan, run_job

FORMATS = ("text", "markdown", "json")


class DiffError(DsgateError):
    """A side could not be rendered, or REF could not be read: exit 2."""


Key = tuple[str, str]  # (chain label, Kind/namespace/name)


@dataclass
class Change:
    chain: str
    ref: str
    status: str  # added | removed | changed
    diff: str = ""
    blocking: list[str] = field(default_factory=list)
    fleet: str = ""


def render_side(
    sources: Sequence[Source], root: Path, kube_version: str, workers: int = 4
) -> dict[Key, dict[str, Any]]:
    """Every object SOURCES render to, keyed by (chain label relative to ROOT, resource)."""
    jobs = plan(sources, ["v4"], [kube_version])
    batch = helm_batch(jobs, workers)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                outcomes = list(pool.map(lambda job: run_job(job, batch), jobs))
            except KeyboardInterrupt:  # cancelled: drop queued renders, kill the running ones (see pipeline.run_jobs)
                pool.shutdown(wait=False, cancel_futures=True)
                if batch is not None:
                    batch.abort()
                procs.stop_all()
                raise
    finally:
        if batch is not None:
            batch.close()
    errors = [o.error for o in outcomes if o.error]
    if errors:
        raise DiffError("; ".join(errors))
    out: dict[Key, dict[str, Any]] = {}
    for outcome in outcomes:
        for doc in outcome.documents:
            out[(_label(doc, root), doc.ref)] = doc.obj
    return out


def _label(doc: Document, root: Path) -> str:
    prov = doc.provenance
    source = Path(prov.source)
    try:
        rel = str(source.resolve().relative_to(root.resolve()))
    except ValueError:
        rel = prov.source
    return f"{rel}[{prov.scenario}]" if prov.scenario else rel


def extract(repo: Path, ref: str, dest: Path) -> Path:
    """REF's tree of the Git repository holding REPO, extracted into DEST/tree; returns REPO's place in it."""
    top = git(repo, "rev-parse", "--show-toplevel").strip()
    prefix = git(repo, "rev-parse", "--show-prefix").strip()
    git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    proc = subprocess.run(["git", "-C", top, "archive", "--format=tar", ref], capture_output=True, check=False)
    if proc.returncode != 0:
        raise DiffError(f"git archive {ref} failed: {proc.stderr.decode(errors='replace').strip()}")
    tar_path = dest / "base.tar"
    tar_path.write_bytes(proc.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest / "tree", filter="data")
    tar_path.unlink()
    return dest / "tree" / prefix


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DiffError(
            f"git {' '.join(args)} in {repo} failed: {proc.stderr.strip() or 'not a git repository or unknown revision'}"
        )
    return proc.stdout


def _yaml(obj: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(obj, sort_keys=True, width=1 << 20).splitlines(keepends=True)


def _int_or_percent(value: Any, total: int, default: int) -> int:
    if value is None:
        return default
    text = str(value)
    if text.endswith("%"):
        return math.ceil(total * int(text[:-1]) / 100)
    return int(text)


def fleet_impact(old: dict[str, Any], new: dict[str, Any], nodes: int | None) -> str:
    """What a DaemonSet pod template change does to the fleet."""
    if (old.get("spec") or {}).get("template") == (new.get("spec") or {}).get("template"):
        return ""
    strategy = (new.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return "pod template changes; updateStrategy OnDelete: pods change only when each is deleted"
    rolling = strategy.get("rollingUpdate") or {}
    total = nodes or 100
    unavailable = _int_or_percent(rolling.get("maxUnavailable"), total, 1)
    surge = _int_or_percent(rolling.get("maxSurge"), total, 0)
    if unavailable == 0 and surge == 0:
        unavailable = 1
    budget = f"maxUnavailable {rolling.get('maxUnavailable', 1)}" + (
        f", maxSurge {rolling['maxSurge']}" if rolling.get("maxSurge") not in (None, 0, "0") else ""
    )
    text = f"rolls every pod (budget: {budget})"
    if nodes:
        per_wave = max(unavailable, surge)
        waves = math.ceil(nodes / per_wave)
        text += f"; on {nodes} nodes: {per_wave} at a time, {waves} wave{'s' if waves != 1 else ''}"
    return text


def compare(base: dict[Key, dict[str, Any]], head: dict[Key, dict[str, Any]], nodes: int | None = None) -> list[Change]:
    """Every change from BASE to HEAD, blocking ones flagged."""
    changes: list[Change] = []
    for key in sorted(set(base) | set(head)):
        chain, ref = key
        old, new = base.get(key), head.get(key)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "changed"
        diff = "".join(
            difflib.unified_diff(_yaml(old) if old else [], _yaml(new) if new else [], f"a/{ref}", f"b/{ref}")
        )
        change = Change(chain, ref, status, diff)
        if old is not None and new is not None:
            kind = new.get("kind")
            if kind == "DaemonSet":
                if (old.get("spec") or {}).get("selector") != (new.get("spec") or {}).get("selector"):
                    change.blocking.append(
                        "spec.selector changes: it is immutable, the API server refuses the update (delete and recreate the DaemonSet, which deletes every pod)"
                    )
                change.fleet = fleet_impact(old, new, nodes)
            if kind == "Service":
                was, now = (old.get("spec") or {}).get("clusterIP"), (new.get("spec") or {}).get("clusterIP")
                if was != now and was not in (None, ""):
                    change.blocking.append(
                        f"spec.clusterIP changes from {was} to {now or 'unset'}: it is immutable, the API server refuses the update"
                    )
        changes.append(change)
    # renames and namespace moves: the same kind leaves and arrives under one chain
    removed = [c for c in changes if c.status == "removed"]
    added = [c for c in changes if c.status == "added"]
    for gone in removed:
        kind = gone.ref.split("/")[0]
        match = next((a for a in added if a.chain == gone.chain and a.ref.split("/")[0] == kind), None)
        if match is None:
            continue
        old_ns, new_ns = gone.ref.split("/")[1], match.ref.split("/")[1]
        how = "moved to another namespace" if old_ns != new_ns else "renamed"
        extra = ": every pod is deleted and recreated" if kind == "DaemonSet" else ""
        gone.blocking.append(f"{how} ({match.ref}): the old object is pruned{extra}")
    return changes


def report(changes: list[Change], fmt: str, base_ref: str) -> str:
    blocking = [c for c in changes if c.blocking]
    if fmt == "json":
        return (
            json.dumps(
                {
                    "base": base_ref,
                    "changes": [
                        {
                            "chain": c.chain,
                            "resource": c.ref,
                            "status": c.status,
                            "blocking": c.blocking,
                            "fleet": c.fleet,
                            "diff": c.diff,
                        }
                        for c in changes
                    ],
                    "summary": {"changes": len(changes), "blocking": len(blocking), "exit_code": 1 if blocking else 0},
                },
                indent=2,
            )
            + "\n"
        )
    groups: dict[str, list[Change]] = defaultdict(list)
    for c in changes:
        groups[c.chain].append(c)
    lines: list[str] = []
    md = fmt == "markdown"
    if md:
        lines.append(f"### dsgate diff against `{base_ref}`\n")
        lines.append(f"**{len(changes)} changed object(s), {len(blocking)} blocking.**\n")
    for chain in sorted(groups):
        lines.append(f"#### `{chain}`\n" if md else f"== {chain}")
        for c in groups[chain]:
            head = f"{c.status} {c.ref}"
            lines.append(f"- **{head}**" if md else f"  {head}")
            for b in c.blocking:
                lines.append(f"  - :no_entry: **blocking**: {b}" if md else f"    BLOCKING: {b}")
            if c.fleet:
                lines.append(f"  - fleet: {c.fleet}" if md else f"    fleet: {c.fleet}")
            if c.diff:
                if md:
                    lines.append("\n```diff\n" + c.diff.rstrip("\n") + "\n```\n")
                else:
                    lines.extend("    " + line for line in c.diff.rstrip("\n").splitlines())
    if not md:
        lines.append(
            f"{'FAIL' if blocking else 'OK'}: {len(changes)} changed object(s), {len(blocking)} blocking, against {base_ref}"
        )
    elif not changes:
        lines.append("No rendered object changes.")
    return "\n".join(lines) + "\n"
