"""GitOps fixtures: a Flux fleet repository and an Argo CD repository written for these tests, and an
offline chart store of the `agent` chart packaged in several versions (as `helm pull` lays them out)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dsgate.tools import tool_path

DATA = Path(__file__).parent / "data"
FLEET = DATA / "fleet"
ARGO = DATA / "argo"
AGENT_CHART = DATA / "charts" / "agent"
AGENT_VERSIONS = ("1.0.0", "1.1.5", "1.2.0", "1.3.0-rc.1", "2.0.0")


@pytest.fixture(scope="session")
def chart_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of agent-<version>.tgz packages, one per AGENT_VERSIONS (appVersion = version)."""
    store = tmp_path_factory.mktemp("charts")
    for version in AGENT_VERSIONS:
        subprocess.run(
            [
                str(tool_path("helm")),
                "package",
                str(AGENT_CHART),
                "--version",
                version,
                "--app-version",
                version,
                "-d",
                str(store),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return store
