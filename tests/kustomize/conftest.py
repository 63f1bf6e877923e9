"""Fixtures for the kustomize tests: cached builds of throw-away stacks (bases + one component)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import support
from .support import Build, Kustomization, StackBuild, build, stack


@pytest.fixture(scope="session", autouse=True)
def _shared_build_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let the xdist workers of this session share build outputs (see support.SHARED_CACHE)."""
    basetemp = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is <session>/popen-gwN; the session directory is shared.
    session_dir = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    support.SHARED_CACHE = session_dir / "kustomize-builds"


@pytest.fixture(scope="session")
def stack_build(tmp_path_factory: pytest.TempPathFactory) -> StackBuild:
    """`stack_build(component, base_names)` -> (directory, build) of a temporary kustomization with
    those bases as resources and the component, built once per session and worker."""
    cache: dict[tuple[str, tuple[str, ...]], tuple[Path, Build]] = {}

    def _build(component: Kustomization, base_names: tuple[str, ...]) -> tuple[Path, Build]:
        key = (component.rel, base_names)
        if key not in cache:
            directory = tmp_path_factory.mktemp(component.rel.replace("/", "-") + "-on-" + "-".join(base_names))
            stack(directory, base_names, (component.path,))
            cache[key] = (directory, build(directory))
        return cache[key]

    return _build
