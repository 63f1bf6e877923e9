"""Flux postBuild substitution: the forms kustomize-controller expands, and the ones it leaves."""

from __future__ import annotations

import pytest

from dsgate.gitops.substitute import SubstitutionError, check_names, substitute

pytestmark = pytest.mark.unit

VARS = {"cluster": "staging", "empty": "", "region": "eu-west-1"}


@pytest.mark.parametrize(
    ("text", "expected_text"),
    [
        ("name: ${cluster}", "name: staging"),
        ("name: ${missing}", "name: "),
        ("name: $cluster", "name: $cluster"),  # only the braced form is expanded
        ("name: ${missing:=fallback}", "name: fallback"),
        ("name: ${cluster:=fallback}", "name: staging"),
        ("name: ${empty:=fallback}", "name: fallback"),
        ("name: ${missing:-dash}", "name: dash"),
        ("name: ${missing=eq}", "name: eq"),
        ("name: ${missing:=${region}}", "name: eu-west-1"),  # a default may itself be substituted
        ("name: ${missing:=a/b\\/c}", "name: a/b/c"),  # \/ escapes a slash inside a default
        ("name: $${cluster}", "name: ${cluster}"),  # $$ is an escaped $
        ("cost: $$5", "cost: $5"),
        ("a: ${cluster}-${region}", "a: staging-eu-west-1"),
        ("a: $", "a: $"),
    ],
)
def test_substitute(text: str, expected_text: str) -> None:
    assert substitute(text, VARS) == expected_text


@pytest.mark.parametrize(
    ("text", "expected_error"),
    [
        ("a: ${cluster", "unsupported substitution"),
        ("a: ${missing:=open", "missing closing brace"),
        ("a: ${#cluster}", "unable to parse variable name"),
        ("a: ${cluster/a/b}", "unsupported substitution"),
    ],
)
def test_substitute_refuses(text: str, expected_error: str) -> None:
    with pytest.raises(SubstitutionError, match=expected_error):
        substitute(text, VARS)


@pytest.mark.parametrize(
    ("name", "expected_ok"), [("cluster_name", True), ("_x1", True), ("1x", False), ("a-b", False)]
)
def test_variable_names(name: str, expected_ok: bool) -> None:
    if expected_ok:
        check_names({name: "v"})
    else:
        with pytest.raises(SubstitutionError, match="var name is invalid"):
            check_names({name: "v"})
