"""`dsgate admission render --mutate` on a real kube-apiserver (v1.36.3): each MutatingAdmissionPolicy
changes a DaemonSet its validating policy would refuse into one that policy admits, and nothing else.

The table runs every DaemonSet twice on the same server: first with the rendered set without its
mutating policies (the object as the API server defaults it, and the rules that name it), then with
them. The second object must be the first with exactly the expected change (byte-equal otherwise),
and the rules naming it the first ones minus those the change fixes: a mutation never makes another
rule fire. Every binding is Warn there (dsgate.admission.verify.shadow), so each policy answers; the
enforcing set (Deny by severity) then admits the mutated object and still refuses one no mutation
applies to.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.admission import install, library, params, policies, render, verify
from dsgate.admission.install import Kubectl
from dsgate.admission.localserver import LocalServer
from dsgate.gate import controls
from dsgate.paths import rules_dir
from dsgate.tools import tool_path
from tests.support import POLICIES

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("admission-server")]

JSON = dict[str, Any]
TOL, PRI = "DS-TOL-004", "DS-PRI-001"
MUTATING = (TOL, PRI)
NO_EXECUTE = {"operator": "Exists", "effect": "NoExecute"}
NODE_CRITICAL = "system-node-critical"
SETTLE_TIMEOUT = 60.0
# The policies named in the API server's warnings: `Validation failed for ValidatingAdmissionPolicy 'NAME'`.
_NAMED = re.compile(r"ValidatingAdmissionPolicy '([a-z0-9-]+)\.dsgate\.io'")


def _sample(rule: str, name: str) -> JSON:
    """The DaemonSet of policies/dsgate/rules/*/samples/RULE/NAME.yaml."""
    (path,) = rules_dir(POLICIES).glob(f"*/samples/{rule}/{name}.yaml")
    return next(d for d in yamlc.safe_load_all(path.read_text()) if d and d.get("kind") == "DaemonSet")


def _pod(ds: JSON) -> JSON:
    return dict(ds["spec"]["template"]["spec"])


def _with_pod(ds: JSON, **fields: Any) -> JSON:
    """DS with pod template fields set (a value None removes the field)."""
    out = copy.deepcopy(ds)
    pod = out["spec"]["template"]["spec"]
    for key, value in fields.items():
        if value is None:
            pod.pop(key, None)
        else:
            pod[key] = value
    return out


def _exempt(ds: JSON, rule: str) -> JSON:
    out = copy.deepcopy(ds)
    out["metadata"].setdefault("annotations", {})[f"dsgate.io/exempt.{rule}"] = "reviewed: the platform team's call"
    return out


def _renamed(ds: JSON, label: str, image: str) -> JSON:
    """DS with every name label LABEL (selector included) and its one container's image IMAGE."""
    out = copy.deepcopy(ds)
    for labels in (
        out["metadata"]["labels"],
        out["spec"]["selector"]["matchLabels"],
        out["spec"]["template"]["metadata"]["labels"],
    ):
        labels["app.kubernetes.io/name"] = label
    out["metadata"]["name"] = label
    (container,) = out["spec"]["template"]["spec"]["containers"]
    container["image"] = image
    return out


UNKNOWN_IMAGE = "registry.example.com/team/my-agent:1.0.0@sha256:" + "0" * 64

CASES = [
    # DS-TOL-004: a DaemonSet meant for every node without a key-less Exists NoExecute toleration
    pytest.param(
        lambda: _sample(TOL, "denied"), {TOL}, [NO_EXECUTE], None, {TOL}, id="tol-denied-appends-to-noschedule"
    ),
    pytest.param(
        # the controller's own not-ready/unreachable tolerations and the control-plane one are kept, in order
        lambda: _sample(TOL, "denied-not-ready-only"),
        {TOL},
        [NO_EXECUTE],
        None,
        {TOL},
        id="tol-not-ready-only-keeps-all-three",
    ),
    pytest.param(
        # no tolerations at all: the list is created (DS-TOL-001 still names it: not fixed by this mutation)
        lambda: _with_pod(_sample(TOL, "denied"), tolerations=None),
        {TOL},
        [NO_EXECUTE],
        None,
        {TOL},
        id="tol-no-list-creates-it",
    ),
    pytest.param(
        # an empty list is the same as none after decoding
        lambda: _with_pod(_sample(TOL, "denied"), tolerations=[]),
        {TOL},
        [NO_EXECUTE],
        None,
        {TOL},
        id="tol-empty-list",
    ),
    pytest.param(
        # every shape of toleration kept as written (Equal with a value, PreferNoSchedule, a timed
        # NoExecute one that DS-TOL-003 names before and after)
        lambda: _with_pod(
            _sample(TOL, "denied"),
            tolerations=[
                {"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"},
                {"key": "example.com/soft", "operator": "Exists", "effect": "PreferNoSchedule"},
                {"key": "example.com/drain", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                {"operator": "Exists", "effect": "NoSchedule"},
            ],
        ),
        {TOL},
        [NO_EXECUTE],
        None,
        {TOL},
        id="tol-four-kept-in-order",
    ),
    pytest.param(lambda: _sample(TOL, "allowed"), set(), [], None, set(), id="tol-allowed-unchanged"),
    pytest.param(lambda: _sample(TOL, "allowed-blanket"), set(), [], None, set(), id="tol-blanket-unchanged"),
    pytest.param(
        # narrowed to GPU nodes: not meant for every node
        lambda: _sample(TOL, "allowed-gpu-node-selector"),
        set(),
        [],
        None,
        set(),
        id="tol-gpu-selector-unchanged",
    ),
    pytest.param(
        # exempt by annotation: a matchCondition keeps the mutating policy off it, the exempt variable passes the validating one
        lambda: _exempt(_sample(TOL, "denied"), TOL),
        set(),
        [],
        None,
        set(),
        id="tol-exempt-unchanged",
    ),
    # DS-PRI-001: an agent of the catalogue without a priorityClassName
    pytest.param(lambda: _sample(PRI, "denied"), {PRI}, [], NODE_CRITICAL, {PRI}, id="pri-catalogue-agent-set"),
    pytest.param(lambda: _sample(PRI, "allowed"), set(), [], None, set(), id="pri-allowed-unchanged"),
    pytest.param(
        # not an agent of the catalogue: its author chooses its class
        lambda: _renamed(_sample(PRI, "denied"), "my-agent", UNKNOWN_IMAGE),
        {PRI},
        [],
        None,
        set(),
        id="pri-unknown-agent-unchanged",
    ),
    pytest.param(
        # a catalogue name label but another image: not the catalogue's agent (lib.well_known_agent needs both)
        lambda: _renamed(_sample(PRI, "denied"), "node-exporter", UNKNOWN_IMAGE),
        {PRI},
        [],
        None,
        set(),
        id="pri-catalogue-label-other-image-unchanged",
    ),
    pytest.param(
        # a class the author chose, not allowed: left for the validating policy to refuse
        lambda: _with_pod(_sample(PRI, "denied"), priorityClassName="low-priority"),
        {PRI},
        [],
        None,
        set(),
        id="pri-explicit-class-unchanged",
    ),
    pytest.param(lambda: _exempt(_sample(PRI, "denied"), PRI), set(), [], None, set(), id="pri-exempt-unchanged"),
    pytest.param(
        # both at once: both mutations apply, each keeps the other's field
        lambda: _with_pod(_sample(TOL, "denied"), priorityClassName=None),
        {TOL, PRI},
        [NO_EXECUTE],
        NODE_CRITICAL,
        {TOL, PRI},
        id="both-rules",
    ),
]


def _render(action: str, mutate: bool, profile: str = "strict") -> list[JSON]:
    options = render.Options(settings=controls.Settings(profile=profile), action=action, mutate=mutate)
    return render.render(library.load(POLICIES), options)


def _namespace(server: LocalServer) -> str:
    name = f"mut-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    answer = server.api.request("POST", "/api/v1/namespaces", body)
    assert answer.status_code == 201, answer.text
    return name


def _dry_run(server: LocalServer, ds: JSON, namespace: str) -> tuple[int, JSON, str]:
    """(status, the returned object or the Status, warnings) of a dry-run create of DS in NAMESPACE."""
    body = {**ds, "metadata": {**ds["metadata"], "namespace": namespace}}
    answer = server.api.request("POST", f"/apis/apps/v1/namespaces/{namespace}/daemonsets", body, {"dryRun": "All"})
    return answer.status_code, answer.json(), answer.warning


def _named(warnings: str) -> set[str]:
    return {m.upper() for m in _NAMED.findall(warnings)} - {verify.PROBE.split(".")[0].upper()}


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {SETTLE_TIMEOUT:g} s")
        time.sleep(0.2)  # a condition wait: admission loads new policies a moment after they are created


def _probe_named(server: LocalServer, namespace: str) -> bool:
    probe = _renamed(_sample(TOL, "allowed"), "probe", UNKNOWN_IMAGE)
    probe["metadata"]["labels"][verify.PROBE_LABEL] = "true"  # the probe policy's objectSelector
    return verify.PROBE in _dry_run(server, probe, namespace)[2]


def _mutated(server: LocalServer, namespace: str) -> bool:
    """Both mutating policies act: the denied samples come back changed."""
    _, tol, _ = _dry_run(server, _sample(TOL, "denied"), namespace)
    _, pri, _ = _dry_run(server, _sample(PRI, "denied"), namespace)
    return NO_EXECUTE in _pod(tol).get("tolerations", []) and _pod(pri).get("priorityClassName") == NODE_CRITICAL


@pytest.fixture(scope="module")
def kubectl(server: LocalServer) -> Iterator[Kubectl]:
    k = Kubectl(server.kubeconfig)
    yield k
    install.uninstall(k)


@pytest.fixture(scope="module")
def answers(server: LocalServer, kubectl: Kubectl) -> dict[str, tuple[tuple[JSON, set[str]], tuple[JSON, set[str]]]]:
    """Per case id: (the object and the rules naming it without the mutating policies, the same with them)."""
    namespace = _namespace(server)
    daemonsets = {p.id: p.values[0]() for p in CASES}
    out: dict[str, list[tuple[JSON, set[str]]]] = {name: [] for name in daemonsets}
    for mutate in (False, True):
        install.install(kubectl, verify.shadow(_render("warn", mutate)), progress=lambda _: None)
        _wait(lambda: _probe_named(server, namespace), "admission did not load the validating policies")
        if mutate:
            _wait(lambda: _mutated(server, namespace), "admission did not load the mutating policies")
        for name, ds in daemonsets.items():
            status, obj, warnings = _dry_run(server, ds, namespace)
            assert status == 201, (name, obj)
            out[name].append((obj, _named(warnings)))
    return {name: (pair[0], pair[1]) for name, pair in out.items()}


def test_render_mutate_has_one_policy_per_mutation() -> None:
    objects = _render("severity", mutate=True)
    maps = [o for o in objects if o["kind"] == policies.MAP]
    assert sorted(o["metadata"]["annotations"][policies.RULE_ANNOTATION] for o in maps) == sorted(MUTATING)
    bindings = {o["spec"]["policyName"] for o in objects if o["kind"] == policies.MAP_BINDING}
    assert bindings == {o["metadata"]["name"] for o in maps}
    assert all(o["spec"]["reinvocationPolicy"] == "Never" and o["spec"]["failurePolicy"] == "Fail" for o in maps)
    assert [o for o in _render("severity", mutate=False) if o["kind"] == policies.MAP] == []


def test_known_agent_copies_agree() -> None:
    """DS-PRI-001's mutation reads the catalogue with the same CEL as the tolerations and security rules."""
    loaded = library.load(POLICIES)
    mutation = loaded.cel[PRI].mutation
    assert mutation is not None
    mine = {v["name"]: v["expression"] for v in mutation.variables}
    for rule in ("DS-TOL-002", "DS-SEC-004"):
        theirs = {v["name"]: v["expression"] for v in loaded.cel[rule].variables}
        assert {k: theirs[k] for k in ("nameLabels", "imagePaths", "knownAgent")} == mine


@pytest.mark.parametrize(
    ("build", "expected_named_before", "expected_appended", "expected_priority", "expected_fixed"), CASES
)
def test_mutation(
    request: pytest.FixtureRequest,
    answers: dict[str, tuple[tuple[JSON, set[str]], tuple[JSON, set[str]]]],
    build: Callable[[], JSON],
    expected_named_before: set[str],
    expected_appended: list[JSON],
    expected_priority: str | None,
    expected_fixed: set[str],
) -> None:
    del build  # built once for both phases, in `answers`
    case = request.node.callspec.id
    (before, named_before), (after, named_after) = answers[case]
    assert named_before & set(MUTATING) == expected_named_before
    # exactly the expected change: the pod's tolerations with EXPECTED_APPENDED at the end, the class set
    expected = copy.deepcopy(before["spec"])
    pod = expected["template"]["spec"]
    if expected_appended:
        pod["tolerations"] = [*pod.get("tolerations", []), *expected_appended]
    if expected_priority is not None:
        pod["priorityClassName"] = expected_priority
    assert json.dumps(after["spec"], sort_keys=True) == json.dumps(expected, sort_keys=True)
    # the fixed rules no longer fire, and no rule fires that did not before
    assert named_after == named_before - expected_fixed


def test_enforcing_set_admits_the_mutated_object(server: LocalServer, kubectl: Kubectl) -> None:
    """With the bindings' own actions (DS-PRI-001 Deny), the mutated catalogue agent is created; one
    whose author chose a class that is not allowed is refused by the validating policy."""
    install.install(kubectl, _render("severity", mutate=True, profile="baseline"), progress=lambda _: None)
    namespace = _namespace(server)
    _wait(lambda: _mutated(server, namespace), "admission did not load the mutating policies")
    status, obj, warnings = _dry_run(server, _with_pod(_sample(TOL, "denied"), priorityClassName=None), namespace)
    assert status == 201, obj
    assert _pod(obj)["priorityClassName"] == NODE_CRITICAL and _pod(obj)["tolerations"][-1] == NO_EXECUTE
    assert not {TOL, PRI} & _named(warnings), warnings
    # a class its author chose, not allowed: no mutation, refused by DS-PRI-001 (and by it alone)
    chosen = _with_pod(_sample(PRI, "denied"), priorityClassName="low-priority")
    _wait(lambda: _dry_run(server, chosen, namespace)[0] == 422, "DS-PRI-001's Deny binding did not load")
    status, obj, _ = _dry_run(server, chosen, namespace)
    assert status == 422 and "DS-PRI-001: DaemonSet <" in obj["message"], obj


def test_no_class_set_when_node_critical_is_not_allowed(server: LocalServer, kubectl: Kubectl) -> None:
    """allowed_priority_classes without system-node-critical: setting it would not pass, so no mutation."""
    objects = _render("warn", mutate=True)
    given = next(o for o in objects if o["kind"] == params.KIND)
    given["spec"]["allowed_priority_classes"] = ["agents-critical"]
    install.install(kubectl, objects, progress=lambda _: None)
    namespace = _namespace(server)
    allowed = _sample(PRI, "allowed")  # system-node-critical: named once the new params are read
    _wait(lambda: PRI + ":" in _dry_run(server, allowed, namespace)[2], "admission did not read the new params")
    _wait(
        lambda: NO_EXECUTE in _pod(_dry_run(server, _sample(TOL, "denied"), namespace)[1]).get("tolerations", []),
        "DS-TOL-004's mutation did not load",
    )
    status, obj, warnings = _dry_run(server, _sample(PRI, "denied"), namespace)
    assert status == 201
    assert "priorityClassName" not in _pod(obj)
    assert "DS-PRI-001: DaemonSet <" in warnings


def _kubectl_dry_run(server: LocalServer, path: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        str(tool_path("kubectl")),
        "apply",
        "--dry-run=server",
        "-f",
        str(path),
        f"--kubeconfig={server.kubeconfig}",
    ]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def test_rendered_set_applies_with_kubectl_dry_run(server: LocalServer, kubectl: Kubectl, tmp_path: Path) -> None:
    """The set `dsgate admission render --mutate` prints, into `kubectl apply --dry-run=server`: on a
    cluster without the DsgateParameters CRD only the params object is refused (its kind is not served
    yet: README says so); with the CRD every object is accepted, and nothing is created. (The README
    test runs the same through the CLI, whose render also verifies the set.)"""
    out = tmp_path / "admission.yaml"
    objects = _render("severity", mutate=True, profile="baseline")
    out.write_text(render.dump(objects))
    install.uninstall(kubectl)  # the CRD too, if a test before installed it
    first = _kubectl_dry_run(server, out)
    assert first.returncode == 1
    # kubectl names the kind it cannot map, or (its discovery a moment old) the server the resource
    assert re.search(r'no matches for kind "DsgateParameters"|\(post dsgateparameters\.dsgate\.io\)', first.stderr), (
        first.stderr
    )
    assert len(first.stdout.strip().splitlines()) == len(objects) - 1, first.stdout
    # the CRD, as install applies it first
    crd = [o for o in objects if o["kind"] == install.CRD_KIND]
    kubectl.run(["apply", "--server-side", "--field-manager=test", "-f", "-"], stdin=render.dump(crd))
    kubectl.run(["wait", "--for=condition=Established", f"crd/{install.CRD_NAME}", "--timeout=60s"])
    applied = _kubectl_dry_run(server, out)
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.strip().splitlines()
    assert len(lines) == len(objects)
    assert all(line.endswith("(server dry run)") for line in lines), applied.stdout
    assert sum("mutatingadmissionpolicy.admissionregistration.k8s.io/" in line for line in lines) == len(MUTATING)
    assert [o["kind"] for o in install.installed(kubectl)] == [install.CRD_KIND]
