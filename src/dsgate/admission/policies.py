"""One rule's ValidatingAdmissionPolicy and its binding.

The policy is named `<rule-id lowercased>.dsgate.io`, its binding the same (another kind), and both
carry the label app.kubernetes.io/managed-by: dsgate, by which install and uninstall find them.
The policy fails closed (`failurePolicy: Fail`), matches its rule's resources on CREATE and UPDATE,
declares the shared variables its CEL uses before the rule's own, and takes `paramKind`
DsgateParameters when its CEL reads `params`; the binding then names the object `dsgate` with
`parameterNotFoundAction: Deny`, so a missing params object refuses instead of admitting.

The binding's action is the rule's effective severity (deny: Deny, warn: Warn), or the one
`--action` forces for every rule (warn, or audit for a dry-run rollout).

Exemptions (dsgate.admission.exemptions) are the variable `exempt`, last, and every validation is
`variables.exempt || (<the rule's expression>)`, not matchConditions: kube-apiserver v1.36 converts
the whole object to unstructured once per CEL stage of each policy (matchConditions, validations,
messages, auditAnnotations), so a matchCondition on every policy cost a quarter of admission's time
(bench/README.md, Admission, the CPU profile of 2026-12-06). The verdicts are the same: an exempt
object passes every validation (`true || error` is true in CEL), whatever its other fields hold.
The mutating policies keep them as matchConditions (dsgate.admission.mutations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsgate.admission import params
from dsgate.admission.library import AdmissionError, Cel, Library

API_VERSION = "admissionregistration.k8s.io/v1"
VAP = "ValidatingAdmissionPolicy"
VAP_BINDING = "ValidatingAdmissionPolicyBinding"
MAP = "MutatingAdmissionPolicy"
MAP_BINDING = "MutatingAdmissionPolicyBinding"
BINDING_OF = {VAP: VAP_BINDING, MAP: MAP_BINDING}  # a policy kind -> its binding kind
ACTIONS = {"deny": ["Deny"], "warn": ["Warn"], "audit": ["Audit"]}
RULE_ANNOTATION = "dsgate.io/rule"
EXEMPT = "exempt"  # the validating policy's variable: the object is exempt from the rule


def policy_name(rule_id: str) -> str:
    """The admission policy of RULE_ID: `ds-tol-001.dsgate.io` (object names are lowercase)."""
    return f"{rule_id.lower()}.dsgate.io"


def binding_name(rule_id: str) -> str:
    """The binding of RULE_ID's policy: the policy's own name (bindings are another kind)."""
    return policy_name(rule_id)


@dataclass
class Selection:
    """What renders for one rule: its severity after the controls and the matchConditions of its exemptions."""

    severity: str
    conditions: list[dict[str, str]] = field(default_factory=list)
    expires: str = ""  # the earliest expiry of a rendered dsgate.yaml exemption


def metadata(name: str, rule_id: str, expires: str = "") -> dict[str, Any]:
    annotations = {RULE_ANNOTATION: rule_id}
    if expires:
        annotations["dsgate.io/exemptions-expire"] = expires
    return {"name": name, "labels": dict(params.MANAGED_BY), "annotations": annotations}


def match_constraints(cel: Cel) -> dict[str, Any]:
    return {
        "resourceRules": [
            {
                "apiGroups": [group],
                "apiVersions": [version],
                "operations": ["CREATE", "UPDATE"],
                "resources": [resource],
            }
            for group, version, resource in cel.resources
        ]
    }


def param_kind() -> dict[str, str]:
    return {"apiVersion": params.API_VERSION, "kind": params.KIND}


def param_ref() -> dict[str, str]:
    return {"name": params.NAME, "parameterNotFoundAction": "Deny"}


def exempt_expression(conditions: list[dict[str, str]]) -> str:
    """CEL true when one of CONDITIONS (each true when the object is NOT exempt) is false."""
    return "!(" + " && ".join(f"({c['expression']})" for c in conditions) + ")"


def validating(library: Library, cel: Cel, selection: Selection) -> dict[str, Any]:
    """RULE's ValidatingAdmissionPolicy."""
    spec: dict[str, Any] = {"failurePolicy": "Fail"}
    if library.reads_params(cel.expressions()):
        spec["paramKind"] = param_kind()
    spec["matchConstraints"] = match_constraints(cel)
    variables = [*library.shared_for(cel.expressions()), *cel.variables]
    validations = [dict(v) for v in cel.validations]
    if selection.conditions:
        if any(v["name"] == EXEMPT for v in variables):
            raise AdmissionError(f"{cel.where}: variable {EXEMPT!r} is dsgate's own (exemptions); rename it")
        variables.append({"name": EXEMPT, "expression": exempt_expression(selection.conditions)})
        for validation in validations:
            validation["expression"] = f"variables.{EXEMPT} || ({validation['expression']})"
    if variables:
        spec["variables"] = variables
    spec["validations"] = validations
    return {
        "apiVersion": API_VERSION,
        "kind": VAP,
        "metadata": metadata(policy_name(cel.rule), cel.rule, selection.expires),
        "spec": spec,
    }


def binding(policy: dict[str, Any], actions: list[str] | None = None) -> dict[str, Any]:
    """The binding of POLICY (validating: with ACTIONS as validationActions; mutating: none)."""
    rule_id = policy["metadata"]["annotations"][RULE_ANNOTATION]
    spec: dict[str, Any] = {"policyName": policy["metadata"]["name"]}
    if actions is not None:
        spec["validationActions"] = actions
    if "paramKind" in policy["spec"]:
        spec["paramRef"] = param_ref()
    return {
        "apiVersion": API_VERSION,
        "kind": BINDING_OF[policy["kind"]],
        "metadata": metadata(binding_name(rule_id), rule_id),
        "spec": spec,
    }
