"""Fixtures of the gate's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dsgate.gate import servercheck


@pytest.fixture(scope="module")
def server() -> Iterator[servercheck.ApiServer]:
    """The server check's own etcd + kube-apiserver, one per test module, stopped after it."""
    api = servercheck.ApiServer()
    try:
        api.start()
        api.wait_ready()
        yield api
    finally:
        api.stop()
