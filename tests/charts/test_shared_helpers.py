"""The helpers node-exporter and fluentd share (names, labels, image reference, pull secrets, the YAML
guard) are the same text in both `_helpers.tpl`, and render the same for the same input.

A probe chart holds both helper files (their defines differ by prefix) and renders every shared helper
of each chart into one ConfigMap per values row, through the real helm v4.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support import CHARTS

from dsgate.gate.render import RenderError, render_chart

pytestmark = pytest.mark.render

PREFIXES = {"node-exporter": "node-exporter", "fluentd": "fluentd"}
SHARED = re.compile(r"\{\{- /\* BEGIN SHARED HELPERS \*/\}\}\n(.*?)\{\{- /\* END SHARED HELPERS \*/\}\}", re.S)
# Helpers called with the chart's root context, and the one called with an image dict.
ROOT_HELPERS = ("name", "fullname", "namespace", "chart", "selectorLabels", "labels", "podLabels", "serviceAccountName", "imagePullSecrets")
DIGEST = "sha256:" + "b" * 64
COMPONENT = "app.kubernetes.io/component"
BASE_VALUES: dict[str, Any] = {
    "global": {"imageRegistry": "", "imagePullSecrets": []},
    "imagePullSecrets": [],
    "serviceAccount": {"create": True, "name": ""},
    "image": {"registry": "quay.io", "repository": "org/agent", "tag": "", "digest": ""},
}


def shared_block(chart: str) -> str:
    """The SHARED section of CHART's helpers with its prefix written as P."""
    text = (CHARTS / chart / "templates" / "_helpers.tpl").read_text()
    match = SHARED.search(text)
    assert match, f"charts/{chart}/templates/_helpers.tpl has no BEGIN/END SHARED HELPERS markers"
    return match.group(1).replace(f'"{PREFIXES[chart]}.', '"P.').replace(f"\n{PREFIXES[chart]}.", "\nP.")


def test_shared_helpers_are_the_same_text() -> None:
    assert shared_block("node-exporter") == shared_block("fluentd")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chart = tmp_path_factory.mktemp("probe") / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 1.2.3+build.4\nappVersion: 9.8.7\n")
    for name in PREFIXES:
        shutil.copy(CHARTS / name / "templates" / "_helpers.tpl", chart / "templates" / f"_{name}.tpl")
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: probe", "data:"]
    for chart_name, prefix in PREFIXES.items():
        for helper in ROOT_HELPERS:
            lines.append(f'  {chart_name}.{helper}: {{{{ include "{prefix}.{helper}" . | quote }}}}')
        lines.append(
            f'  {chart_name}.imageRef: {{{{ include "{prefix}.imageRef" (dict "image" .Values.image "global" .Values.global "defaultTag" "v1") | quote }}}}'
        )
        lines.append(f'  {chart_name}.yamlGuard: {{{{ include "{prefix}.yamlGuard" . | quote }}}}')
    (chart / "templates" / "probe.yaml").write_text("\n".join(lines) + "\n")
    return chart


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize(
    ("values", "release", "expected_fullname", "expected_image"),
    [
        pytest.param({}, "rel", "rel-probe", "quay.io/org/agent:v1", id="defaults"),
        pytest.param({}, "my-probe", "my-probe", "quay.io/org/agent:v1", id="release-contains-name"),
        pytest.param({"nameOverride": "agent"}, "rel", "rel-agent", "quay.io/org/agent:v1", id="nameOverride"),
        pytest.param({"fullnameOverride": "x" * 62 + "-y"}, "rel", "x" * 62, "quay.io/org/agent:v1", id="fullname-truncated-without-dash"),
        pytest.param({"nameOverride": "abcdefgh-ij"}, "r" * 53, "r" * 53 + "-abcdefgh", "quay.io/org/agent:v1", id="release-plus-name-truncated-without-dash"),
        pytest.param({"image": {"tag": "v2", "digest": DIGEST}}, "rel", "rel-probe", f"quay.io/org/agent:v2@{DIGEST}", id="tag-and-digest"),
        pytest.param({"image": {"digest": DIGEST}}, "rel", "rel-probe", f"quay.io/org/agent:v1@{DIGEST}", id="digest-keeps-the-default-tag"),
        pytest.param({"global": {"imageRegistry": "mirror.example.com"}}, "rel", "rel-probe", "mirror.example.com/org/agent:v1", id="global-registry"),
        pytest.param({"image": {"registry": ""}}, "rel", "rel-probe", "org/agent:v1", id="no-registry"),
        pytest.param(
            {"commonLabels": {"team": "{{ .Release.Name }}"}, "podLabels": {"tier": "node"}, "namespaceOverride": "ops"},
            "rel",
            "rel-probe",
            "quay.io/org/agent:v1",
            id="templated-labels",
        ),
        pytest.param(
            {"global": {"imagePullSecrets": ["plain", {"name": "obj"}]}, "imagePullSecrets": [{"name": "chart"}], "serviceAccount": {"create": False}},
            "rel",
            "rel-probe",
            "quay.io/org/agent:v1",
            id="pull-secrets-and-existing-account",
        ),
    ],
)
def test_shared_helpers_render_the_same(probe: Path, values: dict[str, Any], release: str, expected_fullname: str, expected_image: str) -> None:
    (configmap,) = render_chart(probe, values=_merge(BASE_VALUES, values), release=release).objects
    data = configmap["data"]
    for helper in (*ROOT_HELPERS, "imageRef", "yamlGuard"):
        if helper in ("labels", "podLabels"):  # the same but for each chart's own component
            ne, fd = yaml.safe_load(data[f"node-exporter.{helper}"]), yaml.safe_load(data[f"fluentd.{helper}"])
            assert (ne.pop(COMPONENT), fd.pop(COMPONENT)) == ("metrics", "log-collector")
            assert ne == fd, helper
        else:
            assert data[f"node-exporter.{helper}"] == data[f"fluentd.{helper}"], helper
    assert data["fluentd.fullname"] == expected_fullname
    assert data["fluentd.imageRef"] == expected_image


def test_yaml_guard_fails_the_same_way(probe: Path) -> None:
    with pytest.raises(RenderError) as excinfo:
        render_chart(probe, values=_merge(BASE_VALUES, {"extraEnv": [{"name": "A", "value": "x\u0087"}]}))
    assert "extraEnv holds a character YAML cannot carry" in str(excinfo.value)
