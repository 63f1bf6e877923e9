"""Shared fixtures. Tools are the real pinned binaries; a missing one fails the test loudly."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId  # noqa: PLC2701  # pytest exports no public type for a node id

from tests.support import REPO

# A warm server the developer started (`dsgate server start`) must not run the suite's checks: every
# test process gets a runtime directory of its own (dsgate.serverd.wire), where no warm server runs.
os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="dsgate-tests-run-")
atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` groups tests by the `@group` suffix xdist's worker adds to each marked test's
    node id. xdist 3.8 writes the suffix into `item._nodeid`, which pytest 9.2 no longer reads (node
    ids are structured, `item._id`): the suffix was lost and every xdist_group silently spread over
    both workers, each starting its own control planes (two 1,000-node clusters at once).
    pytest-dev/pytest-xdist#1386. Until xdist writes the structured id, this adds the suffix there."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        groups = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        if groups and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
