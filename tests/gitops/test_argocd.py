"""Argo CD: an app-of-apps repository expanded as Argo CD would sync it, checked object by object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsgate.gitops.engine import Settings, expand
from dsgate.gitops.objects import GitOpsError

from .conftest import ARGO, FLEET
from .test_flux import _at, _key, _write

pytestmark = pytest.mark.render

PLATFORM = "https://git.example.com/acme/platform"
REPOS = (f"{PLATFORM}={ARGO}", f"ssh://git@git.example.com/acme/fleet={FLEET}")
ROOT = ("Application argocd/root",)
AGENT = (*ROOT, "Application argocd/agent")
COLLECTOR = (*ROOT, "Application argocd/collector")
PLAIN = (*ROOT, "Application argocd/plain")
RELAYS = (*ROOT, "ApplicationSet argocd/relays")
TEAMS = (*ROOT, "ApplicationSet argocd/teams")


@pytest.fixture(scope="module")
def argo(chart_store: Path) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    items = expand(ARGO / "bootstrap", Settings(charts=(chart_store,), repos=REPOS))
    return {_key(i): i.obj for i in items}


EXPECTED = {
    ((), "Application argocd/root"),
    (ROOT, "Application argocd/agent"),
    (ROOT, "Application argocd/collector"),
    (ROOT, "Application argocd/plain"),
    (ROOT, "ApplicationSet argocd/relays"),
    (ROOT, "ApplicationSet argocd/teams"),
    (AGENT, "CustomResourceDefinition probes.agent.example.com"),
    (AGENT, "ServiceAccount agents/node-agent"),
    (AGENT, "DaemonSet agents/node-agent"),
    (COLLECTOR, "DaemonSet observability/argo-collector"),
    (PLAIN, "ConfigMap misc/plain-a"),
    (PLAIN, "ConfigMap misc/plain-b"),
    (RELAYS, "Application argocd/relay-east"),
    (RELAYS, "Application argocd/relay-west"),
    ((*RELAYS, "Application argocd/relay-east"), "DaemonSet relay-east/relay-east"),
    ((*RELAYS, "Application argocd/relay-east"), "Service relay-east/relay-east"),
    ((*RELAYS, "Application argocd/relay-west"), "DaemonSet relay-west/relay-west"),
    ((*RELAYS, "Application argocd/relay-west"), "Service relay-west/relay-west"),
    (TEAMS, "Application argocd/team-alpha"),
    (TEAMS, "Application argocd/team-beta"),
    ((*TEAMS, "Application argocd/team-alpha"), "ConfigMap team-alpha/team-config"),
    ((*TEAMS, "Application argocd/team-beta"), "ConfigMap team-beta/team-config"),
}


def test_objects_and_chains(argo: dict[tuple[tuple[str, ...], str], dict[str, Any]]) -> None:
    assert set(argo) == EXPECTED


@pytest.mark.parametrize(
    ("via", "resource", "path", "expected_value"),
    [
        # chart from a Helm repository (~1.1.0 -> 1.1.5), $values/ value files from the ref source,
        # valuesObject instead of values, parameters (typed, and forceString), releaseName
        (
            AGENT,
            "DaemonSet agents/node-agent",
            "spec.template.spec.containers.0.image",
            "mirror.example.com/agent:1.1.5",
        ),
        (
            AGENT,
            "DaemonSet agents/node-agent",
            "spec.template.spec.containers.0.args",
            ["--log-level=staging", "--port=9400", "--from-values-object"],
        ),
        # kustomize: namePrefix, images, patches, components; the overlay's own labels stay
        (
            COLLECTOR,
            "DaemonSet observability/argo-collector",
            "spec.template.spec.containers.0.image",
            "registry.example.com/collector:3.0.0",
        ),
        (
            COLLECTOR,
            "DaemonSet observability/argo-collector",
            "spec.template.spec.tolerations",
            [{"operator": "Exists"}],
        ),
        (
            COLLECTOR,
            "DaemonSet observability/argo-collector",
            "metadata.annotations",
            {"platform.example.com/owner": "observability"},
        ),
        (COLLECTOR, "DaemonSet observability/argo-collector", "metadata.labels", {"environment": "staging"}),
        # directory: recurse, include {*.yaml,*.yml}, exclude skip/*
        (PLAIN, "ConfigMap misc/plain-b", "data", {"file": "sub/cm2.yml"}),
        # ApplicationSet list generator, fasttemplate parameters; a chart in another repository
        ((*RELAYS, "Application argocd/relay-west"), "Service relay-west/relay-west", "spec.clusterIP", "10.96.1.2"),
        (RELAYS, "Application argocd/relay-east", "spec.destination.namespace", "relay-east"),
        # git directory generator with goTemplate; teams/archived excluded
        ((*TEAMS, "Application argocd/team-beta"), "ConfigMap team-beta/team-config", "data", {"team": "beta"}),
    ],
)
def test_fields(
    argo: dict[tuple[tuple[str, ...], str], dict[str, Any]],
    via: tuple[str, ...],
    resource: str,
    path: str,
    expected_value: Any,
) -> None:
    assert _at(argo[(via, resource)], path) == expected_value


APP = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  source: {{repoURL: {url}, path: {path}}}\n  destination: {{namespace: x}}\n"


@pytest.mark.parametrize(
    ("files", "expected_error"),
    [
        (
            {
                "boot/a.yaml": APP.format(name="a", url=PLATFORM, path="loop"),
                "loop/a.yaml": APP.format(name="a", url=PLATFORM, path="loop"),
            },
            "Application cycle: Application argocd/a → Application argocd/a",
        ),
        (
            {"boot/a.yaml": APP.format(name="a", url=PLATFORM, path="nowhere")},
            "Application argocd/a: path 'nowhere' is not a directory",
        ),
        (
            {
                "boot/a.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a, namespace: argocd}\nspec:\n  source: {repoURL: 'https://charts.example.com', chart: absent, targetRevision: 1.x}\n"
            },
            "Application argocd/a: chart 'absent' version '1.x' from https://charts.example.com not found offline",
        ),
    ],
)
def test_argo_errors(tmp_path: Path, files: dict[str, str], expected_error: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(GitOpsError, match=expected_error):
        expand(tmp_path / "boot", Settings(repos=(f"{PLATFORM}={tmp_path}",)))
