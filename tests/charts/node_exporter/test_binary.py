"""The args the chart renders are accepted by the real node_exporter (pinned appVersion).

The rendered container args are run on this machine: /host/proc, /host/sys and /host/root are
mapped to /proc, /sys and /, and the listen address to 127.0.0.1:<free port>.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from tests.support import free_port

from dsgate import yamlc
from dsgate.tools import tool_path
from dsgate.versions import pinned

from .support import CHART, NodeExporterFailed, container, local_args, node_exporter, scenario_file, scrape

pytestmark = pytest.mark.render


def test_binary_is_the_charts_app_version() -> None:
    app_version = yamlc.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert "v" + app_version == pinned()["NODE_EXPORTER_VERSION"]
    out = subprocess.run([str(tool_path("node_exporter")), "--version"], capture_output=True, text=True, check=True)
    assert f"version {app_version}" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("scenario", "values", "expected_metric"),
    [
        pytest.param("default", None, "node_cpu_seconds_total", id="default"),
        pytest.param("minimal", None, "node_load1", id="minimal-collector-toggles"),
        pytest.param("hardened", None, "node_memory_MemTotal_bytes", id="hardened-extra-args"),
        pytest.param(
            "default",
            {
                "collectors": {"enabled": ["processes"], "disabled": ["wifi"]},
                "extraArgs": ["--web.telemetry-path=/metrics"],
            },
            "node_processes_threads",
            id="collectors-and-extraArgs",
        ),
    ],
)
def test_rendered_args_run_and_serve_metrics(
    render: Any, scenario: str, values: dict[str, Any] | None, expected_metric: str
) -> None:
    args = container(render(CHART, values, values_files=[scenario_file(scenario)]))["args"]
    port = free_port()
    with node_exporter(local_args(args, port), port) as url:
        body = scrape(url)
    assert "node_exporter_build_info{" in body
    assert f"\n{expected_metric}" in body


def test_proxy_mode_args_bind_loopback(render: Any) -> None:
    """Behind kube-rbac-proxy node_exporter must bind 127.0.0.1; the binary accepts that address."""
    args = container(render(CHART, values_files=[scenario_file("kube-rbac-proxy")]))["args"]
    assert "--web.listen-address=127.0.0.1:8100" in args
    port = free_port()
    with node_exporter(local_args(args, port), port) as url:
        assert "node_exporter_build_info{" in scrape(url)


@pytest.mark.parametrize(
    ("values", "expected_error"),
    [
        pytest.param(
            {"extraArgs": ["--colector.systemd"]}, "unknown long flag '--colector.systemd'", id="misspelled-flag"
        ),
        pytest.param(
            {"collectors": {"enabled": ["no_such_collector"]}},
            "unknown long flag '--collector.no_such_collector'",
            id="unknown-collector",
        ),
    ],
)
def test_bad_flags_make_the_binary_fail(render: Any, values: dict[str, Any], expected_error: str) -> None:
    args = container(render(CHART, values))["args"]
    port = free_port()
    with pytest.raises(NodeExporterFailed) as info, node_exporter(local_args(args, port), port, timeout=10):
        pass
    assert "exited with" in str(info.value)
    assert expected_error in str(info.value)
