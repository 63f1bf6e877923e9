"""Shared fixtures. Tools are the real pinned binaries; a missing one fails the test loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REPO


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
