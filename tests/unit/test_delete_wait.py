"""deploy.delete_wait_ended_early: which `helm uninstall` failures are its delete wait ending before a
foreground deletion finished (dsgate's own leftover check decides those) and which stay failures."""

from __future__ import annotations

import pytest

from dsgate.cluster.deploy import delete_wait_ended_early

PREFIX = "Error: uninstallation completed with 1 error(s): "
TERMINATING = (
    "resource DaemonSet/ns-a/agent still exists. status: Terminating, message: Resource scheduled for deletion"
)
CURRENT = "resource ConfigMap/ns-a/agent-config still exists. status: Current, message: Resource is always ready"


@pytest.mark.parametrize(
    ("stderr", "expected_early"),
    [
        pytest.param(PREFIX + TERMINATING + "\n", True, id="the-daemonset-seen-late"),
        pytest.param(f"{PREFIX}{TERMINATING}\n{CURRENT}\n", True, id="two-objects-seen-late"),
        pytest.param(f"walk.go:75: warning: x\n{PREFIX}{TERMINATING}", True, id="after-a-warning-line"),
        pytest.param(f"{PREFIX}{TERMINATING}\ncontext deadline exceeded\n", False, id="the-wait-timed-out"),
        pytest.param(
            "Error: uninstallation completed with 2 error(s): "
            + TERMINATING
            + "; warning: Hook post-delete agent/templates/job.yaml failed: boom",
            False,
            id="a-hook-failed-too",
        ),
        pytest.param(PREFIX + "uninstall: Failed to purge the release: etcdserver: timeout", False, id="purge-failed"),
        pytest.param("Error: failed to delete release: agent", False, id="the-delete-failed"),
        pytest.param("Error: uninstall: Release not loaded: agent: release: not found", False, id="no-release"),
        pytest.param(PREFIX, False, id="no-error-named"),
        pytest.param("", False, id="nothing-said"),
    ],
)
def test_delete_wait_ended_early(stderr: str, expected_early: bool) -> None:
    assert delete_wait_ended_early(stderr) is expected_early
