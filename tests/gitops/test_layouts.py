"""GitOps repositories as people lay them out (issue 22): `flux bootstrap` layouts published without
their generated gotk-sync.yaml, several charts missing offline, ApplicationSets with clusters, matrix
and merge generators, Helm values folders next to the Applications that read them.

Fixtures: data/bootstrap (Flux) and data/appsets (Argo CD), both written for these tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.gate.sourcekinds import FilesSource
from dsgate.gitops import artifacts
from dsgate.gitops.argocd import _template  # noqa: PLC2701  # the ApplicationSet template step, driven directly by the generator tests
from dsgate.gitops.charts import MissingCharts
from dsgate.gitops.engine import Settings, expand
from dsgate.gitops.flux import IMPLIED
from dsgate.gitops.generators import ArgoCluster, Generators
from dsgate.gitops.objects import GitOpsError
from dsgate.gitops.repos import Repos
from dsgate.plugins import discover

from .conftest import DATA

BOOTSTRAP = DATA / "bootstrap"
APPSETS = DATA / "appsets"
APPS_KS = f"Kustomization flux-system/apps ({IMPLIED})"
COLLECTOR_HR = f"HelmRelease flux-system/collector ({IMPLIED})"


def _objects(entry: Path, settings: Settings | None = None) -> set[tuple[str, str, str]]:
    """(cluster, chain, Kind namespace/name) of every object ENTRY's cluster(s) would get."""
    out = set()
    for item in expand(entry, settings or Settings()):
        meta = item.obj.get("metadata") or {}
        out.add(
            (item.cluster, " → ".join(item.via), f"{item.obj['kind']} {meta.get('namespace', '')}/{meta.get('name')}")
        )
    return out


@pytest.mark.render
@pytest.mark.parametrize(
    ("cluster", "expected_objects"),
    [
        # gotk-sync.yaml is a placeholder comment: the sourceRef flux-system is the repository itself, and the chain says so
        (
            "dev",
            {
                ("", "", "Kustomization flux-system/apps"),
                ("", "", "HelmRelease flux-system/collector"),
                ("", APPS_KS, "DaemonSet agents/node-agent"),
                ("", COLLECTOR_HR, "DaemonSet observability/observability-collector"),
            },
        ),
        # gotk-sync.yaml is not there at all: the same
        (
            "prod",
            {
                ("", "", "Kustomization flux-system/apps"),
                ("", "", "HelmRelease flux-system/collector"),
                ("", APPS_KS, "DaemonSet agents/node-agent"),
                ("", COLLECTOR_HR, "DaemonSet observability/observability-collector"),
            },
        ),
    ],
)
def test_bootstrap_source_is_the_repository(cluster: str, expected_objects: set[tuple[str, str, str]]) -> None:
    assert _objects(BOOTSTRAP / "clusters" / cluster) == expected_objects


@pytest.mark.render
def test_missing_charts_named_in_one_error() -> None:
    with pytest.raises(MissingCharts) as info:
        expand(BOOTSTRAP / "clusters" / "offline", Settings())
    message = str(info.value)
    assert "\n" not in message  # one line
    assert message.startswith(
        "2 charts not found offline: [1] HelmRelease flux-system/logs: chart 'log-shipper' version '2.x' from https://charts.example.com/vendor/log-shipper"
    )
    assert (
        "[2] HelmRelease flux-system/metrics: chart 'metrics-agent' version '1.4.0' from https://charts.example.com/vendor/metrics-agent"
        in message
    )
    assert message.endswith(
        "searched: no --charts directory given; put the chart package (helm pull writes <chart>-<version>.tgz) or the unpacked chart in a directory named with --charts DIR (charts: in dsgate.yaml)"
    )


PROD = ArgoCluster("prod", "https://prod.example.com", {"env": "prod", "tier": "gold"})
EDGE = ArgoCluster("edge", "https://edge.example.com", {"env": "edge"})
IN = {"name": "in-cluster", "server": "https://kubernetes.default.svc"}


def _names(params: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(p.get(k) for k in keys) for p in params]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("generator", "go", "clusters", "keys", "expected"),
    [
        # clusters, no selector, no cluster known: Argo CD's own cluster only
        ("clusters: {}", False, [], ("name", "server"), [("in-cluster", IN["server"])]),
        # clusters, no selector: in-cluster first, then every known cluster
        (
            "clusters: {}",
            False,
            [PROD, EDGE],
            ("name", "nameNormalized"),
            [("in-cluster", "in-cluster"), ("prod", "prod"), ("edge", "edge")],
        ),
        # a selector leaves Argo CD's own cluster out (no Secret declares it) and matches labels
        (
            "clusters: {selector: {matchLabels: {env: prod}}}",
            False,
            [PROD, EDGE],
            ("name", "metadata.labels.tier"),
            [("prod", "gold")],
        ),
        # matchExpressions NotIn / Exists
        (
            "clusters: {selector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}, {key: env, operator: Exists}]}}",
            False,
            [PROD, EDGE],
            ("name",),
            [("edge",)],
        ),
        # values are templated with the cluster's own parameters (flat without goTemplate)
        (
            "clusters: {selector: {matchLabels: {env: edge}}, values: {ns: 'agents-{{name}}'}}",
            False,
            [PROD, EDGE],
            ("values.ns",),
            [("agents-edge",)],
        ),
        # with goTemplate the parameters stay nested
        (
            "clusters: {selector: {matchLabels: {env: edge}}, values: {ns: 'agents-{{ .name }}'}}",
            True,
            [PROD, EDGE],
            ("name",),
            [("edge",)],
        ),
        # matrix: every pair; the second generator sees the first's parameters
        (
            "matrix: {generators: [{list: {elements: [{a: '1'}, {a: '2'}]}}, {list: {elements: [{b: 'x-{{a}}'}, {b: y}]}}]}",
            False,
            [],
            ("a", "b"),
            [("1", "x-1"), ("1", "y"), ("2", "x-2"), ("2", "y")],
        ),
        # matrix of clusters x list
        (
            "matrix: {generators: [{clusters: {selector: {matchLabels: {env: prod}}}}, {list: {elements: [{app: a}, {app: b}]}}]}",
            False,
            [PROD, EDGE],
            ("name", "app"),
            [("prod", "a"), ("prod", "b")],
        ),
        # merge: the list overrides the clusters' value where the server agrees; base sets the list does not name stay
        (
            "merge: {mergeKeys: [server], generators: [{clusters: {values: {level: info}}}, {list: {elements: [{server: 'https://prod.example.com', values.level: debug}, {server: 'https://nowhere', values.level: x}]}}]}",
            False,
            [PROD, EDGE],
            ("name", "values.level"),
            [("in-cluster", "info"), ("prod", "debug"), ("edge", "info")],
        ),
        # merge with goTemplate: nested maps merge key by key
        (
            "merge: {mergeKeys: [name], generators: [{list: {elements: [{name: a, v: {x: '1', y: '1'}}, {name: b, v: {x: '1'}}]}}, {list: {elements: [{name: a, v: {y: '2'}}]}}]}",
            True,
            [],
            ("name", "v"),
            [("a", {"x": "1", "y": "2"}), ("b", {"x": "1"})],
        ),
    ],
)
def test_generators(
    generator: str, go: bool, clusters: list[ArgoCluster], keys: tuple[str, ...], expected: list[tuple[Any, ...]]
) -> None:
    gens = Generators(Repos(APPSETS), lambda: list(clusters), _template)
    assert _names(gens.params(yamlc.safe_load(generator), go, "ApplicationSet t"), *keys) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    ("generator", "expected_error"),
    [
        (
            "pullRequest: {}",
            r"generator \['pullRequest'\] is not one dsgate renders \(list, clusters, git directories and files, matrix, merge\)",
        ),  # named, not ignored
        ("matrix: {generators: [{list: {elements: []}}]}", "combines exactly two generators"),  # Argo CD's rule
        (
            "matrix: {generators: [{list: {elements: [{a: '1'}]}}, {list: {elements: [{a: '2'}]}}]}",
            "both generators set a to different values",
        ),
        ("merge: {generators: [{list: {elements: []}}, {list: {elements: []}}]}", "needs mergeKeys"),
        (
            "merge: {mergeKeys: [k], generators: [{list: {elements: [{k: '1'}, {k: '1'}]}}, {list: {elements: []}}]}",
            "share the mergeKeys values",
        ),
    ],
)
def test_generator_errors(generator: str, expected_error: str) -> None:
    gens = Generators(Repos(APPSETS), list, _template)
    with pytest.raises(GitOpsError, match=expected_error):
        gens.params(yamlc.safe_load(generator), False, "ApplicationSet t")


PROD_URL = "https://prod.example.com:6443"
EDGE_URL = "https://edge.example.com:6443"


@pytest.mark.render
@pytest.mark.parametrize(
    ("expected_cluster", "expected_chain", "expected_object"),
    [
        # clusters generator over the repository's cluster Secrets (selector env In prod, edge)
        (
            PROD_URL,
            "ApplicationSet argocd/node-agent → Application argocd/prod-node-agent",
            "DaemonSet agents/node-agent",
        ),
        (
            EDGE_URL,
            "ApplicationSet argocd/node-agent → Application argocd/edge-node-agent",
            "DaemonSet agents/node-agent",
        ),
        # matrix of clusters (prod) x git directories agents/*, destination by name
        (
            PROD_URL,
            "ApplicationSet argocd/agents-matrix → Application argocd/log-agent-prod-matrix",
            "DaemonSet matrix/log-agent",
        ),
        (
            PROD_URL,
            "ApplicationSet argocd/agents-matrix → Application argocd/node-agent-prod-matrix",
            "DaemonSet matrix/node-agent",
        ),
        # merge: a chart with values from values/agent/<cluster>.yaml ($values) and the merged log level
        (
            PROD_URL,
            "ApplicationSet argocd/agent-chart → Application argocd/prod-agent-chart",
            "DaemonSet agent-chart/prod-agent-chart",
        ),
        (
            EDGE_URL,
            "ApplicationSet argocd/agent-chart → Application argocd/edge-agent-chart",
            "DaemonSet agent-chart/edge-agent-chart",
        ),
    ],
)
def test_appsets_repository(
    expected_cluster: str, expected_chain: str, expected_object: str, appsets: dict[tuple[str, str, str], Any]
) -> None:
    assert (expected_cluster, expected_chain, expected_object) in appsets


@pytest.fixture(scope="module")
def appsets() -> dict[tuple[str, str, str], Any]:
    out = {}
    for item in expand(APPSETS / "apps", Settings()):
        meta = item.obj.get("metadata") or {}
        out[
            (item.cluster, " → ".join(item.via), f"{item.obj['kind']} {meta.get('namespace', '')}/{meta.get('name')}")
        ] = item.obj
    return out


@pytest.mark.render
@pytest.mark.parametrize(
    ("name", "expected_args"),
    [
        ("prod-agent-chart", ["--log-level=debug", "--port=9200"]),  # merge override + values/agent/prod.yaml
        ("edge-agent-chart", ["--log-level=info", "--port=9300"]),  # clusters value + values/agent/edge.yaml
        ("collector", ["--log-level=warn", "--port=9400"]),  # a value file relative to the chart path
    ],
)
def test_merged_values_reach_the_chart(
    name: str, expected_args: list[str], appsets: dict[tuple[str, str, str], Any]
) -> None:
    (obj,) = [o for (_, _, ref), o in appsets.items() if ref.startswith("DaemonSet ") and ref.endswith(f"/{name}")]
    assert obj["spec"]["template"]["spec"]["containers"][0]["args"] == expected_args


@pytest.mark.render
def test_flag_clusters_join_the_secrets() -> None:
    # --argocd-cluster adds a cluster the repository does not declare: the clusters generator without selector
    # (everywhere) reaches it; the selector env In (prod, edge) and the secret-type label selector (merge) do not
    objs = _objects(APPSETS / "apps", Settings(clusters=("lab=https://lab.example.com",)))
    lab = {(chain, ref) for cluster, chain, ref in objs if cluster == "https://lab.example.com"}
    assert lab == {
        ("ApplicationSet argocd/everywhere → Application argocd/lab-everywhere", "DaemonSet everywhere/log-agent")
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("top", "expected_files"),
    [
        # values/agent/*.yaml are read through '$values/values/agent/{{name}}.yaml', values/collector/values.yaml as
        # '../../values/collector/values.yaml' of the chart path: never a files source
        (APPSETS, {"agents/log-agent/daemonset.yaml", "agents/node-agent/daemonset.yaml"}),
        # the Argo CD fixture: values/agent/{common,staging}.yaml are named by $values valueFiles
        (
            DATA / "argo",
            {
                "teams/alpha/config.yaml",
                "teams/archived/config.yaml",
                "teams/beta/config.yaml",
                "workloads/plain/cm.yaml",
                "workloads/plain/skip/cm3.yaml",
                "workloads/plain/sub/cm2.yml",
            },
        ),
    ],
)
def test_values_folders_are_not_manifests(top: Path, expected_files: set[str]) -> None:
    files = {str(f.relative_to(top)) for s in discover([top]) if isinstance(s, FilesSource) for f in s.files}
    assert files == expected_files


@pytest.mark.render
def test_argo_entry_reads_only_its_own_files() -> None:
    # apps/drafts/daemonset.yaml is a Helm template (not YAML a reader accepts); Argo CD never reads it
    objs = _objects(APPSETS / "apps")
    assert not any("drafts" in chain or ref.endswith("/{{ .Release.Name }}") for _, chain, ref in objs)


@pytest.mark.render
def test_external_artifact_of_an_artifact_generator() -> None:
    # clusters/split: the Kustomization's source is an ExternalArtifact the ArtifactGenerator cuts from the repository
    assert ("", "Kustomization flux-system/apps", "DaemonSet agents/node-agent") in _objects(
        BOOTSTRAP / "clusters" / "split"
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("copy", "expected_files"),
    [
        # a glob: the files below its fixed prefix, at their paths below it
        ([{"from": "@repo/apps/**", "to": "@artifact/"}], {"kustomization.yaml", "agent.yaml", "NOTES.md"}),
        # exclude leaves files out
        (
            [{"from": "@repo/apps/**", "to": "@artifact/base/", "exclude": ["*.md"]}],
            {"base/kustomization.yaml", "base/agent.yaml"},
        ),
        # a directory without a glob is copied with its name into a destination ending in /
        (
            [{"from": "@repo/charts/collector", "to": "@artifact/charts/"}],
            {"charts/collector/Chart.yaml", "charts/collector/templates/daemonset.yaml"},
        ),
        # a file to a path: renamed; a file to a directory: kept by name
        (
            [
                {"from": "@repo/apps/agent.yaml", "to": "@artifact/env.yaml"},
                {"from": "@repo/apps/kustomization.yaml", "to": "@artifact/x/"},
            ],
            {"env.yaml", "x/kustomization.yaml"},
        ),
        # a single-level glob does not descend
        ([{"from": "@repo/charts/collector/*.yaml", "to": "@artifact/"}], {"Chart.yaml"}),
    ],
)
def test_artifact_copy(tmp_path: Path, copy: list[dict[str, Any]], expected_files: set[str]) -> None:
    generator = {
        "apiVersion": "source.extensions.fluxcd.io/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "g", "namespace": "flux-system"},
    }
    generator["spec"] = {
        "sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
        "artifacts": [{"name": "a", "copy": copy}],
    }
    dest = artifacts.assemble(
        generator, generator["spec"]["artifacts"][0], lambda kind, ns, name: BOOTSTRAP, tmp_path / "out"
    )
    assert {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()} == expected_files


@pytest.mark.unit
@pytest.mark.parametrize(
    ("copy", "expected_error"),
    [
        ({"from": "@other/apps/**", "to": "@artifact/"}, "names @other, which spec.sources does not declare"),
        (
            {"from": "@repo/apps/**", "to": "@artifact/", "strategy": "Merge"},
            "copy strategy 'Merge' is not rendered offline",
        ),
        ({"from": "@repo/nowhere", "to": "@artifact/"}, "nowhere is not in the source"),
        ({"from": "@repo/../..", "to": "@artifact/"}, "leaves the source"),
    ],
)
def test_artifact_copy_errors(tmp_path: Path, copy: dict[str, Any], expected_error: str) -> None:
    generator = {
        "apiVersion": "source.extensions.fluxcd.io/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "g", "namespace": "flux-system"},
    }
    generator["spec"] = {
        "sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
        "artifacts": [{"name": "a", "copy": [copy]}],
    }
    with pytest.raises(GitOpsError, match=expected_error):
        artifacts.assemble(
            generator, generator["spec"]["artifacts"][0], lambda kind, ns, name: BOOTSTRAP, tmp_path / "out"
        )


GAPS = DATA / "gaps"


@pytest.mark.render
@pytest.mark.parametrize(
    ("entry", "expected_type", "expected_parts"),
    [
        # a chart from a Helm repository and a chart path whose dependency is not vendored: both named, one line
        (
            "missing",
            MissingCharts,
            [
                "2 charts not found offline: [1] Application argocd/exporter: chart 'exporter' version '3.x' from https://charts.example.com/stable",
                "[2] Application argocd/needs-dep: chart 'common' version '1.x' from https://charts.example.com/library not found offline "
                "(a dependency of chart needs-dep, not in its charts/ directory; helm dependency build",
            ],
        ),
        # Jsonnet is not evaluated: an error, not an Application that silently renders nothing
        (
            "jsonnet",
            GitOpsError,
            ["Application argocd/jsonnet-agent: ", "holds Jsonnet (agent.jsonnet), which dsgate does not evaluate"],
        ),
        # a config management plugin is not run: an error naming it
        (
            "plugin",
            GitOpsError,
            [
                "Application argocd/plugin-agent: source 'jsonnet-app' uses config management plugin 'kasane', which dsgate does not run"
            ],
        ),
    ],
)
def test_what_cannot_render_offline_is_named(
    entry: str, expected_type: type[Exception], expected_parts: list[str]
) -> None:
    with pytest.raises(expected_type) as info:
        expand(GAPS / entry, Settings())
    assert "\n" not in str(info.value)
    for part in expected_parts:
        assert part in str(info.value)
