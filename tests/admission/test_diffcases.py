"""The differential test's cases (dsgate.admission.diffcases) and its allowlist (divergences), in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsgate.admission import diffcases, divergences, shadow
from dsgate.admission.divergences import Disagreement

pytestmark = pytest.mark.unit


def _ds(pod: dict[str, Any], **spec: Any) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "agent"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
            **spec,
        },
    }


C = {"name": "a", "image": "x"}


@pytest.mark.parametrize(
    ("allowed", "denied", "base", "expected_pod", "expected_spec_keys"),
    [
        # a field added to the one container goes into every container of the base
        (
            _ds({"containers": [C]}),
            _ds({"containers": [{**C, "securityContext": {"privileged": True}}]}),
            _ds({"containers": [{"name": "p", "image": "y"}, {"name": "q", "image": "z"}]}),
            {
                "containers": [
                    {"name": "p", "image": "y", "securityContext": {"privileged": True}},
                    {"name": "q", "image": "z", "securityContext": {"privileged": True}},
                ]
            },
            {"selector", "template"},
        ),
        # a pod field removed is removed from the base
        (
            _ds({"containers": [C], "priorityClassName": "system-node-critical"}),
            _ds({"containers": [C]}),
            _ds({"containers": [C], "priorityClassName": "x"}),
            {"containers": [C]},
            {"selector", "template"},
        ),
        # a spec field set (the strategy) is set on the base; a list that is not of named items is replaced whole
        (
            _ds({"containers": [C], "tolerations": [{"operator": "Exists"}]}),
            _ds({"containers": [C], "tolerations": []}, updateStrategy={"type": "OnDelete"}),
            _ds({"containers": [C], "tolerations": [{"key": "k", "operator": "Exists"}]}),
            {"containers": [C], "tolerations": []},
            {"selector", "template", "updateStrategy"},
        ),
        # a new named item (a volume) is appended
        (
            _ds({"containers": [C]}),
            _ds({"containers": [C], "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
            _ds({"containers": [C], "volumes": [{"name": "v", "emptyDir": {}}]}),
            {"containers": [C], "volumes": [{"name": "v", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/"}}]},
            {"selector", "template"},
        ),
    ],
)
def test_injection_carries_the_pattern_into_the_base(
    allowed: dict[str, Any],
    denied: dict[str, Any],
    base: dict[str, Any],
    expected_pod: dict[str, Any],
    expected_spec_keys: set[str],
) -> None:
    got = diffcases.inject(base, diffcases.diff(allowed, denied))
    assert got["spec"]["template"]["spec"] == expected_pod
    assert set(got["spec"]) == expected_spec_keys
    assert got["metadata"] == base["metadata"]  # still the base's DaemonSet


def test_injection_keeps_the_selector_matching_the_template() -> None:
    allowed = _ds({"containers": [C]})
    denied = {
        **allowed,
        "spec": {
            **allowed["spec"],
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [C]}},
        },
    }
    got = diffcases.inject(_ds({"containers": [C]}), diffcases.diff(allowed, denied))
    assert got["spec"]["selector"] == {"matchLabels": {"app": "other"}}


def test_property_cases_are_deterministic_and_distinct() -> None:
    first, again = diffcases.property_cases(50, seed=7), diffcases.property_cases(50, seed=7)
    assert [c.daemonset for c in first] == [c.daemonset for c in again]
    assert [c.daemonset for c in first] != [c.daemonset for c in diffcases.property_cases(50, seed=8)]
    assert len({str(c.daemonset["spec"]) for c in first}) == 50


def _zero(value: Any) -> bool:
    return value in (0, "0%", None)


def test_property_strategies_are_ones_the_api_server_accepts() -> None:
    """A surge only next to maxUnavailable 0 (an absent one is defaulted to 1, and the API server refuses
    both non-zero), never both zero, and no host port twice in a pod; yet surges are drawn."""
    surges = 0
    for case in diffcases.property_cases(600, seed=25):
        spec = case.daemonset["spec"]
        rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable", 1)
        assert _zero(surge) or _zero(unavailable), case.id
        assert not (_zero(surge) and _zero(unavailable) and "maxUnavailable" in rolling), case.id
        surges += not _zero(surge)
        pod = spec["template"]["spec"]
        ports = [
            p["hostPort"]
            for c in pod["containers"] + pod.get("initContainers", [])
            for p in c.get("ports", [])
            if "hostPort" in p
        ]
        assert len(ports) == len(set(ports)), case.id
    assert surges >= 60


def test_property_cases_take_turns_at_the_parameter_sets() -> None:
    cases = diffcases.property_cases(8, seed=25)
    assert [c.parameters for c in cases] == [*diffcases.PROPERTY_PARAMETERS, *diffcases.PROPERTY_PARAMETERS]
    assert {c.parameters.get("cluster_nodes", 0) for c in cases} == {0, 1000, 40, 3}
    assert all(c.parameters == {} for c in diffcases.property_cases(5, seed=25, parameters=()))


def test_terse_messages_keep_each_validation_apart() -> None:
    """The API server records a warning text once per response: two failing validations of one policy
    must not share a message, or the warnings carried fall short of the server's count."""
    policy = {
        "metadata": {"name": "ds-hyg-002.dsgate.io", "labels": {"dsgate.io/rule": "DS-HYG-002"}},
        "spec": {"validations": [{"expression": "a", "message": "m"}, {"expression": "b", "messageExpression": "'x'"}]},
    }
    got = shadow._terse(policy)["spec"]["validations"]
    assert [v["messageExpression"] for v in got] == ["'DS-HYG-002: fired 0'", "'DS-HYG-002: fired 1'"]
    assert all("message" not in v for v in got)


def test_dsgate_allowlist_entries_are_precise_and_reasoned() -> None:
    assert divergences.ALLOWLIST
    for entry in divergences.ALLOWLIST:
        assert entry.when or entry.case
        assert len(entry.reason) > 60


def test_every_parameter_has_two_overrides() -> None:
    defaults = {
        "allowed_registries": ["quay.io"],
        "require_digest": False,
        "cluster_nodes": 0,
        "root_agents": ["fluentd"],
    }
    got = list(diffcases.overrides(defaults))
    assert sorted({name for name, _ in got}) == sorted(defaults)
    assert all(sum(1 for n, _ in got if n == name) == 2 for name in defaults)


def test_a_parameter_without_overrides_is_an_error() -> None:
    with pytest.raises(ValueError, match="no overrides for parameter odd"):
        list(diffcases.overrides({"odd": 1.5}))


def test_samples_give_one_case_per_daemonset() -> None:
    cases = diffcases.sample_cases()
    assert len(cases) >= 100
    assert all(c.daemonset["kind"] == "DaemonSet" for c in cases)
    assert len({c.id for c in cases}) == len(cases)


RAW = _ds({"containers": [C]})
ROL = Disagreement("property:1:2", "property", "DS-ROL-002", "raw-defaulted", ("raw",), RAW)


@pytest.mark.parametrize(
    ("entry", "expected_match"),
    [
        # rule, pair and a `when` on an absent field
        (
            {
                "rule": "DS-ROL-002",
                "differs": "raw-defaulted",
                "reason": "r",
                "when": [{"path": "spec.updateStrategy", "absent": True}],
            },
            True,
        ),
        # the field is there: no match
        (
            {
                "rule": "DS-ROL-002",
                "differs": "raw-defaulted",
                "reason": "r",
                "when": [{"path": "spec.selector", "absent": True}],
            },
            False,
        ),
        # another pair: no match
        (
            {
                "rule": "DS-ROL-002",
                "differs": "defaulted-admission",
                "reason": "r",
                "when": [{"path": "spec.updateStrategy", "absent": True}],
            },
            False,
        ),
        # equals over every container
        (
            {
                "rule": "DS-ROL-002",
                "differs": "raw-defaulted",
                "reason": "r",
                "when": [{"path": "spec.template.spec.containers[*].image", "equals": "x"}],
            },
            True,
        ),
        # source and fires narrow it
        (
            {"rule": "DS-ROL-002", "differs": "raw-defaulted", "reason": "r", "case": "^property:", "source": "sample"},
            False,
        ),
        ({"rule": "DS-ROL-002", "differs": "raw-defaulted", "reason": "r", "case": "^property:", "fires": "raw"}, True),
    ],
)
def test_allowlist_entry_matches_precisely(entry: dict[str, Any], expected_match: bool, tmp_path: Path) -> None:
    path = tmp_path / "divergences.yaml"
    path.write_text(__import__("yaml").safe_dump({"divergences": [entry]}))
    (loaded,) = divergences.load(path)
    explained = divergences.explain([ROL], [loaded])
    assert (explained.unexplained == []) is expected_match
    assert (explained.stale == []) is expected_match


@pytest.mark.parametrize(
    ("entry", "expected_error"),
    [
        ({"rule": "DS-ROL-002", "differs": "raw-defaulted"}, "missing reason"),
        ({"rule": "DS-ROL-002", "differs": "sideways", "reason": "r", "case": "x"}, "differs 'sideways' is not one of"),
        ({"rule": "DS-ROL-002", "differs": "raw-defaulted", "reason": "r"}, "an entry must be precise"),
        (
            {"rule": "DS-ROL-002", "differs": "raw-defaulted", "reason": "r", "when": [{"path": "spec"}]},
            "needs path and one of",
        ),
    ],
)
def test_malformed_allowlist_is_refused(entry: dict[str, Any], expected_error: str, tmp_path: Path) -> None:
    path = tmp_path / "divergences.yaml"
    path.write_text(__import__("yaml").safe_dump({"divergences": [entry]}))
    with pytest.raises(divergences.AllowlistError, match=expected_error):
        divergences.load(path)
