"""Pinned versions, read from dsgate/data/versions.env: the one place they are defined, shipped in the package."""

from __future__ import annotations

import functools

from dsgate.paths import VERSIONS_FILE


@functools.cache
def pinned() -> dict[str, str]:
    """Every KEY=VALUE pair of versions.env."""
    out: dict[str, str] = {}
    for raw in VERSIONS_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def kube_target_versions() -> list[str]:
    """The Kubernetes versions the gate validates against by default (last four minors)."""
    return pinned()["KUBE_TARGET_VERSIONS"].split(",")


def kubernetes_version() -> str:
    """The control-plane version built for the local cluster, e.g. v1.36.3."""
    return pinned()["KUBERNETES_VERSION"]
