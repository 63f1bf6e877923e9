"""The stages of a check, each a function of what the stage before produced; dsgate.gate.pipeline
runs them in order and owns the processes they use.

    plan -> prepare -> render -> documents -> validate -> server check -> evaluate -> deploy

No stage asks which kind of source a render came from: what differs between kinds is a method of
the source (dsgate.gate.sources.Source). Identical render outputs (the same scenario under helm v4
and v3, or under several Kubernetes versions) are validated and evaluated once.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple, Protocol

from dsgate.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, DsgateError
from dsgate.gate import crosssource, dryrun, servercheck
from dsgate.gate.apiversions import deprecation_warnings
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.compare import differences
from dsgate.gate.documents import Document, load_crds
from dsgate.gate.evaluate import EvaluationError, Finding, OpaServer
from dsgate.gate.options import CheckOptions
from dsgate.gate.render import HelmBatch, RenderKilled
from dsgate.gate.sources import Job, RenderContext, RenderOutcome, Source
from dsgate.gate.validate import SchemaError, Validator
from dsgate.limits import Limits
from dsgate.tools import ToolMissing


@dataclass
class GateResult:
    renders: list[RenderOutcome] = field(default_factory=list)
    schema_errors: list[SchemaError] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # infrastructure / input errors: exit 2
    mismatches: list[str] = field(default_factory=list)  # helm v4 vs v3 output differs: exit 1
    deploy_failures: list[str] = field(default_factory=list)  # the deploy stage failed a chart: exit 1
    deploy_lines: list[str] = field(default_factory=list)  # what the deploy stage checked
    server_check: str = ""  # what the server-side dry-run stage did (or that it was skipped)
    server_facts: ServerCheckFacts | None = None  # what server_check says, as numbers (report merge adds shards')
    cluster_model: str = ""  # the cluster the run modelled, in one line (see clustermodel)
    notices: list[str] = field(
        default_factory=list
    )  # what the controls say beside findings (baseline entries fixed, baseline written)

    @property
    def denies(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "deny" and not f.exempted]

    @property
    def warns(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warn" and not f.exempted]

    @property
    def exempted(self) -> list[Finding]:
        return [f for f in self.findings if f.exempted]

    def exit_code(self, strict: bool = False) -> int:
        if self.errors:
            return EXIT_ERROR
        if self.denies or self.schema_errors or self.mismatches or self.deploy_failures or (strict and self.warns):
            return EXIT_FINDINGS
        return EXIT_OK


class Tracker:
    """The progress bar's count: one step per render, one per evaluated render."""

    def __init__(self, jobs: int, callback: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.callback = jobs * 2, 0, callback

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.callback and count:
            self.callback(self.done, self.total)


# ---------------------------------------------------------------- plan, prepare


def plan(sources: Sequence[Source], helm_versions: Sequence[str], kube_versions: Sequence[str]) -> list[Job]:
    """Every render the gate performs for SOURCES."""
    return [job for source in sources for job in source.jobs(helm_versions, kube_versions)]


def distinct_sources(jobs: Sequence[Job]) -> list[Source]:
    return list(dict.fromkeys(job.source for job in jobs))


def prepare(jobs: Sequence[Job], options: CheckOptions, result: GateResult) -> Validator | None:
    """The validator (Kubernetes schemas, --crd files and the CRDs the sources install), and every
    source made renderable; None, with the errors in RESULT, when either fails."""
    sources = distinct_sources(jobs)
    try:
        validator = Validator(options.kube_versions, options.allow_kinds)
        validator.add_crds(load_crds(options.crds, [folder for s in sources for folder in s.crd_folders()]))
    except DsgateError as exc:  # ValidationSetupError, DocumentError
        result.errors.append(str(exc))
        return None
    for source in sources:
        try:
            source.prepare()
        except DsgateError as exc:  # RenderError, ToolMissing
            result.errors.append(str(exc))
    return None if result.errors else validator


def helm_batch(jobs: Sequence[Job], workers: int, limits: Limits | None = None) -> HelmBatch | None:
    """A helm-batch pool (helm v4 renders, and every manifest read as kubectl reads it) when the tool
    is built; else None (the helm binary, and PyYAML)."""
    if not jobs:
        return None
    try:
        return HelmBatch(size=min(workers, os.cpu_count() or 1, len(jobs)), limits=limits)
    except ToolMissing:
        return None


def policy_seconds(jobs: Sequence[Job], limits: Limits) -> float:
    """How long OPA may take on one request: the most any of the sources needs."""
    return max((s.policy_seconds(limits) for s in distinct_sources(jobs)), default=limits.policy_seconds)


# ---------------------------------------------------------------- render


def run_job(
    job: Job, batch: HelmBatch | None = None, limits: Limits | None = None, cluster: ClusterModel | None = None
) -> RenderOutcome:
    """Render one job (a chart as CLUSTER's release); never raises for input problems (they land in outcome.error)."""
    out = RenderOutcome(job)
    try:
        out.text, out.documents, out.error = job.source.render(
            job, RenderContext(batch, limits or Limits(), cluster or ClusterModel())
        )
        if not out.documents and not out.error:
            out.error = f"{job.label}: rendered no Kubernetes documents; an empty render cannot pass the gate"
    except RenderKilled as exc:
        out.error = f"{job.label}: {exc}"  # the chart and scenario; the same for every helm and Kubernetes version
    except DsgateError as exc:  # RenderError, DocumentError, LimitError, ToolMissing, GitOpsError, ...
        out.error = str(exc)
    return out


def render(jobs: Sequence[Job], pool: Executor, ctx: RenderContext, tracker: Tracker) -> list[RenderOutcome]:
    """Every job rendered, in order, on POOL; jobs whose source gives them the same render key (a
    chart that reads nothing of the Kubernetes version, under each target version) share one render."""
    versions = Counter((job.source, replace(job, kube_version="")) for job in jobs)
    first: dict[tuple[Source, Hashable], Job] = {}
    keys = []
    for job in jobs:
        # only jobs that differ in nothing but the Kubernetes version can share a render: the source
        # is asked (a chart's templates analysed) only for those
        key = (
            job.source,
            job.source.render_key(job) if versions[job.source, replace(job, kube_version="")] > 1 else job,
        )
        first.setdefault(key, job)
        keys.append(key)
    sharing = Counter(keys)
    rendered: dict[tuple[Source, Hashable], RenderOutcome] = {}
    for key, outcome in zip(
        first, pool.map(lambda job: run_job(job, ctx.batch, ctx.limits, ctx.cluster), first.values()), strict=True
    ):
        rendered[key] = outcome
        tracker.step(sharing[key])
    return [
        rendered[key] if rendered[key].job is job else RenderOutcome(job, o.text, o.documents, o.error)
        for job, key in zip(jobs, keys, strict=True)
        for o in [rendered[key]]
    ]


# ---------------------------------------------------------------- documents


class Distinct(NamedTuple):
    """One distinct render output and the Kubernetes versions it was rendered for."""

    outcome: RenderOutcome
    kubes: set[str]


def documents(result: GateResult, kube_versions: Sequence[str]) -> list[Distinct]:
    """Record render errors and helm v4/v3 mismatches in RESULT; return the distinct outputs, each
    once, with the Kubernetes versions it was rendered for."""
    result.errors.extend(distinct_errors(o.error for o in result.renders if o.error))
    result.mismatches.extend(helm_mismatches(result.renders))
    unique: dict[tuple[str, str], Distinct] = {}
    for o in result.renders:
        if o.error:
            continue
        key = (o.job.label, hashlib.sha256(o.text.encode()).hexdigest())
        kubes = {o.job.kube_version} if o.job.kube_version else set(kube_versions)
        if key in unique:
            unique[key].kubes.update(kubes)
        else:
            unique[key] = Distinct(o, kubes)
    return list(unique.values())


def distinct_errors(errors: Iterable[str]) -> list[str]:
    """Each distinct error once, in first-seen order, with how many renders it affected (a chart whose
    dependencies are missing fails every one of its renders with the same message)."""
    counts = Counter(errors)
    return [f"{error} ({n} renders)" if n > 1 else error for error, n in counts.items()]


def helm_mismatches(renders: Sequence[RenderOutcome]) -> list[str]:
    """helm v3 must render the same documents as helm v4 (compared parsed, see compare): one line per
    render label that differs, naming the Kubernetes versions it differs for and the first differences.
    Only sources rendered under several helm majors have anything to compare."""
    by_key: dict[tuple[str, str], dict[str, RenderOutcome]] = {}
    for o in renders:
        if not o.error:
            by_key.setdefault((o.job.label, o.job.kube_version), {})[o.job.helm] = o
    by_label: dict[str, dict[tuple[str, ...], list[str]]] = {}
    for (label, kube), outcomes in sorted(by_key.items()):
        helms = sorted(outcomes, reverse=True)  # v4 first
        first = outcomes[helms[0]]
        for other in helms[1:]:
            if outcomes[other].text == first.text:
                continue
            lines = differences(first.documents, outcomes[other].documents, helms[0], other)
            if lines:
                by_label.setdefault(label, {}).setdefault((helms[0], other, *lines), []).append(kube)
    out: list[str] = []
    for label, diffs in by_label.items():
        for (left, right, *lines), kubes in diffs.items():
            out.append(
                f"{label}: helm {left} and {right} render different documents (Kubernetes {', '.join(kubes)}): {' | '.join(lines)}"
            )
    return out


# ---------------------------------------------------------------- validate


def validate(result: GateResult, validator: Validator, unique: Sequence[Distinct]) -> None:
    """Schema errors (an unknown kind is an error: exit 2) and deprecation warnings of each distinct
    output, against every Kubernetes version it was rendered for; the CRDs the renders define count."""
    validator.add_crds(d.obj for o in result.renders for d in o.documents if d.kind == "CustomResourceDefinition")
    seen: set[tuple[str, str, str, str]] = set()
    for outcome, kubes in unique:
        versioned = validator if set(kubes) == set(validator.kube_versions) else validator.for_versions(sorted(kubes))
        result.findings.extend(
            f for f in deprecation_warnings(outcome.documents, sorted(kubes)) if f not in result.findings
        )
        for err in versioned.validate_all(outcome.documents):
            key = (err.document.provenance.label, err.document.ref, err.path, err.message)
            if key in seen:
                continue
            seen.add(key)
            if err.unknown_kind:
                result.errors.append(f"{err.document.provenance.label}: {err.document.ref}: {err.message}")
            else:
                result.schema_errors.append(err)


class EvaluationSet(NamedTuple):
    """Documents evaluated together: cross-object rules (PDB selection, host ports, per-node budget)
    and the server check's prerequisites compare only within one."""

    outcome: RenderOutcome
    kubes: set[str]  # the Kubernetes versions its render was made for
    documents: list[Document]
    last: bool  # the last set of its outcome (progress counts renders)


def evaluation_sets(unique: Sequence[Distinct]) -> list[EvaluationSet]:
    """Each distinct output's documents, split by the cluster they land in (their provenance's
    cluster: a GitOps source's Argo CD destinations; everything else is one cluster)."""
    out: list[EvaluationSet] = []
    for outcome, kubes in unique:
        by_cluster: dict[str, list[Document]] = {}
        for doc in outcome.documents:
            by_cluster.setdefault(doc.provenance.cluster, []).append(doc)
        parts = list(by_cluster.values()) or [[]]
        out.extend(EvaluationSet(outcome, kubes, docs, i == len(parts) - 1) for i, docs in enumerate(parts))
    return out


# ---------------------------------------------------------------- server check


def server_for(
    options: CheckOptions,
    result: GateResult,
    borrow: Callable[[ClusterModel], servercheck.ApiServer] | None = None,
) -> servercheck.ApiServer | None:
    """The API server of the server check, started (ready later: wait_ready), or BORROWed started from
    the caller (pipeline.Servers); None when the stage does not run (RESULT.server_check says why) or
    could not start (RESULT.errors says why)."""
    settings = options.server_check
    if settings is None:
        return None
    if not settings.enabled:
        result.server_check = (
            "server check: skipped (--no-server-check); documents were checked against JSON schemas only"
        )
        return None
    if not servercheck.serves_any(options.kube_versions):
        result.server_check = f"server check: not run, no target is Kubernetes {servercheck.server_minor()} (the server's minor); JSON schemas only"
        return None
    if borrow is not None:
        try:
            return borrow(settings.cluster)
        except servercheck.ServerCheckError as exc:
            result.errors.append(str(exc))
            return None
    server = servercheck.ApiServer(settings.cluster)
    try:
        server.start()  # in this thread: the processes die with the thread that started them
    except servercheck.ServerCheckError as exc:
        server.stop()
        result.errors.append(str(exc))
        return None
    return server


def cluster_model(jobs: Sequence[Job], options: CheckOptions) -> str:
    """The cluster the run models, in one line, with the sources that set their own release or namespace."""
    if options.server_check is None:
        return ""
    cluster = options.server_check.cluster
    return cluster_line(cluster.describe(), own_releases(distinct_sources(jobs), cluster))


def own_releases(sources: Iterable[Source], cluster: ClusterModel) -> list[str]:
    """The SOURCES that set their own release or namespace: `path: release in namespace`, sorted."""
    return sorted(
        {
            f"{s.path}: {s.release or cluster.release_name} in {s.lands_in(cluster)}"
            for s in sources
            if s.release or s.namespace
        }
    )


def cluster_line(described: str, own: Sequence[str]) -> str:
    return described + (f" ({'; '.join(own)})" if own else "")


class ServerCheckFacts(NamedTuple):
    """What one server check did; server_check_line words it (report merge adds the shards' together)."""

    sent: int  # distinct documents dry-run
    version: str  # the kube-apiserver's
    minor: str  # the Kubernetes minor it serves
    levels: dict[str, str]  # namespace -> Pod Security level
    prepared: int  # evaluation sets with their own prerequisites
    restarts: int  # new ports after a port was taken
    unserved: list[str]  # apiVersion/kind of documents of kinds it does not serve


def server_check_line(f: ServerCheckFacts) -> str:
    return (
        f"server check: {f.sent} distinct documents dry-run on kube-apiserver {f.version} (Kubernetes {f.minor} renders; "
        f"Pod Security {', '.join(f'{ns}={lvl}' for ns, lvl in sorted(f.levels.items()))}"
        + (f"; {f.prepared} sets with their own prerequisites created first" if f.prepared else "")
        + (f"; {f.restarts} restarts on new ports after a port was taken" if f.restarts else "")
        + "); "
        + (
            f"{len(f.unserved)} of kinds it does not serve ({', '.join(sorted(set(f.unserved)))}) and "
            if f.unserved
            else ""
        )
        + "older targets were checked against JSON schemas only"
    )


def server_check(
    result: GateResult,
    server: servercheck.ApiServer,
    ready: Future[None],
    sets: Sequence[EvaluationSet],
    settings: servercheck.Settings,
) -> list[list[Document]]:
    """Dry-run the distinct documents rendered for the server's minor on SERVER, each evaluation set
    with its own prerequisites (see dryrun.check), in the namespace its source's objects land in;
    rejections become schema errors of their documents, a server that cannot start or dies an error
    (exit 2). Returns, per evaluation set whose pods Pod Security refused, its documents plus the
    verdicts (see dryrun.verdict_document), for the policy library's DS-PSA-001 to report."""
    minor = servercheck.server_minor()
    cluster = settings.cluster
    failed = {id(e.document) for e in result.schema_errors}  # already refused by the schemas
    groups = [
        dryrun.unique_documents([(s.documents, s.outcome.job.source.lands_in(cluster))], skip=lambda d: id(d) in failed)
        for s in sets
        if servercheck.serves_any(s.kubes)
    ]
    docs = [item for group in groups for item in group]
    asked: dict[str, list[str]] = {}  # namespace -> levels the sources rendered into it declare they need
    for s in sets:
        level = s.outcome.job.source.pod_security_level()
        if level:
            asked.setdefault(s.outcome.job.source.lands_in(cluster), []).append(level)
    declared = {ns: dryrun.most_permissive(levels) for ns, levels in asked.items()}
    levels = dryrun.namespace_levels(docs, dict(cluster.namespaces), cluster.pod_security, declared)
    try:
        ready.result()
        checked = dryrun.check(server, groups, levels)
    except servercheck.ServerCheckError as exc:
        result.errors.append(str(exc))
        return []
    refused: dict[int, list[Document]] = {}  # evaluation set -> its Pod Security verdicts
    owner = {id(d): i for i, s in enumerate(sets) for d in s.documents}
    for r in checked.rejections:
        if r.pod_security:
            refused.setdefault(owner[id(r.document)], []).append(dryrun.verdict_document(r))
        else:
            result.schema_errors.append(
                SchemaError(r.document, f"{minor} (kube-apiserver {server.version} dry-run)", r.path, r.message)
            )
    result.server_facts = ServerCheckFacts(
        checked.sent,
        server.version,
        minor,
        dict(levels),
        checked.prepared,
        server.starts - 1,
        [d.api_version + "/" + d.kind for d in checked.unserved],
    )
    result.server_check = server_check_line(result.server_facts)
    return [[*sets[i].documents, *verdicts] for i, verdicts in sorted(refused.items())]


# ---------------------------------------------------------------- evaluate


def evaluate(
    result: GateResult,
    opa: OpaServer,
    sets: Sequence[EvaluationSet],
    pool: Executor,
    tracker: Tracker,
    refused: Future[list[list[Document]]] | None = None,
) -> None:
    """The policy library's findings on every evaluation set, each distinct finding once; then the
    sets whose pods Pod Security refused (REFUSED: the server check's, with its verdicts), and the
    host-port clashes across inputs. An OPA that fails is an error (exit 2)."""
    seen: set[tuple[str, str, str, str, str]] = set()

    def add(findings: Iterable[Finding]) -> None:
        for finding in findings:
            key = (finding.source, finding.rule, finding.resource, finding.message, str(finding.exempted))
            if key not in seen:
                seen.add(key)
                result.findings.append(finding)

    try:
        for evaluated, findings in zip(sets, opa.evaluate_all([s.documents for s in sets], pool), strict=True):
            add(findings)
            tracker.step(int(evaluated.last))  # one step per render, however many clusters it lands in
        # The sets whose pods Pod Security refused, again with the server check's verdicts: what is new
        # is DS-PSA-001's findings, exempted and graded like every other rule's.
        for findings in opa.evaluate_all(refused.result() if refused is not None else [], pool):
            add(findings)
        # host-port clashes across inputs: per cluster, one render of every input evaluated together once more
        for cross in crosssource.evaluation_sets(
            (str(s.outcome.job.source.path), s.outcome.job.scenario, s.documents) for s in sets
        ):
            result.findings.extend(crosssource.clashes(opa.evaluate(cross), result.findings, cross))
    except EvaluationError as exc:
        result.errors.append(f"policy evaluation failed: {exc}")


# ---------------------------------------------------------------- deploy


@dataclass
class DeployOutcome:
    """What a deploy stage did: failures fail the gate (exit 1), errors are errors (exit 2)."""

    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one summary line per chart


class DeployStage(Protocol):
    """Installs CHARTS on a cluster and checks them (dsgate.cluster.deploystage implements it; the
    caller passes it in, so the gate does not import the cluster code)."""

    def __call__(self, charts: Sequence[Path], say: Callable[[str], None]) -> DeployOutcome: ...


def deploy(result: GateResult, stage: DeployStage | None, charts: Sequence[Path], say: Callable[[str], None]) -> None:
    """Run STAGE on CHARTS; its outcome goes into RESULT. Fail closed: charts to deploy and no stage to do it is an error."""
    if stage is None:
        result.errors.append(
            "deploy stage: dsgate.yaml names charts to deploy but this run has no deploy stage; run `dsgate check` or drop 'deploy'"
        )
        return
    outcome = stage(charts, say)
    result.deploy_failures.extend(outcome.failures)
    result.deploy_lines.extend(outcome.lines)
    result.errors.extend(outcome.errors)
