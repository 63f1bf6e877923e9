"""The server check applies an input as a whole: what another document of the same set defines
(a PriorityClass, a RuntimeClass, a quota or limits, a CRD, a Namespace) is created first, so the
document that depends on it passes; what nothing defines is still refused with the server's reason;
and one set's definitions never admit another set's documents."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import yamlc
from dsgate.gate import dryrun, servercheck
from dsgate.gate import pipeline as gate
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover

from .test_servercheck import CONTAINER, DAEMONSET

pytestmark = [pytest.mark.policy, pytest.mark.server]

DATA = Path(__file__).parent / "data" / "inputs"
(CRD,) = yamlc.safe_load_all((DATA / "crd-widget.yaml").read_text())
(WIDGET,) = yamlc.safe_load_all((DATA / "widget.yaml").read_text())
LEVELS = {"agents": "privileged", "monitoring": "baseline", "team": "privileged"}


def _ds(name: str, namespace: str = "agents", **pod: Any) -> dict[str, Any]:
    obj = copy.deepcopy(DAEMONSET)
    obj["metadata"] = {"name": name, "namespace": namespace}
    obj["spec"]["template"]["spec"].update(pod)
    return obj


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "agents"},
        "spec": {"containers": [CONTAINER], **spec},
    }


def _priority_class(name: str) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": 100000}


def _runtime_class(name: str) -> dict[str, Any]:
    return {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name}, "handler": "runsc"}


LIMITS = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "small", "namespace": "agents"},
    "spec": {"limits": [{"type": "Container", "max": {"cpu": "80m"}}]},
}
QUOTA = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "agents", "namespace": "agents"},
    "spec": {"hard": {"pods": "100", "requests.cpu": "4", "limits.memory": "8Gi"}},
}
TEAM = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "team", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
}


def _set(source: str, *objs: dict[str, Any]) -> list[tuple[Document, str]]:
    prov = Provenance(source, "file")
    return [
        (Document(obj, prov, i), (obj.get("metadata") or {}).get("namespace") or "agents") for i, obj in enumerate(objs)
    ]


def _checked(
    server: servercheck.ApiServer, *sets: list[tuple[Document, str]]
) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """(source, document, path, message) of each rejection, and the documents left unserved."""
    outcome = dryrun.check(server, list(sets), LEVELS)
    rejected = sorted(
        (r.document.provenance.source, f"{r.document.kind}/{r.document.name}", r.path, r.message)
        for r in outcome.rejections
    )
    return rejected, sorted(f"{d.provenance.source}:{d.kind}/{d.name}" for d in outcome.unserved)


REFUSED_POD = "kube-apiserver: the pods it would create are refused: "


@pytest.mark.parametrize(
    ("objs", "expected_rejections"),
    [
        pytest.param(
            [_priority_class("agents-critical"), _ds("a", priorityClassName="agents-critical")],
            [],
            id="priority-class-in-the-input",
        ),
        pytest.param(
            [_ds("a", priorityClassName="agents-critical")],
            [
                (
                    "DaemonSet/a",
                    "spec.template.spec",
                    REFUSED_POD + "no PriorityClass with name agents-critical was found",
                )
            ],
            id="priority-class-nowhere",
        ),
        pytest.param(
            [_priority_class("agents-critical"), _pod(priorityClassName="agents-critical")],
            [],
            id="pod-with-priority-class-in-the-input",
        ),
        pytest.param(
            [_pod(priorityClassName="agents-critical")],
            [("Pod/p", "", "no PriorityClass with name agents-critical was found")],
            id="pod-with-priority-class-nowhere",
        ),
        pytest.param([_ds("a", priorityClassName="system-node-critical")], [], id="built-in-node-critical"),
        pytest.param([_ds("a", priorityClassName="system-cluster-critical")], [], id="built-in-cluster-critical"),
        pytest.param(
            [_runtime_class("gvisor"), _ds("a", runtimeClassName="gvisor")], [], id="runtime-class-in-the-input"
        ),
        pytest.param(
            [_ds("a", runtimeClassName="gvisor")],
            [("DaemonSet/a", "spec.template.spec", REFUSED_POD + 'pod rejected: RuntimeClass "gvisor" not found')],
            id="runtime-class-nowhere",
        ),
        pytest.param([QUOTA, _ds("a")], [], id="quota-in-the-input"),
        pytest.param(
            [LIMITS, _ds("a")],
            [
                (
                    "DaemonSet/a",
                    "spec.template.spec",
                    REFUSED_POD + "maximum cpu usage per Container is 80m, but limit is 100m",
                )
            ],
            id="limits-in-the-input-apply",
        ),
        pytest.param([TEAM, _ds("a", "team", hostNetwork=True)], [], id="namespace-in-the-input"),
        pytest.param([CRD, WIDGET], [], id="crd-and-its-resource"),
        pytest.param(
            [_priority_class("BAD NAME"), _ds("a")],
            [("PriorityClass/BAD NAME", "metadata.name", "a lowercase RFC 1123 subdomain")],
            id="a-wrong-prerequisite-is-refused",
        ),
    ],
)
def test_one_input_applied_as_a_whole(
    server: servercheck.ApiServer, objs: list[dict[str, Any]], expected_rejections: list[tuple[str, str, str]]
) -> None:
    rejected, unserved = _checked(server, _set("in.yaml", *objs))
    texts = [text for _, _, text in expected_rejections]
    assert [(ref, path, any(t in message for t in texts)) for _, ref, path, message in rejected] == [
        (ref, path, True) for ref, path, _ in expected_rejections
    ]
    assert all(message.startswith("kube-apiserver: ") for *_, message in rejected)
    assert unserved == []


@pytest.mark.parametrize(
    ("sets", "expected_rejected", "expected_unserved"),
    [
        pytest.param(
            [
                ("a", [_priority_class("agents-critical"), _ds("a", priorityClassName="agents-critical")]),
                ("b", [_ds("b", priorityClassName="agents-critical")]),
            ],
            [("b", "DaemonSet/b")],
            [],
            id="priority-class-of-another-set",
        ),
        pytest.param(
            [
                ("b", [_ds("b", priorityClassName="agents-critical")]),
                ("a", [_priority_class("agents-critical"), _ds("a", priorityClassName="agents-critical")]),
            ],
            [("b", "DaemonSet/b")],
            [],
            id="in-either-order",
        ),
        pytest.param(
            [
                ("a", [LIMITS, _ds("a")]),
                ("b", [_ds("b")]),
                ("c", [_runtime_class("gvisor")]),
                ("d", [_ds("d", runtimeClassName="gvisor")]),
            ],
            [("a", "DaemonSet/a"), ("d", "DaemonSet/d")],
            [],
            id="limits-and-runtime-class-of-other-sets",
        ),
        pytest.param([("a", [CRD, WIDGET]), ("b", [WIDGET])], [], ["b:Widget/small"], id="crd-of-another-set"),
    ],
)
def test_sets_do_not_share_their_prerequisites(
    server: servercheck.ApiServer,
    sets: list[tuple[str, list[dict[str, Any]]]],
    expected_rejected: list[tuple[str, str]],
    expected_unserved: list[str],
) -> None:
    rejected, unserved = _checked(server, *(_set(source, *objs) for source, objs in sets))
    assert [(source, ref) for source, ref, _, _ in rejected] == expected_rejected
    assert unserved == expected_unserved


def test_gate_keeps_each_source_to_its_own_definitions(tmp_path: Path) -> None:
    """Through the whole gate: a directory defining its PriorityClass passes, one that only uses it fails."""
    for name, objs in {
        "defines": [_priority_class("agents-critical"), _ds("a", priorityClassName="agents-critical")],
        "uses": [_ds("b", priorityClassName="agents-critical")],
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "in.yaml").write_text(yaml.safe_dump_all(objs))
    settings = servercheck.Settings()  # kubeadm's model: the unlabelled namespace agents is privileged
    result = gate.run(
        discover([tmp_path / "defines", tmp_path / "uses"]),
        CheckOptions(kube_versions=("1.36.0",), server_check=settings),
    )
    assert result.errors == []
    assert [(e.document.provenance.source, e.document.ref, e.path, e.message) for e in result.schema_errors] == [
        (
            str(tmp_path / "uses"),
            "DaemonSet/agents/b",
            "spec.template.spec",
            REFUSED_POD + "no PriorityClass with name agents-critical was found",
        )
    ]
    assert "1 sets with their own prerequisites created first" in result.server_check
