"""`render --mutate`: a MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) per rule with a safe default.

A rule's admission.yaml entry may carry `mutation:` (its shape is documented in
policies/dsgate/lib/admission.yaml). The policy applies the patch only `when` its condition holds,
by default when the rule's own validations fail: an object the validating policy admits is never
changed, and one it would refuse is changed into one it admits (tests/admission prove it for each
mutation on the real API server). It has the validating policy's variables, matchConditions
(exemptions) and params, runs once (`reinvocationPolicy: Never`) and fails closed; its binding has
the same name. Mutating admission runs before validating admission, so the validating policy judges
the mutated object.
"""

from __future__ import annotations

from typing import Any

from dsgate.admission import policies
from dsgate.admission.library import Cel, Library

NO_CHANGE = {"ApplyConfiguration": "Object{}", "JSONPatch": "[]"}


def condition(cel: Cel) -> str:
    """When the mutation of CEL applies: its `when`, else when one of the rule's validations fails."""
    assert cel.mutation is not None
    if cel.mutation.when:
        return cel.mutation.when
    return "!(" + " && ".join(f"({v['expression']})" for v in cel.validations) + ")"


def mutating(library: Library, cel: Cel, selection: policies.Selection) -> dict[str, Any]:
    """RULE's MutatingAdmissionPolicy."""
    mutation = cel.mutation
    assert mutation is not None
    expression = f"({condition(cel)}) ? ({mutation.expression}) : {NO_CHANGE[mutation.patch_type]}"
    own = [*cel.variables, *mutation.variables]
    expressions = [expression, *(v["expression"] for v in own)]
    spec: dict[str, Any] = {"failurePolicy": "Fail"}
    if library.reads_params(expressions):
        spec["paramKind"] = policies.param_kind()
    spec["matchConstraints"] = policies.match_constraints(cel)
    if selection.conditions:
        spec["matchConditions"] = selection.conditions
    variables = [*library.shared_for(expressions), *own]
    if variables:
        spec["variables"] = variables
    key = "applyConfiguration" if mutation.patch_type == "ApplyConfiguration" else "jsonPatch"
    spec["mutations"] = [{"patchType": mutation.patch_type, key: {"expression": expression}}]
    spec["reinvocationPolicy"] = "Never"
    name = policies.policy_name(cel.rule)
    return {
        "apiVersion": policies.API_VERSION,
        "kind": policies.MAP,
        "metadata": policies.metadata(name, cel.rule, selection.expires),
        "spec": spec,
    }


def render(library: Library, chosen: dict[str, policies.Selection]) -> list[dict[str, Any]]:
    """The mutating policies and bindings of the CHOSEN rules that have a mutation, by rule id."""
    out: list[dict[str, Any]] = []
    for rule_id, selection in sorted(chosen.items()):
        cel = library.cel[rule_id]
        if cel.mutation is not None:
            policy = mutating(library, cel, selection)
            out += [policy, policies.binding(policy)]
    return out
