"""Fixtures for the packaging tests: the source tree as its own git repository, and the built wheel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.tools.support import REPO, run, uv


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's files (tracked and new, not ignored) committed to a fresh git repository:
    what a user's `pre-commit` or `pip install` gets, built without writing into the checkout."""
    src = tmp_path_factory.mktemp("src") / "dsgate"
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        source = REPO / rel
        if not (source.is_symlink() or source.is_file()):
            continue  # deleted in the working tree
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    run(["git", "init", "--quiet", "-b", "main"], cwd=src)
    run(["git", "add", "-A"], cwd=src)
    run(["git", "commit", "--quiet", "-m", "dsgate under test"], cwd=src)
    return src


@pytest.fixture(scope="session")
def dist(source_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist `uv build` makes."""
    out = tmp_path_factory.mktemp("dist")
    run([uv(), "build", "--quiet", "--out-dir", str(out), str(source_repo)])
    return out
