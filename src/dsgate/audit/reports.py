"""`dsgate audit`'s outputs: text for people, JSON for tools, and the Kubernetes policy-report
objects the policy ecosystem reads: `PolicyReport`/`ClusterPolicyReport` (wgpolicyk8s.io/v1alpha2,
read by Kyverno and Policy Reporter) and their successor, OpenReports' `Report`/`ClusterReport`
(openreports.io/v1alpha1). Both carry the same results: one per policy finding, plus dsgate's own
coverage, exposure and rollout results per DaemonSet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from dsgate.audit.run import AuditResult, DaemonSetAudit
from dsgate.cluster.rollout import duration

FORMATS = ("text", "json", "policyreport", "openreports")
MANAGED_BY = {"app.kubernetes.io/managed-by": "dsgate"}
REPORT_KINDS = {
    "policyreport": ("wgpolicyk8s.io/v1alpha2", "PolicyReport", "ClusterPolicyReport"),
    "openreports": ("openreports.io/v1alpha1", "Report", "ClusterReport"),
}
SEVERITY = {"deny": "high", "warn": "medium"}


def to_text(result: AuditResult, out: TextIO) -> None:  # noqa: C901  # one branch per section of the audit report, in the order it prints them
    print(f"audit of {result.server}: {result.nodes} nodes, {len(result.daemonsets)} DaemonSets", file=out)
    for entry in result.daemonsets:
        c = entry.coverage
        print(f"DaemonSet {c.ref}: meant for {len(c.meant)} nodes, runs on {len(c.running)}", file=out)
        for miss in c.missing_meant:
            print(f"  MISSING {miss.node}: {miss.kind}: {miss.reason}", file=out)
        kinds: dict[str, int] = {}
        for miss in c.missed:
            if not miss.meant:
                kinds[miss.kind] = kinds.get(miss.kind, 0) + 1
        if kinds:
            print("  not meant for " + ", ".join(f"{n} nodes ({k})" for k, n in sorted(kinds.items())), file=out)
        for diff in c.differences:
            print(f"  DIFFERS: {diff}", file=out)
        for effect, consequence in (
            ("NoExecute", "evicted when it lands"),
            ("NoSchedule", "not placed again while it is on"),
        ):
            taints = [f"{e.taint.key}" for e in entry.exposures if e.taint.effect == effect]
            if taints:
                nodes = len(entry.exposures[0].nodes)
                print(f"  EXPOSED on its {nodes} nodes to {effect} {', '.join(taints)}: {consequence}", file=out)
        r = entry.rollout
        if r.prediction is not None:
            p = r.prediction
            print(
                f"  rollout ({r.spec}): {duration(p.seconds)} ({duration(p.low)} to {duration(p.high)}), {p.waves} waves of {p.per_wave}",
                file=out,
            )
        else:
            print(f"  rollout: {r.spec}, nothing rolls out by itself", file=out)
        if r.stall:
            print(f"  STALLS: {r.stall}", file=out)
        for f in entry.findings:
            flag = "exempted" if f.exempted else f.severity
            print(f"  {flag} {f.rule}: {f.message}", file=out)
    for taint, count in sorted(result.unknown_taints.items()):
        print(f"unknown taint {taint} on {count} nodes (not in dsgate's lifecycle table)", file=out)
    for name, why in sorted(result.unreadable.items()):
        print(f"UNREADABLE {name}: {why}", file=out)
    for note in result.notes:
        print(f"note: {note}", file=out)
    for error in result.errors:
        print(f"error: {error}", file=out)


def as_json(result: AuditResult) -> dict[str, Any]:
    return {
        "server": result.server,
        "nodes": result.nodes,
        "daemonsets": [_ds_json(d) for d in result.daemonsets],
        "unknownTaints": result.unknown_taints,
        "unreadable": result.unreadable,
        "notes": result.notes,
        "errors": result.errors,
        "exitCode": result.exit_code(),
    }


def _ds_json(entry: DaemonSetAudit) -> dict[str, Any]:
    c = entry.coverage
    return {
        "namespace": c.namespace,
        "name": c.name,
        "meantFor": len(c.meant),
        "runningOn": len(c.running),
        "statusDesired": c.status_desired,
        "missed": [{"node": m.node, "kind": m.kind, "reason": m.reason, "meant": m.meant} for m in c.missed],
        "differences": c.differences,
        "exposures": [
            {
                "taint": f"{e.taint.key}:{e.taint.effect}",
                "who": e.taint.who,
                "source": e.taint.source,
                "nodes": list(e.nodes),
            }
            for e in entry.exposures
        ],
        "rollout": {
            "strategy": entry.rollout.spec,
            "predicted": entry.rollout.prediction.as_json() if entry.rollout.prediction else None,
            "stall": entry.rollout.stall,
        },
        "findings": [f.as_dict() for f in entry.findings],
    }


def _result(
    policy: str, result: str, severity: str, message: str, resource: dict[str, Any], category: str, now: int
) -> dict[str, Any]:
    return {
        "source": "dsgate",
        "policy": policy,
        "rule": policy,
        "category": category,
        "result": result,
        "severity": severity,
        "scored": True,
        "message": message,
        "timestamp": {"seconds": now, "nanos": 0},
        "resources": [resource],
    }


def _results(entry: DaemonSetAudit, now: int) -> Iterator[dict[str, Any]]:
    meta = entry.daemonset["metadata"]
    ref = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
    }
    c = entry.coverage
    missing = c.missing_meant
    yield _result(
        "dsgate-coverage",
        "fail" if missing else "pass",
        "high",
        f"misses {len(missing)} of {len(c.meant)} nodes meant for it: "
        + "; ".join(f"{m.node} ({m.kind}: {m.reason})" for m in missing[:20])
        if missing
        else f"runs on every one of the {len(c.meant)} nodes meant for it",
        ref,
        "coverage",
        now,
    )
    for exp in entry.exposures:
        yield _result(
            "dsgate-exposure",
            "warn",
            "medium",
            f"{exp.taint.key}:{exp.taint.effect} ({exp.taint.who}) is not tolerated: on the {len(exp.nodes)} nodes it runs on, {exp.consequence}",
            ref,
            "exposure",
            now,
        )
    if entry.rollout.stall:
        yield _result("dsgate-rollout", "fail", "high", entry.rollout.stall, ref, "rollout", now)
    for f in entry.findings:
        yield _result(
            f.rule,
            "skip" if f.exempted else ("fail" if f.severity == "deny" else "warn"),
            SEVERITY.get(f.severity, "info"),
            f.message,
            ref,
            f.category,
            now,
        )


def reports(result: AuditResult, kind: str = "policyreport", now: int | None = None) -> list[dict[str, Any]]:
    """One namespaced report per namespace with DaemonSets (cluster-scoped objects carry no DaemonSet
    findings, so no cluster report is written): KIND policyreport or openreports."""
    api_version, namespaced, _cluster = REPORT_KINDS[kind]
    now = int(time.time()) if now is None else now
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for entry in result.daemonsets:
        by_ns.setdefault(entry.coverage.namespace, []).extend(_results(entry, now))
    out = []
    for ns, results in sorted(by_ns.items()):
        summary = {
            key: sum(1 for r in results if r["result"] == key) for key in ("pass", "fail", "warn", "error", "skip")
        }
        report: dict[str, Any] = {
            "apiVersion": api_version,
            "kind": namespaced,
            "metadata": {"name": "dsgate-audit", "namespace": ns, "labels": dict(MANAGED_BY)},
            "summary": summary,
            "results": results,
        }
        if kind == "openreports":
            report["source"] = "dsgate"
        out.append(report)
    return out


def render(result: AuditResult, fmt: str, out: TextIO) -> None:
    if fmt == "text":
        to_text(result, out)
    elif fmt == "json":
        json.dump(as_json(result), out, indent=2)
        out.write("\n")
    else:
        out.write("---\n".join(json.dumps(r, indent=2) + "\n" for r in reports(result, fmt)))


def coverage_matrix(result: AuditResult, path: Path) -> Path:
    """The per-DaemonSet coverage matrix of nodes by pool, as a PNG."""
    from dsgate.cluster.plot import coverage_png  # matplotlib loads only for --plot

    columns = sorted(set(result.pools.values()))
    cells: dict[tuple[str, str], tuple[int, int, int]] = {}
    sizes = {pool: sum(1 for p in result.pools.values() if p == pool) for pool in columns}
    for entry in result.daemonsets:
        c = entry.coverage
        meant, running = set(c.meant), set(c.running)
        for pool in columns:
            members = {n for n, p in result.pools.items() if p == pool}
            cells[(c.ref, pool)] = (sizes[pool], len(members & meant), len(members & running & meant))
    return coverage_png(
        [d.ref for d in result.daemonsets],
        columns,
        cells,
        path,
        f"{result.nodes} nodes: running / meant, by pool (grey: not meant)",
    )
