"""The cluster the gate models (dsgate.gate.clustermodel): kubeadm's defaults, `cluster:` in
dsgate.yaml and the flags over it, and what the server check makes of it: a privileged CNI-like
agent in kube-system passes the server check, a Pod Security refusal is the policy finding
DS-PSA-001 (exemptable), not a schema error, and a taken port is retried on a new one."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import config, yamlc
from dsgate.gate import pipeline as gate
from dsgate.gate import servercheck
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from tests.support import dsgate_check
from tests.tools.support import readme_block

DATA = Path(__file__).parent / "data" / "cluster"
AGENT = "DaemonSet/kube-system/net-agent"
KUBEADM = "cluster model: allow-privileged=true; Pod Security default=privileged; admission plugins: kube-apiserver defaults +NodeRestriction -ServiceAccount; charts released as dsgate in dsgate-system"


def _load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "dsgate.yaml"
    path.write_text(text)
    return config.load(path)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "expected_model"),
    [
        pytest.param("{}", ClusterModel(), id="kubeadm-defaults"),
        pytest.param(
            "cluster: {podSecurity: {default: baseline, namespaces: {kube-system: privileged}}}",
            ClusterModel(pod_security="baseline", namespaces={"kube-system": "privileged"}),
            id="pod-security",
        ),
        # the top-level key of older files means the same as cluster.podSecurity
        pytest.param(
            "podSecurity: {namespaces: {apps: restricted}}",
            ClusterModel(namespaces={"apps": "restricted"}),
            id="legacy-podSecurity",
        ),
        pytest.param(
            "cluster: {allowPrivileged: false, admissionPlugins: {enable: [NodeRestriction, AlwaysPullImages], disable: [DefaultStorageClass]}}",
            ClusterModel(
                allow_privileged=False,
                enable_admission_plugins=("NodeRestriction", "AlwaysPullImages"),
                disable_admission_plugins=("DefaultStorageClass",),
            ),
            id="privileged-and-plugins",
        ),
        pytest.param(
            "cluster: {releaseName: agents, namespace: monitoring}",
            ClusterModel(release_name="agents", namespace="monitoring"),
            id="release",
        ),
    ],
)
def test_cluster_section(tmp_path: Path, text: str, expected_model: ClusterModel) -> None:
    assert _load(tmp_path, text).cluster == expected_model


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "expected_error"),
    [
        pytest.param(
            "cluster: {podSecurity: {default: strict}}",
            "Pod Security level 'strict' (default) is not one of",
            id="bad-level",
        ),
        pytest.param(
            "cluster: {podSecurity: {namespaces: {a: open}}}",
            "Pod Security level 'open' (namespace a)",
            id="bad-namespace-level",
        ),
        pytest.param(
            "podSecurity: {}\ncluster: {podSecurity: {}}",
            "'podSecurity' is given twice; keep cluster.podSecurity",
            id="both-keys",
        ),
        pytest.param(
            "cluster: {admissionPlugins: {enable: [ServiceAccount]}}",
            "ServiceAccount cannot be enabled: the server check runs no controllers",
            id="sa",
        ),
        pytest.param(
            "cluster: {admissionPlugins: {enable: [A], disable: [A]}}",
            "A is both enabled and disabled",
            id="on-and-off",
        ),
        pytest.param("cluster: {allowPrivileged: yes please}", "allowPrivileged must be true or false", id="not-bool"),
        pytest.param("cluster: {release: x}", "must be a mapping of allowPrivileged, podSecurity", id="unknown-key"),
        pytest.param("cluster: {namespace: ''}", "cluster'.namespace must be a non-empty string", id="empty-namespace"),
    ],
)
def test_cluster_section_errors(tmp_path: Path, text: str, expected_error: str) -> None:
    with pytest.raises(config.ConfigError, match=expected_error.replace("(", r"\(").replace(")", r"\)")):
        _load(tmp_path, text)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("flags", "expected_model"),
    [
        pytest.param(
            {}, ClusterModel(pod_security="baseline", namespaces={"a": "privileged"}), id="no-flag-keeps-dsgate-yaml"
        ),
        pytest.param(
            {"pod_security": "restricted"},
            ClusterModel(pod_security="restricted", namespaces={"a": "privileged"}),
            id="default-level",
        ),
        # a namespace flag adds to dsgate.yaml's, and wins for the same namespace
        pytest.param(
            {"pod_security_namespaces": ["a=baseline", "b=restricted"]},
            ClusterModel(pod_security="baseline", namespaces={"a": "baseline", "b": "restricted"}),
            id="namespaces",
        ),
        pytest.param(
            {"allow_privileged": False, "enable_admission_plugins": "", "release_name": "x", "namespace": "y"},
            ClusterModel(
                pod_security="baseline",
                namespaces={"a": "privileged"},
                allow_privileged=False,
                enable_admission_plugins=(),
                release_name="x",
                namespace="y",
            ),
            id="the-rest",
        ),
    ],
)
def test_flags_win_over_dsgate_yaml(flags: dict[str, Any], expected_model: ClusterModel) -> None:
    assert (
        config.override_cluster(ClusterModel(pod_security="baseline", namespaces={"a": "privileged"}), **flags)
        == expected_model
    )


@pytest.mark.unit
def test_model_in_one_line() -> None:
    assert ClusterModel().describe() == KUBEADM
    assert ClusterModel().apiserver_flags() == [
        "--allow-privileged=true",
        "--enable-admission-plugins=NodeRestriction",
        "--disable-admission-plugins=ServiceAccount",
    ]


def _inputs(tmp_path: Path, *names: str, extra: list[dict[str, Any]] | None = None) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name in names:
        shutil.copy(DATA / name, src / name)
    if extra:
        (src / "extra.yaml").write_text(yaml.safe_dump_all(extra))
    return src


BASELINE_NS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "kube-system", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}},
}
EXEMPT = {
    "exemptions": [
        {
            "rule": "DS-PSA-001",
            "resource": AGENT,
            "reason": "kube-system is privileged in our clusters",
            "expires": "2099-12-31",
        }
    ]
}


@pytest.mark.server
@pytest.mark.policy
@pytest.mark.parametrize(
    ("model", "extra", "data", "expected_schema_errors", "expected_psa"),
    [
        # kubeadm's cluster: privileged allowed, kube-system unlabelled is privileged: nothing from the server
        pytest.param(ClusterModel(), None, {}, [], [], id="kubeadm"),
        # a cluster that forbids privileged containers: that is the API's own validation, a schema error
        pytest.param(
            ClusterModel(allow_privileged=False),
            None,
            {},
            [
                (
                    "spec.template.spec.containers[0].securityContext.privileged",
                    "kube-apiserver: Forbidden: disallowed by cluster policy",
                )
            ],
            [],
            id="no-privileged",
        ),
        # kube-system configured baseline: Pod Security refuses the pods, a DS-PSA-001 deny
        pytest.param(
            ClusterModel(namespaces={"kube-system": "baseline"}),
            None,
            {},
            [],
            [("deny", False)],
            id="configured-baseline",
        ),
        pytest.param(ClusterModel(pod_security="restricted"), None, {}, [], [("deny", False)], id="default-restricted"),
        # the input's own Namespace label wins over the model's privileged default
        pytest.param(ClusterModel(), [BASELINE_NS], {}, [], [("deny", False)], id="labelled-baseline"),
        # exempted through the normal exemptions: reported as exempted, not a deny
        pytest.param(
            ClusterModel(namespaces={"kube-system": "baseline"}), None, EXEMPT, [], [("deny", True)], id="exempted"
        ),
    ],
)
def test_cni_like_agent_in_kube_system(
    tmp_path: Path,
    model: ClusterModel,
    extra: list[dict[str, Any]] | None,
    data: dict[str, Any],
    expected_schema_errors: list[tuple[str, str]],
    expected_psa: list[tuple[str, bool]],
) -> None:
    src = _inputs(tmp_path, "net-agent.yaml", "rbac-colons.yaml", extra=extra)
    result = gate.run(
        discover([src]),
        CheckOptions(policy_data=data, kube_versions=("1.36.0",), server_check=servercheck.Settings(cluster=model)),
    )
    assert result.errors == []
    assert [(e.path, e.message) for e in result.schema_errors if e.document.ref == AGENT] == expected_schema_errors
    assert [e for e in result.schema_errors if e.document.ref != AGENT] == []  # the RBAC names with ':' are valid
    psa = [f for f in result.findings if f.rule == "DS-PSA-001"]
    assert [(f.severity, f.exempted) for f in psa] == expected_psa
    assert all(
        f.resource == AGENT
        and f.field == "spec.template.spec"
        and "namespace <kube-system> is at Pod Security level" in f.message
        for f in psa
    )
    assert result.cluster_model == model.describe()


@pytest.mark.server
@pytest.mark.policy
def test_check_prints_the_model_and_the_flags_change_it(tmp_path: Path) -> None:
    src = _inputs(tmp_path, "net-agent.yaml")
    plain = dsgate_check("--no-config", "--no-deploy", "--kube-version", "1.36.0", src, cwd=tmp_path)
    assert KUBEADM in plain.stdout
    assert "DS-PSA-001" not in plain.stdout
    strict = dsgate_check(
        "--no-config",
        "--no-deploy",
        "--kube-version",
        "1.36.0",
        "--pod-security-namespace",
        "kube-system=baseline",
        "--format",
        "json",
        src,
        cwd=tmp_path,
    )
    report = json.loads(strict.stdout)
    assert strict.returncode == 1, strict.stderr
    assert report["clusterModel"] == KUBEADM.replace("default=privileged", "default=privileged, kube-system=baseline")
    assert report["schemaErrors"] == []
    assert [(f["rule"], f["resource"]) for f in report["findings"] if f["rule"] == "DS-PSA-001"] == [
        ("DS-PSA-001", AGENT)
    ]


def _taken() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.server
@pytest.mark.parametrize(
    ("taken_at", "expected_starts"),
    [
        pytest.param({0}, 2, id="etcd-client-port"),  # the first free_port of a launch: etcd's client port
        pytest.param({2}, 2, id="apiserver-port"),  # the third: kube-apiserver's secure port
        pytest.param({2, 5}, 3, id="twice"),
    ],
)
def test_port_taken_before_bind_is_retried(
    monkeypatch: pytest.MonkeyPatch, taken_at: set[int], expected_starts: int
) -> None:
    """Another process takes a port between free_port and the bind (the race): a fresh launch."""
    real = servercheck.free_port
    with _taken() as taken:
        port = taken.getsockname()[1]
        calls = iter(range(1000))
        monkeypatch.setattr(servercheck, "free_port", lambda: port if next(calls) in taken_at else real())
        api = servercheck.ApiServer()
        try:
            api.start()
            api.wait_ready()
            assert (api.starts, api.port != port) == (expected_starts, True)
        finally:
            api.stop()


@pytest.mark.server
def test_port_always_taken_fails_closed_after_bounded_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    real = servercheck.free_port
    with _taken() as taken:
        port = taken.getsockname()[1]
        calls = iter(range(1000))
        monkeypatch.setattr(servercheck, "free_port", lambda: port if next(calls) % 3 == 2 else real())
        api = servercheck.ApiServer()
        try:
            api.start()
            with pytest.raises(servercheck.ServerCheckError, match="address already in use"):
                api.wait_ready()
            assert api.starts == servercheck.BIND_ATTEMPTS
        finally:
            api.stop()


@pytest.mark.server
@pytest.mark.policy
def test_readme_example(tmp_path: Path) -> None:
    """The README's cluster-model block, as dsgate.yaml: the agent in kube-system (unlabelled,
    privileged) passes the server check; the same agent in `apps` (restricted) is DS-PSA-001."""
    (tmp_path / "dsgate.yaml").write_text(readme_block("cluster-model"))
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    agent = yamlc.safe_load((DATA / "net-agent.yaml").read_text())
    shutil.copy(DATA / "net-agent.yaml", deploy / "kube-system.yaml")
    agent["metadata"]["namespace"] = "apps"
    (deploy / "apps.yaml").write_text(yaml.safe_dump(agent))
    proc = dsgate_check("--no-deploy", "--kube-version", "1.36.0", "--format", "json", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["clusterModel"] == (
        "cluster model: allow-privileged=true; Pod Security default=privileged, apps=restricted; "
        "admission plugins: kube-apiserver defaults +NodeRestriction -ServiceAccount; charts released as node-agents in monitoring"
    )
    assert (report["errors"], report["schemaErrors"]) == ([], [])
    assert sorted({f["resource"] for f in report["findings"] if f["rule"] == "DS-PSA-001"}) == [
        "DaemonSet/apps/net-agent"
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sources", "expected_releases"),
    [
        pytest.param("[charts/a, charts/b]", {}, id="paths"),
        # a mapping gives that source a release name and namespace of its own
        pytest.param(
            "[charts/a, {path: charts/b, releaseName: logs, namespace: logging}]",
            {"charts/b": ("logs", "logging")},
            id="mapping",
        ),
        pytest.param("[{path: charts, namespace: agents}]", {"charts": ("", "agents")}, id="namespace-only"),
    ],
)
def test_sources_with_their_own_release(
    tmp_path: Path, sources: str, expected_releases: dict[str, tuple[str, str]]
) -> None:
    cfg = _load(tmp_path, f"sources: {sources}\n")
    assert {str(p.relative_to(tmp_path)): r for p, r in cfg.releases.items()} == expected_releases
    assert [p.relative_to(tmp_path).parts[0] for p in cfg.sources] == ["charts"] * len(cfg.sources)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sources", "expected_error"),
    [
        pytest.param("[{path: charts/a}]", "one of them is set", id="nothing-set"),
        pytest.param("[{path: charts/a, release: x}]", r"must be a path or a mapping with 'path'", id="unknown-key"),
        pytest.param("[{releaseName: x}]", r"must be a path or a mapping with 'path'", id="no-path"),
        pytest.param("{a: b}", "must be a list of paths", id="not-a-list"),
    ],
)
def test_sources_errors(tmp_path: Path, sources: str, expected_error: str) -> None:
    with pytest.raises(config.ConfigError, match=expected_error):
        _load(tmp_path, f"sources: {sources}\n")


@pytest.mark.server
@pytest.mark.policy
@pytest.mark.parametrize(
    ("yaml_source", "flags", "expected_resource", "expected_model_tail"),
    [
        # kubeadm's cluster, the model's release: the chart lands as dsgate in dsgate-system
        pytest.param(
            "agent-chart",
            [],
            "DaemonSet/dsgate-system/dsgate-agent",
            "charts released as dsgate in dsgate-system",
            id="defaults",
        ),
        # the flags set the release of every chart
        pytest.param(
            "agent-chart",
            ["--release-name", "logs", "--namespace", "logging"],
            "DaemonSet/logging/logs-agent",
            "charts released as logs in logging",
            id="flags",
        ),
        # dsgate.yaml sets it for one source
        pytest.param(
            "{path: agent-chart, releaseName: logs, namespace: logging}",
            [],
            "DaemonSet/logging/logs-agent",
            "charts released as dsgate in dsgate-system ({chart}: logs in logging)",
            id="per-source",
        ),
    ],
)
def test_release_name_and_namespace(
    tmp_path: Path, yaml_source: str, flags: list[str], expected_resource: str, expected_model_tail: str
) -> None:
    """Findings, exemptions and Pod Security levels are keyed on the names the release really has:
    `logging` is restricted in this cluster, so only the chart released there gets DS-PSA-001."""
    shutil.copytree(DATA / "agent-chart", tmp_path / "agent-chart")
    (tmp_path / "dsgate.yaml").write_text(
        f"sources: [{yaml_source}]\ncluster: {{podSecurity: {{namespaces: {{logging: restricted}}}}}}\n"
    )
    proc = dsgate_check("--no-deploy", "--kube-version", "1.36.0", "--format", "json", *flags, cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["errors"] == [] and report["schemaErrors"] == [], proc.stderr
    assert {f["resource"] for f in report["findings"] if f["resource"].startswith("DaemonSet/")} == {expected_resource}
    assert [f["resource"] for f in report["findings"] if f["rule"] == "DS-PSA-001"] == [expected_resource] * (
        "logging" in expected_resource
    )
    assert report["clusterModel"].endswith(expected_model_tail.format(chart=tmp_path / "agent-chart"))
