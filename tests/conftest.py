"""Shared fixtures. Tools are the real pinned binaries; a missing one fails the test loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHARTS = REPO / "charts"
KUSTOMIZE = REPO / "kustomize"
POLICIES = REPO / "policies"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
