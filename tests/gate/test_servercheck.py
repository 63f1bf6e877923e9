"""The server-side dry-run stage on the real kube-apiserver: what the JSON schemas let through and
the API server refuses, Pod Security per namespace, and failing closed."""

from __future__ import annotations

import copy
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
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
from dsgate.gate.validate import Validator
from dsgate.versions import pinned

pytestmark = [pytest.mark.policy, pytest.mark.server]

PROV = Provenance("in.yaml", "file")
CONTAINER = {
    "name": "agent",
    "image": "registry.k8s.io/pause:3.10",
    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
}
DAEMONSET: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "agents"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [CONTAINER]}},
    },
}
PDB: dict[str, Any] = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "agent", "namespace": "agents"},
    "spec": {"selector": {"matchLabels": {"app": "agent"}}, "maxUnavailable": 1},
}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = obj
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return obj


CPU = "spec.template.spec.containers.0.resources"
ROLLING = "spec.updateStrategy.rollingUpdate"
REJECTED = [
    pytest.param(
        _with(DAEMONSET, CPU, {"requests": {"cpu": "200m"}, "limits": {"cpu": "100m"}}),
        "spec.template.spec.containers[0].resources.requests",
        "must be less than or equal to cpu limit",
        id="cpu-request-above-limit",
    ),
    pytest.param(
        _with(DAEMONSET, ROLLING, {"maxUnavailable": "0%", "maxSurge": 0}),
        "spec.updateStrategy.rollingUpdate.maxUnavailable",
        "cannot be 0 when maxSurge is 0",
        id="no-progress",
    ),
    pytest.param(
        _with(PDB, "spec", {"selector": PDB["spec"]["selector"], "minAvailable": "1"}),
        "spec.minAvailable",
        "a valid percent string",
        id="pdb-string",
    ),
    pytest.param(
        _with(DAEMONSET, ROLLING, {"maxUnavailable": "150%", "maxSurge": 0}),
        "spec.updateStrategy.rollingUpdate.maxUnavailable",
        "must not be greater than 100%",
        id="over-100-percent",
    ),
]


def _doc(obj: dict[str, Any]) -> Document:
    return Document(obj, PROV)


@pytest.mark.parametrize(("obj", "expected_path", "expected_text"), REJECTED)
def test_json_schemas_let_it_through_and_the_api_server_refuses(
    server: servercheck.ApiServer, obj: dict[str, Any], expected_path: str, expected_text: str
) -> None:
    assert Validator(["1.36.0"]).validate(_doc(obj)) == []  # what the gate missed before this stage
    rejections = dryrun.check(server, [[(_doc(obj), "agents")]], {"agents": "privileged"}).rejections
    assert [(r.path, expected_text in r.message, r.message.startswith("kube-apiserver: ")) for r in rejections] == [
        (expected_path, True, True)
    ]


@pytest.mark.parametrize(
    ("level", "host_network", "expected_rejected"),
    [
        pytest.param("baseline", True, True, id="baseline-refuses-host-network"),
        pytest.param("privileged", True, False, id="privileged-allows-it"),
        pytest.param("restricted", False, True, id="restricted-wants-more"),
        pytest.param("baseline", False, False, id="baseline-plain"),
    ],
)
def test_pod_security_per_namespace(
    server: servercheck.ApiServer, level: str, host_network: bool, expected_rejected: bool
) -> None:
    namespace = f"psa-{level}"
    obj = _with(DAEMONSET, "spec.template.spec.hostNetwork", host_network)
    rejections = dryrun.check(server, [[(_doc(obj), namespace)]], {namespace: level}).rejections
    assert bool(rejections) == expected_rejected
    # a Pod Security refusal is the namespace's policy, not an API error: it carries the namespace and level
    assert [(r.pod_security, r.namespace, r.path, "PodSecurity" in r.message) for r in rejections] == [
        (level, namespace, "spec.template.spec", True)
    ] * expected_rejected


def test_crd_in_the_input_applied_first(server: servercheck.ApiServer) -> None:
    data = Path(__file__).parent / "data" / "inputs"
    (crd,) = yamlc.safe_load_all((data / "crd-widget.yaml").read_text())
    (widget,) = yamlc.safe_load_all((data / "widget.yaml").read_text())
    bad = _with(widget, "spec.size", 0)
    docs = [(_doc(crd), ""), (_doc(widget), "monitoring"), (_doc(bad), "monitoring")]
    rejections = dryrun.check(server, [docs], {"monitoring": "baseline"}).rejections
    assert [(r.document.obj["spec"]["size"], r.path) for r in rejections] == [(0, "spec.size")]


def _closed_by_the_server(conn: http.client.HTTPSConnection) -> None:
    assert conn.sock is not None
    conn.sock.shutdown(socket.SHUT_RDWR)  # the next request on it fails as on one the server closed


def _idle_too_long(conn: http.client.HTTPSConnection) -> None:
    del conn


@pytest.mark.parametrize(
    ("what", "expected_last_use_shift"),
    [
        pytest.param(_closed_by_the_server, 0.0, id="closed-by-the-server"),
        pytest.param(_idle_too_long, servercheck.IDLE_REUSE + 1, id="idle-too-long"),
    ],
)
def test_a_stale_keep_alive_connection_is_replaced(
    server: servercheck.ApiServer,
    what: Callable[[http.client.HTTPSConnection], None],
    expected_last_use_shift: float,
) -> None:
    """Under load a long pause between requests let the server close the thread's keep-alive
    connection, and the next request failed with an SSL EOF (tests/admission, at load 12-19)."""
    assert server.request("GET", "/version").status_code == 200
    before = server._local.conn
    what(before)
    server._local.used -= expected_last_use_shift
    assert server.request("GET", "/version").status_code == 200
    assert server._local.conn is not before


def _gate_dir(tmp_path: Path, *objs: dict[str, Any]) -> Path:
    (tmp_path / "in.yaml").write_text(yaml.safe_dump_all(objs))
    return tmp_path


def test_gate_reports_rejections_as_schema_errors(tmp_path: Path) -> None:
    bad = REJECTED[0].values[0]
    src = _gate_dir(tmp_path, bad)
    settings = servercheck.Settings()
    result = gate.run(discover([src]), CheckOptions(kube_versions=("1.35.0", "1.36.0"), server_check=settings))
    assert result.errors == []
    assert [(e.path, e.kube_version) for e in result.schema_errors] == [
        (
            "spec.template.spec.containers[0].resources.requests",
            f"1.36 (kube-apiserver {pinned()['KUBERNETES_VERSION']} dry-run)",
        )
    ]
    assert result.server_check.startswith(
        f"server check: 1 distinct documents dry-run on kube-apiserver {pinned()['KUBERNETES_VERSION']}"
    )
    assert "agents=privileged" in result.server_check
    skipped = gate.run(
        discover([src]), CheckOptions(kube_versions=("1.36.0",), server_check=servercheck.Settings(enabled=False))
    )
    assert skipped.schema_errors == [] and skipped.server_check.startswith("server check: skipped (--no-server-check)")


def _children(pid: int, name: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                exe = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and exe.endswith(name.encode()):
                out.append(int(entry.name))
    return out


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_server_dies_with_the_gate(tmp_path: Path) -> None:
    """SIGKILL the gate while its API server runs: the API server and etcd die too (PR_SET_PDEATHSIG)."""
    src = _gate_dir(tmp_path, DAEMONSET)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dsgate.cli", "check", "--no-config", "--no-progress", str(src)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(
            lambda: _children(proc.pid, "kube-apiserver") and _children(proc.pid, "etcd"),
            120,
            "the gate to start its API server",
        )
        children = _children(proc.pid, "kube-apiserver") + _children(proc.pid, "etcd")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait(
            lambda: (
                not any(
                    Path(f"/proc/{pid}").exists()
                    and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
                    for pid in children
                )
            ),
            30,
            "the API server and etcd to die",
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_server_that_dies_fails_closed(tmp_path: Path) -> None:
    api = servercheck.ApiServer()
    try:
        api.start()
        api.wait_ready()
        os.kill(api._procs["kube-apiserver"].pid, signal.SIGKILL)
        api._procs["kube-apiserver"].wait()
        with pytest.raises(
            servercheck.ServerCheckError,
            match=r"^server check: the API server died: kube-apiserver exited with code -9",
        ):
            dryrun.check(api, [[(_doc(DAEMONSET), "agents")]], {"agents": "baseline"})
    finally:
        api.stop()
