"""Flux: a cluster entry point expanded as Flux would apply it, checked object by object and field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsgate.gitops.engine import Settings, expand
from dsgate.gitops.objects import GitOpsError, Item

from .conftest import FLEET

pytestmark = pytest.mark.render

KS = "Kustomization flux-system/"
APPS = (KS + "apps",)
HR_AGENT = (*APPS, "HelmRelease agents/agent")
HR_RELAY = (*APPS, "HelmRelease agents/relay")
HR_CANARY = (*APPS, "HelmRelease agents/agent-canary")
COLLECTOR = (KS + "collector",)
INFRA = (KS + "infrastructure",)


def _key(item: Item) -> tuple[tuple[str, ...], str]:
    meta = item.obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return item.via, f"{item.obj['kind']} {ns + '/' if ns else ''}{meta.get('name')}"


@pytest.fixture(scope="module")
def staging(chart_store: Path) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    items = expand(FLEET / "clusters" / "staging", Settings(charts=(chart_store,)))
    return {_key(i): i.obj for i in items}


@pytest.fixture(scope="module")
def production(chart_store: Path) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    items = expand(FLEET / "clusters" / "production", Settings(charts=(chart_store,)))
    return {_key(i): i.obj for i in items}


EXPECTED_STAGING = {
    ((), "ConfigMap flux-system/cluster-vars"),
    ((), "GitRepository flux-system/flux-system"),
    ((), "Kustomization flux-system/flux-system"),
    ((), "Kustomization flux-system/apps"),
    ((), "Kustomization flux-system/collector"),
    ((), "Kustomization flux-system/infrastructure"),
    (INFRA, "HelmRepository flux-system/acme"),
    (INFRA, "OCIRepository flux-system/agent-canary"),
    (APPS, "Namespace agents"),
    (APPS, "ConfigMap agents/agent-values"),
    (APPS, "HelmRelease agents/agent"),
    (APPS, "HelmRelease agents/relay"),
    (APPS, "HelmRelease agents/agent-canary"),
    (COLLECTOR, "DaemonSet observability/stg-collector-v1"),
    (COLLECTOR, "ServiceAccount observability/stg-collector-v1"),
    (HR_AGENT, "ServiceAccount agents/agent"),
    (HR_AGENT, "DaemonSet agents/agent"),
    (HR_RELAY, "DaemonSet relay/edge-relay"),
    (HR_RELAY, "Service relay/edge-relay"),
    (HR_CANARY, "CustomResourceDefinition probes.agent.example.com"),
    (HR_CANARY, "ServiceAccount agents/agent-canary"),
    (HR_CANARY, "DaemonSet agents/agent-canary"),
}


def test_staging_objects_and_chains(staging: dict[tuple[tuple[str, ...], str], dict[str, Any]]) -> None:
    assert set(staging) == EXPECTED_STAGING


def _at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part.replace("~", ".")]
    return obj


@pytest.mark.parametrize(
    ("via", "resource", "path", "expected_value"),
    [
        # HelmRepository chart, highest version matching ">=1.0.0 <2.0.0" (1.3.0-rc.1 is a pre-release)
        (HR_AGENT, "DaemonSet agents/agent", "metadata.labels.app~kubernetes~io/instance", "agent"),
        # valuesFrom ConfigMap values.yaml, then targetPath port, then values (substituted), then the
        # staging overlay's kustomize patch; ${cluster_name} and $${...} from postBuild
        (
            HR_AGENT,
            "DaemonSet agents/agent",
            "spec.template.spec.containers.0.image",
            "registry.example.com/agent:1.2.0-staging",
        ),
        (
            HR_AGENT,
            "DaemonSet agents/agent",
            "spec.template.spec.containers.0.args",
            ["--log-level=debug", "--port=9200", "--cluster=staging", "--escaped=${not_a_var}"],
        ),
        # substitute wins over substituteFrom
        (
            HR_AGENT,
            "DaemonSet agents/agent",
            "spec.template.spec.nodeSelector",
            {"topology.example.com/region": "eu-west-1"},
        ),
        # spec.patches of the Flux Kustomization, substituted after the build
        (APPS, "HelmRelease agents/agent", "metadata.annotations", {"fleet.example.com/cluster": "staging"}),
        (APPS, "HelmRelease agents/relay", "metadata.annotations", {"fleet.example.com/cluster": "staging"}),
        # GitRepository chart path, releaseName, targetNamespace, postRenderers patches and images
        (
            HR_RELAY,
            "DaemonSet relay/edge-relay",
            "metadata.labels",
            {"app.kubernetes.io/name": "relay", "fleet.example.com/post-rendered": "true"},
        ),
        (
            HR_RELAY,
            "DaemonSet relay/edge-relay",
            "spec.template.spec.containers.0.image",
            "registry.example.com/relay:0.9.1",
        ),
        (HR_RELAY, "Service relay/edge-relay", "spec.clusterIP", "10.96.0.50"),
        # chartRef OCIRepository (tag 1.0.0), install.crds default Create: the chart's CRD is applied
        (
            HR_CANARY,
            "DaemonSet agents/agent-canary",
            "spec.template.spec.containers.0.image",
            "registry.example.com/agent:1.0.0",
        ),
        (
            HR_CANARY,
            "DaemonSet agents/agent-canary",
            "spec.template.spec.containers.0.args",
            ["--log-level=canary", "--port=9100"],
        ),
        # targetNamespace, namePrefix, nameSuffix, images, components
        (
            COLLECTOR,
            "DaemonSet observability/stg-collector-v1",
            "spec.template.spec.containers.0.image",
            "registry.example.com/collector:2.1.0",
        ),
        (
            COLLECTOR,
            "DaemonSet observability/stg-collector-v1",
            "spec.template.spec.priorityClassName",
            "system-node-critical",
        ),
        # no postBuild variables: Flux substitutes nothing, not even a default
        (
            COLLECTOR,
            "DaemonSet observability/stg-collector-v1",
            "metadata.annotations",
            {"fleet.example.com/cluster": "${cluster_name:=unknown}"},
        ),
    ],
)
def test_staging_fields(
    staging: dict[tuple[tuple[str, ...], str], dict[str, Any]],
    via: tuple[str, ...],
    resource: str,
    path: str,
    expected_value: Any,
) -> None:
    assert _at(staging[(via, resource)], path) == expected_value


PROD_AGENT = (KS + "apps", "HelmRelease agents/agent")


@pytest.mark.parametrize(
    ("resource", "path", "expected_value"),
    [
        # substituteFrom a Secret: data (base64) and stringData
        ("DaemonSet agents/agent", "spec.template.spec.containers.0.args", ["--log-level=warn", "--port=9300"]),
        ("DaemonSet agents/agent", "spec.template.spec.containers.0.image", "registry.example.com/agent:1.1.0"),
        # ${region} is set nowhere: it becomes empty, so the YAML value is null, exactly as Flux renders it
        ("DaemonSet agents/agent", "spec.template.spec.nodeSelector", {"topology.example.com/region": None}),
    ],
)
def test_production_fields(
    production: dict[tuple[tuple[str, ...], str], dict[str, Any]], resource: str, path: str, expected_value: Any
) -> None:
    assert _at(production[(PROD_AGENT, resource)], path) == expected_value


def test_production_has_no_collector(production: dict[tuple[tuple[str, ...], str], dict[str, Any]]) -> None:
    assert not [k for k in production if k[0][:1] == COLLECTOR]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _ks(name: str, path: str, extra: str = "") -> str:
    return (
        f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\n"
        f"spec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n{extra}"
    )


GIT = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec: {url: https://git.example.com/x}\n"


@pytest.mark.parametrize(
    ("files", "expected_error"),
    [
        (
            {
                "clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a"),
                "a/ks.yaml": _ks("b", "./b"),
                "b/ks.yaml": _ks("a", "./a"),
            },
            "Kustomization cycle: Kustomization flux-system/a → Kustomization flux-system/b → Kustomization flux-system/a",
        ),
        (
            {
                "clusters/c/sync.yaml": GIT
                + "---\n"
                + _ks("a", "./a", "  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: vars}]\n"),
                "a/cm.yaml": GIT,
            },
            "Kustomization flux-system/a: postBuild.substituteFrom ConfigMap flux-system/vars is defined nowhere",
        ),
        # a source that is not flux bootstrap's own GitRepository must be defined (flux-system's may be absent: test_layouts)
        (
            {"clusters/c/sync.yaml": _ks("a", "./a").replace("name: flux-system}", "name: platform}"), "a/x.yaml": GIT},
            "spec.sourceRef GitRepository flux-system/platform is defined nowhere",
        ),
        (
            {"clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./missing")},
            "Kustomization flux-system/a: spec.path missing is not a directory",
        ),
        (
            {
                "clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a"),
                "a/kustomization.yaml": "helmCharts: [{name: x}]\n",
            },
            "uses helmCharts, which Flux's kustomize-controller refuses",
        ),
        (
            {
                "clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a", "  postBuild:\n    substitute: {v: x}\n"),
                "a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: '${v/a/b}'}\n",
            },
            "variable substitution failed in ConfigMap c: unsupported substitution",
        ),
        (
            {
                "clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a", "  postBuild:\n    substitute: {v: '[x'}\n"),
                "a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: '${v}'}\n",
            },
            "Kustomization flux-system/a: ConfigMap c after substitution",
        ),
    ],
)
def test_flux_errors(tmp_path: Path, files: dict[str, str], expected_error: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(GitOpsError, match=expected_error):
        expand(tmp_path / "clusters" / "c", Settings())


def test_substitution_disabled_by_annotation(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations: {{{ann}}}\ndata: {{k: '${{v}}'}}\n"
    _write(
        tmp_path,
        {
            "clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a", "  postBuild:\n    substitute: {v: x}\n"),
            "a/on.yaml": cm.format(name="on", ann=""),
            "a/off.yaml": cm.format(name="off", ann="kustomize.toolkit.fluxcd.io/substitute: disabled"),
        },
    )
    data = {
        i.obj["metadata"]["name"]: i.obj["data"]["k"]
        for i in expand(tmp_path / "clusters" / "c", Settings())
        if i.obj["kind"] == "ConfigMap"
    }
    assert data == {"on": "x", "off": "${v}"}


HELM_REPO = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: acme, namespace: apps}\nspec: {url: https://charts.example.com}\n"


def _hr(spec: str) -> str:
    return f"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: web, namespace: apps}}\nspec:\n{spec}"


CHART = "  chart:\n    spec: {chart: agent, version: '1.2.0', sourceRef: {kind: HelmRepository, name: acme}}\n"


@pytest.mark.parametrize(
    ("release", "expected_objects", "expected_args"),
    [
        # an unpacked chart in the store; releaseName defaults to <targetNamespace>-<name>
        (
            _hr(CHART + "  targetNamespace: edge\n"),
            [
                "CustomResourceDefinition probes.agent.example.com",
                "ServiceAccount edge/edge-web",
                "DaemonSet edge/edge-web",
            ],
            ["--log-level=info"],
        ),
        (
            _hr(CHART + "  install: {crds: Skip}\n"),
            ["ServiceAccount apps/web", "DaemonSet apps/web"],
            ["--log-level=info"],
        ),
        (
            _hr(CHART + "  install: {crds: CreateReplace}\n  releaseName: named\n"),
            ["CustomResourceDefinition probes.agent.example.com", "ServiceAccount apps/named", "DaemonSet apps/named"],
            ["--log-level=info"],
        ),
        (_hr(CHART + "  suspend: true\n"), [], None),
        # valuesFiles of the chart, then values
        (
            _hr(
                "  chart:\n    spec: {chart: agent, version: '1.2.0', sourceRef: {kind: HelmRepository, name: acme}, valuesFiles: [values-quiet.yaml]}\n  install: {crds: Skip}\n  values: {port: 1}\n"
            ),
            ["ServiceAccount apps/web", "DaemonSet apps/web"],
            ["--log-level=quiet", "--port=1"],
        ),
        # chartRef to a HelmChart, which names the chart and version (a package in the store)
        (
            _hr("  chartRef: {kind: HelmChart, name: agent-chart}\n  install: {crds: Skip}\n")
            + "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: agent-chart, namespace: apps}\n"
            + "spec: {chart: agent, version: '~1.0', sourceRef: {kind: HelmRepository, name: acme}}\n",
            ["ServiceAccount apps/web", "DaemonSet apps/web"],
            ["--log-level=info", "--port=9100"],
        ),
    ],
)
def test_helmrelease_fields(
    tmp_path: Path, chart_store: Path, release: str, expected_objects: list[str], expected_args: list[str] | None
) -> None:
    _write(
        tmp_path,
        {"clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a"), "a/repo.yaml": HELM_REPO, "a/hr.yaml": release},
    )
    items = expand(tmp_path / "clusters" / "c", Settings(charts=(FLEET.parent / "charts", chart_store)))
    rendered = [i for i in items if i.via[1:] == ("HelmRelease apps/web",)]
    assert sorted(_key(i)[1] for i in rendered) == sorted(expected_objects)
    if expected_args is not None:
        ds = next(i.obj for i in rendered if i.obj["kind"] == "DaemonSet")
        assert ds["spec"]["template"]["spec"]["containers"][0]["args"][: len(expected_args)] == expected_args


def test_chart_from_unmapped_git_path(tmp_path: Path) -> None:
    release = _hr(
        "  chart:\n    spec: {chart: ./charts/none, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}\n"
    )
    _write(tmp_path, {"clusters/c/sync.yaml": GIT + "---\n" + _ks("a", "./a"), "a/hr.yaml": release})
    with pytest.raises(
        GitOpsError,
        match=r"HelmRelease apps/web: chart path './charts/none' has no Chart.yaml in .* \(the checkout of https://git.example.com/x\); map the repository with --repo",
    ):
        expand(tmp_path / "clusters" / "c", Settings())
