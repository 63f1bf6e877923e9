"""node-exporter and fluentd share their names, labels, image reference, pull secrets, toleration presets,
affinity merge and guards through the dsgate-common library chart (charts/dsgate-common): rendered with
the same shared values, both charts produce the same shared parts, and those parts are the expected ones.

Every row renders both real charts through the gate's render path (helm v4, the library built into
charts/ by build_dependencies), so a drift between the charts, or a library change that breaks one of
them, fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.support import CHARTS, daemonset

from dsgate import yamlc
from dsgate.gate import chartdeps
from dsgate.gate.render import RenderError
from dsgate.gate.sourcekinds import render_chart

pytestmark = pytest.mark.render

NAMES = ("node-exporter", "fluentd")
DIGEST = "sha256:" + "b" * 64
# The charts' default virtual-node exclusions (excludeVirtualNodes.matchExpressions; the same in both).
EXCLUDE = [
    {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]},
    {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]},
]
POOL = {"key": "pool", "operator": "Exists"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
GPU = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
SAME = None  # expected column: not asserted beyond both charts agreeing


def _required(terms: list[Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}


def shared_parts(values: dict[str, Any], release: str = "rel") -> dict[str, dict[str, Any]]:
    """The shared parts of each chart's DaemonSet rendered with VALUES."""
    out = {}
    for name in NAMES:
        ds = daemonset(render_chart(CHARTS / name, values=values, release=release).objects)
        pod = ds["spec"]["template"]["spec"]
        labels = ds["metadata"]["labels"]
        out[name] = {
            "fullname": ds["metadata"]["name"],
            "selector": ds["spec"]["selector"]["matchLabels"],
            "labels": {
                k: v
                for k, v in labels.items()
                if k not in ("app.kubernetes.io/component", "app.kubernetes.io/version", "helm.sh/chart")
            },
            "affinity": pod.get("affinity"),
            "tolerations": pod.get("tolerations"),
            "image": pod["containers"][0]["image"],
            "imagePullSecrets": pod.get("imagePullSecrets"),
            "serviceAccountName": pod["serviceAccountName"],
        }
    return out


@pytest.mark.parametrize(
    ("values", "expected_affinity", "expected_tolerations"),
    [
        # chart defaults: the exclusions are the only required term, every taint tolerated
        pytest.param({}, _required([{"matchExpressions": EXCLUDE}]), [{"operator": "Exists"}], id="defaults"),
        # an empty term matches no node: it stays empty (fluentd used to add the exclusions, matching every non-virtual node)
        pytest.param({"affinity": _required([{}])}, _required([{}]), SAME, id="empty-term-kept"),
        # terms are ORed: the empty one stays, the other gets the exclusions ANDed in
        pytest.param(
            {"affinity": _required([{}, {"matchExpressions": [POOL]}])},
            _required([{}, {"matchExpressions": [POOL, *EXCLUDE]}]),
            SAME,
            id="empty-and-real-term",
        ),
        # a matchFields-only term is a real term: it gets the exclusions
        pytest.param(
            {"affinity": _required([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])},
            _required(
                [
                    {
                        "matchExpressions": EXCLUDE,
                        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
                    }
                ]
            ),
            SAME,
            id="match-fields-term",
        ),
        # exclusion off: the user's affinity passes through untouched, empty term included
        pytest.param(
            {"affinity": _required([{}]), "excludeVirtualNodes": {"enabled": False}},
            _required([{}]),
            SAME,
            id="exclusion-off",
        ),
        # no exclusions and no affinity: no affinity block at all
        pytest.param({"excludeVirtualNodes": {"matchExpressions": []}}, None, SAME, id="no-affinity"),
        # the control-plane preset tolerates exactly the control-plane taint's effect (node-exporter had no effect)
        pytest.param({"tolerationPreset": "controlPlane"}, SAME, [CONTROL_PLANE], id="preset-controlPlane"),
        pytest.param(
            {"tolerationPreset": "controlPlane", "tolerations": [GPU]},
            SAME,
            [CONTROL_PLANE, GPU],
            id="preset-controlPlane-plus-extra",
        ),
        # `all` first, then the extra tolerations
        pytest.param(
            {"tolerationPreset": "all", "tolerations": [GPU]},
            SAME,
            [{"operator": "Exists"}, GPU],
            id="preset-all-plus-extra",
        ),
        # `none` adds nothing: only the extra tolerations, or no block
        pytest.param({"tolerationPreset": "none", "tolerations": [GPU]}, SAME, [GPU], id="preset-none-plus-extra"),
        pytest.param({"tolerationPreset": "none"}, SAME, None, id="preset-none"),
    ],
)
def test_scheduling_is_the_same(values: dict[str, Any], expected_affinity: Any, expected_tolerations: Any) -> None:
    parts = shared_parts(values)
    ne, fd = parts["node-exporter"], parts["fluentd"]
    assert (ne["affinity"], ne["tolerations"]) == (fd["affinity"], fd["tolerations"])
    if expected_affinity is not SAME:
        assert fd["affinity"] == expected_affinity
    if expected_tolerations is not SAME:
        assert fd["tolerations"] == expected_tolerations


IMAGE = {"registry": "quay.io", "repository": "org/agent", "tag": "v1", "digest": ""}


@pytest.mark.parametrize(
    ("values", "release", "expected_fullname", "expected_image", "expected_secrets"),
    [
        # names from the release and the chart name differ per chart: the rule is the same (checked below)
        pytest.param({"image": IMAGE}, "rel", "rel-{chart}", "quay.io/org/agent:v1", None, id="defaults"),
        pytest.param(
            {"image": IMAGE}, "my-{chart}", "my-{chart}", "quay.io/org/agent:v1", None, id="release-contains-name"
        ),
        pytest.param(
            {"image": IMAGE, "nameOverride": "agent"},
            "rel",
            "rel-agent",
            "quay.io/org/agent:v1",
            None,
            id="nameOverride",
        ),
        pytest.param(
            {"image": IMAGE, "fullnameOverride": "fleet-agent"},
            "rel",
            "fleet-agent",
            "quay.io/org/agent:v1",
            None,
            id="fullnameOverride",
        ),
        # release + name: 63 characters at most, never ending in a dash
        pytest.param(
            {"image": IMAGE, "nameOverride": "abcdefgh-ij"},
            "r" * 53,
            "r" * 53 + "-abcdefgh",
            "quay.io/org/agent:v1",
            None,
            id="release-plus-name-truncated",
        ),
        # with a digest the tag stays; the kubelet pulls by the digest
        pytest.param(
            {"image": {**IMAGE, "digest": DIGEST}},
            "rel",
            "rel-{chart}",
            f"quay.io/org/agent:v1@{DIGEST}",
            None,
            id="tag-and-digest",
        ),
        # global.imageRegistry replaces the image's registry; no registry at all leaves the repository alone
        pytest.param(
            {"image": IMAGE, "global": {"imageRegistry": "mirror.example.com"}},
            "rel",
            "rel-{chart}",
            "mirror.example.com/org/agent:v1",
            None,
            id="global-registry",
        ),
        pytest.param(
            {"image": {**IMAGE, "registry": ""}}, "rel", "rel-{chart}", "org/agent:v1", None, id="no-registry"
        ),
        # global pull secrets may be plain names; the chart's own follow
        pytest.param(
            {
                "image": IMAGE,
                "global": {"imagePullSecrets": ["plain", {"name": "obj"}]},
                "imagePullSecrets": [{"name": "chart"}],
            },
            "rel",
            "rel-{chart}",
            "quay.io/org/agent:v1",
            [{"name": "plain"}, {"name": "obj"}, {"name": "chart"}],
            id="pull-secrets",
        ),
        # templated commonLabels and podLabels never reach the selector
        pytest.param(
            {"image": IMAGE, "commonLabels": {"team": "{{ .Release.Name }}"}, "podLabels": {"tier": "node"}},
            "rel",
            "rel-{chart}",
            "quay.io/org/agent:v1",
            None,
            id="templated-labels",
        ),
    ],
)
def test_names_labels_and_images_are_the_same(
    values: dict[str, Any],
    release: str,
    expected_fullname: str,
    expected_image: str,
    expected_secrets: list[dict[str, str]] | None,
) -> None:
    for name in NAMES:
        parts = shared_parts(values, release=release.replace("{chart}", name))[name]
        assert parts["fullname"] == expected_fullname.replace("{chart}", name)
        assert parts["image"] == expected_image
        assert parts["imagePullSecrets"] == expected_secrets
        assert parts["serviceAccountName"] == parts["fullname"]
        # the selector is name + instance only, whatever labels the user adds
        assert parts["selector"] == {
            "app.kubernetes.io/name": values.get("nameOverride", name),
            "app.kubernetes.io/instance": release.replace("{chart}", name),
        }
        assert parts["selector"].items() <= parts["labels"].items()
        if "commonLabels" in values:
            assert parts["labels"]["team"] == release.replace("{chart}", name)


@pytest.mark.parametrize(
    ("values", "expected_message"),
    [
        # the shared guards: each chart fails with the same message, collected with its own
        pytest.param(
            {"podDisruptionBudget": {"minAvailable": "50%"}},
            'podDisruptionBudget.minAvailable is "50%": it must be an integer',
            id="pdb-percentage",
        ),
        pytest.param(
            {"podDisruptionBudget": {"maxUnavailable": 1}},
            "podDisruptionBudget.maxUnavailable is not supported",
            id="pdb-maxUnavailable",
        ),
        pytest.param(
            {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}},
            "updateStrategy.rollingUpdate.maxUnavailable and maxSurge are both 0",
            id="rollout-both-zero",
        ),
        pytest.param(
            {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}},
            "serviceMonitor.enabled requires service.enabled",
            id="servicemonitor-without-service",
        ),
        # the YAML guard fails at once, naming the top-level key
        pytest.param(
            {"extraEnv": [{"name": "A", "value": "x\u0087"}]},
            "extraEnv holds a character YAML cannot carry",
            id="yaml-guard",
        ),
    ],
)
def test_guards_fail_the_same_way(values: dict[str, Any], expected_message: str) -> None:
    lines = {}
    for name in NAMES:
        with pytest.raises(RenderError) as excinfo:
            render_chart(CHARTS / name, values=values)
        (line,) = [ln.removeprefix("- ") for ln in str(excinfo.value).splitlines() if expected_message in ln]
        lines[name] = line[line.index(expected_message) :]
    assert lines["node-exporter"] == lines["fluentd"]


def test_library_chart_is_a_dependency_of_both_charts() -> None:
    """Both charts declare the library as a file:// dependency, and neither keeps a copy of its helpers."""
    library = CHARTS / "dsgate-common"
    assert yamlc.safe_load((library / "Chart.yaml").read_text())["type"] == "library"
    defined = {
        line.split('"')[1]
        for path in (library / "templates").glob("_*.tpl")
        for line in path.read_text().splitlines()
        if line.startswith('{{- define "')
    }
    for name in NAMES:
        assert chartdeps.local_dependencies(CHARTS / name) == [("dsgate-common", CHARTS / name / "../dsgate-common")]
        text = "".join(p.read_text() for p in (CHARTS / name / "templates").rglob("*") if p.is_file())
        own = {h.removeprefix("dsgate-common.") for h in defined}
        assert not [h for h in own if f'define "{name}.{h}"' in text]


def test_library_edit_reaches_the_charts(tmp_path: Path) -> None:
    """An edit of the library is rendered at once: the packaged copy in charts/ is rebuilt when stale."""
    for name in ("node-exporter", "dsgate-common"):
        shutil.copytree(CHARTS / name, tmp_path / name, ignore=shutil.ignore_patterns("charts"))
    chart = tmp_path / "node-exporter"
    assert chartdeps.stale(chart)
    assert render_chart(chart).objects
    assert not chartdeps.stale(chart)
    labels = tmp_path / "dsgate-common" / "templates" / "_labels.tpl"
    labels.write_text(
        labels.read_text().replace(
            "app.kubernetes.io/instance: {{ .Release.Name | quote }}",
            'app.kubernetes.io/instance: {{ .Release.Name | quote }}\nedited: "yes"',
        )
    )
    assert chartdeps.stale(chart)
    assert daemonset(render_chart(chart).objects)["spec"]["selector"]["matchLabels"]["edited"] == "yes"
