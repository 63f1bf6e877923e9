"""The charts as released artifacts on the local cluster.

- OCI: a real registry (CNCF distribution, the pinned `registry` tool) on 127.0.0.1; both charts are
  pushed with `helm push` and installed from `oci://127.0.0.1:<port>/dsgate/charts/<chart>` by version.
- The README's chart-consumer quick start runs as written against that registry (its host swapped
  for the test registry's, `--plain-http` added: the test registry speaks plain http).
- Upgrade: the previous version of each chart, taken from git history (the newest commit whose
  Chart.yaml has another version) and packaged, is installed, then upgraded with `helm upgrade` to
  the working tree's chart: no error (an immutable-field change would fail it), the rollout never
  has more pods unavailable than its maxUnavailable, and it ends within twice the time dsgate's
  rollout model predicts for it (waves x (pod deletion + ready delay + minReadySeconds)).
Each install is the deploy stage's full check: every eligible node runs a Ready pod, the uninstall
leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes.dynamic import DynamicClient

from dsgate import procs, yamlc
from dsgate.chartrepo import chart_version, package
from dsgate.cluster import kube, rollout
from dsgate.cluster.deploy import deploy_chart
from dsgate.cluster.eligibility import eligible_nodes
from dsgate.cluster.lifecycle import LocalCluster
from dsgate.gate.render import build_dependencies
from dsgate.paths import CHARTS
from dsgate.tools import tool_path
from tests.support import REPO, free_port
from tests.tools.support import readme_block

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

BUDGET = 120.0  # seconds: install, or upgrade plus rollout, as the deploy stage allows
NAMES = [chart.name for chart in CHARTS]


def _version(chart: str) -> str:
    return chart_version((REPO / "charts" / chart / "Chart.yaml").read_text())


@pytest.fixture(autouse=True)
def helm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helm's cache, config and data (pulled charts, registry config) in the test's own directory."""
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A CNCF distribution registry on 127.0.0.1 (plain http), stopped at the end of the module."""
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": True}},
                "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen([str(tool_path("registry")), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"registry exited with {proc.returncode}: {(root / 'registry.log').read_text()}"
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "registry did not answer /v2/ within 30 s"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        procs.terminate(proc)
        log.close()


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    return {path.name.rsplit("-", 1)[0]: path for path in package(CHARTS, out)}


@pytest.fixture(scope="module")
def pushed(registry: str, packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """Both charts pushed to the registry under /dsgate/charts (the README's path); the oci:// prefix."""
    home = tmp_path_factory.mktemp("helm-push")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    for name, path in packages.items():
        proc = subprocess.run(
            [str(tool_path("helm")), "push", str(path), f"oci://{registry}/dsgate/charts", "--plain-http"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"Pushed: {registry}/dsgate/charts/{name}:{_version(name)}" in proc.stdout + proc.stderr
    return f"oci://{registry}/dsgate/charts"


# The installs and upgrades here run with minReadySeconds 2, not the charts' 10, and maxUnavailable 4,
# not 10% (in both versions of an upgrade): an upgrade of the 11 nodes then takes 3 waves instead of
# 6, each waiting 2 s instead of 10 (108 s a chart with the defaults, 44 s with minReadySeconds 2
# alone), and the budget still binds. What minReadySeconds does to a rollout, and 10% at 1,000
# nodes, are behaviour/test_rollout's and test_scale's. The README's quick start and
# test_cluster_deploy's default scenarios keep the charts' defaults.
QUICK_ROLLOUT = "minReadySeconds: 2\nupdateStrategy:\n  rollingUpdate:\n    maxUnavailable: 4\n"


@pytest.fixture
def quick_rollout(tmp_path: Path) -> Path:
    """A values file with QUICK_ROLLOUT."""
    values = tmp_path / "quick-rollout.yaml"
    values.write_text(QUICK_ROLLOUT)
    return values


def _tags(registry: str, chart: str) -> list[str]:
    tags: list[str] = requests.get(f"http://{registry}/v2/dsgate/charts/{chart}/tags/list", timeout=5).json()["tags"]
    return tags


@pytest.mark.parametrize("chart", NAMES)
def test_chart_installs_from_the_oci_registry_by_version(
    local_cluster: LocalCluster, registry: str, pushed: str, chart: str, quick_rollout: Path
) -> None:
    assert _tags(registry, chart) == [_version(chart)]
    namespace = f"oci-{uuid.uuid4().hex[:6]}"
    result = deploy_chart(
        f"{pushed}/{chart}",
        [quick_rollout],
        local_cluster.kubeconfig,
        namespace,
        f"oci-{chart}",
        BUDGET,
        version=_version(chart),
        plain_http=True,
    )
    assert result.ok, result.messages
    assert result.daemonsets and all(d.available == len(d.eligible_nodes) > 0 for d in result.daemonsets)


def test_unknown_version_is_not_installed(local_cluster: LocalCluster, pushed: str) -> None:
    result = deploy_chart(
        f"{pushed}/fluentd",
        [],
        local_cluster.kubeconfig,
        f"oci-{uuid.uuid4().hex[:6]}",
        "oci-missing",
        30,
        version="99.0.0",
        plain_http=True,
    )
    assert not result.ok
    assert "helm install oci-missing failed" in result.messages[0] and "99.0.0" in result.messages[0]


def previous_version(chart: str) -> tuple[str, str]:
    """(commit, version): the newest commit whose Chart.yaml of CHART has another version than the working tree's."""
    current = _version(chart)
    rel = f"charts/{chart}/Chart.yaml"
    commits = subprocess.run(
        ["git", "log", "--format=%H", "--", rel], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for commit in commits:
        shown = subprocess.run(
            ["git", "show", f"{commit}:{rel}"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
        if chart_version(shown) != current:
            return commit, chart_version(shown)
    raise AssertionError(f"git history has no other version of {chart} than {current}")


def _rollout_plan(local_cluster: LocalCluster, chart: str, values: Path) -> tuple[rollout.Budget, float]:
    """The working tree's DaemonSet of CHART with VALUES on the cluster's nodes: its rollout budget,
    and the seconds dsgate's rollout model predicts for a rollout of every pod."""
    build_dependencies(REPO / "charts" / chart)  # the library chart, into charts/ (gitignored)
    rendered = subprocess.run(
        [str(tool_path("helm")), "template", f"up-{chart}", str(REPO / "charts" / chart), "--values", str(values)],
        capture_output=True,
        text=True,
        check=True,
    )
    (ds,) = [d for d in yamlc.safe_load_all(rendered.stdout) if d and d["kind"] == "DaemonSet"]
    nodes = kube.list_items(kube.dynamic_client(local_cluster.kubeconfig), "v1", "Node")
    total = len(eligible_nodes(nodes, ds["spec"]["template"]["spec"]))
    plan = rollout.budget(ds, total)
    return plan, rollout.predicted_seconds(total, local_cluster.topology, plan)


def _sample_unavailable(dyn: DynamicClient, namespace: str, name: str, stop: threading.Event, seen: list[int]) -> None:
    """numberUnavailable of the DaemonSet while its second generation (the upgrade) is observed, until STOP."""
    while not stop.is_set():
        ds = kube.get_or_none(dyn, "apps/v1", "DaemonSet", name, namespace)
        status = (ds or {}).get("status") or {}
        if ds is not None and status.get("observedGeneration", 0) >= 2:
            seen.append(int(status.get("numberUnavailable", 0)))
        stop.wait(0.2)


@pytest.mark.parametrize("chart", NAMES)
def test_upgrade_from_the_previous_version(
    local_cluster: LocalCluster, tmp_path: Path, chart: str, quick_rollout: Path
) -> None:
    commit, old = previous_version(chart)
    values = quick_rollout
    assert old != _version(chart)
    # every chart of that commit: the chart and the library chart it may depend on (file://../dsgate-common)
    archive = subprocess.run(["git", "archive", commit, "charts"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    (old_package,) = package([tmp_path / "charts" / chart], tmp_path / "dist")
    assert old_package.name == f"{chart}-{old}.tgz"

    plan, predicted = _rollout_plan(local_cluster, chart, values)
    assert plan.max_unavailable == 4  # QUICK_ROLLOUT's budget: fewer pods than the 11 nodes, so it binds
    allowed = max(BUDGET, 2 * predicted)  # twice the model's time: the machine is shared
    namespace = f"upgrade-{uuid.uuid4().hex[:6]}"
    stop, seen = threading.Event(), list[int]()
    sampler = threading.Thread(
        target=_sample_unavailable,
        args=(kube.dynamic_client(local_cluster.kubeconfig), namespace, f"up-{chart}", stop, seen),
    )
    sampler.start()
    try:
        result = deploy_chart(
            old_package,
            [values],
            local_cluster.kubeconfig,
            namespace,
            f"up-{chart}",
            allowed,
            upgrade_to=REPO / "charts" / chart,
        )
    finally:
        stop.set()
        sampler.join()
    assert result.ok, result.messages
    assert not any("immutable" in m for m in result.messages)
    assert result.timings["upgrade"] + result.timings["upgrade_rollout_check"] < allowed
    assert seen and max(seen) <= plan.max_unavailable, (
        f"unavailable during the upgrade: {sorted(set(seen))}, budget {plan.spec}"
    )
    assert result.daemonsets and all(d.updated == d.available == len(d.eligible_nodes) > 0 for d in result.daemonsets)


def test_upgrade_that_changes_the_selector_fails(
    local_cluster: LocalCluster, tmp_path: Path, quick_rollout: Path
) -> None:
    """The check can fail: a version whose selector gains a label is refused by the API server (immutable field)."""
    changed = tmp_path / "fluentd"
    for name in ("fluentd", "dsgate-common"):  # the chart and the library its selector comes from
        shutil.copytree(REPO / "charts" / name, tmp_path / name, ignore=shutil.ignore_patterns("charts"))
    helpers = tmp_path / "dsgate-common" / "templates" / "_labels.tpl"
    marker = "app.kubernetes.io/instance: {{ .Release.Name | quote }}\n{{- end }}"
    assert marker in helpers.read_text()
    helpers.write_text(
        helpers.read_text().replace(
            marker,
            "app.kubernetes.io/instance: {{ .Release.Name | quote }}\napp.kubernetes.io/part-of: logging\n{{- end }}",
            1,
        )
    )
    namespace = f"upgrade-{uuid.uuid4().hex[:6]}"
    result = deploy_chart(
        REPO / "charts" / "fluentd",
        [quick_rollout],
        local_cluster.kubeconfig,
        namespace,
        "up-selector",
        BUDGET,
        upgrade_to=changed,
    )
    assert not result.ok
    assert any("helm upgrade up-selector" in m and "field is immutable" in m for m in result.messages), result.messages


def _rolled_out(dyn: DynamicClient, namespace: str) -> list[str]:
    """The names of NAMESPACE's DaemonSets once each has an available pod on every eligible node (at least one); [] before."""
    nodes = kube.list_items(dyn, "v1", "Node")
    daemonsets = kube.list_items(dyn, "apps/v1", "DaemonSet", namespace)
    for ds in daemonsets:
        status, want = ds.get("status") or {}, len(eligible_nodes(nodes, ds["spec"]["template"]["spec"]))
        observed = status.get("observedGeneration", 0) >= ds["metadata"]["generation"]
        if not (
            observed and want > 0 and status.get("desiredNumberScheduled") == status.get("numberAvailable") == want
        ):
            return []
    return [ds["metadata"]["name"] for ds in daemonsets]


def test_readme_chart_consumer_installs_from_the_registry(
    local_cluster: LocalCluster, registry: str, pushed: str, tmp_path: Path
) -> None:
    block = readme_block("chart-consumer")
    assert "oci://registry.example.com/dsgate/charts/" in block
    command = block.replace("registry.example.com", registry).rstrip("\n") + " --plain-http\n"
    env = {
        **os.environ,
        "PATH": f"{tool_path('helm').parent}:{os.environ['PATH']}",
        "KUBECONFIG": str(local_cluster.kubeconfig),
    }
    helm = [str(tool_path("helm")), "--kubeconfig", str(local_cluster.kubeconfig)]
    dyn = kube.dynamic_client(local_cluster.kubeconfig)
    assert kube.get_or_none(dyn, "v1", "Namespace", "monitoring") is None, "the quick start creates its namespace"
    try:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (release,) = yamlc.safe_load(
            subprocess.run(
                [*helm, "list", "-n", "monitoring", "-o", "yaml"], capture_output=True, text=True, check=True
            ).stdout
        )
        assert (release["name"], release["chart"], release["status"]) == (
            "node-exporter",
            f"node-exporter-{_version('node-exporter')}",
            "deployed",
        )
        names = kube.wait_for(
            "the quick start's DaemonSet on every eligible node", lambda: _rolled_out(dyn, "monitoring"), BUDGET
        )
        assert names == ["node-exporter"]
    finally:
        subprocess.run(
            [*helm, "uninstall", "node-exporter", "-n", "monitoring", "--wait=watcher", "--timeout", "120s"],
            capture_output=True,
            check=False,
        )
        if kube.get_or_none(dyn, "v1", "Namespace", "monitoring") is not None:
            kube.resource(dyn, "v1", "Namespace").delete(name="monitoring")
