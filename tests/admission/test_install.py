"""`dsgate admission install/uninstall` on a real kube-apiserver (v1.36.3, with the policy status
controller): the set type-checks and enforces, install is all-or-nothing (each broken set leaves the
previous one exactly in place), a missing params object refuses, uninstall removes only dsgate's.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.admission import install, library, params, policies, render
from dsgate.admission.install import InstallError, Kubectl
from dsgate.admission.library import AdmissionError
from dsgate.admission.localserver import LocalServer
from dsgate.gate import controls
from dsgate.paths import rules_dir
from tests.support import POLICIES

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("admission-server")]

JSON = dict[str, Any]
VAPS = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"


@pytest.fixture(scope="module")
def full_set() -> list[JSON]:
    """Every rule with CEL, strict profile, each binding Warn (so every rule that fires is named)."""
    loaded = library.load(POLICIES)
    loaded = dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])
    return render.render(loaded, render.Options(settings=controls.Settings(profile="strict"), action="warn"))


@pytest.fixture
def kubectl(server: LocalServer) -> Iterator[Kubectl]:
    k = Kubectl(server.kubeconfig)
    yield k
    install.uninstall(k)


def _small(objects: list[JSON], rules: tuple[str, ...] = ("DS-HST-001", "DS-SEC-004", "DS-RES-001")) -> list[JSON]:
    """The CRD, the params object and RULES' policies and bindings of OBJECTS."""
    names = {policies.policy_name(r) for r in rules}
    return [
        o for o in objects if o["kind"] in ("CustomResourceDefinition", params.KIND) or o["metadata"]["name"] in names
    ]


def _state(k: Kubectl) -> list[tuple[str, str, str]]:
    """What dsgate has installed: (kind, name, spec as JSON)."""
    return sorted(
        (o["kind"], o["metadata"]["name"], json.dumps(o.get("spec"), sort_keys=True)) for o in install.installed(k)
    )


def _namespace(server: LocalServer) -> str:
    name = f"adm-{uuid.uuid4().hex[:6]}"
    answer = server.api.request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    assert answer.status_code == 201, answer.text
    return name


def _dry_run(server: LocalServer, ds: JSON, namespace: str) -> tuple[int, str, str]:
    """(status, message, warnings) of a dry-run create of DS in NAMESPACE."""
    body = {**ds, "metadata": {**ds["metadata"], "namespace": namespace}}
    answer = server.api.request("POST", f"/apis/apps/v1/namespaces/{namespace}/daemonsets", body, {"dryRun": "All"})
    message = answer.json().get("message", "") if answer.status_code >= 400 else ""
    return answer.status_code, message, answer.warning


def _until(
    server: LocalServer, ds: JSON, namespace: str, done: Callable[[int, str, str], bool], what: str
) -> tuple[int, str, str]:
    """The first dry-run outcome of DS in NAMESPACE that DONE accepts: the API server picks up created,
    changed and deleted policies, bindings and parameters a moment after the change."""
    deadline = time.monotonic() + 60
    while True:
        outcome = _dry_run(server, ds, namespace)
        if done(*outcome):
            return outcome
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)  # a condition wait: the change takes effect, no fixed delay
    raise AssertionError(f"{what} within 60 s; the last answer: {outcome}")


def _settled(server: LocalServer, rule: str) -> None:
    """Wait until admission enforces RULE's installed policy: its denied sample gets the rule's
    warning or refusal."""
    _until(
        server,
        _sample(rule, "denied"),
        _namespace(server),
        lambda _status, message, warnings: f"{rule}: " in message + warnings,
        f"{rule}'s policy was not enforced",
    )


def _sample(rule: str, verdict: str) -> JSON:
    for path in sorted(rules_dir(POLICIES).glob(f"*/samples/{rule}/{verdict}*.yaml")):
        for doc in yamlc.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "DaemonSet":
                return dict(doc)
    raise AssertionError(f"no {verdict} DaemonSet sample for {rule}")


def test_full_set_type_checks(server: LocalServer, kubectl: Kubectl, full_set: list[JSON]) -> None:
    """Every policy of the set installs, and its status.typeChecking is empty."""
    install.install(kubectl, full_set, progress=lambda _: None)
    vaps = server.api.request("GET", VAPS).json()["items"]
    ours = [v for v in vaps if v["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "dsgate"]
    assert len(ours) == len([o for o in full_set if o["kind"] == policies.VAP])
    assert [v["metadata"]["name"] for v in ours if v["status"].get("typeChecking")] == []


@pytest.mark.parametrize(
    ("rule", "verdict", "expected_named"),
    [
        # a denied sample: admission names the rule, with the gate's wording after the id
        ("DS-HST-001", "denied", True),
        ("DS-SEC-004", "denied", True),
        ("DS-RES-001", "denied", True),
        # an allowed sample: the rule stays silent
        ("DS-HST-001", "allowed", False),
        ("DS-RES-001", "allowed", False),
    ],
)
def test_set_enforces_the_rule(
    server: LocalServer, kubectl: Kubectl, full_set: list[JSON], rule: str, verdict: str, expected_named: bool
) -> None:
    install.install(kubectl, _small(full_set), progress=lambda _: None)
    _settled(server, rule)  # its policy is in effect, so an allowed sample's silence means something
    status, _, warnings = _dry_run(server, _sample(rule, verdict), _namespace(server))
    assert status == 201
    assert (f"{rule}: DaemonSet <" in warnings) == expected_named, warnings


def test_deny_binding_refuses_and_exemption_annotation_admits(
    server: LocalServer, kubectl: Kubectl, full_set: list[JSON]
) -> None:
    loaded = library.load(POLICIES)
    loaded = dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])
    deny = render.render(loaded, render.Options(settings=controls.Settings(profile="strict")))
    install.install(kubectl, _small(deny, ("DS-HST-001",)), progress=lambda _: None)
    namespace, ds = _namespace(server), _sample("DS-HST-001", "denied")
    # the Warn binding of an earlier install may still be in effect for a moment: wait for the refusal
    status, message, _ = _until(server, ds, namespace, lambda s, _m, _w: s != 201, "the Deny binding did not refuse")
    assert status == 422 and "DS-HST-001: DaemonSet <" in message, message
    exempt = copy.deepcopy(ds)
    exempt["metadata"].setdefault("annotations", {})["dsgate.io/exempt.DS-HST-001"] = "reviewed: the agent needs it"
    assert _dry_run(server, exempt, namespace)[0] == 201


def test_missing_params_object_refuses(server: LocalServer, kubectl: Kubectl, full_set: list[JSON]) -> None:
    """parameterNotFoundAction: Deny: without the object dsgate every DaemonSet a params-reading policy matches is refused."""
    small = _small(full_set, ("DS-HST-001",))
    assert "paramKind" in next(o for o in small if o["kind"] == policies.VAP)["spec"]
    install.install(kubectl, small, progress=lambda _: None)
    _settled(server, "DS-HST-001")
    kubectl.delete(install.RESOURCES[params.KIND], [params.NAME])
    status, message, _ = _until(
        server,
        _sample("DS-HST-001", "allowed"),
        _namespace(server),
        lambda s, _m, _w: s != 201,
        "the policy admitted without its parameters",
    )
    assert status >= 400 and "no params found" in message.lower(), message


def test_worst_case_daemonset_is_admitted(server: LocalServer, kubectl: Kubectl) -> None:
    """Issue 25: the strict set at its severities (Deny for deny rules) admits the worst-case DaemonSet
    (tests/admission/data, 30 containers with long lists) on the real kube-apiserver, with no rule
    warning: within its CEL cost limits, which the API server enforces only when it evaluates (it
    accepts every policy although celcost's static estimates exceed PerCallLimit: test_celcost.py)."""
    loaded = library.load(POLICIES)
    loaded = dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])
    strict = render.render(loaded, render.Options(settings=controls.Settings(profile="strict")))
    install.install(kubectl, strict, progress=lambda _: None)
    worst = yamlc.safe_load((Path(__file__).parent / "data" / "worst-case-daemonset.yaml").read_text())
    namespace = _namespace(server)
    # Enforcing once the worst case made to break one deny rule (DS-ROL-002: maxUnavailable above 25%) is refused.
    broken = copy.deepcopy(worst)
    broken["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = "100%"
    deadline = time.monotonic() + 60
    while _dry_run(server, broken, namespace)[0] != 422:
        assert time.monotonic() < deadline, "the strict set was not enforced within 60 s"
        time.sleep(0.2)  # a condition wait: the policies become active, no fixed delay
    status, message, warnings = _dry_run(server, worst, namespace)
    assert (status, message) == (201, "")
    assert "DS-" not in warnings, warnings


def _broken_cel(objects: list[JSON]) -> list[JSON]:
    out = copy.deepcopy(objects)
    vap = next(o for o in out if o["kind"] == policies.VAP)
    vap["spec"]["validations"][0]["expression"] = "object.spec.template.spec.hostNetwork =="  # a syntax error
    return out


def _type_error(objects: list[JSON]) -> list[JSON]:
    out = copy.deepcopy(objects)
    vap = next(o for o in out if o["kind"] == policies.VAP)
    vap["spec"]["validations"][0]["expression"] = "object.spec.templat.spec.hostNetwork != true"  # no such field
    return out


def _orphan_binding(objects: list[JSON]) -> list[JSON]:
    vap = next(o for o in objects if o["kind"] == policies.VAP)
    return [o for o in objects if o is not vap]


def _no_params(objects: list[JSON]) -> list[JSON]:
    return [o for o in objects if o["kind"] != params.KIND]


@pytest.mark.parametrize(
    ("break_set", "expected_error"),
    [
        # CEL that does not compile: the API refuses it at the dry-run, nothing changes
        (_broken_cel, "dry-run refused: .*ValidatingAdmissionPolicy"),
        # CEL that compiles but does not type-check: applied, found by the status controller, rolled back
        (_type_error, "does not type-check: .*undefined field 'templat'.*; the previous set was restored"),
        # a binding without its policy
        (_orphan_binding, "which the set does not contain"),
        # a policy reading params without the params object
        (_no_params, "reads params but the set has no DsgateParameters"),
    ],
)
def test_install_is_all_or_nothing(kubectl: Kubectl, full_set: list[JSON], break_set: Any, expected_error: str) -> None:
    previous = _small(full_set, ("DS-HST-001",))
    install.install(kubectl, previous, progress=lambda _: None)
    before = _state(kubectl)
    with pytest.raises(AdmissionError, match=expected_error) as err:
        install.install(kubectl, break_set(_small(full_set)), progress=lambda _: None)
    assert "\n" not in err.value.message
    assert _state(kubectl) == before


def test_first_install_failure_leaves_nothing(kubectl: Kubectl, full_set: list[JSON]) -> None:
    """No previous set: a failure after the apply removes all it created, the CRD included."""
    with pytest.raises(InstallError, match="does not type-check"):
        install.install(kubectl, _type_error(_small(full_set)), progress=lambda _: None)
    assert _state(kubectl) == []


def test_install_replaces_and_prunes(kubectl: Kubectl, full_set: list[JSON]) -> None:
    """A new set replaces the previous one: policies it no longer has are deleted."""
    install.install(kubectl, _small(full_set, ("DS-HST-001", "DS-SEC-004")), progress=lambda _: None)
    install.install(kubectl, _small(full_set, ("DS-SEC-004", "DS-RES-001")), progress=lambda _: None)
    names = {name for kind, name, _ in _state(kubectl) if kind == policies.VAP}
    assert names == {"ds-sec-004.dsgate.io", "ds-res-001.dsgate.io"}


def test_uninstall_removes_only_dsgates(server: LocalServer, kubectl: Kubectl, full_set: list[JSON]) -> None:
    install.install(kubectl, _small(full_set), progress=lambda _: None)
    other = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": f"other-{uuid.uuid4().hex[:6]}.example.com"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["daemonsets"],
                    }
                ]
            },
            "validations": [{"expression": "true"}],
        },
    }
    assert server.api.request("POST", VAPS, other).status_code == 201
    removed = install.uninstall(kubectl)
    assert len(removed) == len(_small(full_set))
    assert _state(kubectl) == []
    assert server.api.request("GET", f"{VAPS}/{other['metadata']['name']}").status_code == 200
    server.api.request("DELETE", f"{VAPS}/{other['metadata']['name']}")


HOLD = "test.dsgate.io/hold"  # a finalizer of the test's own: keeps the params CRD terminating until removed
SMALL_SET_KINDS = {install.CRD_KIND, params.KIND, policies.VAP, policies.VAP_BINDING}


def _finalizers(k: Kubectl) -> list[str]:
    return list(k.get(install.RESOURCES[install.CRD_KIND], [install.CRD_NAME])[0]["metadata"].get("finalizers") or [])


def _crd_left(k: Kubectl) -> str:
    """The params CRD as kubectl names it, "" once it is gone."""
    return k.run(["get", install.CRD_REF, "--ignore-not-found", "-o", "name"]).strip()


def _hold(k: Kubectl) -> None:
    """Add HOLD to the params CRD: deleted, it terminates (its custom resources go) and stays."""
    patch = [{"op": "add", "path": "/metadata/finalizers", "value": [*_finalizers(k), HOLD]}]
    k.run(["patch", install.CRD_REF, "--type=json", "-p", json.dumps(patch)])


def _release(k: Kubectl, thread: threading.Thread) -> None:
    """Once the CRD's own finalizer is done, remove HOLD, and wait for THREAD."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _finalizers(k) != [HOLD]:
        time.sleep(0.1)  # a condition wait on the API server's cleanup of the custom resources
    if _finalizers(k) == [HOLD]:
        k.run(
            [
                "patch",
                install.CRD_REF,
                "--type=json",
                "-p",
                json.dumps([{"op": "remove", "path": "/metadata/finalizers/0"}]),
            ]
        )
    thread.join(120)


def test_uninstall_returns_once_the_crd_is_gone(kubectl: Kubectl, full_set: list[JSON]) -> None:
    """An uninstall that returned while the CRD still terminated made the next install fail (CI:
    `the server doesn't have a resource type "dsgateparameters"`): uninstall waits for the CRD's
    deletion, here held by a finalizer until uninstall says it waits (or has returned)."""
    install.install(kubectl, _small(full_set), progress=lambda _: None)
    _hold(kubectl)
    waiting, left = threading.Event(), []  # left: what was there when uninstall returned

    def run() -> None:
        try:
            install.uninstall(kubectl, progress=lambda line: waiting.set() if "waiting until" in line else None)
            left.append(_crd_left(kubectl))
        finally:
            waiting.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert waiting.wait(120)
    _release(kubectl, thread)
    assert left == [""]
    install.install(kubectl, _small(full_set), progress=lambda _: None)
    assert {kind for kind, _, _ in _state(kubectl)} == SMALL_SET_KINDS


def test_install_waits_out_a_crd_being_deleted(kubectl: Kubectl, full_set: list[JSON]) -> None:
    """A CRD left terminating (by `kubectl delete --wait=false`, or an older dsgate's uninstall) is
    waited out, then the set is installed afresh: applying a terminating CRD does not stop its
    deletion (before, install said it had installed a set whose CRD and params object then vanished)."""
    install.install(kubectl, _small(full_set), progress=lambda _: None)
    _hold(kubectl)
    kubectl.run(["delete", install.CRD_REF, "--wait=false"])
    waiting, outcome = threading.Event(), []

    def progress(line: str) -> None:
        if "being deleted" in line:
            waiting.set()

    def run() -> None:
        try:
            install.install(kubectl, _small(full_set), progress=progress)
            outcome.append("installed")
        except AdmissionError as exc:
            outcome.append(exc.message)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert waiting.wait(60) or outcome, "install did not start waiting for the CRD"
        assert not outcome, outcome  # it waits: it has neither installed nor failed
    finally:
        _release(kubectl, thread)
    assert outcome == ["installed"]
    assert {kind for kind, _, _ in _state(kubectl)} == SMALL_SET_KINDS


@pytest.mark.parametrize(
    ("argv", "expected_rc", "expected_err"),
    [
        # a set whose CEL does not compile, from a file: exit 2, one line naming the cause
        (["install", "-f", "{broken}"], 2, "dsgate admission install: error: dry-run refused"),
        # a rendered set with a binding whose policy is missing
        (["install", "-f", "{orphan}"], 2, "which the set does not contain; render the set again"),
        # uninstall of an empty cluster: nothing to do
        (["uninstall"], 0, ""),
    ],
)
def test_cli(
    server: LocalServer, full_set: list[JSON], tmp_path: Path, argv: list[str], expected_rc: int, expected_err: str
) -> None:
    files = {"broken": _broken_cel(_small(full_set)), "orphan": _orphan_binding(_small(full_set))}
    for name, objects in files.items():
        (tmp_path / f"{name}.yaml").write_text(render.dump(objects))
    args = [a.format(**{n: str(tmp_path / f"{n}.yaml") for n in files}) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "admission", *args, "--kubeconfig", str(server.kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == expected_rc, proc.stderr
    assert expected_err in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == (1 if expected_err else 0), proc.stderr


@pytest.mark.parametrize(
    ("stderr", "expected_error"),
    [
        # RBAC refuses: the error names what install needs
        (
            'Error from server (Forbidden): ... "alice" cannot list resource',
            "forbidden .*; dsgate admission needs get, list",
        ),
        # no cluster
        (
            "Unable to connect to the server: dial tcp 127.0.0.1:1: connect: connection refused",
            "cannot reach the cluster",
        ),
        # anything else: the server's first error line
        ("Error from server (Invalid): spec.validations[0]: bad", "refused: Error from server \\(Invalid\\)"),
    ],
)
def test_kubectl_errors_name_the_cause(stderr: str, expected_error: str) -> None:
    with pytest.raises(InstallError, match=expected_error):
        raise install._error(stderr, "apply")


@pytest.mark.parametrize(
    ("names", "expected_processes"),
    [
        pytest.param(["p0"], 1, id="one-chunk"),
        pytest.param([f"p{i}" for i in range(install.DELETE_CHUNK * 3 + 1)], 4, id="four-chunks-in-parallel"),
    ],
)
def test_delete_error_of_any_chunk_is_raised(tmp_path: Path, names: list[str], expected_processes: int) -> None:
    """Kubectl.delete sends DELETE_CHUNK names per kubectl process, concurrently: every process runs, and
    a failure (here: no cluster at the address) is the caller's InstallError, not lost in a thread."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
        "current-context": "gone",
    }
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps(config))
    argvs: list[list[str]] = []
    k = Kubectl(kubeconfig)
    original = k.run

    def counted(args: list[str], stdin: str | None = None, what: str = "") -> str:
        argvs.append(list(args))
        return original(args, stdin, what)

    object.__setattr__(k, "run", counted)  # Kubectl is frozen: count the real kubectl runs
    with pytest.raises(InstallError, match="cannot reach the cluster"):
        k.delete(install.RESOURCES[policies.VAP], names)
    assert len(argvs) == expected_processes
    assert sorted(n for argv in argvs for n in argv[2 : argv.index("--ignore-not-found")]) == sorted(names)
