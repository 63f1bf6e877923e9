"""`dsgate admission render`: the whole set of admission objects, in a stable order.

Which rules render, and at which severity, is what `dsgate check` would run with the same dsgate.yaml
(profile, rules, --profile, --disable; dsgate.gate.controls), restricted to the rules classified
`admission: vap`: `overrides:` are per source path, which admission has no notion of, so they do not
apply. A `vap` rule without CEL, or CEL for a `ci-only` rule, is an AdmissionError. The set is the
DsgateParameters CRD, its object `dsgate`, then per rule (by id) its policy and binding, then with
--mutate the MutatingAdmissionPolicies and their bindings. `check_set` checks a set (rendered or read
from a file): every binding's policy is in it, and the params object when a policy reads params.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.admission import exemptions, mutations, params, policies
from dsgate.admission.library import AdmissionError, Library
from dsgate.docs.catalogue import Rule
from dsgate.gate import controls
from dsgate.gate.ruleset import RuleInfo

ACTION_CHOICES = ("severity", "warn", "audit")
BINDING_KINDS = {binding: policy for policy, binding in policies.BINDING_OF.items()}


@dataclass
class Options:
    """What to render: the controls and exemptions of dsgate.yaml, the action and whether to mutate."""

    settings: controls.Settings = field(default_factory=controls.Settings)
    given: dict[str, Any] = field(default_factory=dict)  # dsgate.yaml parameters
    action: str = "severity"
    mutate: bool = False
    today: datetime.date = field(default_factory=lambda: datetime.datetime.now(datetime.UTC).date())


def _controls(library: Library, settings: controls.Settings) -> controls.Controls:
    """The controls of SETTINGS, their rule ids checked against the library (ControlError: exit 2)."""
    known = {r.id: RuleInfo(r.id, r.category, r.severity, r.profile) for r in library.rules}
    known |= controls.GATE_RULES
    settings.check(known, str(settings.config or "dsgate.yaml"))
    for disabled in sorted(settings.disabled):
        controls.check_rule(disabled, known, f"--disable {disabled}")
    return controls.Controls(dataclasses.replace(settings, overrides=[]), known)


def enforced(library: Library, rule: Rule) -> bool:
    """Whether RULE is enforced at admission (classified vap, with CEL); AdmissionError when the two disagree."""
    cel = library.cel.get(rule.id)
    if rule.admission == "ci-only" and cel is not None:
        raise AdmissionError(f"{cel.where}: rule {rule.id} is admission: ci-only but has CEL; remove one of them")
    if rule.admission == "vap" and cel is None:
        folder = rule.category.replace("-", "_")
        raise AdmissionError(
            f"rule {rule.id} is admission: vap but policies/dsgate/rules/{folder}/admission.yaml has no CEL for it; "
            "write its entry or classify it ci-only with an admission_reason"
        )
    return rule.admission == "vap"


def selected(library: Library, options: Options) -> dict[str, policies.Selection]:
    """The vap rules that run under OPTIONS' controls, each with its severity and exemption conditions."""
    chosen = _controls(library, options.settings)
    out: dict[str, policies.Selection] = {}
    for rule in library.rules:
        severity = chosen.effective(rule.id, "", rule.severity) if enforced(library, rule) else None
        if severity is None:
            continue
        conditions, expires = exemptions.data_conditions(rule.id, options.settings.exemptions, options.today)
        out[rule.id] = policies.Selection(severity, [exemptions.annotation_condition(rule.id), *conditions], expires)
    return out


def render(library: Library, options: Options) -> list[dict[str, Any]]:
    """Every object of the admission set, in install order; AdmissionError when one cannot be built."""
    chosen = selected(library, options)
    data = params.LibraryData(library.agents, library.helpers, library.wave_overhead)
    objects = [params.crd(library.parameters, data), params.obj(library.parameters, options.given, data)]
    for rule_id, selection in sorted(chosen.items()):
        cel = library.cel[rule_id]
        actions = policies.ACTIONS[selection.severity if options.action == "severity" else options.action]
        policy = policies.validating(library, cel, selection)
        objects += [policy, policies.binding(policy, actions)]
    if options.mutate:
        objects += mutations.render(library, chosen)
    check_set(objects)
    return objects


def check_set(objects: Sequence[dict[str, Any]]) -> None:
    """AdmissionError naming the first problem of OBJECTS: a binding without its policy, a policy that
    reads params without the params object, an object without the managed-by label."""
    names = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objects}
    for obj in objects:
        kind, meta, spec = obj.get("kind"), obj.get("metadata") or {}, obj.get("spec") or {}
        shown = f"{kind} {meta.get('name')}"
        if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") != "dsgate":
            raise AdmissionError(f"{shown} has no label app.kubernetes.io/managed-by: dsgate; render the set again")
        if kind in BINDING_KINDS and (BINDING_KINDS[kind], spec.get("policyName")) not in names:
            raise AdmissionError(
                f"{shown} binds policy {spec.get('policyName')!r}, which the set does not contain; render the set again"
            )
        if "paramKind" in spec and (params.KIND, params.NAME) not in names:
            raise AdmissionError(
                f"{shown} reads params but the set has no {params.KIND} {params.NAME!r}; render the set again"
            )


def dump(objects: Iterable[dict[str, Any]]) -> str:
    """OBJECTS as one YAML stream (kubectl apply -f -), long CEL lines kept whole."""
    return yaml.safe_dump_all(list(objects), sort_keys=False, width=1_000_000, default_flow_style=False)


def read(path: Path) -> list[dict[str, Any]]:
    """A rendered set from a file (install -f)."""
    try:
        docs = [d for d in yamlc.safe_load_all(path.read_text()) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise AdmissionError(f"{path}: cannot read it: {' '.join(str(exc).split())}") from None
    if not all(isinstance(d, dict) and d.get("kind") for d in docs):
        raise AdmissionError(
            f"{path}: every document must be a Kubernetes object; use the output of dsgate admission render"
        )
    return docs
