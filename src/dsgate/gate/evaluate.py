"""Evaluate rendered documents against the Rego library in a real OPA server.

dsgate starts `opa run --server` on 127.0.0.1 at a free port with the policies (and parameter
data) loaded, talks to it over one keep-alive HTTP connection per thread (http.client: the OPA
client package imported requests and aiohttp, a third of a second of every `dsgate check`'s start-up),
sends one request per render or per batch of renders (never one per document), and stops it.
Every way this can go wrong (no binary, no start, crash, timeout, an answer that is not the
contract) raises EvaluationError: the gate fails closed.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsgate import procs, rundir
from dsgate.errors import DsgateError
from dsgate.gate.documents import Document
from dsgate.net import free_port
from dsgate.paths import policies_dir
from dsgate.tools import ToolMissing, tool_path

# The entrypoint of the policy library: a set of finding objects (see policies/README.md).
ENTRYPOINT_PACKAGE = "main"
ENTRYPOINT_RULE = "findings"
BATCH_RULE = "batch"  # the findings of several renders, {"renders": [input, ...]} -> [findings, ...]
MAX_BATCH = 16  # renders per request: batching halves OPA's and the client's cost per render
FINDING_KEYS = ("rule", "category", "severity", "resource", "message", "remediation", "exempted")
SEVERITIES = ("deny", "warn")
IGNORED = ("*_test.rego", "samples", "*.yaml", "*.yml", "*.md", "*.sh")


class EvaluationError(DsgateError):
    """OPA could not evaluate the documents; the gate must not pass."""


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str
    severity: str
    resource: str
    source: str
    message: str
    remediation: str
    exempted: bool
    exemption: str = ""
    via: tuple[str, ...] = ()  # GitOps: the chain of objects that produced the resource
    field: str = ""  # dotted path of the offending field (`[*]`: any list item), "" for the whole resource
    scenarios: tuple[str, ...] = ()  # the chart scenarios it occurs in (see dedup); SOURCE is the first one's label
    exempted_by: tuple[
        str, ...
    ] = ()  # the exemptions that matched it (`data.dsgate.exemptions[i]`, or a document path for an annotation)
    data_path: str = ""  # the policy data it is about, when not a rendered document (`data.dsgate.exemptions[i]`)
    pinned: tuple[str, int] | None = None  # a file and line known without locating (an exemption's line in dsgate.yaml)

    @property
    def origin(self) -> str:
        """The source without its scenario: the chart for a chart finding, else the source label."""
        return self.source.removesuffix(f"[{self.scenarios[0]}]") if self.scenarios else self.source

    def as_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"via": list(self.via)} if self.via else {}
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "resource": self.resource,
            "source": self.source,
            "message": self.message,
            "remediation": self.remediation,
            "exempted": self.exempted,
            "exemption": self.exemption,
            **extra,
            "field": self.field,
            "scenarios": list(self.scenarios),
        }


def policy_input(documents: Sequence[Document]) -> list[dict[str, Any]]:
    """The input the library takes: conftest's --combine shape, one entry per document."""
    return [{"path": f"{d.provenance.label}#{d.index}", "contents": d.obj} for d in documents]


class _Connection:
    """One keep-alive HTTP/1.1 connection to OPA on 127.0.0.1:PORT (not thread-safe: one per thread)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.used = False  # a request went through: OPA may since have closed the idle connection

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body) of METHOD PATH; OSError or http.client.HTTPException when it fails. A stale
        keep-alive connection (closed by OPA between requests) is reopened once: queries have no
        side effects."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for retry in (self.used, False):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                answer = response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if not retry:
                    raise
                continue
            except BaseException:
                self.conn.close()  # a half-read answer must not be read by the next request
                raise
            self.used = True
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.conn.close()


class OpaServer:
    """A managed `opa run --server` process. Use as a context manager."""

    def __init__(
        self,
        policy_dir: Path,
        *,
        data: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
        start_timeout: float = 60.0,  # a loaded 2-core machine; a dead process fails at once
        memory: int = 0,
    ) -> None:
        self.policy_dir = policy_dir
        self.data = dict(data or {})
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.memory = memory  # address-space limit of the server (0: none)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.client: _Connection | None = None
        self._local = threading.local()  # one HTTP connection per thread: http.client is not thread-safe
        self._sessions: list[_Connection] = []
        self._sessions_lock = threading.Lock()
        self._tmp: Path | None = (
            None  # data file and log, in the run's directory (rundir: removed even after a SIGKILL)
        )
        self._log: Any = None

    def __enter__(self) -> OpaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            opa = tool_path("opa")
        except ToolMissing as exc:
            raise EvaluationError(f"OPA is not available: {exc}") from exc
        if not self.policy_dir.is_dir():
            raise EvaluationError(f"policy directory {self.policy_dir} does not exist; pass --policies DIR")
        self._tmp = rundir.mkdtemp("dsgate-opa-")
        data_file = self._tmp / "data.json"
        data_file.write_text(json.dumps({"dsgate": self.data}))
        self._log = open(self._tmp / "opa.log", "w+b")  # noqa: SIM115 - closed in stop()
        self.port = free_port()
        cmd = [
            str(opa),
            "run",
            "--server",
            "--disable-telemetry",
            "--addr",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "error",
            # Only the library's .rego modules: tests, samples and docs stay out of the server.
            *(f"--ignore={pattern}" for pattern in IGNORED),
            str(self.policy_dir),
            str(data_file),
        ]
        env = {**os.environ, "GOMEMLIMIT": str(self.memory)} if self.memory else None
        self.process = procs.popen(
            cmd,
            procs.OsLimits(memory=self.memory),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.client = _Connection(self.port, self.timeout)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = self._log_tail()
                self.stop()
                raise EvaluationError(f"OPA exited with code {self.process.returncode} at start: {msg}")
            if self._healthy():
                return
            time.sleep(0.01)  # a connect attempt costs microseconds; the start is on a one-file check's critical path
        self.stop()
        raise EvaluationError(f"OPA did not become healthy on 127.0.0.1:{self.port} within {self.start_timeout:.0f}s")

    def _healthy(self) -> bool:
        assert self.client is not None
        try:
            status, _ = self.client.request("GET", "/health?bundles=true")
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode(errors="replace").strip()
        return text[-2000:] or "(no output)"

    def _thread_client(self) -> _Connection:
        client: _Connection | None = getattr(self._local, "client", None)
        if client is None:
            client = _Connection(self.port, self.timeout)
            with self._sessions_lock:
                self._sessions.append(client)
            self._local.client = client
        return client

    def abort(self) -> None:
        """Kill the server now (cancellation); stop() still cleans up."""
        if self.process is not None:
            procs.kill(self.process)

    def stop(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                procs.kill(self.process)
        if self.process is not None:
            procs.forget(self.process)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def release_clients(self) -> None:
        """Close the connections of the threads that used this server (a server kept across runs: the
        next run's threads open their own)."""
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def query(self, input_data: Any, rule: str = ENTRYPOINT_RULE) -> Any:
        """POST input to data.main.RULE and return its result; raise EvaluationError otherwise."""
        if self.client is None or self.process is None:
            raise EvaluationError("OPA server is not running")
        if self.process.poll() is not None:
            raise EvaluationError(f"OPA server died (exit code {self.process.returncode}): {self._log_tail()}")
        try:
            body = json.dumps({"input": input_data}, allow_nan=False, separators=(",", ":")).encode()
        except ValueError as exc:
            raise EvaluationError(f"the input holds a value JSON cannot carry: {exc}") from None
        try:
            status, raw = self._thread_client().request("POST", f"/v1/data/{ENTRYPOINT_PACKAGE}/{rule}", body)
        except TimeoutError as exc:
            raise EvaluationError(
                f"OPA did not answer within the limit policySeconds={self.timeout:.0f}; raise 'limits: {{policySeconds: N}}' in dsgate.yaml if the input is legitimate"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            if self._died_soon():
                raise EvaluationError(
                    f"OPA died during the request (exit {self.process.returncode}; its memory limit is policyMemory={self.memory}, "
                    "raise 'limits: {policyMemory: N}' in dsgate.yaml if the input is legitimate)"
                ) from exc
            raise EvaluationError(f"OPA request failed: {exc}") from exc
        if status != 200:
            raise EvaluationError(f"OPA request failed: HTTP {status}: {raw[:1000].decode(errors='replace').strip()}")
        try:
            answer = json.loads(raw)
        except ValueError as exc:  # body that is not JSON
            raise EvaluationError(f"OPA answered malformed JSON: {exc}") from exc
        if not isinstance(answer, dict) or "result" not in answer:
            raise EvaluationError(
                f"OPA answered no result for data.{ENTRYPOINT_PACKAGE}.{rule}: the entrypoint is undefined; "
                f"check that {self.policy_dir} is the dsgate policy library"
            )
        return answer["result"]

    def _died_soon(self) -> bool:
        """Whether the server exits within a second (a request failed because it is dying)."""
        assert self.process is not None
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return False
        return True

    def evaluate(self, documents: Sequence[Document]) -> list[Finding]:
        """Evaluate one render's documents in one request."""
        result = self.query(policy_input(documents))
        return parse_findings(result, documents)

    def evaluate_batch(self, renders: Sequence[Sequence[Document]]) -> list[list[Finding]]:
        """Evaluate several renders in one request; each is still evaluated on its own documents."""
        try:
            result = self.query({"renders": [policy_input(documents) for documents in renders]}, BATCH_RULE)
        except EvaluationError as exc:
            labels = sorted({documents[0].provenance.label for documents in renders if documents})
            raise EvaluationError(f"{exc} (evaluating {', '.join(labels)})") from None
        if not isinstance(result, list) or len(result) != len(renders):
            got = f"{len(result)} answers" if isinstance(result, list) else type(result).__name__
            raise EvaluationError(
                f"OPA answered {got} for a batch of {len(renders)} renders, expected one list of findings per render"
            )
        return [parse_findings(answer, documents) for answer, documents in zip(result, renders, strict=True)]

    def evaluate_all(self, renders: Sequence[Sequence[Document]], pool: Executor) -> Iterator[list[Finding]]:
        """Evaluate RENDERS in batches (at most MAX_BATCH renders, and at least 8 requests when there
        are 8 renders, so every core gets work), concurrently on POOL. Yields each render's findings
        in the order of RENDERS; a failed request raises when its turn comes."""
        size = max(1, min(MAX_BATCH, len(renders) // 8))
        batches = [renders[i : i + size] for i in range(0, len(renders), size)]
        for findings in pool.map(self.evaluate_batch, batches):
            yield from findings


def parse_findings(result: Any, documents: Sequence[Document]) -> list[Finding]:
    """Check the answer against the findings contract and attach each finding's source."""
    if not isinstance(result, list):
        raise EvaluationError(f"OPA answered {type(result).__name__} for the findings set, expected a list")
    by_ref = {d.ref: d.provenance.label for d in documents}
    scenarios_of = {d.ref: d.provenance.scenarios for d in documents}
    via_of = {d.ref: d.provenance.via for d in documents}
    findings: list[Finding] = []
    for raw in result:
        if not isinstance(raw, dict) or any(k not in raw for k in FINDING_KEYS):
            raise EvaluationError(f"OPA answered a malformed finding {raw!r}; expected keys {', '.join(FINDING_KEYS)}")
        if raw["severity"] not in SEVERITIES:
            raise EvaluationError(
                f"OPA answered severity {raw['severity']!r} for rule {raw['rule']}; expected deny or warn"
            )
        source = by_ref.get(raw["resource"]) or (documents[0].provenance.label if documents else "")
        findings.append(
            Finding(
                rule=str(raw["rule"]),
                category=str(raw["category"]),
                severity=str(raw["severity"]),
                resource=str(raw["resource"]),
                source=source,
                message=str(raw["message"]),
                remediation=str(raw["remediation"]),
                exempted=bool(raw["exempted"]),
                exemption=str(raw.get("exemption") or ""),
                via=via_of.get(str(raw["resource"]), ()),
                field=str(raw.get("field") or ""),
                scenarios=scenarios_of.get(str(raw["resource"]), ()),
                exempted_by=tuple(str(e) for e in raw.get("exempted_by") or ()),
                data_path=str(raw.get("path") or "") if str(raw.get("path") or "").startswith("data.") else "",
            )
        )
    findings.sort(key=lambda f: (f.source, f.resource, f.severity, f.rule, f.message))
    return findings


def default_policy_dir() -> Path:
    return policies_dir()
