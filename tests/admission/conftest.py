"""The admission tests' private API server (dsgate.admission.localserver: kube-apiserver v1.36.3, etcd
and the policy status controller), one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dsgate.admission.localserver import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as started:
        yield started
