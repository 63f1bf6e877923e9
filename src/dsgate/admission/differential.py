"""The proof that admission says what the gate says: `dsgate admission test`, a differential test on a real API server.

For each case (diffcases: every policy sample, each parameter at two overrides, each rule's
disallowed pattern in valid DaemonSets, property-generated DaemonSets) three verdicts, each the set
of rule ids that fire on the DaemonSet:

1. `raw`: the gate (the real OPA evaluation `dsgate check` does, gate.evaluate) on the DaemonSet as
   written, in the namespace it is created in;
2. `defaulted`: the gate on the object a dry-run create returned, i.e. after the API server's
   defaulting, exactly what admission sees;
3. `admission`: the generated ValidatingAdmissionPolicies on the same dry-run (shadow: the bindings
   as Warn, the policies named in the API server's warning envelopes).

Only rules that `dsgate admission render` renders (classified `vap`) are compared. A sample's
DaemonSet is also judged with the sample's other documents (`context`): a vap rule whose verdict
changes with them needs another object. Each disagreement must be explained by an entry of the
allowlist (divergences), and each entry must explain one, or the run fails. So does a policy whose
status.typeChecking is not empty, a CEL evaluation error, a response whose warnings may have been
cut, a difference between the warnings read and the API server's own count of them, and a case the
API server refuses (no verdict) unless it carries the pattern of a rule the API server's own
validation enforces (divergences.REFUSED_BEFORE_ADMISSION).

The cases run grouped by parameters: the params object is rewritten once per group, and the gate's
OPA server gets the same parameters (data.dsgate.parameters) before judging that group. Dry-runs go
concurrently over keep-alive connections; OPA evaluates many cases per request (evaluate_all).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from dsgate.admission import diffcases
from dsgate.admission.diffcases import Case
from dsgate.admission.divergences import REFUSED_BEFORE_ADMISSION, Disagreement, Entry, Explained, explain
from dsgate.admission.shadow import PROBE_POLICY, AdmissionTestError, Admitted, ShadowAdmission
from dsgate.errors import DsgateError
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.evaluate import Finding, OpaServer
from dsgate.gate.servercheck import ApiServer
from dsgate.paths import policies_dir

JSON = dict[str, Any]
# (dsgate.yaml parameters, data.dsgate besides them, e.g. exemptions) -> the rendered admission set
Render = Callable[[Mapping[str, Any], Mapping[str, Any]], list[JSON]]
MIN_CASES = 1750
_ABSENT = object()
DRY_RUN_WORKERS = 8


@dataclass(frozen=True)
class Options:
    seed: int = 25
    properties: int = 800
    allowlist: Sequence[Entry] = ()
    charts: Sequence[tuple[str, JSON]] = ()  # (name, DaemonSet) rendered from the charts: more valid bases
    minimum: int = MIN_CASES
    policies: Path | None = None
    bases: int = 14  # valid DaemonSets the parameter and injection cases start from (drawn by the seed)
    type_check: bool = True  # wait for and check every policy's status.typeChecking
    # rule -> why the API server refuses its pattern before admission: its samples and injections may be refused
    refused_before_admission: Mapping[str, str] = field(default_factory=lambda: dict(REFUSED_BEFORE_ADMISSION))


@dataclass(frozen=True)
class Verdicts:
    case: Case
    raw: frozenset[str]
    defaulted: frozenset[str]
    admission: frozenset[str]
    context: frozenset[str]  # the gate with the sample's other documents (== raw for other sources)
    admitted: Admitted


@dataclass
class Report:
    """What a differential run found; ok() says whether it passes."""

    cases: Counter[str] = field(default_factory=Counter)  # source -> cases
    refused: list[tuple[str, str]] = field(default_factory=list)  # (case, the API server's message)
    unrenderable: list[tuple[str, str]] = field(default_factory=list)  # (sample, why render refused its parameters)
    compared_rules: list[str] = field(default_factory=list)
    fired: Counter[str] = field(default_factory=Counter)  # rule -> cases where admission fired it
    disagreements: list[Disagreement] = field(default_factory=list)
    explained: Explained | None = None
    errors: list[str] = field(default_factory=list)  # CEL evaluation errors, cut warnings, count mismatches
    type_checking: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    groups: int = 0
    minimum: int = MIN_CASES

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    @property
    def compared(self) -> int:
        """Cases the API server accepted, so all three verdicts exist."""
        return self.total - len(self.refused) - len(self.unrenderable)

    def problems(self) -> list[str]:
        out = list(self.type_checking) + list(self.errors)
        if self.compared < self.minimum:
            out.append(f"{self.compared} cases compared, fewer than {self.minimum}")
        if self.explained is not None:
            out += [f"unexplained: {d.describe()}" for d in self.explained.unexplained]
            out += [f"stale allowlist entry (explains nothing): {e.describe()}" for e in self.explained.stale]
        return out

    def ok(self) -> bool:
        return not self.problems()

    def summary(self) -> str:
        by_source = ", ".join(f"{n} {s}" for s, n in sorted(self.cases.items()))
        explained = self.explained
        lines = [
            f"admission test: {self.total} cases ({by_source}) in {self.groups} parameter sets; "
            f"{self.compared} compared, {len(self.refused)} refused by the API server (a schema error: no verdict), "
            f"{len(self.unrenderable)} samples of parameters render refuses; "
            f"{len(self.compared_rules)} rules compared",
            f"disagreements: {len(self.disagreements)}, explained by the allowlist: "
            f"{len(self.disagreements) - len(explained.unexplained) if explained else 0}, "
            f"unexplained: {len(explained.unexplained) if explained else len(self.disagreements)}",
            "time: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items() if k in ("setup", "cases", "total"))
            + " (cases: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items() if k in ("sync", "dry-run", "gate"))
            + ")",
        ]
        if explained:
            lines += [f"  allowed ({n}): {e.describe()}" for e, n in explained.used if n]
        lines += [f"  FAIL {p}" for p in self.problems()[:50]]
        return "\n".join(lines)

    def as_json(self) -> JSON:
        return {
            "cases": dict(self.cases),
            "total": self.total,
            "compared": self.compared,
            "refused": [{"case": c, "message": m} for c, m in self.refused],
            "unrenderable": [{"case": c, "message": m} for c, m in self.unrenderable],
            "comparedRules": self.compared_rules,
            "fired": dict(self.fired),
            "disagreements": len(self.disagreements),
            "allowed": [
                {"rule": e.rule, "differs": e.differs, "reason": e.reason, "matched": n}
                for e, n in (self.explained.used if self.explained else [])
            ],
            "problems": self.problems(),
            "seconds": self.seconds,
            "parameterSets": self.groups,
        }


# ------------------------------------------------------------------------------------------- gate


def _with_namespace(ds: JSON, namespace: str) -> JSON:
    return {**ds, "metadata": {**(ds.get("metadata") or {}), "namespace": namespace}}


def _ref(ds: JSON, namespace: str) -> str:
    return f"DaemonSet/{namespace}/{(ds.get('metadata') or {}).get('name', '')}"


def _documents(case: Case, objects: Sequence[JSON]) -> list[Document]:
    provenance = Provenance(source=case.id, kind="file")
    return [Document(obj=obj, provenance=provenance, index=i) for i, obj in enumerate(objects)]


def _fired(findings: Sequence[Finding], ref: str) -> frozenset[str]:
    return frozenset(f.rule for f in findings if f.resource == ref and not f.exempted)


class Gate:
    """The gate's OPA server, its data set per parameter group."""

    def __init__(self, opa: OpaServer, pool: ThreadPoolExecutor) -> None:
        self.opa = opa
        self.pool = pool
        self._written: dict[str, Any] = {}  # each key of data.dsgate set_data wrote -> its value before (or _ABSENT)

    def _url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.opa.port}/v1/data/dsgate/{key}"

    def _write(self, key: str, value: Any) -> None:
        if value is _ABSENT:
            answer = requests.delete(self._url(key), timeout=30)
            ok = answer.status_code in (204, 404)
        else:
            answer = requests.put(self._url(key), json=value, timeout=30)
            ok = answer.status_code == 204
        if not ok:
            raise AdmissionTestError(
                f"admission test: OPA refused data.dsgate.{key}: {answer.status_code} {answer.text[:200]}"
            )

    def set_data(self, data: JSON) -> None:
        """data.dsgate's keys of DATA (parameters, exemptions, ...) as given, and each key an earlier
        group set back to what the library's own data had (policies/model.json's data.dsgate.model
        stays: replacing data.dsgate whole would drop it, and DS-ROL-007 with it)."""
        for key in sorted(set(self._written) - set(data)):
            self._write(key, self._written.pop(key))
        for key, value in data.items():
            if key not in self._written:
                answer = requests.get(self._url(key), timeout=30)
                before = answer.json().get("result", _ABSENT) if answer.status_code == 200 else _ABSENT
                self._written[key] = before
            self._write(key, value)

    def parameter_defaults(self) -> JSON:
        answer = requests.get(f"http://127.0.0.1:{self.opa.port}/v1/data/dsgate/lib/parameter_docs", timeout=30)
        docs = answer.json().get("result") if answer.status_code == 200 else None
        if not isinstance(docs, dict):
            raise AdmissionTestError(
                "admission test: OPA has no data.dsgate.lib.parameter_docs: is the policy library dsgate's?"
            )
        return {name: doc["default"] for name, doc in docs.items()}

    def judge(self, renders: Sequence[list[Document]]) -> list[list[Finding]]:
        return list(self.opa.evaluate_all(renders, self.pool))


# ------------------------------------------------------------------------------------------- run


def renderer(policy_dir: Path, profile: str = "strict") -> Render:
    """`dsgate admission render` of POLICY_DIR on PROFILE (strict: every rule), for given parameters
    and exemptions. A vap rule whose CEL has not been written yet is left out (the render itself
    refuses that; here the rules with CEL are compared while the rest is written)."""
    from dsgate.admission import library, render
    from dsgate.gate import controls

    lib = library.load(policy_dir)
    lib = dataclasses.replace(lib, rules=[r for r in lib.rules if r.admission != "vap" or r.id in lib.cel])

    def render_with(parameters: Mapping[str, Any], data: Mapping[str, Any]) -> list[JSON]:
        settings = controls.Settings(profile=profile, exemptions=list(data.get("exemptions") or []))
        return render.render(lib, render.Options(settings=settings, given=dict(parameters)))

    return render_with


def build_cases(gate: Gate, options: Options, rules: Sequence[str]) -> list[Case]:
    """Every case of OPTIONS; the injections of RULES (those admission enforces) only."""
    samples = diffcases.sample_cases(options.policies)
    valid = diffcases.valid_daemonsets(samples)
    bases = [*random.Random(options.seed).sample(valid, min(options.bases, len(valid))), *options.charts]
    return [
        *samples,
        *diffcases.parameter_cases(gate.parameter_defaults(), bases),
        *diffcases.injection_cases(samples, bases, rules),
        *diffcases.property_cases(options.properties, options.seed),
    ]


def _judge_group(
    cases: Sequence[Case], gate: Gate, shadow: ShadowAdmission, pool: ThreadPoolExecutor, seconds: dict[str, float]
) -> list[Verdicts]:
    """The three verdicts (and context) of CASES, which share their parameters and gate data; the
    time of the dry-runs and of the gate added to SECONDS."""
    started = time.monotonic()
    for namespace in sorted({c.namespace for c in cases}):
        shadow.ensure_namespace(namespace)
    admitted = list(pool.map(lambda c: shadow.judge(c.daemonset, c.namespace), cases))
    judged = time.monotonic()
    seconds["dry-run"] = seconds.get("dry-run", 0.0) + judged - started
    renders: list[list[Document]] = []
    for case, answer in zip(cases, admitted, strict=True):
        raw = _with_namespace(case.daemonset, case.namespace)
        renders.append(_documents(case, [raw]))
        renders.append(_documents(case, [answer.defaulted] if answer.defaulted else []))
        renders.append(_documents(case, [*case.context, raw]) if case.context else [])
    findings = gate.judge([r for r in renders if r])
    it = iter(findings)
    out = []
    for index, (case, answer) in enumerate(zip(cases, admitted, strict=True)):
        ref = _ref(case.daemonset, case.namespace)
        raw_f = next(it)
        def_f = next(it) if renders[3 * index + 1] else []
        ctx_f = next(it) if renders[3 * index + 2] else raw_f
        out.append(Verdicts(case, _fired(raw_f, ref), _fired(def_f, ref), answer.fired, _fired(ctx_f, ref), answer))
    seconds["gate"] = seconds.get("gate", 0.0) + time.monotonic() - judged
    return out


def _pair(raw: bool, defaulted: bool, admission: bool) -> str:
    if raw != defaulted and defaulted == admission:
        return "raw-defaulted"
    if raw == defaulted:
        return "defaulted-admission"
    return "raw-admission"


def compare(v: Verdicts, rules: Sequence[str]) -> list[Disagreement]:
    out = []
    for rule in rules:
        raw, defaulted, admission, context = (rule in s for s in (v.raw, v.defaulted, v.admission, v.context))
        sides = tuple(
            n
            for n, on in zip(
                ("raw", "defaulted", "admission", "context"), (raw, defaulted, admission, context), strict=True
            )
            if on
        )
        if context != raw:
            out.append(Disagreement(v.case.id, v.case.source, rule, "context-raw", sides, v.case.daemonset))
        if not raw == defaulted == admission:
            out.append(
                Disagreement(v.case.id, v.case.source, rule, _pair(raw, defaulted, admission), sides, v.case.daemonset)
            )
    return out


def _type_checking(shadow: ShadowAdmission) -> list[str]:
    """Each policy whose status.typeChecking has warnings (waiting until the controller checked it)."""
    problems: list[str] = []
    for name in sorted(shadow.rules):
        path = f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{name}"
        got: JSON = {}

        def checked(path: str = path) -> bool:
            nonlocal got
            got = shadow.request("GET", path).json()
            status = got.get("status") or {}
            return status.get("observedGeneration") == (got.get("metadata") or {}).get("generation")

        shadow.api.wait_for(checked, f"the type check of {name}", timeout=60)
        for warning in ((got.get("status") or {}).get("typeChecking") or {}).get("expressionWarnings") or []:
            problems.append(
                f"typeChecking {name} {warning.get('fieldRef')}: {' '.join(str(warning.get('warning')).split())[:400]}"
            )
    return problems


def _check_counts(shadow: ShadowAdmission) -> list[str]:
    """The warnings read from the responses against the API server's own count of them, per policy."""
    counted = shadow.counted(shadow.metrics())
    out = []
    for policy in sorted(shadow.rules):
        if policy == PROBE_POLICY:
            continue
        server = sum(n for (p, action, _), n in counted.items() if p == policy and action == "warn")
        errors = sum(
            n for (p, _, kind), n in counted.items() if p == policy and kind in ("compile_error", "out_of_budget")
        )
        if server != shadow.warned[policy]:
            out.append(
                f"{policy}: the API server counted {server} warnings, the responses carried {shadow.warned[policy]}"
            )
        if errors:
            out.append(f"{policy}: {errors} evaluations failed to compile or ran out of the CEL cost budget")
    return out


def _groups(cases: Sequence[Case]) -> list[tuple[JSON, JSON, list[Case]]]:
    """(parameters, gate data, cases), the defaults first."""
    grouped: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        grouped.setdefault((case.group, json.dumps(case.gate_data, sort_keys=True)), []).append(case)
    keys = sorted(grouped, key=lambda k: (k != ("{}", "{}"), k))
    return [(json.loads(p), json.loads(d), grouped[(p, d)]) for p, d in keys]


def run(api: ApiServer, render: Render, options: Options, progress: Callable[[str], None] = lambda _: None) -> Report:
    """The differential test on API (a started, ready server), with the policies RENDER gives."""
    report = Report(minimum=options.minimum)
    started = time.monotonic()
    shadow = ShadowAdmission(api)
    with (
        OpaServer(options.policies or policies_dir()) as opa,
        ThreadPoolExecutor(DRY_RUN_WORKERS) as pool,
        ThreadPoolExecutor(2) as opa_pool,
    ):
        gate = Gate(opa, opa_pool)
        shadow.sync(render({}, {}))
        report.compared_rules = sorted(set(shadow.rules.values()))
        cases = build_cases(gate, options, report.compared_rules)
        report.cases = Counter(c.source for c in cases)
        groups = _groups(cases)
        report.seconds["setup"] = time.monotonic() - started
        verdicts: list[Verdicts] = []
        report.groups = len(groups)
        phases: dict[str, float] = {"sync": 0.0}
        for parameters, data, members in groups:
            if parameters or data:
                synced = time.monotonic()
                try:
                    shadow.sync(render(parameters, data))
                except DsgateError as exc:
                    if any(c.source != "sample" for c in members):
                        raise
                    # a sample of parameters the library refuses (DS-HYG-006's): admission has no policy set for them
                    report.unrenderable += [(c.id, exc.message) for c in members]
                    continue
                finally:
                    phases["sync"] += time.monotonic() - synced
            gate.set_data({"parameters": parameters, **data})
            verdicts += _judge_group(members, gate, shadow, pool, phases)
            progress(f"{len(verdicts)}/{len(cases)} cases")
        report.seconds["cases"] = time.monotonic() - started - report.seconds["setup"]
        report.seconds |= phases
    for v in verdicts:
        if v.admitted.status != 201:
            report.refused.append((v.case.id, v.admitted.refusal))
            if v.case.source not in ("sample", "injection") or v.case.rule not in options.refused_before_admission:
                report.errors.append(f"refused by the API server (no verdict): {v.case.id}: {v.admitted.refusal[:300]}")
            continue
        report.fired.update(v.admission)
        report.errors += [f"CEL error on {v.case.id}: {e}" for e in v.admitted.errors]
        if v.admitted.incomplete:
            report.errors.append(f"{v.case.id}: the warnings reached the API server's limit, some may be missing")
        report.disagreements += compare(v, report.compared_rules)
    report.errors += _check_counts(shadow)
    report.type_checking = _type_checking(shadow) if options.type_check else []
    report.explained = explain(report.disagreements, options.allowlist)
    report.seconds["total"] = time.monotonic() - started
    return report
