"""Shared pieces of the fluentd chart tests: cached real-helm renders, object and config lookup."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.charts.fluentd import fluentconf
from tests.support import CHARTS, Objects, daemonset, find
from tests.support import pod_spec as ds_pod_spec

from dsgate.gate.render import HELM_TOOLS, RenderError
from dsgate.gate.sourcekinds import render_chart
from dsgate.tools import tool_path

CHART = CHARTS / "fluentd"
CI_DIR = CHART / "ci"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCENARIOS = sorted(p.name.removesuffix("-values.yaml") for p in CI_DIR.glob("*-values.yaml"))
REQUIRED_SCENARIOS = {
    "default",
    "containerd",
    "cri-o",
    "docker",
    "forward-output",
    "elasticsearch-output",
    "http-output",
    "existing-configmap",
    "hardened",
    "gpu-only",
    "large-cluster",
    "servicemonitor",
    "vpa",
}
CONTAINER = "fluentd"

_CACHE: dict[str, Objects] = {}


def render(values: dict[str, Any] | None = None, *, files: Sequence[Path] = (), helm: str = "v4") -> Objects:
    """`helm template` the chart with the real helm (v4 or v3); cached per process, callers get a copy."""
    key = json.dumps([values, [str(f) for f in files], helm], sort_keys=True)
    if key not in _CACHE:
        _CACHE[key] = render_chart(CHART, values=values, values_files=files, helm=helm).objects
    return copy.deepcopy(_CACHE[key])


def render_error(values: dict[str, Any], *, helm: str = "v4") -> str:
    """The error helm reports for VALUES; fails the test if the render succeeds."""
    try:
        render_chart(CHART, values=values, helm=helm)
    except RenderError as exc:
        return str(exc)
    raise AssertionError(f"helm template accepted values it must reject: {values}")


def scenario_file(name: str) -> Path:
    return CI_DIR / f"{name}-values.yaml"


def helm_lint(files: Sequence[Path] = (), helm: str = "v4") -> subprocess.CompletedProcess[str]:
    """`helm lint --strict` of the chart with the real helm v4 (or v3)."""
    cmd = [str(tool_path(HELM_TOOLS[helm])), "lint", "--strict", str(CHART)]
    for f in files:
        cmd += ["--values", str(f)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


# ----------------------------------------------------------------------------- objects


def pod_spec(objs: Objects) -> dict[str, Any]:
    return ds_pod_spec(daemonset(objs))


def container(objs: Objects) -> dict[str, Any]:
    return next(c for c in pod_spec(objs)["containers"] if c["name"] == CONTAINER)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_SEGMENT = re.compile(
    r'"(?P<q>[^"]+)"|(?P<name>[^.\[\]"]+)|\[(?P<idx>\d+)\]|\[(?P<k>[^=\]]+)=(?P<v>[^\]]*)\]|(?P<dot>\.)'
)


def pick(node: Any, path: str) -> Any:
    """Walk PATH through dicts and lists: `a.b."label/key".list[name=x].c[0]`; MISSING when absent."""
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        assert m and m.end() > pos, f"bad path {path!r} at {path[pos:]!r}"
        pos = m.end()
        if m.group("dot"):
            continue
        if node is MISSING:
            return MISSING
        if m.group("q") or m.group("name"):
            key = m.group("q") or m.group("name")
            node = node.get(key, MISSING) if isinstance(node, dict) else MISSING
        elif m.group("idx") is not None:
            i = int(m.group("idx"))
            node = node[i] if isinstance(node, list) and i < len(node) else MISSING
        else:
            k, v = m.group("k"), m.group("v")
            hits = [x for x in node if isinstance(x, dict) and str(x.get(k)) == v] if isinstance(node, list) else []
            node = hits[0] if hits else MISSING
    return node


def lookup(objs: Objects, target: str) -> Any:
    """`Kind:path` in the rendered objects (MISSING when the kind is absent), `container:path` in the
    Fluentd container, or `conf:...` / `confall:...` in the parsed fluent.conf (see conf_lookup)."""
    kind, _, path = target.partition(":")
    if kind == "conf":
        return conf_lookup(objs, path)
    if kind == "confall":
        return conf_lookup(objs, path, every=True)
    if kind == "container":
        return pick(container(objs), path)
    obj = find(objs, kind)
    return MISSING if obj is None else pick(obj, path)


# ----------------------------------------------------------------------------- fluent.conf


def conf_files(objs: Objects) -> dict[str, str]:
    """The generated ConfigMap's files (fluent.conf and its includes)."""
    cm = find(objs, "ConfigMap")
    assert cm is not None, "no ConfigMap rendered"
    return dict(cm["data"])


def parsed_conf(objs: Objects) -> fluentconf.Config:
    return fluentconf.parse_files(conf_files(objs))


def conf_lookup(objs: Objects, path: str, *, every: bool = False) -> Any:
    """`dir1[sel]/dir2:key` in the parsed config: directive names with an optional selector
    (`[arg]`, or `[@type=x]`), then the parameter; without `:key`, the directive's header. The first
    match at each step, or with EVERY the list over all matches of the last step. MISSING when absent.
    """
    steps, _, key = path.partition(":")
    level: list[fluentconf.Directive] = parsed_conf(objs).directives
    matches: list[fluentconf.Directive] = []
    for n, step in enumerate(steps.split("/")):
        m = re.fullmatch(r"([a-z_]+)(?:\[(.*)\])?", step)
        assert m, f"bad conf path {path!r}"
        name, sel = m.group(1), m.group(2)
        matches = [
            d
            for d in level
            if d.name == name and (sel is None or sel == d.arg or (sel.startswith("@type=") and d.type == sel[6:]))
        ]
        if not matches:
            return MISSING
        if n < len(steps.split("/")) - 1:
            level = matches[0].children
    values = [d.header if not key else d.get(key, MISSING) for d in matches]
    return values if every else values[0]


def image_variant(objs: Objects) -> str:
    """The image variant, read from the rendered image tag (`...-debian-<variant>-1.0`)."""
    image = container(objs)["image"]
    m = re.search(r":v[0-9.]+-debian-([a-z0-9]+)-", image)
    assert m, f"image {image} has no variant in its tag"
    return m.group(1)
