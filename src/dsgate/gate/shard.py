"""`dsgate check --shard I/N`: one of N parts of a run, for a CI job matrix; `dsgate report merge`
(dsgate.gate.merge) joins the parts' JSON reports into the report the whole run gives.

Which sources a shard gets: a source's identity is its kind and its path relative to the repository
root (`chart:charts/node-exporter`); source S goes to shard sha256(identity) mod N + 1. The split
depends on each source alone, not on discovery order, the machine or the worker, so it is the same
in every job of a matrix and in every run, and adding a source moves no other source. Shards differ
in size as hashes fall; one may hold no source at all: it prints one line saying so on stderr and
passes with an empty report (exit 0), because the other shards gate every source, and the merge,
which needs every shard's report, is what passes or fails the run.

A shard judges its own sources only. What needs several sources is finished by the merge, from what
the shard's JSON report records under `shard` (see `record`):
- the host-port clashes across sources (dsgate.gate.crosssource): each shard records the DaemonSets
  of the render crosssource picks per source, with the policy data and the severity its controls
  give DS-HST-006 per source; the merge drops the clashes each shard found among its own sources and
  evaluates all the recorded DaemonSets together in a real OPA server, as the whole run does (a
  clash needs no two sources in one shard: every one is found at the merge);
- an exemption of dsgate.yaml that matched nothing: reported by every shard whose sources it missed,
  so the merge keeps only those every shard reports, and none a clash found at the merge used;
- the summary lines (the server check's counts, the cluster model's sources with their own release).
Refused with --shard (exit 2): a baseline (its "no longer found" entries need every finding) and
the deploy stage (it runs when the whole static gate passed).
A shard's own exit code covers its sources only (it fails early on what it finds); the merge's exit
code is the run's: the unsharded run's, for the same sources and options.
A shard records I/N and a key of the run (the full source list and the options), so the merge
refuses missing, repeated or foreign shards.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dsgate.errors import DsgateError
from dsgate.gate import crosssource
from dsgate.gate.controls import Controls
from dsgate.gate.documents import Document
from dsgate.gate.locate import Locator, repo_root
from dsgate.gate.options import CheckOptions
from dsgate.gate.report import Places, facts
from dsgate.gate.sources import Source
from dsgate.gate.stages import GateResult, own_releases

SHARD = re.compile(r"^(\d+)/(\d+)$")
FORMAT = 1  # of the `shard` record; the merge refuses another


class ShardError(DsgateError):
    """A --shard value or a combination it cannot be used with."""


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str) -> Shard:
    """`I/N` with 1 <= I <= N."""
    match = SHARD.match(text.strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ShardError(f"--shard {text}: give I/N with 1 <= I <= N, e.g. --shard 1/4 (the first of 4 shards)")
    return Shard(int(match.group(1)), int(match.group(2)))


def refuse(options: CheckOptions, baseline: bool) -> None:
    """The options a shard cannot honour alone: one line, exit 2."""
    if baseline:
        raise ShardError(
            "--shard with --baseline/--write-baseline: a baseline needs every finding of the run; run it unsharded"
        )
    if options.deploy:
        raise ShardError(
            "--shard with a deploy stage (dsgate.yaml deploy:): it runs when the whole gate passed; add --no-deploy"
        )


def name(source: Source, root: Path) -> str:
    """SOURCE's path relative to ROOT (absolute outside it): how shards name sources."""
    path = source.path.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def identity(source: Source, root: Path) -> str:
    """What a source's shard is computed from: its kind and name, the same on every machine."""
    return f"{source.kind}:{name(source, root)}"


def owner(source: Source, count: int, root: Path) -> int:
    """The shard (1-based, of COUNT) that gates SOURCE."""
    return int(hashlib.sha256(identity(source, root).encode()).hexdigest(), 16) % count + 1


def select(sources: Sequence[Source], shard: Shard, root: Path | None = None) -> list[Source]:
    """SHARD's sources, in run order."""
    root = (root or repo_root()).resolve()
    return [s for s in sources if owner(s, shard.count, root) == shard.index]


def run_key(sources: Sequence[Source], options: CheckOptions, root: Path | None = None) -> str:
    """What every shard of one run shares: the full source list and the options that change the
    result, with the repository root left out (shards run in different checkouts)."""
    root = (root or repo_root()).resolve()
    what = {
        "sources": sorted(identity(s, root) for s in sources),
        "options": {
            key: getattr(options, key)
            for key in (
                "values",
                "charts",
                "repos",
                "releases",
                "argocd_clusters",
                "helm_versions",
                "kube_versions",
                "crds",
                "allow_kinds",
                "server_check",
                "policy_dir",
                "policy_data",
                "strict",
                "limits",
            )
        },
        "controls": [repr(getattr(c, "settings", c.__class__.__name__)) for c in options.controls],
    }
    text = json.dumps(what, sort_keys=True, default=repr).replace(str(root), "<root>")
    return hashlib.sha256(text.encode()).hexdigest()


def _document(doc: Document) -> dict[str, Any]:
    return {**asdict(doc), "item": list(doc.item)}


def document(raw: Mapping[str, Any]) -> Document:
    """A Document as _document wrote it."""
    from dsgate.gate.documents import Provenance

    prov = dict(raw["provenance"])
    prov["via"] = tuple(prov.get("via", ()))
    return Document(
        obj=raw["obj"],
        provenance=Provenance(**prov),
        index=raw["index"],
        line=raw["line"],
        file=raw["file"],
        item=tuple(raw["item"]),
    )


def _cross_renders(result: GateResult, positions: Mapping[str, int], root: Path) -> list[dict[str, Any]]:
    """Per source, the DaemonSets crosssource.evaluation_sets would take: those of the first evaluation
    set (the first cluster its documents land in) of the render it picks (the default scenario, else the first)."""
    chosen: dict[str, tuple[str, list[Document]]] = {}
    for r in result.renders:
        if r.error or not r.documents:
            continue
        source, scenario = str(r.job.source.path), r.job.scenario
        if source not in chosen or (
            scenario == crosssource.DEFAULT_SCENARIO and chosen[source][0] != crosssource.DEFAULT_SCENARIO
        ):
            first = r.documents[0].provenance.cluster
            chosen[source] = (
                scenario,
                [d for d in r.documents if d.kind == "DaemonSet" and d.provenance.cluster == first],
            )
    places, locate = Places(result, root), Locator(result.renders)
    return [
        {
            "position": positions[source],
            "source": source,
            "scenario": scenario,
            "documents": [
                {
                    **_document(d),
                    "locations": places.as_json(locate(d.provenance.label, d.ref, crosssource.HOST_PORT_FIELD)),
                }
                for d in docs
            ],
        }
        for source, (scenario, docs) in chosen.items()
    ]


def _host_port_severity(result: GateResult, options: CheckOptions) -> dict[str, dict[str, str | None]]:
    """The severity the run's controls give DS-HST-006 for each render label (None: the rule is off there)."""
    controls = [c for c in options.controls if isinstance(c, Controls)]
    labels = {r.job.label for r in result.renders}
    out: dict[str, dict[str, str | None]] = {}
    for label in sorted(labels):
        out[label] = {}
        for severity in ("deny", "warn"):
            effective: str | None = severity
            for control in controls:
                effective = control.effective(crosssource.HOST_PORT_RULE, label, effective) if effective else None
            out[label][severity] = effective
    return out


def _policy_dir(options: CheckOptions, root: Path) -> str | None:
    from dsgate.paths import policies_dir

    if options.policy_dir.resolve() == policies_dir().resolve():
        return None  # dsgate's own library, wherever it is installed
    path = options.policy_dir.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def record(
    result: GateResult,
    shard: Shard,
    sources: Sequence[Source],
    mine: Sequence[Source],
    options: CheckOptions,
) -> dict[str, Any]:
    """The `shard` entry of a shard's JSON report: who it is, and what the merge needs (module docstring)."""
    root = repo_root().resolve()
    known = facts(result)
    positions = {str(s.path): i for i, s in enumerate(sources)}
    cluster = options.server_check.cluster if options.server_check is not None else None
    return {
        "format": FORMAT,
        "index": shard.index,
        "count": shard.count,
        "run": run_key(sources, options, root),
        "sources": [name(s, root) for s in mine],
        "allSources": len(sources),
        "positions": {str(s.path): positions[str(s.path)] for s in mine},
        "strict": options.strict,
        "facts": {
            "renders": known.renders,
            "documents": known.documents,
            "scenarios": known.scenarios,
            "resources": {origin: sorted(refs) for origin, refs in known.resources.items()},
        },
        "clusterModel": None
        if cluster is None or not mine
        else {"cluster": cluster.describe(), "own": own_releases(mine, cluster)},
        "serverFacts": result.server_facts._asdict() if result.server_facts is not None else None,
        "crossSource": {
            "renders": _cross_renders(result, positions, root),
            "policyDir": _policy_dir(options, root),
            "data": json.loads(json.dumps(dict(options.policy_data), default=str)),
            "hostPortSeverity": _host_port_severity(result, options),
        },
    }


def with_record(report_json: str, record_: Mapping[str, Any]) -> str:
    """A JSON report (dsgate.gate.report.to_json) with the shard's record as its `shard` entry."""
    return json.dumps({**json.loads(report_json), "shard": record_}, indent=2) + "\n"
