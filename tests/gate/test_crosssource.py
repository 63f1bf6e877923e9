"""Host-port clashes between DaemonSets of different sources of one run (gate/crosssource.py).

Through the real gate (gate.run: render, validate, OPA): two separate inputs that bind the same
host port are reported, each naming the other source; a clash inside one input keeps its
per-render finding only; different ports, or a single source, add nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.docs.catalogue import read_library
from dsgate.gate import crosssource
from dsgate.gate import pipeline as gate
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from tests.support import NEWEST_KUBE, POLICIES

pytestmark = pytest.mark.policy


def _daemonset(name: str, port: int, host_network: bool = False, os_name: str = "linux") -> str:
    """A minimal DaemonSet binding PORT on the node (a hostPort, or a containerPort under hostNetwork)."""
    host = "" if host_network else f"\n          hostPort: {port}"
    return f"""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
  namespace: monitoring
spec:
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {name}}}
    spec:
      hostNetwork: {str(host_network).lower()}
      nodeSelector: {{kubernetes.io/os: {os_name}}}
      containers:
      - name: agent
        image: quay.io/example/{name}:v1.0.0
        ports:
        - containerPort: {port}{host}
"""


def _chart(root: Path, name: str, manifest: str) -> Path:
    """A chart whose one template is MANIFEST (no values)."""
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (chart / "templates" / "daemonset.yaml").write_text(manifest)
    return chart


def _host_port_findings(paths: list[Path]) -> list[tuple[str, str]]:
    result = gate.run(discover(paths), CheckOptions(kube_versions=(NEWEST_KUBE,)))
    assert result.errors == []
    return sorted((f.resource, f.message) for f in result.findings if f.rule == crosssource.HOST_PORT_RULE)


@pytest.mark.parametrize(
    ("inputs", "expected_findings"),
    [
        pytest.param(
            # two plain files, one hostPort each
            {"a.yaml": _daemonset("exporter-a", 9100), "b.yaml": _daemonset("exporter-b", 9100)},
            [
                (
                    "DaemonSet/monitoring/exporter-a",
                    "DaemonSet <monitoring/exporter-a> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-b> "
                    "(across sources: DaemonSet <monitoring/exporter-b> is in {b})",
                ),
                (
                    "DaemonSet/monitoring/exporter-b",
                    "DaemonSet <monitoring/exporter-b> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-a> "
                    "(across sources: DaemonSet <monitoring/exporter-a> is in {a})",
                ),
            ],
            id="two-files-same-host-port",
        ),
        pytest.param(
            # hostNetwork makes the containerPort a host port
            {"a.yaml": _daemonset("exporter-a", 9100, host_network=True), "b.yaml": _daemonset("exporter-b", 9100)},
            [
                (
                    "DaemonSet/monitoring/exporter-a",
                    "DaemonSet <monitoring/exporter-a> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-b> "
                    "(across sources: DaemonSet <monitoring/exporter-b> is in {b})",
                ),
                (
                    "DaemonSet/monitoring/exporter-b",
                    "DaemonSet <monitoring/exporter-b> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-a> "
                    "(across sources: DaemonSet <monitoring/exporter-a> is in {a})",
                ),
            ],
            id="host-network-and-host-port",
        ),
        pytest.param(
            # different ports do not clash
            {"a.yaml": _daemonset("exporter-a", 9100), "b.yaml": _daemonset("exporter-b", 9101)},
            [],
            id="different-ports",
        ),
        pytest.param(
            # a Linux and a Windows DaemonSet never share a node
            {"a.yaml": _daemonset("exporter-a", 9100), "b.yaml": _daemonset("exporter-b", 9100, os_name="windows")},
            [],
            id="linux-and-windows",
        ),
        pytest.param(
            # the same agent from two sources (a chart and an overlay of it, one overlay per environment):
            # alternatives, not two agents on one node; a different agent on the port still clashes
            {"a.yaml": _daemonset("node-exporter", 9100), "b.yaml": _daemonset("node-exporter", 9100)},
            [],
            id="same-agent-two-packagings",
        ),
        pytest.param(
            # a clash inside one file is the per-render finding, not repeated across sources
            {
                "a.yaml": _daemonset("exporter-a", 9100) + "---\n" + _daemonset("exporter-b", 9100),
                "b.yaml": _daemonset("other", 9200),
            },
            [
                (
                    "DaemonSet/monitoring/exporter-a",
                    "DaemonSet <monitoring/exporter-a> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-b>",
                ),
                (
                    "DaemonSet/monitoring/exporter-b",
                    "DaemonSet <monitoring/exporter-b> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-a>",
                ),
            ],
            id="clash-inside-one-source",
        ),
    ],
)
def test_host_port_clash_across_files(
    tmp_path: Path, inputs: dict[str, str], expected_findings: list[tuple[str, str]]
) -> None:
    paths = []
    for name, text in inputs.items():
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    labels = {"a": str(tmp_path / "a.yaml"), "b": str(tmp_path / "b.yaml")}
    assert _host_port_findings(paths) == [(r, m.format(**labels)) for r, m in expected_findings]


def test_host_port_clash_between_two_charts(tmp_path: Path) -> None:
    """Two charts of one run (each rendered in its default scenario) that bind the same host port."""
    first = _chart(tmp_path, "first", _daemonset("exporter-a", 9100))
    second = _chart(tmp_path, "second", _daemonset("exporter-b", 9100))
    assert _host_port_findings([first, second]) == [
        (
            "DaemonSet/monitoring/exporter-a",
            "DaemonSet <monitoring/exporter-a> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-b> "
            f"(across sources: DaemonSet <monitoring/exporter-b> is in {second}[default])",
        ),
        (
            "DaemonSet/monitoring/exporter-b",
            "DaemonSet <monitoring/exporter-b> binds host port 9100/TCP, also bound by DaemonSet <monitoring/exporter-a> "
            f"(across sources: DaemonSet <monitoring/exporter-a> is in {first}[default])",
        ),
    ]


def _doc(
    source: str, name: str, scenario: str = "", cluster: str = "", kind: str = "DaemonSet", os_name: str = ""
) -> Document:
    pod = {"nodeSelector": {"kubernetes.io/os": os_name}} if os_name else {}
    obj = {"kind": kind, "metadata": {"name": name}, "spec": {"template": {"spec": pod}}}
    return Document(obj, Provenance(source, "chart", scenario=scenario, cluster=cluster))


@pytest.mark.parametrize(
    ("renders", "expected_sets"),
    [
        # one source: nothing to compare across
        ([("a", "default", [_doc("a", "x")])], []),
        # two sources: their DaemonSets together, other kinds left out
        ([("a", "", [_doc("a", "x"), _doc("a", "cm", kind="ConfigMap")]), ("b", "", [_doc("b", "y")])], [["x", "y"]]),
        # a chart's default scenario is chosen over the first one
        (
            [("a", "ci", [_doc("a", "x-ci")]), ("a", "default", [_doc("a", "x")]), ("b", "", [_doc("b", "y")])],
            [["x", "y"]],
        ),
        # sources landing in different clusters are not compared
        ([("a", "", [_doc("a", "x", cluster="prod")]), ("b", "", [_doc("b", "y", cluster="dev")])], []),
        # a Linux-only and a Windows-only DaemonSet never share a node
        ([("a", "", [_doc("a", "x", os_name="linux")]), ("b", "", [_doc("b", "y", os_name="windows")])], []),
        # a DaemonSet without an OS selector meets both, once per OS they share
        ([("a", "", [_doc("a", "x")]), ("b", "", [_doc("b", "y", os_name="windows")])], [["x", "y"]]),
        # the same set for both OSes is evaluated once
        ([("a", "", [_doc("a", "x")]), ("b", "", [_doc("b", "y")])], [["x", "y"]]),
        # the same agent (here by name) from a second source is left out; its other agents stay
        ([("a", "", [_doc("a", "x")]), ("b", "", [_doc("b", "x"), _doc("b", "y")])], [["x", "y"]]),
        ([("a", "", [_doc("a", "x")]), ("b", "", [_doc("b", "x")])], []),
    ],
)
def test_evaluation_sets(renders: list[tuple[str, str, list[Document]]], expected_sets: list[list[str]]) -> None:
    assert [[d.name for d in docs] for docs in crosssource.evaluation_sets(renders)] == expected_sets


def test_host_port_rule_is_in_the_library() -> None:
    rules, _ = read_library(POLICIES)
    assert [r.category for r in rules if r.id == crosssource.HOST_PORT_RULE] == ["host-access"]
