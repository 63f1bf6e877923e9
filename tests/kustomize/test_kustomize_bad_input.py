"""Bad input: broken kustomizations fail with kustomize's own message and the kustomization's path.

Every broken kustomization is written in a temporary directory (none is committed under kustomize/).
kustomize does NOT fail on a patch whose explicit target selects nothing: it succeeds and the patch is
a no-op. That behaviour is pinned here, together with the detector (support.unmatched_patch_targets)
that finds such patches.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dsgate.gate.patchtargets import unmatched_patch_targets
from dsgate.gate.render import RenderError
from dsgate.gate.sourcekinds import render_kustomization

from .support import KUSTOMIZE, REPO, bases, build, check_render, daemonsets, write_kustomization

pytestmark = pytest.mark.render

NE_BASE = KUSTOMIZE / "bases" / "node-exporter"
COMPONENTS = KUSTOMIZE / "components"
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
SET_MIN_READY = "- op: replace\n  path: /spec/minReadySeconds\n  value: 99\n"

BROKEN = [
    pytest.param(
        {"resources": [NE_BASE, "missing.yaml"]},
        {},
        ["missing.yaml", "no such file or directory"],
        id="missing-resource-file",
    ),
    pytest.param(
        {"resources": [NE_BASE], "patches": [{"path": "missing-patch.yaml", "target": {"kind": "DaemonSet"}}]},
        {},
        ["missing-patch.yaml"],
        id="missing-patch-file",
    ),
    pytest.param(
        {"resources": [NE_BASE], "components": [COMPONENTS / "no-such-component"]},
        {},
        ["no-such-component"],
        id="missing-component",
    ),
    pytest.param(
        # Two resource profiles: the second one's `test` operation finds the first one's marker.
        {"resources": [NE_BASE], "components": [COMPONENTS / "resources-small", COMPONENTS / "resources-large"]},
        {},
        ["resources-large", "testing value /metadata/annotations/dsgate.io~1resources-profile failed"],
        id="conflicting-components",
    ),
    pytest.param(
        {"resources": [NE_BASE], "patches": [{"path": "p.yaml", "target": {"kind": "DaemonSet"}}]},
        {"p.yaml": "- op: replace\n  path: /spec/template/spec/noSuch/deeper\n  value: 1\n"},
        ["doc is missing path: /spec/template/spec/noSuch/deeper"],
        id="json-patch-replace-under-missing-parent",
    ),
    pytest.param(
        {"resources": [NE_BASE], "patches": [{"path": "p.yaml", "target": {"kind": "DaemonSet"}}]},
        {"p.yaml": "- op: remove\n  path: /spec/template/spec/noSuchField\n"},
        ["Unable to remove nonexistent key: noSuchField"],
        id="json-patch-remove-missing-key",
    ),
    pytest.param(
        {"resources": [NE_BASE], "commonLabelz": {"a": "b"}},
        {},
        ["commonLabelz"],
        id="unknown-kustomization-field",
    ),
    pytest.param(
        # The chart's values.schema.json rejects the value; helm's message comes through kustomize.
        {
            "helmGlobals": {"chartHome": "CHARTS"},
            "helmCharts": [
                {
                    "name": "node-exporter",
                    "releaseName": "node-exporter",
                    "namespace": "monitoring",
                    "valuesFile": "values.yaml",
                }
            ],
        },
        {"values.yaml": "hostNetwork: sometimes\n"},
        ["hostNetwork"],
        id="chart-rejects-values",
    ),
]


def _write(directory: Path, doc: dict[str, Any], files: dict[str, str]) -> Path:
    doc = {**KUSTOMIZATION, **doc}
    if doc.get("helmGlobals", {}).get("chartHome") == "CHARTS":
        doc["helmGlobals"] = {"chartHome": os.path.relpath(REPO / "charts", directory)}
    return write_kustomization(directory, doc, files)


@pytest.mark.parametrize(("doc", "files", "expected_fragments"), BROKEN)
def test_broken_kustomization_fails_with_kustomize_message_and_path(
    tmp_path: Path, doc: dict[str, Any], files: dict[str, str], expected_fragments: list[str]
) -> None:
    directory = _write(tmp_path / "overlay", doc, files)
    with pytest.raises(RenderError) as excinfo:
        render_kustomization(directory)
    message = str(excinfo.value)
    assert str(directory) in message
    for fragment in expected_fragments:
        assert fragment in message


def test_gate_exits_2_on_broken_kustomizations(tmp_path: Path) -> None:
    # The same broken kustomizations through `dsgate check`: exit 2 (a build error, not a policy
    # result), each named with kustomize's message; nothing of a broken build is evaluated.
    dirs = [_write(tmp_path / p.id, *p.values[:2]) for p in BROKEN]
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "check", "--no-config", "--no-deploy", "--no-progress", *map(str, dirs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    for param, directory in zip(BROKEN, dirs, strict=True):
        assert str(directory) in output, f"{param.id} not reported"
        assert param.values[2][-1] in output, f"{param.id}: kustomize's message missing"


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param(
            {"target": {"kind": "DaemonSet", "name": "no-such-daemonset"}, "patch": SET_MIN_READY},
            id="json6902-name-matches-nothing",
        ),
        pytest.param(
            {
                "target": {"group": "apps", "kind": "Deployment"},
                "patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: 3\n",
            },
            id="strategic-merge-kind-matches-nothing",
        ),
        pytest.param(
            {
                "target": {"kind": "DaemonSet", "labelSelector": "app.kubernetes.io/name=fluentd"},
                "patch": SET_MIN_READY,
            },
            id="label-selector-matches-nothing",
        ),
    ],
)
def test_patch_target_matching_nothing_is_a_silent_noop_in_kustomize(tmp_path: Path, patch: dict[str, Any]) -> None:
    # kustomize's behaviour: the build SUCCEEDS and the output is byte-identical to the base's.
    directory = _write(tmp_path / "overlay", {"resources": [NE_BASE], "patches": [patch]}, {})
    built = build(directory)
    assert built.text == build(NE_BASE).text
    # ... so dsgate has to detect it itself: the detector names exactly that patch.
    assert [(t.index, dict(t.target)) for t in unmatched_patch_targets(directory, built.objects)] == [
        (0, patch["target"])
    ]


def test_json_patch_replace_of_a_missing_key_adds_it_and_validation_catches_it(tmp_path: Path) -> None:
    # kustomize's JSON6902 `replace` on a missing last key behaves like `add` (RFC 6902 says it
    # must fail): the build succeeds with the unknown field, and strict schema validation is what
    # rejects it.
    patch = {
        "target": {"kind": "DaemonSet"},
        "patch": "- op: replace\n  path: /spec/template/spec/noSuchField\n  value: 1\n",
    }
    directory = _write(tmp_path / "overlay", {"resources": [NE_BASE], "patches": [patch]}, {})
    built = build(directory)
    assert [ds["spec"]["template"]["spec"].get("noSuchField") for ds in daemonsets(built.objects).values()] == [1]
    errors = check_render(built.render)
    assert len(errors) == 1 and "noSuchField" in errors[0]


def test_detector_accepts_a_patch_that_matches(tmp_path: Path) -> None:
    patch = {
        "target": {"kind": "DaemonSet", "labelSelector": "app.kubernetes.io/name in (node-exporter,fluentd)"},
        "patch": SET_MIN_READY,
    }
    directory = _write(tmp_path / "overlay", {"resources": [NE_BASE], "patches": [patch]}, {})
    built = build(directory)
    assert [ds["spec"]["minReadySeconds"] for ds in daemonsets(built.objects).values()] == [99]
    assert unmatched_patch_targets(directory, built.objects) == []


def test_pdb_component_repairs_a_broken_budget(tmp_path: Path) -> None:
    # A component earlier in the list turns the chart's PDB into the form the disruption controller
    # cannot evaluate for DaemonSets (maxUnavailable percentage); the pdb component restores it.
    breaker = write_kustomization(
        tmp_path / "break-pdb",
        {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "patches": [{"target": {"kind": "PodDisruptionBudget"}, "path": "p.yaml"}],
        },
        {"p.yaml": "- op: remove\n  path: /spec/minAvailable\n- op: add\n  path: /spec/maxUnavailable\n  value: 10%\n"},
    )
    broken = _write(tmp_path / "broken", {"resources": [NE_BASE], "components": [breaker]}, {})
    repaired = _write(tmp_path / "repaired", {"resources": [NE_BASE], "components": [breaker, COMPONENTS / "pdb"]}, {})
    assert [p["spec"].get("maxUnavailable") for p in build(broken).objects if p["kind"] == "PodDisruptionBudget"] == [
        "10%"
    ]
    pdbs = [p["spec"] for p in build(repaired).objects if p["kind"] == "PodDisruptionBudget"]
    assert [(s.get("minAvailable"), "maxUnavailable" in s, s.get("unhealthyPodEvictionPolicy")) for s in pdbs] == [
        (1, False, "AlwaysAllow")
    ]


def test_bases_are_what_the_rows_assume() -> None:
    # The rows above build on the node-exporter base; fail clearly if it disappears or is renamed.
    assert bases()["node-exporter"].path == NE_BASE
