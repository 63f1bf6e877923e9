"""`dsgate admission render` without a server: the set's shape (names, actions, params, exemptions,
labels), the DsgateParameters CRD and object, and every way a library or a set is refused.

The library is the real one (read with the real opa); until every `vap` rule has its CEL, the tests
that render the whole set keep the rules that have it (the completeness test says which are missing).
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import yamlc
from dsgate.admission import exemptions, library, params, policies, render
from dsgate.admission.library import AdmissionError, Library
from dsgate.gate import controls
from dsgate.paths import rules_dir
from tests.support import POLICIES

pytestmark = pytest.mark.policy

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def lib() -> Library:
    """The shipped library, its vap rules without CEL (not written yet) left out."""
    loaded = library.load(POLICIES)
    return dataclasses.replace(loaded, rules=[r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel])


def _render(lib: Library, **options: Any) -> list[JSON]:
    return render.render(lib, render.Options(**options))


def _by(objects: list[JSON], kind: str) -> dict[str, JSON]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("samples", "*_test.rego"))
    return target


def test_every_rule_is_classified_and_ci_only_has_no_cel() -> None:
    """Every vap rule has CEL beside it and no ci-only rule has any (render refuses either)."""
    loaded = library.load(POLICIES)
    missing = sorted(r.id for r in loaded.rules if r.admission == "vap" and r.id not in loaded.cel)
    extra = sorted(r.id for r in loaded.rules if r.admission != "vap" and r.id in loaded.cel)
    assert extra == []
    assert {r.admission for r in loaded.rules} == {"vap", "ci-only"}
    # the CEL of the rules still without it is being written (issue 25); the set renders without them
    assert len(missing) < len([r for r in loaded.rules if r.admission == "vap"])


def test_set_shape(lib: Library) -> None:
    objects = _render(lib, settings=controls.Settings(profile="strict"))
    vaps, bindings = _by(objects, policies.VAP), _by(objects, policies.VAP_BINDING)
    enforced = {r.id: r for r in lib.rules if r.admission == "vap"}
    assert [o["kind"] for o in objects[:2]] == ["CustomResourceDefinition", params.KIND]
    assert sorted(vaps) == sorted(f"{rule.lower()}.dsgate.io" for rule in enforced)
    assert sorted(bindings) == sorted(vaps)
    for name, vap in vaps.items():
        rule = vap["metadata"]["annotations"][policies.RULE_ANNOTATION]
        spec = vap["spec"]
        assert spec["failurePolicy"] == "Fail"
        assert spec["matchConstraints"]["resourceRules"][0]["operations"] == ["CREATE", "UPDATE"]
        # the annotation exemption: the last variable, which every validation asks first
        assert "matchConditions" not in spec
        assert spec["variables"][-1]["name"] == policies.EXEMPT
        assert spec["variables"][-1]["expression"].count(f"dsgate.io/exempt.{rule}") == 2
        assert all(v["expression"].startswith("variables.exempt || (") for v in spec["validations"]), name
        assert all(v["messageExpression"].startswith(f"'{rule}: '") for v in spec["validations"]), name
        action = {"deny": ["Deny"], "warn": ["Warn"]}[enforced[rule].severity]
        assert bindings[name]["spec"]["validationActions"] == action
        if "paramKind" in spec:
            assert bindings[name]["spec"]["paramRef"] == {"name": "dsgate", "parameterNotFoundAction": "Deny"}
    assert all(o["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "dsgate"} for o in objects)
    # the shared variables come first, and only those a policy uses
    shared = [v["name"] for v in lib.shared]
    for vap in vaps.values():
        names = [v["name"] for v in vap["spec"].get("variables", [])]
        used = [n for n in names if n in shared]
        assert names[: len(used)] == used == [n for n in shared if n in used]


@pytest.mark.parametrize(
    ("options", "expected_actions"),
    [
        # the rule's severity: deny rules Deny, warn rules Warn
        ({}, {("deny",): ["Deny"], ("warn",): ["Warn"]}),
        # --action warn: a dry-run rollout, nothing refused
        ({"action": "warn"}, {("deny",): ["Warn"], ("warn",): ["Warn"]}),
        # --action audit: only audit annotations
        ({"action": "audit"}, {("deny",): ["Audit"], ("warn",): ["Audit"]}),
    ],
)
def test_binding_actions(lib: Library, options: JSON, expected_actions: dict[tuple[str], list[str]]) -> None:
    objects = _render(lib, settings=controls.Settings(profile="strict"), **options)
    severity = {f"{r.id.lower()}.dsgate.io": r.severity for r in lib.rules}
    for name, binding in _by(objects, policies.VAP_BINDING).items():
        assert binding["spec"]["validationActions"] == expected_actions[(severity[name],)], name


@pytest.mark.parametrize(
    ("settings", "expected_in", "expected_out"),
    [
        # baseline: strict-only rules are left out
        (controls.Settings(), "ds-hst-001.dsgate.io", "ds-sec-001.dsgate.io"),
        # a rule disabled in dsgate.yaml / --disable renders no policy
        (controls.Settings(profile="strict", disabled={"DS-SEC-001"}), "ds-sec-002.dsgate.io", "ds-sec-001.dsgate.io"),
        # a ci-only rule never renders
        (controls.Settings(profile="strict"), "ds-hst-001.dsgate.io", "ds-hyg-004.dsgate.io"),
    ],
)
def test_controls_select_the_rules(
    lib: Library, settings: controls.Settings, expected_in: str, expected_out: str
) -> None:
    names = _by(_render(lib, settings=settings), policies.VAP)
    assert expected_in in names
    assert expected_out not in names


def test_severity_override_changes_the_action(lib: Library) -> None:
    """dsgate.yaml `rules: {DS-HST-001: warn}` makes the deny rule a Warn binding."""
    settings = controls.Settings(profile="strict", rules={"DS-HST-001": "warn"})
    binding = _by(_render(lib, settings=settings), policies.VAP_BINDING)["ds-hst-001.dsgate.io"]
    assert binding["spec"]["validationActions"] == ["Warn"]


@pytest.mark.parametrize(
    ("exemption", "expected_conditions", "expected_expiry"),
    [
        # a resource: the named DaemonSet in its namespace is not evaluated
        (
            {"rule": "DS-HST-001", "resource": "DaemonSet/monitoring/agent", "reason": "r", "expires": "2099-01-01"},
            ['!(object.kind == "DaemonSet" && object.metadata.name == "agent" && request.namespace == "monitoring")'],
            "2099-01-01",
        ),
        # a selector by namespace glob and label
        (
            {
                "rule": "DS-HST-001",
                "selector": {"namespace": "kube-*", "labels": {"matchLabels": {"tier": "node"}}},
                "reason": "r",
                "expires": "2099-01-01",
            },
            [
                '!(request.namespace.matches("^kube\\\\-.*$") && "tier" in (has(object.metadata.labels) ? '
                'object.metadata.labels : {}) && (has(object.metadata.labels) ? object.metadata.labels : {})["tier"] == "node")'
            ],
            "2099-01-01",
        ),
        # expired: the gate ignores it, so does admission
        ({"rule": "DS-HST-001", "resource": "DaemonSet/m/a", "reason": "r", "expires": "2020-01-01"}, [], ""),
        # without a reason: ignored
        ({"rule": "DS-HST-001", "resource": "DaemonSet/m/a", "reason": " ", "expires": "2099-01-01"}, [], ""),
        # another rule's exemption
        ({"rule": "DS-SEC-001", "resource": "DaemonSet/m/a", "reason": "r", "expires": "2099-01-01"}, [], ""),
    ],
)
def test_exemptions_become_the_exempt_variable(
    lib: Library, exemption: JSON, expected_conditions: list[str], expected_expiry: str
) -> None:
    settings = controls.Settings(profile="strict", exemptions=[exemption])
    options = {"settings": settings, "today": datetime.date(2026, 12, 6)}
    vap = _by(_render(lib, **options), policies.VAP)["ds-hst-001.dsgate.io"]
    annotation = exemptions.annotation_condition("DS-HST-001")["expression"]
    expected = "!(" + " && ".join(f"({c})" for c in [annotation, *expected_conditions]) + ")"
    assert vap["spec"]["variables"][-1] == {"name": policies.EXEMPT, "expression": expected}
    assert [v["expression"][: len("variables.exempt || (")] for v in vap["spec"]["validations"]] == [
        "variables.exempt || ("
    ]
    assert vap["metadata"]["annotations"].get("dsgate.io/exemptions-expire", "") == expected_expiry
    # the mutating policy keeps them as matchConditions
    settings = controls.Settings(profile="strict", exemptions=[exemption])
    mutating = _by(_render(lib, settings=settings, today=datetime.date(2026, 12, 6), mutate=True), policies.MAP)
    for policy in mutating.values():
        assert policy["spec"]["matchConditions"][0]["name"] == "not-exempt-by-annotation"
    if "ds-hst-001.dsgate.io" in mutating:
        conditions = mutating["ds-hst-001.dsgate.io"]["spec"]["matchConditions"]
        assert [c["expression"] for c in conditions[1:]] == expected_conditions


def test_a_rule_variable_named_exempt_is_refused(lib: Library) -> None:
    cel = lib.cel["DS-HST-002"]
    renamed = dataclasses.replace(cel, variables=(*cel.variables, {"name": "exempt", "expression": "true"}))
    broken = dataclasses.replace(lib, cel={**lib.cel, "DS-HST-002": renamed})
    with pytest.raises(AdmissionError, match="variable 'exempt' is dsgate's own"):
        _render(broken, settings=controls.Settings(profile="strict"))


def test_crd_is_typed_from_the_defaults(lib: Library) -> None:
    crd = _render(lib)[0]
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]
    expected = {
        "cluster_nodes": {"type": "integer"},  # an integer default
        "require_digest": {"type": "boolean"},  # a flag
        "rollout_time_budget": {"type": "string"},  # a duration string
        "max_unavailable_ceiling": {"x-kubernetes-int-or-string": True},  # a percentage: 2 or 10%
        "allowed_registries": {"type": "array", "items": {"type": "string"}},  # a list
        "allowed_capabilities": {"type": "array", "items": {"type": "string"}},  # an empty list: of names
        "given_parameters": {"type": "array", "items": {"type": "string"}},
        "helper_images": {"type": "array", "items": {"type": "string"}},
    }
    for name, schema in expected.items():
        assert {k: v for k, v in props[name].items() if k != "description"} == schema, name
    assert props["agent_limit_budget"]["properties"] == {"cpu": {"type": "string"}, "memory": {"type": "string"}}
    assert props["catalogue"]["items"]["properties"]["needs"]["properties"]["root"] == {"type": "boolean"}
    assert props["wave_overhead"]["properties"]["base_seconds"] == {"type": "number"}
    assert sorted(spec["required"]) == sorted(props)
    assert {p.name for p in lib.parameters} <= set(props)


@pytest.mark.parametrize(
    ("given", "expected_spec"),
    [
        # nothing given: the defaults
        ({}, {"cluster_nodes": 0, "max_unavailable_ceiling": "25%", "given_parameters": []}),
        # an int-or-percent stays an int
        (
            {"max_unavailable_ceiling": 2},
            {"max_unavailable_ceiling": 2, "given_parameters": ["max_unavailable_ceiling"]},
        ),
        # a mapping merges key by key (object.union), a number where a string is due becomes that string
        ({"agent_limit_budget": {"cpu": 2}}, {"agent_limit_budget": {"cpu": "2", "memory": "1Gi"}}),
        # well_known_agents false: no catalogue at all
        ({"well_known_agents": False}, {"catalogue": []}),
    ],
)
def test_params_object(lib: Library, given: JSON, expected_spec: JSON) -> None:
    obj = _render(lib, given=given)[1]
    assert obj["metadata"]["name"] == "dsgate"
    assert {k: obj["spec"][k] for k in expected_spec} == expected_spec


@pytest.mark.parametrize(
    ("given", "expected_needs"),
    [
        # the catalogue as is
        ({}, {"root": True, "privileged": True, "capabilities": True}),
        # root_agents given: the catalogue's root need is off (lib.allowed_needs)
        ({"root_agents": []}, {"root": False, "privileged": True, "capabilities": True}),
        # allowed_capabilities given: the catalogue's capabilities are off
        ({"allowed_capabilities": ["NET_ADMIN"]}, {"root": True, "privileged": True, "capabilities": False}),
    ],
)
def test_given_parameters_turn_catalogue_needs_off(lib: Library, given: JSON, expected_needs: dict[str, bool]) -> None:
    cilium = next(e for e in _render(lib, given=given)[1]["spec"]["catalogue"] if e["name"] == "cilium")
    assert {k: bool(cilium["needs"][k]) for k in expected_needs} == expected_needs


@pytest.mark.parametrize(
    ("given", "expected_error"),
    [
        # a parameter the library does not have
        ({"allowed_registrys": []}, "allowed_registrys: not parameters of the library"),
        # a list where a flag is due
        ({"require_digest": ["yes"]}, "parameters.require_digest is \\['yes'\\]; the library expects a boolean"),
        # a string where an integer is due
        ({"cluster_nodes": "ten"}, "parameters.cluster_nodes is 'ten'; the library expects a integer"),
        # a key the budget does not have
        ({"agent_limit_budget": {"gpu": "1"}}, "parameters.agent_limit_budget"),
    ],
)
def test_bad_parameters_refused(lib: Library, given: JSON, expected_error: str) -> None:
    with pytest.raises(AdmissionError, match=expected_error):
        _render(lib, given=given)


def _policy(kind: str, name: str, **spec: Any) -> JSON:
    return {"kind": kind, "metadata": {"name": name, "labels": dict(params.MANAGED_BY)}, "spec": spec}


@pytest.mark.parametrize(
    ("objects", "expected_error"),
    [
        # a binding whose policy the set does not hold
        ([_policy(policies.VAP_BINDING, "a", policyName="a")], "binds policy 'a', which the set does not contain"),
        # a policy reading params without the params object
        (
            [_policy(policies.VAP, "a", paramKind={"kind": params.KIND})],
            "reads params but the set has no DsgateParameters 'dsgate'",
        ),
        # an object without dsgate's label (uninstall would not find it)
        ([{"kind": policies.VAP, "metadata": {"name": "a"}, "spec": {}}], "has no label app.kubernetes.io/managed-by"),
    ],
)
def test_check_set_refuses(objects: list[JSON], expected_error: str) -> None:
    with pytest.raises(AdmissionError, match=expected_error):
        render.check_set(objects)


@pytest.mark.parametrize(
    ("folder", "text", "expected_error"),
    [
        # an entry for a rule that does not exist
        ("priority", {"DS-PRI-999": {"validations": [{"expression": "true", "messageExpression": "'x'"}]}}, "no rule"),
        # an entry in another category's folder
        (
            "images",
            {"DS-HST-001": {"validations": [{"expression": "true", "messageExpression": "'x'"}]}},
            "move its CEL",
        ),
        # no validations
        ("host_access", {"DS-HST-001": {"variables": []}}, "'validations' must list at least one"),
        # a validation without a message
        ("host_access", {"DS-HST-001": {"validations": [{"expression": "true"}]}}, "must have string 'expression'"),
        # an unknown key
        ("host_access", {"DS-HST-001": {"validation": []}}, "must be a mapping of"),
        # a mutation of an unknown patch type
        (
            "host_access",
            {
                "DS-HST-001": {
                    "validations": [{"expression": "true", "messageExpression": "'x'"}],
                    "mutation": {"patchType": "Merge", "expression": "x"},
                }
            },
            "mutation.patchType 'Merge'",
        ),
        # CEL for a ci-only rule
        (
            "hygiene",
            {"DS-HYG-004": {"validations": [{"expression": "true", "messageExpression": "'x'"}]}},
            "is admission: ci-only but has CEL",
        ),
    ],
)
def test_bad_cel_files_refused(library_copy: Path, folder: str, text: JSON, expected_error: str) -> None:
    path = rules_dir(library_copy) / folder / "admission.yaml"
    existing = yamlc.safe_load(path.read_text()) if path.is_file() else {}
    path.write_text(yaml.safe_dump({**(existing or {}), **text}))
    with pytest.raises(AdmissionError, match=expected_error):
        render.render(library.load(library_copy), render.Options(settings=controls.Settings(profile="strict")))


def test_vap_rule_without_cel_refused(library_copy: Path) -> None:
    path = rules_dir(library_copy) / "security" / "admission.yaml"
    entries = yamlc.safe_load(path.read_text())
    del entries["DS-SEC-002"]
    path.write_text(yaml.safe_dump(entries))
    loaded = library.load(library_copy)
    loaded.rules = [r for r in loaded.rules if r.admission != "vap" or r.id in loaded.cel or r.id == "DS-SEC-002"]
    with pytest.raises(AdmissionError, match=r"rule DS-SEC-002 is admission: vap but .* has no CEL for it"):
        render.render(loaded, render.Options(settings=controls.Settings(profile="strict")))
