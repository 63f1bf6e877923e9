"""The gate: sources -> renders -> documents -> validate -> evaluate -> result.

Renders run in parallel (helm and kustomize are separate processes); identical render outputs
(e.g. the same scenario under helm v4 and v3, or under several Kubernetes versions) are validated
and evaluated once. Policies are evaluated in one persistent OPA server, up to 16 renders per request.

Over 400 lines on purpose: `run_jobs` owns every long-lived process of a run (helm-batch, OPA, the
API server of the server check) and their cancellation, and that clean-up stays in one place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from dsgate import procs
from dsgate.gate import crosssource, dryrun, servercheck
from dsgate.gate.apiversions import deprecation_warnings
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.compare import differences
from dsgate.gate.dedup import merge_scenarios
from dsgate.gate.documents import Document, DocumentError, Provenance, Render, load_crds, load_file, read_stream
from dsgate.gate.evaluate import EvaluationError, Finding, OpaServer
from dsgate.gate.patchtargets import unmatched_patch_targets
from dsgate.gate.render import HelmBatch, RenderError, RenderKilled, build_dependencies, documents_of, helm_template, kustomize_build_text
from dsgate.gate.sources import Source
from dsgate.gate.validate import SchemaError, ValidationSetupError, Validator
from dsgate.gitops.objects import GitOpsError
from dsgate.limits import LimitError, Limits
from dsgate.tools import ToolMissing
from dsgate.versions import pinned


@dataclass(frozen=True)
class Job:
    """One render to perform."""

    source: Source
    scenario: str = ""
    values_files: tuple[Path, ...] = ()
    helm: str = "v4"
    kube_version: str = ""

    @property
    def label(self) -> str:
        if self.source.kind == "chart":
            return f"{self.source.path}[{self.scenario}]"
        return str(self.source.path)


@dataclass
class RenderOutcome:
    job: Job
    text: str = ""
    documents: list[Document] = field(default_factory=list)
    error: str = ""


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
    notices: list[str] = field(default_factory=list)  # what the controls say beside findings (baseline entries fixed, baseline written)
    cluster_model: str = ""  # the cluster the run modelled, in one line (see clustermodel)

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
            return 2
        if self.denies or self.schema_errors or self.mismatches or self.deploy_failures or (strict and self.warns):
            return 1
        return 0


def plan(sources: Sequence[Source], helm_versions: Sequence[str], kube_versions: Sequence[str]) -> list[Job]:
    """Every render the gate performs for SOURCES."""
    jobs: list[Job] = []
    for source in sources:
        if source.kind == "chart":
            for scenario, values in source.scenarios():
                for helm in helm_versions:
                    for kube in kube_versions:
                        jobs.append(Job(source, scenario, values, helm, kube))
        else:
            jobs.append(Job(source))
    return jobs


def run_job(job: Job, batch: HelmBatch | None = None, limits: Limits | None = None, cluster: ClusterModel | None = None) -> RenderOutcome:
    """Render one job (a chart as CLUSTER's release); never raises for input problems (they land in outcome.error)."""
    limits = limits or Limits()
    cluster = cluster or ClusterModel()
    out = RenderOutcome(job)
    src = job.source
    convert = batch.convert if batch is not None else None  # kubectl's reading of YAML, as for charts
    try:
        if src.kind == "chart":
            rendered = helm_template(
                src.path,
                values_files=job.values_files,
                helm=job.helm,
                kube_version=job.kube_version,
                batch=batch,
                limits=limits,
                release=src.release or cluster.release_name,
                namespace=release_namespace(src, cluster),
            )
            out.text = rendered.text
            prov = Provenance(
                str(src.path),
                "chart",
                scenario=job.scenario,
                helm_version=pinned()["HELM_VERSION" if job.helm == "v4" else "HELM3_VERSION"],
                kube_version=job.kube_version,
            )
            out.documents = documents_of(rendered, f"helm template {job.label}", prov, convert, limits)
        elif src.kind == "gitops":
            from dsgate.gitops.gate import render as render_gitops

            out.text, out.documents = render_gitops(src, batch, convert)
        elif src.kind == "kustomize":
            out.text = kustomize_build_text(src.path, limits)
            prov = Provenance(str(src.path), "kustomize", overlay=str(src.path), helm_version=pinned()["HELM_VERSION"])
            out.documents = read_stream(out.text, f"kustomize build {src.path}", prov, convert, limits)
            unmatched = unmatched_patch_targets(src.path, [d.obj for d in out.documents])
            if unmatched:
                out.error = "; ".join(f"kustomize build {src.path}: {t} matches no object, so the patch changed nothing" for t in unmatched)
        else:
            for path in src.files:
                prov = Provenance(str(src.path), "file")
                docs = load_file(path, prov, convert, limits)
                base = len(out.documents)
                if base + len(docs) > limits.documents:
                    raise limits.exceeded(str(src.path), "documents", f"more than {limits.documents} documents in its YAML files")
                out.documents.extend(dataclasses.replace(d, index=base + d.index) for d in docs)
            out.text = "\0".join(str(p) for p in src.files)
        if not out.documents and not out.error:
            out.error = f"{job.label}: rendered no Kubernetes documents; an empty render cannot pass the gate"
    except RenderKilled as exc:
        out.error = f"{job.label}: {exc}"  # the chart and scenario; the same for every helm and Kubernetes version
    except (RenderError, DocumentError, LimitError, ToolMissing, GitOpsError) as exc:
        out.error = str(exc)
    return out


def _helm_batch(jobs: Sequence[Job], workers: int, limits: Limits | None = None) -> HelmBatch | None:
    """A helm-batch pool (helm v4 renders, and every manifest read as kubectl reads it) when the tool
    is built; else None (the helm binary, and PyYAML)."""
    if not jobs:
        return None
    try:
        return HelmBatch(size=min(workers, os.cpu_count() or 1, len(jobs)), limits=limits)
    except ToolMissing:
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run(
    sources: Sequence[Source],
    *,
    policy_dir: Path,
    policy_data: dict[str, object],
    kube_versions: Sequence[str],
    helm_versions: Sequence[str] = ("v4",),
    allow_kinds: Sequence[str] = (),
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_batch: bool = True,
    crd_paths: Sequence[Path] = (),
    deploy: Sequence[Path] = (),
    strict: bool = False,
    say: Callable[[str], None] = lambda _: None,
    limits: Limits | None = None,
    server_check: servercheck.Settings | None = None,
    controls: Sequence[Callable[[GateResult], None]] = (),
) -> GateResult:
    """Run the gate over SOURCES: render, validate and evaluate (with SERVER_CHECK enabled, every unique
    document is also dry-run on the real kube-apiserver, see servercheck); then, when DEPLOY names charts and
    the static gate passed (warnings fail it when STRICT), the deploy stage (SAY reports its progress). CONTROLS
    change the findings in between, in order (rule selection, baseline)."""
    result = run_jobs(
        plan(sources, helm_versions, kube_versions),
        policy_dir=policy_dir,
        policy_data=policy_data,
        kube_versions=kube_versions,
        allow_kinds=allow_kinds,
        workers=workers,
        progress=progress,
        use_batch=use_batch,
        crd_paths=crd_paths,
        limits=limits,
        server_check=server_check,
    )
    for control in controls:  # rule selection and severity, then the baseline (dsgate.gate.controls, .baseline)
        control(result)
    if deploy and result.exit_code(strict) == 0:
        _deploy_stage(result, deploy, say)
    return result


def _deploy_stage(result: GateResult, charts: Sequence[Path], say: Callable[[str], None]) -> None:
    """Install, check and uninstall CHARTS on a local cluster; its outcome goes into RESULT."""
    from dsgate.gate import deploystage  # the cluster modules and the kubernetes client load only for a deploy

    stage = deploystage.run(charts, say=say)
    result.deploy_failures.extend(stage.failures)
    result.deploy_lines.extend(stage.lines)
    result.errors.extend(stage.errors)


def run_jobs(
    jobs: Sequence[Job],
    *,
    policy_dir: Path,
    policy_data: dict[str, object],
    kube_versions: Sequence[str],
    allow_kinds: Sequence[str] = (),
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_batch: bool = True,
    crd_paths: Sequence[Path] = (),
    limits: Limits | None = None,
    server_check: servercheck.Settings | None = None,
) -> GateResult:
    """Render JOBS, validate and evaluate every distinct output once.

    Cancelled (SIGINT/SIGTERM as KeyboardInterrupt): queued renders are dropped, helm-batch, OPA and
    every running render are killed before the exception goes on."""
    limits = limits or Limits()
    cluster = server_check.cluster if server_check is not None else ClusterModel()
    own = sorted(
        {
            f"{j.source.path}: {j.source.release or cluster.release_name} in {release_namespace(j.source, cluster)}"
            for j in jobs
            if j.source.release or j.source.namespace
        }
    )
    result = GateResult(cluster_model=(cluster.describe() + (f" ({'; '.join(own)})" if own else "")) if server_check is not None else "")
    try:
        validator = Validator(kube_versions, allow_kinds)
        charts = list(dict.fromkeys(job.source.path for job in jobs if job.source.kind == "chart"))
        validator.add_crds(load_crds(crd_paths, charts))
    except (ValidationSetupError, DocumentError) as exc:
        result.errors.append(str(exc))
        return result
    for chart in dict.fromkeys(job.source.path for job in jobs if job.source.kind == "chart"):
        try:
            build_dependencies(chart)
        except (RenderError, ToolMissing) as exc:
            result.errors.append(str(exc))
    if result.errors:
        return result
    total = len(jobs) * 2  # render + evaluate steps, for the progress bar
    done = 0
    workers = workers or max(2, (os.cpu_count() or 1) * 2)
    server: servercheck.ApiServer | None = None
    if server_check is not None and not server_check.enabled:
        result.server_check = "server check: skipped (--no-server-check); documents were checked against JSON schemas only"
    elif server_check is not None and not servercheck.serves_any(kube_versions):
        result.server_check = f"server check: not run, no target is Kubernetes {servercheck.server_minor()} (the server's minor); JSON schemas only"
    elif server_check is not None:
        server = servercheck.ApiServer(server_check.cluster)
        try:
            server.start()  # in this thread: the processes die with the thread that started them
        except servercheck.ServerCheckError as exc:
            server.stop()
            result.errors.append(str(exc))
            return result
    batch = _helm_batch(jobs, workers, limits) if use_batch else None
    # a GitOps source is a whole cluster in one request (its policies see every object together): at least 60 s
    timeout = max(limits.policy_seconds, 60) if any(j.source.kind == "gitops" for j in jobs) else limits.policy_seconds
    opa = OpaServer(policy_dir, data=policy_data, timeout=timeout, memory=limits.policy_memory)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        opa_started = pool.submit(opa.start)  # OPA loads the library while the charts render
        server_ready = pool.submit(server.wait_ready) if server is not None else None  # the API server starts meanwhile too
        try:
            for outcome in pool.map(lambda job: run_job(job, batch, limits, cluster), jobs):
                result.renders.append(outcome)
                done += 1
                if progress:
                    progress(done, total)
            if batch is not None:
                batch.close()
                batch = None
            validator.add_crds(d.obj for o in result.renders for d in o.documents if d.kind == "CustomResourceDefinition")
            try:
                unique = _check_renders(result, validator, kube_versions)
            except ValidationSetupError as exc:
                result.errors.append(str(exc))
                return result
            if result.errors:
                return result  # fail closed; do not evaluate a broken input set
            sets = evaluation_sets(unique)
            server_done = pool.submit(_server_check, result, server, server_ready, sets, server_check) if server and server_ready and server_check else None
            seen: set[tuple[str, str, str, str, str]] = set()

            def add(findings: Iterable[Finding]) -> None:
                for finding in findings:
                    key = (finding.source, finding.rule, finding.resource, finding.message, str(finding.exempted))
                    if key not in seen:
                        seen.add(key)
                        result.findings.append(finding)

            try:
                opa_started.result()
                for evaluated, findings in zip(sets, opa.evaluate_all([s.documents for s in sets], pool), strict=True):
                    add(findings)
                    done += evaluated.last  # one step per render, however many clusters it lands in
                    if progress and evaluated.last:
                        progress(done, total)
                # The sets whose pods Pod Security refused, again with the server check's verdicts: what
                # is new is DS-PSA-001's findings, exempted and graded like every other rule's.
                for findings in opa.evaluate_all(server_done.result() if server_done is not None else [], pool):
                    add(findings)
                for cross in crosssource.evaluation_sets((str(s.outcome.job.source.path), s.outcome.job.scenario, s.documents) for s in sets):
                    result.findings.extend(crosssource.clashes(opa.evaluate(cross), result.findings, cross))
            except EvaluationError as exc:
                result.errors.append(f"policy evaluation failed: {exc}")
                return result
            finally:
                if server_done is not None:
                    server_done.result()
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            if batch is not None:
                batch.abort()
            opa.abort()
            procs.stop_all()
            raise
        finally:
            if batch is not None:
                batch.close()
            if server is not None:
                server.stop()  # first: a start still in progress then ends at once
            wait([opa_started, *([server_ready] if server_ready else [])])
            opa.stop()
    result.findings = merge_scenarios(result.findings)  # one finding per problem, with the scenarios it occurs in
    result.findings.sort(key=lambda f: (f.origin, f.resource, f.severity, f.rule, f.message))
    return result


def _check_renders(result: GateResult, validator: Validator, kube_versions: Sequence[str]) -> list[tuple[RenderOutcome, set[str]]]:
    """Record render errors, helm v4/v3 mismatches and schema errors in RESULT; return the distinct
    outputs, each once, with the Kubernetes versions it was rendered for."""
    result.errors.extend(distinct_errors(o.error for o in result.renders if o.error))

    result.mismatches.extend(helm_mismatches(result.renders))

    # Validate and evaluate each distinct output once, against every Kubernetes version it was rendered for.
    unique: dict[tuple[str, str], tuple[RenderOutcome, set[str]]] = {}
    for o in result.renders:
        if o.error:
            continue
        key = (o.job.label, _digest(o.text))
        kubes = {o.job.kube_version} if o.job.kube_version else set(kube_versions)
        if key in unique:
            unique[key][1].update(kubes)
        else:
            unique[key] = (o, kubes)
    seen_schema: set[tuple[str, str, str, str]] = set()
    for outcome, kubes in unique.values():
        versioned = validator if set(kubes) == set(validator.kube_versions) else validator.for_versions(sorted(kubes))
        result.findings.extend(f for f in deprecation_warnings(outcome.documents, sorted(kubes)) if f not in result.findings)
        for err in versioned.validate_all(outcome.documents):
            error_key = (err.document.provenance.label, err.document.ref, err.path, err.message)
            if error_key in seen_schema:
                continue
            seen_schema.add(error_key)
            if err.unknown_kind:
                result.errors.append(f"{err.document.provenance.label}: {err.document.ref}: {err.message}")
            else:
                result.schema_errors.append(err)
    return list(unique.values())


class EvaluationSet(NamedTuple):
    """Documents evaluated together: cross-object rules (PDB selection, host ports, per-node budget)
    and the server check's prerequisites compare only within one."""

    outcome: RenderOutcome
    kubes: set[str]  # the Kubernetes versions its render was made for
    documents: list[Document]
    last: bool  # the last set of its outcome (progress counts renders)


def evaluation_sets(unique: Sequence[tuple[RenderOutcome, set[str]]]) -> list[EvaluationSet]:
    """Each distinct output's documents, split by the cluster they land in (a GitOps source's Argo CD
    destinations, see gitops.destinations; everything else is one cluster)."""
    out: list[EvaluationSet] = []
    for outcome, kubes in unique:
        by_cluster: dict[str, list[Document]] = {}
        for doc in outcome.documents:
            by_cluster.setdefault(doc.provenance.cluster, []).append(doc)
        parts = list(by_cluster.values()) or [[]]
        out.extend(EvaluationSet(outcome, kubes, docs, i == len(parts) - 1) for i, docs in enumerate(parts))
    return out


def release_namespace(source: Source, cluster: ClusterModel) -> str:
    """The namespace SOURCE's documents without one land in: the source's own (dsgate.yaml), else a
    chart's release namespace, else `default` (as kubectl apply without -n)."""
    return source.namespace or (cluster.namespace if source.kind == "chart" else "default")


def _server_check(
    result: GateResult,
    server: servercheck.ApiServer,
    ready: Future[None],
    sets: Sequence[EvaluationSet],
    settings: servercheck.Settings,
) -> list[list[Document]]:
    """Dry-run the distinct documents rendered for the server's minor on SERVER, each evaluation set
    with its own prerequisites (see dryrun.check); rejections become schema errors of their
    documents, a server that cannot start or dies an error (exit 2). Returns, per evaluation set
    whose pods Pod Security refused, its documents plus the verdicts (see dryrun.verdict_document),
    for the policy library's DS-PSA-001 to report."""
    minor = servercheck.server_minor()
    cluster = settings.cluster
    failed = {id(e.document) for e in result.schema_errors}  # already refused by the schemas
    groups = [
        dryrun.unique_documents([(s.documents, release_namespace(s.outcome.job.source, cluster))], skip=lambda d: id(d) in failed)
        for s in sets
        if servercheck.serves_any(s.kubes)
    ]
    docs = [item for group in groups for item in group]
    asked: dict[str, list[str]] = {}  # release namespace -> levels the charts rendered into it need
    for s in sets:
        level = dryrun.chart_level(s.outcome.job.source.path) if s.outcome.job.source.kind == "chart" else None
        if level:
            asked.setdefault(release_namespace(s.outcome.job.source, cluster), []).append(level)
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
            result.schema_errors.append(SchemaError(r.document, f"{minor} (kube-apiserver {server.version} dry-run)", r.path, r.message))
    unserved = checked.unserved
    result.server_check = (
        f"server check: {checked.sent} distinct documents dry-run on kube-apiserver {server.version} (Kubernetes {minor} renders; "
        f"Pod Security {', '.join(f'{ns}={lvl}' for ns, lvl in sorted(levels.items()))}"
        + (f"; {checked.prepared} sets with their own prerequisites created first" if checked.prepared else "")
        + (f"; {server.starts - 1} restarts on new ports after a port was taken" if server.starts > 1 else "")
        + "); "
        + (f"{len(unserved)} of kinds it does not serve ({', '.join(sorted({d.api_version + '/' + d.kind for d in unserved}))}) and " if unserved else "")
        + "older targets were checked against JSON schemas only"
    )
    return [[*sets[i].documents, *verdicts] for i, verdicts in sorted(refused.items())]


def distinct_errors(errors: Iterable[str]) -> list[str]:
    """Each distinct error once, in first-seen order, with how many renders it affected (a chart whose
    dependencies are missing fails every one of its renders with the same message)."""
    counts = Counter(errors)
    return [f"{error} ({n} renders)" if n > 1 else error for error, n in counts.items()]


def helm_mismatches(renders: Sequence[RenderOutcome]) -> list[str]:
    """helm v3 must render the same documents as helm v4 (compared parsed, see compare): one line per
    chart scenario that differs, naming the Kubernetes versions it differs for and the first differences."""
    by_key: dict[tuple[str, str], dict[str, RenderOutcome]] = {}
    for o in renders:
        if o.job.source.kind == "chart" and not o.error:
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
            out.append(f"{label}: helm {left} and {right} render different documents (Kubernetes {', '.join(kubes)}): {' | '.join(lines)}")
    return out


def renders_of(result: GateResult) -> list[Render]:
    """The successful renders, as Render objects (for the deploy stage and tests)."""
    return [Render(o.documents[0].provenance, o.documents) for o in result.renders if o.documents and not o.error]
