"""Render's check on a private API server (dsgate.admission.verify): what the API server's own type
check lets through, a CEL variable that fails at run time or a mutation that crashes the request's
handler, stops render with the policy and the sample named; a sound set passes."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from dsgate.admission import library, params, policies, render, verify
from dsgate.admission.library import AdmissionError
from dsgate.gate import controls
from tests.support import POLICIES

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("admission-server")]

JSON = dict[str, Any]
RULES = ("DS-HST-001", "DS-SEC-004")


def _set() -> list[JSON]:
    loaded = library.load(POLICIES)
    loaded = dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])
    objects = render.render(loaded, render.Options(settings=controls.Settings(profile="strict")))
    names = {policies.policy_name(r) for r in RULES}
    return [
        o for o in objects if o["kind"] in ("CustomResourceDefinition", params.KIND) or o["metadata"]["name"] in names
    ]


def _wrong_variable(objects: list[JSON]) -> list[JSON]:
    out = copy.deepcopy(objects)
    vap = next(o for o in out if o["metadata"]["name"] == "ds-sec-004.dsgate.io" and o["kind"] == policies.VAP)
    vap["spec"]["variables"].append({"name": "broken", "expression": "variables.pod.oss.name == 'windows'"})
    vap["spec"]["validations"][0]["expression"] = "!variables.broken"
    return out


def _crashing_mutation(objects: list[JSON]) -> list[JSON]:
    """A MutatingAdmissionPolicy whose JSONPatch value is a list of Object{} (kube-apiserver v1.36.3 panics)."""
    patch = (
        "[JSONPatch{op: 'add', path: '/spec/template/spec/tolerations', "
        "value: [Object.spec.template.spec.tolerations{operator: 'Exists'}]}]"
    )
    rule = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["daemonsets"]}
    policy = {
        "apiVersion": policies.API_VERSION,
        "kind": policies.MAP,
        "metadata": policies.metadata("crash.dsgate.io", "DS-TOL-004"),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [rule]},
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": patch}}],
            "reinvocationPolicy": "Never",
        },
    }
    return [*objects, policy, policies.binding(policy)]


def _failing_mutation(objects: list[JSON]) -> list[JSON]:
    """A MutatingAdmissionPolicy whose CEL fails at run time on every DaemonSet (no such key)."""
    out = _crashing_mutation(objects)
    policy = next(o for o in out if o["kind"] == policies.MAP)
    policy["metadata"]["name"] = "failing.dsgate.io"
    policy["spec"]["mutations"] = [
        {
            "patchType": "ApplyConfiguration",
            "applyConfiguration": {
                "expression": "Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{"
                "priorityClassName: object.metadata.labels['no-such-label']}}}}"
            },
        }
    ]
    return [o for o in out if o["kind"] != policies.MAP_BINDING] + [policies.binding(policy)]


@pytest.mark.parametrize(
    ("change", "expected_error"),
    [
        # the set as rendered: its CEL runs on every sample
        (None, None),
        # a variable naming a field PodSpec does not have: the type check passes it, the samples do not
        (_wrong_variable, "ds-sec-004.dsgate.io: its CEL fails on dsgate/rules/.*no such key: oss"),
        # a mutation that crashes the API server's handler: on the probe DaemonSet, or (when admission
        # loaded the validating probe before the mutating policy, seen at load 18) on the first sample
        (_crashing_mutation, "dropped the dry-run of (the probe DaemonSet|dsgate/rules/.*) twice"),
        # a mutation whose CEL fails at run time (failurePolicy Fail refuses before any validation)
        (
            _failing_mutation,
            "failing.dsgate.io: its CEL fails on (the probe DaemonSet|dsgate/rules/.*): .*no-such-label",
        ),
    ],
)
def test_verify(change: Callable[[list[JSON]], list[JSON]] | None, expected_error: str | None) -> None:
    objects = change(_set()) if change else _set()
    daemonsets = verify.samples(POLICIES)
    assert len(daemonsets) > 100
    if expected_error is None:
        verify.verify(objects, daemonsets)
        return
    with pytest.raises(AdmissionError, match=expected_error) as err:
        verify.verify(objects, daemonsets)
    assert "\n" not in err.value.message
