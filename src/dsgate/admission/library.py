"""The library as admission sees it: every rule's METADATA, the CEL beside each rule and the shared variables.

The rules and parameters come from the catalogue's loader (`docs.catalogue.read_library`: one reader
of the METADATA, validated there). The CEL of a rule lives next to its Rego, in
`policies/dsgate/rules/<category>/admission.yaml` (a mapping from rule id to one entry), and the
variables every policy shares in `policies/dsgate/lib/admission.yaml`, whose header documents the
entry's shape. A malformed entry, an entry for a rule that does not exist or one in another
category's folder is an AdmissionError naming the file and the key: the rendered set is never built
from a file half understood.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.docs.catalogue import CatalogueError, Parameter, Rule, category_of, read_agents, read_helpers, read_library
from dsgate.errors import DsgateError
from dsgate.paths import MODEL_FILE, rules_dir

CEL_FILE = "admission.yaml"
ENTRY_KEYS = {"variables", "validations", "resources", "mutation"}
VALIDATION_KEYS = {"expression", "messageExpression", "message", "reason"}
MUTATION_KEYS = {"patchType", "expression", "when", "variables"}
PATCH_TYPES = ("ApplyConfiguration", "JSONPatch")
DEFAULT_RESOURCE = ("apps", "v1", "daemonsets")
_VARIABLE_USE = re.compile(r"\bvariables\.([A-Za-z_][A-Za-z0-9_]*)")
_PARAMS_USE = re.compile(r"\bparams\b")


class AdmissionError(DsgateError):
    """The admission policies cannot be built or installed; the message names the cause and the fix."""


@dataclass(frozen=True)
class Mutation:
    """A rule's safe default, applied by a MutatingAdmissionPolicy (`render --mutate`)."""

    expression: str
    patch_type: str = "ApplyConfiguration"
    when: str = ""  # CEL bool; empty: when the rule's validations fail
    variables: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Cel:
    """One rule's admission.yaml entry."""

    rule: str
    where: str  # the file, for messages
    validations: tuple[dict[str, str], ...]
    variables: tuple[dict[str, str], ...] = ()
    resources: tuple[tuple[str, str, str], ...] = (DEFAULT_RESOURCE,)  # (group, version, resource)
    mutation: Mutation | None = None

    def expressions(self) -> list[str]:
        """Every CEL expression of the validating policy (variables, validations, messages)."""
        out = [v["expression"] for v in self.variables]
        for validation in self.validations:
            out += [validation.get("expression", ""), validation.get("messageExpression", "")]
        return out


@dataclass
class Library:
    rules: list[Rule]
    parameters: list[Parameter]
    cel: dict[str, Cel]
    shared: list[dict[str, str]]  # lib/admission.yaml's variables, in order
    policy_dir: Path
    agents: list[dict[str, Any]] = field(default_factory=list)  # data.dsgate.agents.catalogue
    helpers: list[str] = field(default_factory=list)  # data.dsgate.agents.helpers
    wave_overhead: dict[str, float] = field(default_factory=dict)  # data.dsgate.model.rollout.wave_overhead

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def shared_for(self, expressions: list[str]) -> list[dict[str, str]]:
        """The shared variables EXPRESSIONS use, directly or through another shared variable, in file order."""
        by_name = {v["name"]: v for v in self.shared}
        wanted: set[str] = set()
        todo = [name for e in expressions for name in _VARIABLE_USE.findall(e)]
        while todo:
            name = todo.pop()
            if name in by_name and name not in wanted:
                wanted.add(name)
                todo += _VARIABLE_USE.findall(by_name[name]["expression"])
        return [v for v in self.shared if v["name"] in wanted]

    def reads_params(self, expressions: list[str]) -> bool:
        """Whether EXPRESSIONS, or the shared variables they use, read `params` (the policy then needs
        paramKind and the params object)."""
        used = [*expressions, *(v["expression"] for v in self.shared_for(expressions))]
        return any(_PARAMS_USE.search(e) for e in used)


def shared_file(policy_dir: Path) -> Path:
    return policy_dir / "dsgate" / "lib" / CEL_FILE


def load(policy_dir: Path) -> Library:
    """The library in POLICY_DIR for admission: rules, parameters, CEL, and the data the CEL reads."""
    try:
        rules, parameters = read_library(policy_dir)
        catalogue, helpers = read_agents(policy_dir), read_helpers(policy_dir)
    except CatalogueError as exc:
        raise AdmissionError(str(exc).replace("\n", " ")) from None
    shared = _shared(shared_file(policy_dir))
    known = {r.id: r for r in rules}
    cel: dict[str, Cel] = {}
    for path in sorted(rules_dir(policy_dir).glob(f"*/{CEL_FILE}")):
        for rule_id, entry in _read_mapping(path).items():
            where = f"{_shown(path, policy_dir)}: {rule_id}"
            rule = known.get(str(rule_id))
            if rule is None:
                raise AdmissionError(f"{where}: no rule of the library has this id; remove the entry or fix the id")
            if rule.category != category_of(path.parent.name):
                raise AdmissionError(f"{where}: the rule is in category {rule.category}; move its CEL to that folder")
            cel[rule.id] = _entry(rule.id, entry, where)
    return Library(rules, parameters, cel, shared, policy_dir, catalogue, helpers, _wave_overhead(policy_dir))


def _wave_overhead(policy_dir: Path) -> dict[str, float]:
    """data.dsgate.model.rollout.wave_overhead of POLICY_DIR's model.json (dsgate's own when it has none)."""
    path = policy_dir / MODEL_FILE.name if (policy_dir / MODEL_FILE.name).is_file() else MODEL_FILE
    try:
        model = json.loads(path.read_text())["dsgate"]["model"]["rollout"]["wave_overhead"]
        return {str(k): float(v) for k, v in model.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AdmissionError(
            f"{path}: no dsgate.model.rollout.wave_overhead of numbers ({exc}); restore the file"
        ) from None


def _shown(path: Path, policy_dir: Path) -> str:
    return f"policies/{path.relative_to(policy_dir).as_posix()}"


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        raw = yamlc.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AdmissionError(f"{path}: cannot read it: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise AdmissionError(f"{path}: must be a mapping from rule id to its CEL entry")
    return raw


def _shared(path: Path) -> list[dict[str, str]]:
    raw = _read_mapping(path) if path.is_file() else {}
    return _variables(raw.get("variables", []), f"{path}: variables")


def _variables(raw: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not all(
        isinstance(v, dict) and set(v) == {"name", "expression"} and all(isinstance(x, str) and x for x in v.values())
        for v in raw
    ):
        raise AdmissionError(f"{where} must be a list of {{name, expression}} mappings of strings")
    return [{"name": v["name"], "expression": v["expression"]} for v in raw]


def _entry(rule_id: str, raw: Any, where: str) -> Cel:
    if not isinstance(raw, dict) or set(raw) - ENTRY_KEYS:
        raise AdmissionError(f"{where} must be a mapping of {', '.join(sorted(ENTRY_KEYS))}")
    validations = raw.get("validations")
    if not isinstance(validations, list) or not validations:
        raise AdmissionError(f"{where}: 'validations' must list at least one {{expression, messageExpression}}")
    for i, v in enumerate(validations):
        ok = isinstance(v, dict) and not set(v) - VALIDATION_KEYS and all(isinstance(x, str) for x in v.values())
        if not ok or not v.get("expression") or not (v.get("messageExpression") or v.get("message")):
            raise AdmissionError(f"{where}: validations[{i}] must have string 'expression' and 'messageExpression'")
    return Cel(
        rule=rule_id,
        where=where,
        validations=tuple(dict(v) for v in validations),
        variables=tuple(_variables(raw.get("variables", []), f"{where}: variables")),
        resources=tuple(_resource(r, where) for r in raw.get("resources", ["daemonsets"]) or ["daemonsets"]),
        mutation=_mutation(raw["mutation"], where) if "mutation" in raw else None,
    )


def _resource(raw: Any, where: str) -> tuple[str, str, str]:
    """`daemonsets` (apps/v1), `v1/pods` (core group) or `policy/v1/poddisruptionbudgets`."""
    parts = str(raw).split("/") if isinstance(raw, str) else []
    if len(parts) == 1 and parts[0]:
        return ("apps", "v1", parts[0])
    if len(parts) in (2, 3) and all(parts):
        return ("", *parts) if len(parts) == 2 else (parts[0], parts[1], parts[2])  # type: ignore[return-value]
    raise AdmissionError(
        f"{where}: resources entry {raw!r} must be RESOURCE, VERSION/RESOURCE or GROUP/VERSION/RESOURCE"
    )


def _mutation(raw: Any, where: str) -> Mutation:
    if not isinstance(raw, dict) or set(raw) - MUTATION_KEYS or not isinstance(raw.get("expression"), str):
        raise AdmissionError(
            f"{where}: 'mutation' must be a mapping with 'expression' (and patchType, when, variables)"
        )
    patch_type = str(raw.get("patchType", PATCH_TYPES[0]))
    if patch_type not in PATCH_TYPES:
        raise AdmissionError(f"{where}: mutation.patchType {patch_type!r} must be one of {', '.join(PATCH_TYPES)}")
    return Mutation(
        expression=raw["expression"],
        patch_type=patch_type,
        when=str(raw.get("when", "")),
        variables=tuple(_variables(raw.get("variables", []), f"{where}: mutation.variables")),
    )
