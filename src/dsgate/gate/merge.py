"""`dsgate report merge A.json B.json ...`: the shards' JSON reports of one `dsgate check --shard I/N`
matrix joined into the report the whole run gives, in every format `check` writes, with its exit code.

The shards must be every I of one N, each once, of one run (the same sources and options: the key
dsgate.gate.shard records); anything else exits 2 with one line. What needs several sources is
finished here (see dsgate.gate.shard): the host-port clashes across sources are evaluated in a real
OPA server on the DaemonSets the shards recorded, an exemption counts as unused only when every shard
says so, and the summary lines are added up.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dsgate.errors import DsgateError
from dsgate.gate import crosssource, report, shard
from dsgate.gate.controls import ANNOTATION_PREFIX, EXEMPTION_PATH, UNUSED_EXEMPTION_RULE
from dsgate.gate.dedup import merge_scenarios
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.evaluate import EvaluationError, Finding, OpaServer
from dsgate.gate.locate import Location, repo_root
from dsgate.gate.stages import ServerCheckFacts, cluster_line, server_check_line
from dsgate.gate.validate import SchemaError
from dsgate.paths import policies_dir

ANNOTATION_FIELD = "metadata.annotations"  # the field of an unused annotation's finding (dsgate.gate.controls)


class MergeError(DsgateError):
    """The reports cannot be merged (missing, repeated or foreign shards, not a shard report)."""


def read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise MergeError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise MergeError(
            f"{path}: not JSON ({exc}); give the reports of dsgate check --shard I/N --format json"
        ) from None
    record = doc.get("shard") if isinstance(doc, dict) else None
    if not isinstance(record, dict) or record.get("format") != shard.FORMAT:
        raise MergeError(f"{path}: not a shard report; write each with dsgate check --shard I/N --format json -o FILE")
    return dict(doc)


Reports = Sequence[tuple[Path, Mapping[str, Any]]]


def check(reports: Reports) -> None:
    """Every shard of one run, each once."""
    first_path, first = reports[0]
    count, run = first["shard"]["count"], first["shard"]["run"]
    seen: dict[int, Path] = {}
    for path, doc in reports:
        record = doc["shard"]
        if record["count"] != count or record["run"] != run:
            raise MergeError(
                f"{path} is a shard of another run than {first_path} (its sources, options or shard count differ); "
                "merge the shards of one matrix"
            )
        if record["index"] in seen:
            raise MergeError(f"shard {record['index']}/{count} given twice: {seen[record['index']]} and {path}")
        seen[record["index"]] = path
    missing = [str(i) for i in range(1, count + 1) if i not in seen]
    if missing:
        raise MergeError(
            f"shard {', '.join(f'{i}/{count}' for i in missing)} missing: give the reports of all {count} shards"
        )


def _location(raw: Mapping[str, Any], root: Path) -> Location:
    return Location(root / raw["file"], int(raw.get("line") or 0), str(raw.get("note", "")))


def finding(raw: Mapping[str, Any]) -> Finding:
    return Finding(
        rule=raw["rule"],
        category=raw["category"],
        severity=raw["severity"],
        resource=raw["resource"],
        source=raw["source"],
        message=raw["message"],
        remediation=raw["remediation"],
        exempted=raw["exempted"],
        exemption=raw.get("exemption", ""),
        via=tuple(raw.get("via", ())),
        field=raw.get("field", ""),
        scenarios=tuple(raw.get("scenarios", ())),
    )


def _split(label: str) -> tuple[str, str]:
    """A provenance label as (source, scenario)."""
    if label.endswith("]") and "[" in label:
        at = label.rindex("[")
        return label[:at], label[at + 1 : -1]
    return label, ""


def schema_error(raw: Mapping[str, Any]) -> SchemaError:
    kind, namespace, name = [*raw["resource"].split("/", 2), "", ""][:3]
    source, scenario = _split(raw["source"])
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    doc = Document(
        {"kind": kind, "metadata": meta},
        Provenance(source, "", scenario=scenario, via=tuple(raw.get("via", ()))),
    )
    return SchemaError(doc, raw["kubeVersion"], raw["path"], raw["message"])


def _server_line(records: Sequence[Mapping[str, Any]], lines: Sequence[str]) -> str:
    facts = [ServerCheckFacts(**r["serverFacts"]) for r in records if r["serverFacts"]]
    if not facts:
        return next((line for line in lines if line), "")
    levels: dict[str, str] = {}
    for f in facts:
        levels.update(f.levels)
    return server_check_line(
        ServerCheckFacts(
            sum(f.sent for f in facts),
            facts[0].version,
            facts[0].minor,
            levels,
            sum(f.prepared for f in facts),
            sum(f.restarts for f in facts),
            [kind for f in facts for kind in f.unserved],
        )
    )


def _cluster_line(records: Sequence[Mapping[str, Any]]) -> str:
    models = [r["clusterModel"] for r in records if r["clusterModel"]]
    if not models:
        return ""
    return cluster_line(models[0]["cluster"], sorted({own for m in models for own in m["own"]}))


def _unused_everywhere(reports: Sequence[Mapping[str, Any]], findings: list[Finding]) -> list[Finding]:
    """FINDINGS without the unused-exemption findings of dsgate.yaml's exemptions that some shard
    holding sources did not report (the exemption matched a finding there). An unused annotation is
    judged by the one shard that holds its source: kept as it is."""

    def unused(raw: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in raw.items() if k != "locations"}, sort_keys=True)

    def of_config(raw: Mapping[str, Any]) -> bool:
        return bool(raw["rule"] == UNUSED_EXEMPTION_RULE and raw.get("field") != ANNOTATION_FIELD)

    judged = [r for r in reports if r["shard"]["sources"]]
    per_shard = [{unused(f) for f in r["findings"] if of_config(f)} for r in judged]
    everywhere = set.intersection(*per_shard) if per_shard else set()
    return [f for f in findings if not of_config(f.as_dict()) or unused(f.as_dict()) in everywhere]


def _used_by(cross: Sequence[Finding], findings: list[Finding]) -> list[Finding]:
    """FINDINGS without the unused-exemption findings of the exemptions that a clash across shards
    (CROSS, as OPA gave them) used: no shard saw that clash."""
    indices = {int(m.group(1)) for f in cross for ref in f.exempted_by if (m := EXEMPTION_PATH.match(ref))}
    annotations = {(f.origin, f.resource, f"{ANNOTATION_PREFIX}{f.rule}") for f in cross if f.exempted}

    def used(f: Finding) -> bool:
        if f.rule != UNUSED_EXEMPTION_RULE:
            return False
        if f.field == ANNOTATION_FIELD:
            return any(
                (f.origin, f.resource) == (origin, resource) and f.message.startswith(f"Annotation {key} ")
                for origin, resource, key in annotations
            )
        return any(f.message.startswith(f"Exemption exemptions[{i}] ") for i in indices)

    return [f for f in findings if not used(f)]


def _cross(
    records: Sequence[Mapping[str, Any]], found: list[Finding], result: report.Recorded, root: Path
) -> list[Finding]:
    """The host-port clashes across the shards' sources, evaluated as the whole run evaluates them
    (FOUND holds the per-render findings and gets the clashes); returns them as OPA gave them."""
    renders = sorted((r for rec in records for r in rec["crossSource"]["renders"]), key=lambda r: r["position"])
    located: dict[tuple[str, str], list[Location]] = {}
    inputs: list[tuple[str, str, list[Document]]] = []
    for r in renders:
        docs = []
        for raw in r["documents"]:
            doc = shard.document(raw)
            docs.append(doc)
            located[(doc.provenance.label, doc.ref)] = [_location(x, root) for x in raw["locations"]]
        inputs.append((r["source"], r["scenario"], docs))
    sets = crosssource.evaluation_sets(inputs)
    if not sets:
        return []
    judged = [rec for rec in records if rec["sources"]]
    policy_dir = judged[0]["crossSource"]["policyDir"]
    severity: dict[str, dict[str, str | None]] = {}
    for rec in judged:
        severity.update(rec["crossSource"]["hostPortSeverity"])
    opa = OpaServer(root / policy_dir if policy_dir else policies_dir(), data=judged[0]["crossSource"]["data"])
    raw_clashes: list[Finding] = []
    try:
        with opa:
            for cross in sets:
                for f in crosssource.clashes(opa.evaluate(cross), found, cross):
                    raw_clashes.append(f)
                    level = severity.get(f.source, {}).get(f.severity, f.severity)
                    if level is None:
                        continue
                    kept = dataclasses.replace(f, severity=level, exempted_by=(), data_path="")
                    found.append(kept)
                    doc = next(d for d in cross if d.provenance.label == f.source and d.ref == f.resource)
                    result.located[kept] = located[(doc.provenance.label, doc.ref)]
    except EvaluationError as exc:
        result.errors.append(f"policy evaluation failed: {exc}")
    return raw_clashes


def merge(reports: Reports, root: Path | None = None) -> tuple[report.Recorded, bool]:
    """The whole run's result from its shards' REPORTS (checked first), and whether it is strict."""
    try:
        return _merge(reports, (root or repo_root()).resolve())
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MergeError(
            f"a shard report is malformed ({type(exc).__name__}: {exc}); give the files dsgate check --shard I/N --format json wrote"
        ) from None


def _merge(reports: Reports, root: Path) -> tuple[report.Recorded, bool]:
    check(reports)
    ordered = sorted((doc for _, doc in reports), key=lambda d: d["shard"]["index"])
    records = [d["shard"] for d in ordered]
    result = report.Recorded()
    findings: list[Finding] = []
    for doc in ordered:
        for raw in doc["findings"]:
            f = finding(raw)
            findings.append(f)
            result.located[f] = [_location(x, root) for x in raw["locations"]]
        result.errors.extend(doc["errors"])
        result.mismatches.extend(doc["renderMismatches"])
        result.notices.extend(n for n in doc["notices"] if n not in result.notices)
    positions = {source: i for rec in records for source, i in rec["positions"].items()}
    schema: list[tuple[tuple[bool, int], SchemaError]] = []
    for doc in ordered:
        for raw in doc["schemaErrors"]:
            e = schema_error(raw)
            result.located[report.schema_key(e)] = [_location(x, root) for x in raw["locations"]]
            schema.append(((" dry-run)" in e.kube_version, positions.get(e.document.provenance.source, -1)), e))
    result.schema_errors = [e for _, e in sorted(schema, key=lambda item: item[0])]
    result.mismatches.sort(key=lambda m: m.split(": helm ")[0])
    findings = _unused_everywhere(ordered, findings)
    if not result.errors:
        # A shard's clashes across sources are those among its own sources only (their messages name
        # fewer DaemonSets): every clash across sources is found again here, on all the sources.
        findings = [f for f in findings if not crosssource.across(f)]
        findings = _used_by(_cross(records, findings, result, root), findings)
    kept: dict[tuple[str, str, str, str, bool], Finding] = {}
    for f in merge_scenarios(findings):
        kept.setdefault((f.source, f.rule, f.resource, f.message, f.exempted), f)
    result.findings = sorted(kept.values(), key=lambda f: (f.origin, f.resource, f.severity, f.rule, f.message))
    result.server_check = _server_line(records, [d["serverCheck"] for d in ordered])
    result.cluster_model = _cluster_line(records)
    result.facts = report.Facts(
        renders=sum(r["facts"]["renders"] for r in records),
        documents=sum(r["facts"]["documents"] for r in records),
        scenarios={chart: n for r in records for chart, n in r["facts"]["scenarios"].items()},
        resources={origin: set(refs) for r in records for origin, refs in r["facts"]["resources"].items()},
    )
    return result, bool(records[0]["strict"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dsgate report", description="Work with dsgate check's reports.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "merge",
        help="join the JSON reports of dsgate check --shard I/N into one report",
        description="Join the JSON reports of every shard of one `dsgate check --shard I/N` run into the report "
        "the unsharded run gives. Exit 0 clean, 1 policy deny or schema error, 2 missing/repeated/foreign shards.",
    )
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    p.add_argument("--format", choices=report.FORMATS, default="text")
    p.add_argument("-o", "--output", type=Path, help="write the report to a file instead of stdout")
    args = parser.parse_args(argv)
    result, strict = merge([(path, read(path)) for path in args.reports])
    if args.output:
        with args.output.open("w") as fh:
            report.render_report(result, args.format, fh, strict, color=False)
        if args.format != "text":
            report.to_text(result, sys.stderr, strict)
    else:
        report.render_report(result, args.format, sys.stdout, strict)
    return result.exit_code(strict)
