"""Server-side dry-run: every unique rendered document sent to the real kube-apiserver.

JSON schemas miss the API server's own validation (a cpu request above its limit, a rolling update
that can make no progress, an int-or-string that is neither) and its admission (Pod Security).
This stage starts the pinned kube-apiserver with an etcd of its own (no controllers), once per gate
run, on 127.0.0.1 at free ports, while the charts render; then it creates each namespace the
documents use (with its Pod Security level, enforce and warn), creates each evaluation set's
prerequisites for real (its CRDs, PriorityClasses, quotas, ...; see prerequisites) and POSTs every
other unique document with `dryRun=All` and strict field validation, then deletes the prerequisites
before the next set. A rejection is a schema error of the document; a Pod Security refusal (or the
warning on a workload whose pods the namespace would refuse) is the namespace's policy, a finding of
rule DS-PSA-001. The server runs with the cluster model's flags (allow-privileged, admission plugins;
see clustermodel). When another process takes one of its ports before it binds, it starts again on
new ones (BIND_ATTEMPTS starts in all).

The server is the pinned minor only; older target minors keep JSON-schema validation alone. A server
that cannot start or dies fails the gate closed (exit 2). Both processes run in their own process
group with PR_SET_PDEATHSIG (util-linux setpriv, the mechanism of dsgate.procs), so they die with the gate even when it is killed. This module is the
server and its client; dryrun decides what is sent where and what the answers mean.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from dsgate import procs, rundir
from dsgate.errors import DsgateError
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.documents import Document
from dsgate.net import free_port
from dsgate.tools import ToolMissing, tool_path
from dsgate.versions import kubernetes_version

LOCALHOST = "127.0.0.1"
PROBE_NAMESPACE = "dsgate-probes"  # the gate's own namespace (privileged, no quota) for its probe pods
START_TIMEOUT = 120.0  # seconds for etcd + kube-apiserver to become ready on a loaded machine
BIND_ATTEMPTS = 5  # starts on fresh ports when another process took a port between free_port and the bind
ETCD_LISTEN_TIMEOUT = 10.0  # seconds kube-apiserver's start waits for etcd to listen (usually tens of ms)
# kube-apiserver's system PriorityClasses (scheduling's SystemCriticalPriority + 1000, and + 0) and the
# post-start hook that creates them a second late (see ApiServer._add_system_priority_classes)
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
PRIORITY_CLASS_HOOK = "poststarthook/scheduling/bootstrap-system-priority-classes"
KEY, CERT = "server.key", "server.crt"  # the server's ECDSA key (TLS, service-account tokens) and certificate
REQUEST_TIMEOUT = 30.0
# seconds a keep-alive connection may sit idle and still be reused (kube-apiserver closes idle ones)
IDLE_REUSE = 20.0
# how a keep-alive connection the server closed fails on the next request: sent again on a new one
_CLOSED_BY_SERVER = (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
# seconds for the server's own controllers to settle (a CRD Established or gone, admission's caches):
# usually well under a second, but the CRD finalizer and discovery lag by tens of seconds on a loaded machine
SETTLE_TIMEOUT = 120.0
_WARNING = re.compile(r'\d{3} [^ ]+ "((?:[^"\\]|\\.)*)"')


class ServerCheckError(DsgateError):
    """The API server could not be started or died: an infrastructure error (exit 2)."""


@dataclass(frozen=True)
class Settings:
    """How the stage runs: on or off (--no-server-check), and the cluster it models (see clustermodel)."""

    enabled: bool = True
    cluster: ClusterModel = field(default_factory=ClusterModel)


@dataclass(frozen=True)
class Rejection:
    """What the API server refused in one document. With POD_SECURITY (the namespace's level), Pod
    Security admission refused its pods: a policy finding (DS-PSA-001), not a schema error."""

    document: Document
    path: str
    message: str
    pod_security: str = ""
    namespace: str = ""


def server_minor() -> str:
    """The minor the pinned kube-apiserver is, e.g. 1.36."""
    return ".".join(kubernetes_version().lstrip("v").split(".")[:2])


def serves_any(kube_versions: Iterable[str]) -> bool:
    """One of KUBE_VERSIONS is the server's minor (only those renders are dry-run)."""
    return any(".".join(v.lstrip("v").split(".")[:2]) == server_minor() for v in kube_versions)


def _die_with_gate(argv: list[str]) -> list[str]:
    """ARGV run through util-linux setpriv, which sets PR_SET_PDEATHSIG=SIGKILL just before it execs
    the tool (no Python between fork and exec, so safe from the gate's threads). The kernel sends the
    signal when the thread that started the child exits: the stage starts it from the main thread."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ServerCheckError(
            "server check: util-linux setpriv is not on PATH (it ties the API server's life to the gate's); install util-linux or use --no-server-check"
        )
    return [setpriv, "--pdeathsig", "KILL", "--", *argv]


@dataclass(frozen=True)
class Answer:
    """One answer of the API server: its status, body and Warning headers (joined as one)."""

    status_code: int
    text: str
    warning: str = ""

    def json(self) -> Any:
        return json.loads(self.text)


def warning_texts(header: str) -> list[str]:
    """The texts of the Warning headers joined in HEADER (`299 - "text"`, comma-separated)."""
    return [m.group(1).replace('\\"', '"') for m in _WARNING.finditer(header)]


def _warnings(answer: Answer) -> list[str]:
    return warning_texts(answer.warning)


def _tls_context() -> ssl.SSLContext:
    """TLS to the gate's own server on 127.0.0.1, whose certificate is self-signed: not verified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class ApiServer:
    """etcd + kube-apiserver of the pinned version, private to one gate run."""

    def __init__(
        self, cluster: ClusterModel | None = None, authorization: str = "AlwaysAllow", profiling: bool = False
    ) -> None:
        self.cluster = cluster or ClusterModel()
        self.authorization = authorization  # --authorization-mode; RBAC for tests of the rights a command needs
        self.profiling = profiling  # serve /debug/pprof (bench/bench_admission.py --pprof)
        self.version = kubernetes_version()
        self._tmp = rundir.mkdtemp("dsgate-apiserver-")  # removed by stop(), or by the next run after a SIGKILL
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._token = secrets.token_hex(16)
        self.port = 0
        self._local = threading.local()
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}  # group/version -> kind -> (plural, namespaced)
        self._lock = threading.Lock()
        self._argv: dict[str, list[str]] = {}  # tool -> its binary, for relaunches
        self._stopped = False
        self.starts = 0  # how many times the processes were launched (more than 1: a port was taken)

    # ------------------------------------------------------------------ processes

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self._tmp / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it; closed below
        try:
            self._procs[name] = subprocess.Popen(
                _die_with_gate(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0
            )
        finally:
            log.close()

    def start(self) -> None:
        """Start etcd and kube-apiserver (returns at once; wait_ready waits). Call from the main thread
        or a pool thread that outlives the server: PR_SET_PDEATHSIG fires when the starting thread exits."""
        try:
            etcd, apiserver = tool_path("etcd"), tool_path("kube-apiserver")
        except ToolMissing as exc:
            raise ServerCheckError(f"server check: {exc} (or skip the stage with --no-server-check)") from exc
        openssl = shutil.which("openssl")
        if openssl is None:
            raise ServerCheckError(
                "server check: openssl is not on PATH (it makes the server's key); install it or use --no-server-check"
            )
        # One ECDSA P-256 key (SEC1: kube-apiserver reads no PKCS#8 key as a service-account key) and a
        # self-signed certificate for 127.0.0.1, in milliseconds: the key signs service-account tokens
        # and serves TLS (kube-apiserver's own self-signed pair is RSA 2048, a tenth of its start).
        key, cert = str(self._tmp / KEY), str(self._tmp / CERT)
        for argv in (
            [openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
            [openssl, "req", "-x509", "-key", key, "-out", cert, "-days", "2", "-subj", f"/CN={LOCALHOST}",
             "-addext", f"subjectAltName=IP:{LOCALHOST}"],
        ):  # fmt: skip
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
            if proc.returncode != 0:
                raise ServerCheckError(f"server check: openssl {argv[1]} failed: {proc.stderr.strip()}")
        (self._tmp / "tokens.csv").write_text(f'{self._token},dsgate,dsgate,"system:masters"\n')
        self._argv = {"etcd": [str(etcd)], "kube-apiserver": [str(apiserver)]}
        self._launch()

    def _launch(self) -> None:
        """Spawn etcd, then kube-apiserver once etcd listens, on ports free a moment ago (another process
        may take one before they bind: wait_ready then launches them again on fresh ports).

        kube-apiserver started next to etcd dials it before it listens, and its gRPC client then backs
        off for most of a second; etcd listens within tens of milliseconds. One member elects itself
        after an election timeout: 100 ms instead of etcd's 1 s default (no peers, so no vote is lost)."""
        client, peer, self.port = free_port(), free_port(), free_port()
        key = self._tmp / KEY
        shutil.rmtree(self._tmp / "etcd", ignore_errors=True)
        with self._lock:
            if self._stopped:
                return
            self.starts += 1
            self._spawn(
                "etcd",
                [
                    *self._argv["etcd"],
                    "--name=dsgate",
                    f"--data-dir={self._tmp / 'etcd'}",
                    f"--listen-client-urls=http://{LOCALHOST}:{client}",
                    f"--advertise-client-urls=http://{LOCALHOST}:{client}",
                    f"--listen-peer-urls=http://{LOCALHOST}:{peer}",
                    f"--initial-advertise-peer-urls=http://{LOCALHOST}:{peer}",
                    f"--initial-cluster=dsgate=http://{LOCALHOST}:{peer}",
                    "--heartbeat-interval=10",
                    "--election-timeout=100",
                    "--unsafe-no-fsync",
                    "--log-level=error",
                ],
            )
        self._await_listening("etcd", client)
        with self._lock:
            if self._stopped:
                return
            self._spawn(
                "kube-apiserver",
                [
                    *self._argv["kube-apiserver"],
                    f"--etcd-servers=http://{LOCALHOST}:{client}",
                    f"--bind-address={LOCALHOST}",
                    f"--advertise-address={LOCALHOST}",
                    f"--secure-port={self.port}",
                    f"--tls-cert-file={self._tmp / CERT}",
                    f"--tls-private-key-file={key}",
                    f"--token-auth-file={self._tmp / 'tokens.csv'}",
                    f"--authorization-mode={self.authorization}",
                    f"--service-account-key-file={key}",
                    f"--service-account-signing-key-file={key}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    # the cluster model: allow-privileged and the admission plugins (ServiceAccount always
                    # off: no controllers run, so a pod's ServiceAccount is never created)
                    *self.cluster.apiserver_flags(),
                    "--enable-priority-and-fairness=false",
                    f"--profiling={str(self.profiling).lower()}",
                    "--v=0",
                ],
            )

    def _await_listening(self, name: str, port: int) -> None:
        """Return once NAME accepts connections on PORT, has exited (wait_ready reports or relaunches
        it), or ETCD_LISTEN_TIMEOUT seconds have passed (then kube-apiserver's own retries take over)."""
        deadline = time.monotonic() + ETCD_LISTEN_TIMEOUT
        proc = self._procs[name]
        while time.monotonic() < deadline and proc.poll() is None and not self._stopped:
            try:
                socket.create_connection((LOCALHOST, port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.005)

    def _relaunch_after_bind_race(self, dead: str) -> bool:
        """When a process died because its port was taken, stop both and launch them again on fresh
        ports (at most BIND_ATTEMPTS starts in all); whether it did."""
        if "address already in use" not in dead or self.starts >= BIND_ATTEMPTS:
            return False
        # SIGKILL, as stop() does: the server is throwaway, and a kube-apiserver whose etcd never
        # started spent SIGTERM's whole 10 s grace retrying it.
        for name in ("kube-apiserver", "etcd"):
            proc = self._procs.get(name)
            if proc is not None:
                procs.kill(proc)
        self._launch()
        return True

    def _dead(self) -> str:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                lines = (self._tmp / f"{name}.log").read_text(errors="replace").strip().splitlines()
                cause = next(
                    (line for line in lines if "address already in use" in line), ""
                )  # kube-apiserver logs more after it
                tail = lines[-3:] if not cause or cause in lines[-3:] else [cause, *lines[-2:]]
                return f"{name} exited with code {proc.returncode}: {' | '.join(tail)}"
        return ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until /readyz answers ok; raise ServerCheckError when a process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = self._dead()
            if dead and self._relaunch_after_bind_race(dead):
                continue
            if dead:
                raise ServerCheckError(
                    f"server check: the API server could not start: {dead} (or skip the stage with --no-server-check)"
                )
            try:
                if self._send("GET", "/readyz", None, {"exclude": PRIORITY_CLASS_HOOK}, 2.0).status_code == 200:
                    self._add_system_priority_classes()
                    return
            except (OSError, http.client.HTTPException):
                pass  # not listening yet
            time.sleep(0.05)
        raise ServerCheckError(
            f"server check: kube-apiserver did not become ready within {timeout:.0f}s (see --no-server-check)"
        )

    def _add_system_priority_classes(self) -> None:
        """Create the system PriorityClasses now. kube-apiserver's own post-start hook creates them
        too, but only after a fixed second's wait (it polls, interval first); readiness excludes it."""
        for name, value in SYSTEM_PRIORITY_CLASSES.items():
            body = {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": "A system priority class, as kube-apiserver bootstraps it.",
            }
            answer = self._send("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", body, None, REQUEST_TIMEOUT)
            if answer.status_code not in {201, 409}:  # 409: the hook was first
                raise ServerCheckError(
                    f"server check: creating PriorityClass {name} failed ({answer.status_code}): {answer.text[:300]}"
                )

    def stop(self) -> None:
        """Kill both processes (SIGKILL: the server is throwaway, its graceful shutdown took a second)
        and remove their files."""
        with self._lock:
            self._stopped = True  # a relaunch in progress starts nothing more
        for name in ("kube-apiserver", "etcd"):  # the API server first: without etcd it retries for long
            proc = self._procs.get(name)
            if proc is not None:
                procs.kill(proc)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for this server (its token, TLS unverified: a self-signed certificate on
        127.0.0.1) at PATH, for kubectl and the controllers a caller runs against it."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "dsgate",
                    "cluster": {"server": f"https://{LOCALHOST}:{self.port}", "insecure-skip-tls-verify": True},
                }
            ],
            "users": [{"name": "dsgate", "user": {"token": self._token}}],
            "contexts": [{"name": "dsgate", "context": {"cluster": "dsgate", "user": "dsgate"}}],
            "current-context": "dsgate",
        }
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    def pids(self) -> dict[str, int]:
        """The process ids of etcd and kube-apiserver while they run."""
        return {name: proc.pid for name, proc in self._procs.items() if proc.poll() is None}

    # ------------------------------------------------------------------ HTTP

    def _send(self, method: str, path: str, body: Any, params: dict[str, str] | None, timeout: float) -> Answer:
        """One request on this thread's keep-alive connection (http.client: a quarter of the
        client CPU per request that requests costs, which matters at thousands of dry-runs).

        A connection idle for IDLE_REUSE seconds is not reused: the server may have closed it. One the
        server closed all the same (a reset, an EOF before any answer) is replaced and the request sent
        once more on a new connection; any other failure is the caller's."""
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        url = quote(path) + ("?" + urlencode(params) if params else "")
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is not None and (
            conn.timeout != timeout or time.monotonic() - getattr(self._local, "used", 0.0) > IDLE_REUSE
        ):
            conn.close()
            conn = None
        while True:
            reused = conn is not None
            if conn is None:
                conn = http.client.HTTPSConnection(LOCALHOST, self.port, timeout=timeout, context=_tls_context())
            self._local.conn = conn
            try:
                conn.request(method, url, data, headers)
                response = conn.getresponse()
                text = response.read().decode("utf-8", errors="replace")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = conn = None
                if reused and isinstance(exc, _CLOSED_BY_SERVER):
                    continue  # a fresh connection: not reused, so this happens at most once
                raise
            self._local.used = time.monotonic()
            return Answer(response.status, text, ", ".join(response.msg.get_all("Warning") or []))

    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Answer:
        try:
            return self._send(method, path, body, params, REQUEST_TIMEOUT)
        except (OSError, http.client.HTTPException) as exc:
            dead = self._dead()
            raise ServerCheckError(
                f"server check: the API server {'died: ' + dead if dead else f'did not answer: {exc}'}"
            ) from exc

    def resource(self, api_version: str, kind: str) -> tuple[str, bool] | None:
        """(plural, namespaced) of apiVersion/kind as the server serves it; None when it does not."""
        with self._lock:
            known = self._resources.get(api_version)
        if known is None or kind not in known:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            answer = self.request("GET", path)
            known = {}
            if answer.status_code == 200:
                for res in answer.json().get("resources", []):
                    if "/" not in res["name"]:
                        known[res["kind"]] = (res["name"], bool(res["namespaced"]))
            with self._lock:
                self._resources[api_version] = known
        return known.get(kind)

    def _collection(self, api_version: str, plural: str, namespace: str) -> str:
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"

    def create_namespace(self, name: str, level: str) -> None:
        """Create namespace NAME at Pod Security LEVEL (enforce and warn); one the server made itself
        (default, kube-system, kube-public) gets the labels by an update."""
        labels = {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "warn")}
        labels |= {f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "warn")}
        answer = self.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
        )
        if answer.status_code == 409:
            got = self.request("GET", f"/api/v1/namespaces/{name}")
            if got.status_code == 200:
                namespace = got.json()
                namespace["metadata"]["labels"] = {**(namespace["metadata"].get("labels") or {}), **labels}
                answer = self.request("PUT", f"/api/v1/namespaces/{name}", namespace)
                if (
                    answer.status_code == 200 and level != "privileged"
                ):  # admission reads labels from a cache: wait until it enforces them
                    self.wait_for(
                        lambda: bool(self.pod_refusal({"hostNetwork": True}, name)),
                        f"Pod Security to enforce {level} in namespace {name}",
                    )
        if answer.status_code not in (200, 201):
            raise ServerCheckError(
                f"server check: creating namespace {name} failed: {answer.status_code} {answer.text[:200]}"
            )

    def apply_crd(self, crd: dict[str, Any]) -> str:
        """Create CRD for real (its kinds must exist for the dry-runs); '' or the server's refusal."""
        answer = self.request(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, {"fieldValidation": "Strict"}
        )
        if answer.status_code in (201, 409):
            name = str((crd.get("metadata") or {}).get("name", ""))
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while time.monotonic() < deadline:  # Established: its kinds are served
                got = self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conditions = (got.json().get("status") or {}).get("conditions") or [] if got.status_code == 200 else []
                if any(
                    c.get("type") == "Established" and c.get("status") == "True" for c in conditions
                ) and self._discovered(crd):
                    return ""
                time.sleep(0.05)
            return f"CustomResourceDefinition {name} was not Established within {SETTLE_TIMEOUT:.0f}s"
        return _status_message(answer)

    def _discovered(self, crd: dict[str, Any]) -> bool:
        """Every served version of CRD's kind is in discovery (Established comes a little earlier)."""
        return all(self._served(crd))

    def _served(self, crd: dict[str, Any]) -> list[bool]:
        """For each version CRD serves: whether discovery lists its kind now (asked afresh)."""
        spec = crd.get("spec") or {}
        kind = str((spec.get("names") or {}).get("kind", ""))
        out: list[bool] = []
        for version in spec.get("versions") or []:
            if version.get("served", True):
                api_version = f"{spec.get('group')}/{version.get('name')}"
                with self._lock:
                    self._resources.pop(api_version, None)
                out.append(self.resource(api_version, kind) is not None)
        return out

    def _post(
        self, obj: dict[str, Any], namespace: str, params: dict[str, str], success_body: bool = True
    ) -> tuple[int, dict[str, Any], list[str]] | None:
        """POST OBJ into NAMESPACE (when its kind is namespaced): (status code, body, warnings), or None
        when the server does not serve its kind. SUCCESS_BODY false: a success's body (the object) is
        not parsed, {} instead (a dry-run reads only refusals: at 20,000 documents, parsing each
        object back costs seconds)."""
        served = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        if served is None:
            return None
        plural, namespaced = served
        body = obj
        if namespaced:
            body = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}
        answer = self.request(
            "POST", self._collection(str(obj["apiVersion"]), plural, namespace if namespaced else ""), body, params
        )
        if answer.status_code < 300 and not success_body:
            return answer.status_code, {}, _warnings(answer)
        try:
            data = answer.json()
        except ValueError:
            data = {"message": answer.text[:300]}
        return answer.status_code, data if isinstance(data, dict) else {}, _warnings(answer)

    def dry_run(self, obj: dict[str, Any], namespace: str) -> tuple[int, dict[str, Any], list[str]] | None:
        """POST OBJ with dryRun=All; (status code, Status body ({} on success), warnings), or None when the
        server does not serve its kind."""
        return self._post(obj, namespace, {"dryRun": "All", "fieldValidation": "Strict"}, success_body=False)

    def create(self, obj: dict[str, Any], namespace: str) -> tuple[int, dict[str, Any]] | None:
        """Create OBJ for real (a prerequisite the other documents need): (status code, the object
        created or the Status), or None when the server does not serve its kind. A ResourceQuota gets
        the status its controller would give it (nothing used), without which quota admission refuses."""
        answer = self._post(obj, namespace, {"fieldValidation": "Strict"})
        if answer is None:
            return None
        code, body, _ = answer
        if code == 201 and obj.get("kind") == "ResourceQuota" and obj.get("apiVersion") == "v1":
            hard = (body.get("spec") or {}).get("hard") or {}
            quota = {**body, "status": {"hard": hard, "used": dict.fromkeys(hard, "0")}}
            path = (
                self._collection("v1", "resourcequotas", namespace)
                + f"/{(body.get('metadata') or {}).get('name')}/status"
            )
            status = self.request("PUT", path, quota)
            if status.status_code != 200:
                raise ServerCheckError(
                    f"server check: setting the status of ResourceQuota {namespace}/{quota['metadata'].get('name')} failed: {_status_message(status)}"
                )
        return code, body

    def delete(self, obj: dict[str, Any], namespace: str) -> None:
        """Delete OBJ (created by create); a CRD is waited for until its kinds are no longer served."""
        served = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        name = str((obj.get("metadata") or {}).get("name", ""))
        if served is None or not name:
            return
        plural, namespaced = served
        path = self._collection(str(obj["apiVersion"]), plural, namespace if namespaced else "") + f"/{name}"
        answer = self.request("DELETE", path)
        if answer.status_code not in (200, 202, 404):
            raise ServerCheckError(f"server check: deleting {obj.get('kind')} {name} failed: {_status_message(answer)}")
        if obj.get("kind") == "CustomResourceDefinition":
            self.wait_for(
                lambda: self.request("GET", path).status_code == 404 and not any(self._served(obj)),
                f"CustomResourceDefinition {name} to go",
            )

    def pod_refusal(self, spec: dict[str, Any], namespace: str = PROBE_NAMESPACE) -> str:
        """The message with which the server refuses a minimal pod with SPEC added (dry-run, by default
        in a namespace of the gate's own), '' when it admits it: whether admission sees a PriorityClass,
        a RuntimeClass or a namespace's Pod Security level."""
        pod_spec = {"containers": [{"name": "probe", "image": "registry.k8s.io/pause:3.10"}], **spec}
        answer = self.dry_run(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dsgate-probe"}, "spec": pod_spec}, namespace
        )
        if answer is None or answer[0] < 300:
            return ""
        return str(answer[1].get("message", answer[0]))

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until CONDITION holds (the server's caches and controllers catch up); ServerCheckError after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise ServerCheckError(f"server check: timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.02)


def _status_message(answer: Answer) -> str:
    try:
        return str(answer.json().get("message", answer.text[:300]))
    except ValueError:
        return answer.text[:300]
