"""The node heartbeat timings of the local cluster: a kubelet's for small fleets, stretched for large ones."""

from __future__ import annotations

import pytest

from dsgate.cluster.kwokctl import heartbeat_factor

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("nodes", "expected_factor"),
    [
        pytest.param(1, 1, id="one-node"),
        pytest.param(11, 1, id="default-topology"),
        pytest.param(200, 1, id="at-the-limit"),
        pytest.param(201, 2, id="just-above"),
        pytest.param(1000, 5, id="thousand-nodes-kwokctl-default"),
    ],
)
def test_heartbeat_factor(nodes: int, expected_factor: int) -> None:
    assert heartbeat_factor(nodes) == expected_factor
