"""The generated policies installed in shadow on a real kube-apiserver, and admission's verdict read back.

Every binding dsgate renders is installed as it is except for its validationActions, which become
[Warn]: admission then refuses nothing, a dry-run create returns the object as the API server
defaulted it (the input of the gate's second verdict), and each policy that fails adds one warning
in the API server's own envelope, `Validation failed for ValidatingAdmissionPolicy '<policy>' with
binding '<binding>': <message>`. The verdict is the set of policies named in those envelopes, never
read from the message. Why not the `Audit` action and the audit log: the API server records one
`validation.policy.admission.k8s.io/validation_failure` annotation per request (admission
attributes refuse to overwrite a key), so a second failing policy would be lost.

What could still be lost is guarded: past 4 KiB of warnings the API server truncates each to 256
characters (the policy's name and the rule id stay) and then drops those that no longer fit; a
response where that may have happened is reported incomplete. A
policy's message that does not start with its rule id is a CEL evaluation error (or a broken
message contract), reported apart. After the run, the server's own count of warnings per policy
(apiserver_validating_admission_policy_check_total) must equal the count read from the responses.

A probe policy of the differential's own (matching only objects labelled dsgate.io/diff-probe)
echoes the params object's resourceVersion: when its warning shows the version just written,
admission sees the new parameters (the policies read them from one informer) and every policy
installed before the probe.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dsgate.gate.servercheck import Answer, ApiServer, ServerCheckError, warning_texts

POLICY_GROUP = "admissionregistration.k8s.io/v1"
PROBE_POLICY = "dsgate-diff-probe.dsgate.io"
PROBE_LABEL = "dsgate.io/diff-probe"
MANAGED_BY = {"app.kubernetes.io/managed-by": "dsgate"}
# What sync installs, in this order (a binding after its policy, the params object before the bindings
# that name it); the mutating policies are not judged here (render --mutate has its own tests).
KINDS = (
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
    "DsgateParameters",
    "ValidatingAdmissionPolicyBinding",
)
SKIPPED = ("MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")
# The API server's warning recorder: past TOTAL runes of warnings it truncates every warning to ITEM
# runes, then drops a warning that no longer fits; it never drops one before truncating.
WARNING_TOTAL = 4 * 1024
WARNING_ITEM = 256
_ENVELOPE = re.compile(
    r"^Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding '([^']+)': (.*)$", re.S
)
_CHECKS = re.compile(
    r"^apiserver_validating_admission_policy_check_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$", re.M
)
_DURATION = re.compile(
    r"^apiserver_validating_admission_policy_check_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$", re.M
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

JSON = dict[str, Any]


class AdmissionTestError(ServerCheckError):
    """The policies could not be installed or judged on the API server (exit 2)."""


@dataclass(frozen=True)
class Admitted:
    """What the API server answered for one dry-run create."""

    status: int
    defaulted: JSON  # the object as created (defaults applied), {} when refused
    fired: frozenset[str]  # rule ids whose policy failed
    errors: tuple[str, ...] = ()  # policies whose decision was no message of theirs (a CEL error)
    incomplete: bool = False  # warnings reached the API server's limit: some may be missing
    refusal: str = ""  # the API server's message when it refused the object (a schema error)


def rule_of(policy: JSON) -> str:
    """The rule id a rendered policy enforces: its dsgate.io/rule label or annotation, else its name."""
    meta = policy.get("metadata") or {}
    for where in ("labels", "annotations"):
        rule = (meta.get(where) or {}).get("dsgate.io/rule")
        if rule:
            return str(rule)
    return str(meta.get("name", "")).removesuffix(".dsgate.io").upper()


def _path(api: ApiServer, obj: JSON) -> str:
    served = api.resource(str(obj["apiVersion"]), str(obj["kind"]))
    if served is None:
        raise AdmissionTestError(f"admission test: the API server does not serve {obj['apiVersion']} {obj['kind']}")
    plural, _ = served
    base = f"/apis/{obj['apiVersion']}" if "/" in str(obj["apiVersion"]) else f"/api/{obj['apiVersion']}"
    return f"{base}/{plural}"


def _shadow(binding: JSON) -> JSON:
    return {**binding, "spec": {**(binding.get("spec") or {}), "validationActions": ["Warn"]}}


def _terse(policy: JSON) -> JSON:
    """POLICY whose every message is its rule id and the validation's index alone: the verdict is
    the same (a message never decides it), and a warning of ~120 runes keeps all of them inside the
    API server's 4 KiB cap, where the full messages (a sentence per offending container) made it drop
    some. The index keeps the messages of a policy's validations apart: the API server records a
    warning text once per response, so two failing validations with the same message would carry one
    warning where it counts two checks. The full messages are type-checked by render itself (verify)."""
    rule = rule_of(policy)
    spec = policy.get("spec") or {}
    validations = [
        {k: v for k, v in {**item, "messageExpression": f"'{rule}: fired {i}'"}.items() if k != "message"}
        for i, item in enumerate(spec.get("validations") or [])
    ]
    return {**policy, "spec": {**spec, "validations": validations}}


def may_have_dropped(warnings: Sequence[str]) -> bool:
    """Whether the API server may have dropped a warning of this response: it truncated them (each is
    at most WARNING_ITEM runes, one exactly) and less room than one more is left."""
    truncated = bool(warnings) and max(len(w) for w in warnings) == WARNING_ITEM
    return truncated and WARNING_TOTAL - sum(len(w) for w in warnings) < WARNING_ITEM


class ShadowAdmission:
    """The rendered policies on API, their bindings turned into Warn; judge() dry-runs a DaemonSet."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.rules: dict[str, str] = {}  # policy name -> rule id
        self.params: JSON = {}  # the params object as last written
        self.warned: Counter[str] = Counter()  # policy -> warnings read from responses
        self.namespaces: set[str] = set()
        self._written: dict[tuple[str, str], JSON] = {}  # (kind, name) -> what was last written
        self._generation = 0  # syncs so far: the probe's message names the current one
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Answer:
        """API.request, once more on a new connection when the kept-alive one fails: the API server
        closes a connection that stayed idle (this thread's, while the gate judged a group)."""
        try:
            return self.api.request(method, path, body, params)
        except ServerCheckError:
            return self.api.request(method, path, body, params)

    # ---------------------------------------------------------------------------- installation

    def _put(self, obj: JSON) -> JSON:
        """Create OBJ, or replace the one of its name; the object as stored."""
        collection = _path(self.api, obj)
        answer = self.request("POST", collection, obj, {"fieldValidation": "Strict"})
        if answer.status_code == 409:
            name = obj["metadata"]["name"]
            current = self.request("GET", f"{collection}/{name}").json()
            body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}}
            answer = self.request("PUT", f"{collection}/{name}", body, {"fieldValidation": "Strict"})
        if answer.status_code not in (200, 201):
            raise AdmissionTestError(
                f"admission test: the API server refused {obj.get('kind')} {obj['metadata'].get('name')}: "
                f"{str(answer.json().get('message', answer.text))[:400]}"
            )
        stored: JSON = answer.json()
        return stored

    def sync(self, objects: Iterable[JSON]) -> None:
        """Install what `dsgate admission render` gives (the params CRD and object, the policies, their
        bindings as Warn), writing only what changed since the last sync, then wait until admission
        judges with it (the probe, rewritten last).

        kube-apiserver recompiles its policies once a second (policyRefreshIntervalDefault), so a
        sync that writes a policy, a binding or the CRD rewrites the probe and waits for a refresh;
        one that changes only the params object waits only for the params informer: the probe
        echoes the new resourceVersion at once, as the other policies then read it."""
        objects = list(objects)
        unknown = sorted({str(o.get("kind")) for o in objects} - set(KINDS) - set(SKIPPED))
        if unknown:
            raise AdmissionTestError(
                f"admission test: the rendered policies hold kinds it cannot install: {', '.join(unknown)}"
            )
        refresh = self._generation == 0  # a policy, binding or the CRD written
        for kind in KINDS:
            for obj in (o for o in objects if o.get("kind") == kind):
                wanted = _shadow(obj) if kind == "ValidatingAdmissionPolicyBinding" else obj
                wanted = _terse(obj) if kind == "ValidatingAdmissionPolicy" else wanted
                key = (kind, obj["metadata"]["name"])
                if self._written.get(key) == wanted:
                    continue
                if kind == "CustomResourceDefinition":
                    if refusal := self.api.apply_crd(obj):
                        raise AdmissionTestError(f"admission test: the params CRD was refused: {refusal}")
                    stored = obj
                else:
                    stored = self._put(wanted)
                self._written[key] = wanted
                refresh = refresh or kind != "DsgateParameters"
                if kind == "ValidatingAdmissionPolicy":
                    self.rules[obj["metadata"]["name"]] = rule_of(obj)
                elif kind == "DsgateParameters":
                    self.params = stored
        if not self.params:
            raise AdmissionTestError("admission test: the rendered policies hold no DsgateParameters object")
        if refresh:
            self._generation += 1
            self._install_probe()
        self.wait_until_current()

    def _install_probe(self) -> None:
        """The probe policy (its message names this sync's generation) and its binding."""
        kind = {"apiVersion": self.params["apiVersion"], "kind": self.params["kind"]}
        self._put(
            {
                "apiVersion": POLICY_GROUP,
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": PROBE_POLICY, "labels": MANAGED_BY},
                "spec": {
                    "failurePolicy": "Fail",
                    "paramKind": kind,
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": ["apps"],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["daemonsets"],
                            }
                        ],
                        "objectSelector": {"matchLabels": {PROBE_LABEL: "true"}},
                    },
                    "validations": [
                        {
                            "expression": "false",
                            "messageExpression": f"'gen={self._generation} rv=' + params.metadata.resourceVersion",
                        }
                    ],
                },
            }
        )
        if self._generation == 1:
            self._put(
                {
                    "apiVersion": POLICY_GROUP,
                    "kind": "ValidatingAdmissionPolicyBinding",
                    "metadata": {"name": PROBE_POLICY, "labels": MANAGED_BY},
                    "spec": {
                        "policyName": PROBE_POLICY,
                        "validationActions": ["Warn"],
                        "paramRef": {"name": self.params["metadata"]["name"], "parameterNotFoundAction": "Deny"},
                    },
                }
            )

    def wait_until_current(self) -> None:
        """Wait until the probe answers with this sync's generation and the params object as written:
        admission then has every policy written before the probe and reads the new parameters."""
        expected = f"gen={self._generation} rv={self.params['metadata']['resourceVersion']}"
        probe = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "dsgate-diff-probe", "labels": {PROBE_LABEL: "true"}},
            "spec": {
                "selector": {"matchLabels": {"app": "probe"}},
                "template": {
                    "metadata": {"labels": {"app": "probe"}},
                    "spec": {"containers": [{"name": "probe", "image": "registry.k8s.io/pause:3.10"}]},
                },
            },
        }
        self.ensure_namespace("default")

        def seen() -> bool:
            answer = self.request("POST", "/apis/apps/v1/namespaces/default/daemonsets", probe, {"dryRun": "All"})
            self.read_warnings(answer.warning)  # the other policies judge the probe too: counted like any request
            return any(
                m.group(1) == PROBE_POLICY and m.group(3) == expected
                for m in (_ENVELOPE.match(w) for w in warning_texts(answer.warning))
                if m
            )

        self.api.wait_for(
            seen, f"admission to judge with the policies and parameters just written ({expected})", timeout=60
        )

    def ensure_namespace(self, name: str) -> None:
        if name not in self.namespaces:
            self.api.create_namespace(name, "privileged")
            self.namespaces.add(name)

    # ---------------------------------------------------------------------------------- verdicts

    def judge(self, daemonset: JSON, namespace: str) -> Admitted:
        """Dry-run create DAEMONSET in NAMESPACE: the defaulted object and the rules whose policy failed."""
        body = {**daemonset, "metadata": {**(daemonset.get("metadata") or {}), "namespace": namespace}}
        answer = self.request(
            "POST",
            f"/apis/apps/v1/namespaces/{namespace}/daemonsets",
            body,
            {"dryRun": "All", "fieldValidation": "Strict"},
        )
        try:
            data = answer.json()
        except ValueError:
            data = {"message": answer.text[:300]}
        fired, errors, incomplete = self.read_warnings(answer.warning)
        if answer.status_code != 201:
            return Admitted(answer.status_code, {}, fired, errors, incomplete, str(data.get("message", ""))[:400])
        return Admitted(answer.status_code, data, fired, errors, incomplete)

    def read_warnings(self, header: str) -> tuple[frozenset[str], tuple[str, ...], bool]:
        """From the Warning headers of one response: the rules whose policy failed, the policies whose
        message is not theirs (an evaluation error), and whether the API server's limit was reached."""
        warnings = warning_texts(header)
        fired: set[str] = set()
        errors: list[str] = []
        for warning in warnings:
            match = _ENVELOPE.match(warning)
            if match is None or match.group(1) not in self.rules:
                continue
            rule = self.rules[match.group(1)]
            with self._lock:
                self.warned[match.group(1)] += 1
            if match.group(3).startswith(f"{rule}: "):
                fired.add(rule)
            else:
                errors.append(f"{rule}: {match.group(3)[:300]}")
        return frozenset(fired), tuple(errors), may_have_dropped(warnings)

    # ----------------------------------------------------------------------------------- metrics

    def metrics(self) -> str:
        answer = self.request("GET", "/metrics")
        if answer.status_code != 200:
            raise AdmissionTestError(f"admission test: GET /metrics answered {answer.status_code}")
        return answer.text

    def counted(self, text: str) -> dict[tuple[str, str, str], int]:
        """apiserver_validating_admission_policy_check_total: (policy, action, error type) -> count."""
        out: dict[tuple[str, str, str], int] = {}
        for labels, value in _CHECKS.findall(text):
            got = dict(_LABEL.findall(labels))
            key = (got.get("policy", ""), got.get("enforcement_action", ""), got.get("error_type", ""))
            out[key] = out.get(key, 0) + int(float(value))
        return out

    def durations(self, text: str) -> dict[str, tuple[float, int]]:
        """Per policy, (seconds, evaluations) of its failed checks (the API server times only those)."""
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for which, labels, value in _DURATION.findall(text):
            policy = dict(_LABEL.findall(labels)).get("policy", "")
            if which == "sum":
                sums[policy] = sums.get(policy, 0.0) + float(value)
            else:
                counts[policy] = counts.get(policy, 0) + int(float(value))
        return {p: (sums.get(p, 0.0), counts.get(p, 0)) for p in counts}
