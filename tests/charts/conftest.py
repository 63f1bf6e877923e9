"""Fixtures shared by the chart tests: one cached `helm template` per (chart, values, helm)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from dsgate.gate.sourcekinds import render_chart

Objects = list[dict[str, Any]]
RenderFn = Callable[..., Objects]

_CACHE: dict[tuple[str, str, str, tuple[str, ...]], Objects] = {}


def cached_render(
    chart: Path,
    values: dict[str, Any] | None = None,
    helm: str = "v4",
    values_files: Sequence[Path] = (),
) -> Objects:
    """Render CHART with the real helm (v4 or v3); renders are cached per process, callers get a copy.

    Raises dsgate.render.RenderError (not cached) when helm fails.
    """
    key = (str(chart), json.dumps(values, sort_keys=True), helm, tuple(str(p) for p in values_files))
    if key not in _CACHE:
        _CACHE[key] = render_chart(chart, values=values, values_files=values_files, helm=helm).objects
    return copy.deepcopy(_CACHE[key])


@pytest.fixture(scope="session")
def render() -> RenderFn:
    """`render(chart, values=None, helm="v4", values_files=())` -> rendered objects (cached)."""
    return cached_render
