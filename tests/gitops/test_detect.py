"""Which paths are GitOps entry points (and so rendered as a cluster would apply them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate.plugins import discover

from .conftest import ARGO, DATA, FLEET

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("path", "expected_sources"),
    [
        # a Flux repository root: one entry per cluster
        (FLEET, [("gitops", FLEET / "clusters/production"), ("gitops", FLEET / "clusters/staging")]),
        (FLEET / "clusters/staging", [("gitops", FLEET / "clusters/staging")]),
        # a cluster directory whose Flux objects are all in flux-system/
        (FLEET / "clusters/production/flux-system", [("gitops", FLEET / "clusters/production/flux-system")]),
        (ARGO / "bootstrap", [("gitops", ARGO / "bootstrap")]),
        # plain manifests and charts stay what they were
        (ARGO / "workloads/collector/overlays/staging", [("kustomize", ARGO / "workloads/collector/overlays/staging")]),
        (DATA / "charts/agent", [("chart", DATA / "charts/agent")]),
        (REPO / "charts", [("chart", REPO / "charts/fluentd"), ("chart", REPO / "charts/node-exporter")]),
    ],
)
def test_discover(path: Path, expected_sources: list[tuple[str, Path]]) -> None:
    assert [(s.kind, s.path) for s in discover([path])] == expected_sources


def test_flux_system_only_cluster(tmp_path: Path) -> None:
    cluster = tmp_path / "clusters-like" / "edge"
    (cluster / "flux-system").mkdir(parents=True)
    (cluster / "flux-system" / "sync.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: x}\n"
    )
    assert [(s.kind, s.path) for s in discover([cluster])] == [("gitops", cluster)]
