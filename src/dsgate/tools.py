"""dsgate's pinned tools: the one table of what they are, which version each is, and where each lives.

`dsgate tools install` (dsgate.toolbuild) builds them into the cache; every stage that runs one asks
tool_path() here. A tool lives at <cache>/tools/<tool>/<version>/<tool>: one directory per version,
so a cache serves every checkout and every installed copy of dsgate that pins the same version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dsgate.errors import DsgateError
from dsgate.paths import CELCOST_DIR, HELM_BATCH_DIR, cache_dir
from dsgate.versions import pinned

__all__ = [
    "CRD_FILES",
    "CRD_SOURCES",
    "GROUPS",
    "SCHEMA_SETS",
    "TOOLS",
    "Tool",
    "ToolMissing",
    "cache_dir",
    "install_command",
    "tool_path",
    "version_of",
]

# What each `dsgate tools install --for GROUP` builds: `check` is what `dsgate check --no-deploy`
# runs (kube-apiserver and etcd for its server check included), `cluster` adds the rest of the local
# control plane (and the deploy stage), `all` adds the library's lint and
# test tools (conftest, Regal, the chart tests' OCI registry) and the SARIF schema the tests validate reports against.
GROUPS: tuple[str, ...] = ("check", "cluster", "all")


@dataclass(frozen=True)
class Tool:
    """One pinned binary: its version key in versions.env, the group that needs it, how it tells its version."""

    name: str
    version_key: str
    group: str
    version_args: tuple[str, ...]


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("helm", "HELM_VERSION", "check", ("version", "--short")),
        Tool("helm-batch", "HELM_VERSION", "check", ()),  # answers a JSON request on stdin
        Tool("helm3", "HELM3_VERSION", "check", ("version", "--short")),
        Tool("helm3-batch", "HELM3_VERSION", "check", ()),  # helm-batch over helm v3's command tree
        Tool("opa", "OPA_VERSION", "check", ("version",)),
        Tool("kustomize", "KUSTOMIZE_VERSION", "check", ("version",)),
        Tool("conftest", "CONFTEST_VERSION", "all", ("--version",)),
        Tool("kubeconform", "KUBECONFORM_VERSION", "all", ("-v",)),  # the peer `make bench` measures against
        Tool("regal", "REGAL_VERSION", "all", ("version",)),
        Tool(
            "kube-apiserver", "KUBERNETES_VERSION", "check", ("--version",)
        ),  # the server check (dry-run) of dsgate check
        Tool("kube-controller-manager", "KUBERNETES_VERSION", "cluster", ("--version",)),
        Tool("kube-scheduler", "KUBERNETES_VERSION", "cluster", ("--version",)),
        Tool("kubectl", "KUBERNETES_VERSION", "cluster", ("version", "--client")),
        Tool("etcd", "ETCD_VERSION", "check", ("--version",)),  # the server check's own etcd
        Tool("kwok", "KWOK_VERSION", "cluster", ("--version",)),
        Tool("kwokctl", "KWOK_VERSION", "cluster", ("--version",)),
        Tool("node_exporter", "NODE_EXPORTER_VERSION", "cluster", ("--version",)),
        Tool(
            "registry", "DISTRIBUTION_VERSION", "all", ("--version",)
        ),  # CNCF distribution: the chart tests' OCI registry
        # dsgate's own: the CEL cost of the admission policies with kube-apiserver's CEL packages (after
        # kube-apiserver in this order, so Go's build cache already holds them)
        Tool("celcost", "KUBERNETES_VERSION", "all", ("-version",)),
    )
}

# CRD schemas the gate validates custom resources against, copied into <cache>/crds/<name>/<version>/
# from the Go modules that publish them (never hand-written): name -> (module, version key).
# (The API group each set serves: dsgate.gate.validate.CRD_GROUPS.)
CRD_SOURCES: dict[str, tuple[str, str]] = {
    "prometheus-operator": ("github.com/prometheus-operator/prometheus-operator", "PROMETHEUS_OPERATOR_VERSION"),
    "vertical-pod-autoscaler": ("k8s.io/autoscaler/vertical-pod-autoscaler", "VPA_VERSION"),
    "flux-source": ("github.com/fluxcd/source-controller", "FLUX_SOURCE_CONTROLLER_VERSION"),
    "flux-kustomize": ("github.com/fluxcd/kustomize-controller", "FLUX_KUSTOMIZE_CONTROLLER_VERSION"),
    # helm-controller's own module answers 403 at the Go proxy: its CRD is generated from its API module
    # with controller-gen (CONTROLLER_TOOLS_VERSION), as helm-controller's build does (dsgate.toolbuild).
    "flux-helm": ("github.com/fluxcd/helm-controller/api", "FLUX_HELM_CONTROLLER_API_VERSION"),
    "argo-cd": ("github.com/argoproj/argo-cd/v3", "ARGOCD_VERSION"),
    "policy-reports": ("github.com/kyverno/kyverno", "KYVERNO_VERSION"),
    "openreports": ("github.com/openreports/reports-api", "OPENREPORTS_VERSION"),
}
# The files each source's module ships (copied as they are); a source absent here is generated.
CRD_FILES: dict[str, tuple[str, ...]] = {
    "prometheus-operator": (
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
    ),
    "vertical-pod-autoscaler": ("deploy/vpa-v1-crd-gen.yaml",),
    "flux-source": tuple(
        f"config/crd/bases/source.toolkit.fluxcd.io_{kind}.yaml"
        for kind in ("gitrepositories", "helmrepositories", "ocirepositories", "helmcharts", "buckets")
    ),
    "flux-kustomize": ("config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml",),
    "argo-cd": ("manifests/crds/application-crd.yaml", "manifests/crds/applicationset-crd.yaml"),
    "policy-reports": tuple(
        f"config/crds/policyreport/wgpolicyk8s.io_{kind}.yaml" for kind in ("policyreports", "clusterpolicyreports")
    ),
    "openreports": tuple(f"config/crd/openreports.io_{kind}.yaml" for kind in ("reports", "clusterreports")),
}

# Installed files that are not binaries, and the group that installs them.
SCHEMA_SETS: dict[str, str] = {"crds": "check", "sarif-schema": "all"}


class ToolMissing(DsgateError):
    """A pinned tool is not installed; the message names the command that installs it."""


def install_command(tool: str) -> str:
    """The one command that installs TOOL (or a schema set) into the cache."""
    group = TOOLS[tool].group if tool in TOOLS else SCHEMA_SETS[tool]
    return f"dsgate tools install --for {group}"


BATCHES = {"helm-batch": "helm4.go", "helm3-batch": "helm3.go"}  # helm-batch builds -> their helm major's half


def own_sources(tool: str) -> list[Path]:
    """The sources of dsgate's own programs (helm-batch, helm3-batch, celcost): part of their version
    key, so an edit rebuilds them; [] for every other tool."""
    if tool in BATCHES:
        patch = [HELM_BATCH_DIR / "patch-helm.sh", *sorted((HELM_BATCH_DIR / "helm-patch").glob("*.go"))]
        return [HELM_BATCH_DIR / "main.go", HELM_BATCH_DIR / BATCHES[tool], *patch]
    if tool == "celcost":
        return [CELCOST_DIR / "main.go"]
    return []


def version_of(tool: str) -> str:
    """TOOL's pinned version, the name of its cache directory (dsgate's own programs: the pinned
    version of what they are built from and a hash of their sources)."""
    version = pinned()[TOOLS[tool].version_key]
    sources = own_sources(tool)
    if sources:
        version += "-" + hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    return version


def cached_path(tool: str) -> Path:
    """Where TOOL's pinned binary lives in the cache (whether or not it is there)."""
    return cache_dir() / "tools" / tool / version_of(tool) / tool


def tool_path(tool: str) -> Path:
    """Path of the cached pinned binary for TOOL; an env override DSGATE_<TOOL> wins.

    Raises ToolMissing with the fix when the binary is absent.
    """
    variable = "DSGATE_" + tool.upper().replace("-", "_")
    override = os.environ.get(variable)
    if override is not None:
        found = shutil.which(override) if os.sep not in override else override
        if not found or not os.access(found, os.X_OK):
            raise ToolMissing(f"{tool}: {variable}={override} is not an executable; fix the variable or unset it")
        return Path(found)
    path = cached_path(tool)
    if not os.access(path, os.X_OK):
        raise ToolMissing(f"{tool} {version_of(tool)} is not installed at {path}; run '{install_command(tool)}'")
    return path
