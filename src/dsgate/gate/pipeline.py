"""The gate's runner: the stages of dsgate.gate.stages in order, for sources found by discovery,
with one CheckOptions.

    discover (the caller) -> plan -> prepare -> render -> documents -> validate
        -> server check (beside evaluate) -> evaluate -> deploy (when the static gate passed) -> report (the caller)

The runner owns every long-lived process of a run (helm-batch, OPA, the API server of the server
check) and their cancellation: on SIGINT/SIGTERM (a KeyboardInterrupt) queued renders are dropped
and every process is killed before the exception goes on. What the deploy stage does is passed in
(a stages.DeployStage; dsgate.plugins gives the cluster's), so the gate imports no cluster code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dsgate import procs
from dsgate.gate import stages
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.dedup import merge_scenarios
from dsgate.gate.evaluate import EvaluationError, OpaServer
from dsgate.gate.options import CheckOptions
from dsgate.gate.render import HelmBatch
from dsgate.gate.servercheck import ApiServer
from dsgate.gate.sources import Job, RenderContext, RenderOutcome, Source
from dsgate.gate.stages import DeployStage, GateResult
from dsgate.gate.validate import ValidationSetupError, Validator

__all__ = ["CheckOptions", "DeployStage", "GateResult", "Job", "RenderOutcome", "Servers", "run", "run_jobs"]


class Servers(Protocol):
    """OPA and the API server kept by the caller across runs (dsgate.serverd's warm server): a run
    borrows them, started, instead of starting its own, and does not stop them. Called from the
    thread that runs the gate."""

    def opa(self, policy_dir: Path, data: Mapping[str, Any], timeout: float, memory: int) -> OpaServer: ...

    def api_server(self, cluster: ClusterModel) -> ApiServer: ...


def run(
    sources: Sequence[Source],
    options: CheckOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    say: Callable[[str], None] = lambda _: None,
    deploy: DeployStage | None = None,
    servers: Servers | None = None,
) -> GateResult:
    """Run the gate over SOURCES with OPTIONS: every stage up to evaluate; OPTIONS.controls change the
    findings, in order (rule selection, baseline); then, when OPTIONS.deploy names charts and the
    static gate passed (warnings fail it when strict), the DEPLOY stage (SAY reports its progress).
    SERVERS: borrow OPA and the API server instead of starting them."""
    result = run_jobs(stages.plan(sources, options.helm_versions, options.kube_versions), options, progress, servers)
    for control in options.controls:  # rule selection and severity, then the baseline (dsgate.gate.controls, .baseline)
        control(result)
    if options.deploy and result.exit_code(options.strict) == 0:
        stages.deploy(result, deploy, options.deploy, say)
    return result


@dataclass
class _Processes:
    """The long-lived processes of one run, and the pool their work runs on."""

    pool: ThreadPoolExecutor
    opa: OpaServer
    opa_started: Future[None]
    batch: HelmBatch | None
    server: ApiServer | None
    server_ready: Future[None] | None
    borrowed: bool = False  # OPA and the API server belong to the caller (Servers): not stopped here

    def close_batch(self) -> None:
        if self.batch is not None:
            self.batch.close()
            self.batch = None

    def abort(self) -> None:
        """Cancellation: drop queued work, kill every process now."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.batch is not None:
            self.batch.abort()
        self.opa.abort()
        procs.stop_all()

    def stop(self) -> None:
        self.close_batch()
        if self.server is not None and not self.borrowed:
            self.server.stop()  # first: a start still in progress then ends at once
        wait([self.opa_started, *([self.server_ready] if self.server_ready else [])])
        if not self.borrowed:
            self.opa.stop()


def run_jobs(
    jobs: Sequence[Job],
    options: CheckOptions,
    progress: Callable[[int, int], None] | None = None,
    servers: Servers | None = None,
) -> GateResult:
    """Render JOBS, validate and evaluate every distinct output once (PROGRESS gets done and total
    steps); SERVERS: OPA and the API server borrowed from the caller."""
    result = GateResult(cluster_model=stages.cluster_model(jobs, options))
    validator = stages.prepare(jobs, options, result)
    if validator is None:
        return result
    server = stages.server_for(options, result, servers.api_server if servers is not None else None)
    if result.errors:
        return result
    workers = options.workers or max(2, (os.cpu_count() or 1) * 2)
    batch = stages.helm_batch(jobs, workers, options.limits) if options.use_batch else None
    timeout = stages.policy_seconds(jobs, options.limits)
    if servers is not None:
        try:
            opa = servers.opa(options.policy_dir, options.policy_data, timeout, options.limits.policy_memory)
        except EvaluationError as exc:
            result.errors.append(f"policy evaluation failed: {exc}")
            if batch is not None:
                batch.close()
            return result
    else:
        opa = OpaServer(
            options.policy_dir,
            data=dict(options.policy_data),
            timeout=timeout,
            memory=options.limits.policy_memory,
        )
    with ThreadPoolExecutor(max_workers=workers) as pool:
        started: Future[None] = Future()
        if servers is not None:
            started.set_result(None)
        run = _Processes(
            pool,
            opa,
            started
            if servers is not None
            else pool.submit(opa.start),  # OPA loads the library while the sources render
            batch,
            server,
            pool.submit(server.wait_ready) if server is not None else None,  # the API server starts meanwhile too
            borrowed=servers is not None,
        )
        try:
            _stages(jobs, options, result, validator, run, stages.Tracker(len(jobs), progress))
        except KeyboardInterrupt:
            run.abort()
            raise
        finally:
            run.stop()
    result.findings = merge_scenarios(result.findings)  # one finding per problem, with the scenarios it occurs in
    result.findings.sort(key=lambda f: (f.origin, f.resource, f.severity, f.rule, f.message))
    return result


def _stages(
    jobs: Sequence[Job],
    options: CheckOptions,
    result: GateResult,
    validator: Validator,
    run: _Processes,
    tracker: stages.Tracker,
) -> None:
    """render -> documents -> validate -> server check (beside) evaluate, into RESULT; each stops the run when it fails closed."""
    cluster = options.server_check.cluster if options.server_check is not None else ClusterModel()
    result.renders = stages.render(jobs, run.pool, RenderContext(run.batch, options.limits, cluster), tracker)
    run.close_batch()
    unique = stages.documents(result, options.kube_versions)
    try:
        stages.validate(result, validator, unique)
    except ValidationSetupError as exc:
        result.errors.append(str(exc))
        return
    if result.errors:
        return  # fail closed; do not evaluate a broken input set
    sets = stages.evaluation_sets(unique)
    server_done = None
    if run.server is not None and run.server_ready is not None and options.server_check is not None:
        server_done = run.pool.submit(
            stages.server_check, result, run.server, run.server_ready, sets, options.server_check
        )
    try:
        run.opa_started.result()
        stages.evaluate(result, run.opa, sets, run.pool, tracker, server_done)
    except EvaluationError as exc:  # OPA did not start
        result.errors.append(f"policy evaluation failed: {exc}")
    finally:
        if server_done is not None:
            server_done.result()
