"""The README's threat model, one test per promise: what a checked repository can make dsgate run.

Never kustomize exec functions or legacy (alpha) plugins, never helm plugins or post-renderers,
never a network call (loopback included), template `lookup` finds nothing, and kustomize's load
restrictor keeps every build inside its kustomization's root."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsgate.gate.render import HelmBatch, helm_template
from tests.hostile.support import MINIMAL_DS, assert_no_traceback
from tests.support import dsgate_check

pytestmark = [pytest.mark.hostile, pytest.mark.render]

EVIL = "#!/bin/sh\ntouch {marker}\ncat\n"


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts (what dsgate must never make)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(timeout=10)


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _evil(tmp: Path) -> tuple[Path, Path]:
    marker = tmp / "pwned"
    script = tmp / "evil.sh"
    script.write_text(EVIL.format(marker=marker))
    script.chmod(0o755)
    return script, marker


def test_kustomize_exec_function_never_runs(tmp_path: Path) -> None:
    script, marker = _evil(tmp_path)
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "kustomization.yaml").write_text("generators: [gen.yaml]\n")
    (tmp_path / "k" / "gen.yaml").write_text(
        f"apiVersion: example.com/v1\nkind: Gen\nmetadata:\n  name: gen\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: {script}\n"
    )
    proc = dsgate_check("--no-config", tmp_path / "k", cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert not marker.exists(), "kustomize ran an exec function from the checked repo"


def test_kustomize_legacy_plugin_never_runs(tmp_path: Path) -> None:
    script, marker = _evil(tmp_path)
    plugin_dir = tmp_path / "plugins" / "example.com" / "v1" / "gen"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "Gen").write_text(script.read_text())
    (plugin_dir / "Gen").chmod(0o755)
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "kustomization.yaml").write_text("generators: [gen.yaml]\n")
    (tmp_path / "k" / "gen.yaml").write_text("apiVersion: example.com/v1\nkind: Gen\nmetadata: {name: gen}\n")
    proc = dsgate_check(
        "--no-config",
        tmp_path / "k",
        cwd=tmp_path,
        env={"KUSTOMIZE_PLUGIN_HOME": str(tmp_path / "plugins"), "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert_no_traceback(proc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert not marker.exists(), "kustomize ran a legacy exec plugin"


def test_kustomize_load_restrictor_stays_root_only(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text(MINIMAL_DS.replace("agent", "stolen"))
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "kustomization.yaml").write_text("resources: [../outside.yaml]\n")
    proc = dsgate_check("--no-config", tmp_path / "k", cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "is not in or below" in proc.stdout + proc.stderr
    assert "stolen" not in proc.stdout.replace(str(tmp_path), "")


def test_no_network_call_even_to_loopback(tmp_path: Path, listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}"
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "kustomization.yaml").write_text(f"resources: [{url}/ds.yaml]\n")
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n  - name: dep\n    version: 1.0.0\n    repository: {url}\n"
    )
    (chart / "templates" / "ds.yaml").write_text(MINIMAL_DS)
    proc = dsgate_check(
        "--no-config",
        tmp_path / "k",
        chart,
        "--helm",
        "v4",
        "--helm",
        "v3",
        cwd=tmp_path,
        env={"HELM_REPOSITORY_CONFIG": str(tmp_path / "repos.yaml")},
    )
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert listener.accepted == 0


def test_lookup_finds_nothing_even_with_a_kubeconfig(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{listener.port}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  namespaces: "{{ len (lookup "v1" "Namespace" "" "") }}"\n'
        '  secret: "{{ len (lookup "v1" "Secret" "kube-system" "token") }}"\n'
    )
    expected = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  namespaces: "0"\n  secret: "0"\n'
    with HelmBatch(size=1) as batch:
        assert expected in helm_template(chart, batch=batch).text
    assert expected in helm_template(chart, helm="v3").text
    assert listener.accepted == 0


def test_helm_plugins_never_run(tmp_path: Path) -> None:
    """A helm plugin in the user's plugin directory (a getter for the chart's dependency scheme, and a
    post-renderer) is not loaded: dsgate passes no --post-renderer and points HELM_PLUGINS at nothing."""
    script, marker = _evil(tmp_path)
    plugin = tmp_path / "helm-plugins" / "evil"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(
        f"name: evil\nversion: 0.1.0\nusage: evil\ndescription: evil\ncommand: {script}\nplatformHooks: {{}}\n"
        f"downloaders:\n  - command: {script}\n    protocols: [evil]\n"
    )
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n  - {name: dep, version: 1.0.0, repository: 'evil://x'}\n"
    )
    (chart / "templates" / "ds.yaml").write_text(MINIMAL_DS)
    proc = dsgate_check(
        "--no-config",
        chart,
        "--helm",
        "v4",
        "--helm",
        "v3",
        cwd=tmp_path,
        env={"HELM_PLUGINS": str(tmp_path / "helm-plugins")},
    )
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert not marker.exists()
