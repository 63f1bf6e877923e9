"""Reusable pieces for the node-exporter chart tests: paths, object lookup, and the real binary."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.support import CHARTS, Objects, daemonset, find

from dsgate.tools import tool_path

CHART = CHARTS / "node-exporter"
CI_DIR = CHART / "ci"
SCENARIOS = sorted(p.name.removesuffix("-values.yaml") for p in CI_DIR.glob("*-values.yaml"))
REQUIRED_SCENARIOS = {
    "default",
    "minimal",
    "hardened",
    "gpu-only",
    "control-plane-only",
    "large-cluster",
    "on-delete",
    "kube-rbac-proxy",
    "servicemonitor-podmonitor",
    "vpa",
    "networkpolicy",
    "no-host-network",
}


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()

_TOKEN = re.compile(r'\.?([A-Za-z0-9_-]+)|\["([^"]+)"\]|\[([A-Za-z]+)=([^\]]+)\]|\[(\d+)\]')


def scenario_file(name: str) -> Path:
    return CI_DIR / f"{name}-values.yaml"


def dig(objs: Objects, path: str) -> Any:
    """Value at "Kind:a.b[name=x].c["label/key"][0]" in the rendered objects, or ABSENT."""
    kind, _, rest = path.partition(":")
    node: Any = find(objs, kind)
    if node is None:
        return ABSENT
    pos = 0
    while pos < len(rest):
        m = _TOKEN.match(rest, pos)
        assert m, f"bad path {path!r} at {rest[pos:]!r}"
        pos = m.end()
        field, quoted, sel_key, sel_val, index = m.groups()
        if field is not None or quoted is not None:
            key = field if field is not None else quoted
            if not isinstance(node, dict) or key not in node:
                return ABSENT
            node = node[key]
        elif sel_key is not None:
            matches = [item for item in node or [] if isinstance(item, dict) and str(item.get(sel_key)) == sel_val]
            if not matches:
                return ABSENT
            node = matches[0]
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                return ABSENT
            node = node[i]
    return node


def container(objs: Objects, name: str = "node-exporter") -> dict[str, Any]:
    for c in daemonset(objs)["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")


# ---- the real node_exporter binary ----------------------------------------------------------

# Container paths the chart mounts, mapped to the same host paths on the test machine.
HOST_PATHS = {"/host/proc": "/proc", "/host/sys": "/sys", "/host/root": "/"}


def local_args(args: Sequence[str], port: int) -> list[str]:
    """Rendered container ARGS made runnable here: host paths mapped, listening on 127.0.0.1:PORT."""
    out: list[str] = []
    for arg in args:
        flag, eq, value = arg.partition("=")
        if eq and value in HOST_PATHS:
            arg = f"{flag}={HOST_PATHS[value]}"
        if flag == "--web.listen-address":
            arg = f"{flag}=127.0.0.1:{port}"
        out.append(arg)
    return out


class NodeExporterFailed(RuntimeError):
    """node_exporter exited or never served /metrics; carries its output."""


@contextlib.contextmanager
def node_exporter(args: Sequence[str], port: int, timeout: float = 20.0) -> Iterator[str]:
    """Run the pinned node_exporter with ARGS; yield its /metrics URL once it answers; always stop it."""
    binary = tool_path("node_exporter")
    proc = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise NodeExporterFailed(f"node_exporter exited with {proc.returncode}: {output.strip()}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise NodeExporterFailed(f"node_exporter did not serve {url} within {timeout}s") from None
                time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()
