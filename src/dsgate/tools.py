"""Locating the project's pinned tool binaries (built and cached by hack/tools.sh)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from dsgate.paths import HELM_BATCH_DIR
from dsgate.versions import pinned

# tool name -> key of its version in versions.env
VERSION_KEYS: dict[str, str] = {
    "helm": "HELM_VERSION",
    "helm-batch": "HELM_VERSION",
    "helm3": "HELM3_VERSION",
    "opa": "OPA_VERSION",
    "conftest": "CONFTEST_VERSION",
    "regal": "REGAL_VERSION",
    "kustomize": "KUSTOMIZE_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "kube-controller-manager": "KUBERNETES_VERSION",
    "kube-scheduler": "KUBERNETES_VERSION",
    "kubectl": "KUBERNETES_VERSION",
    "etcd": "ETCD_VERSION",
    "kwok": "KWOK_VERSION",
    "kwokctl": "KWOK_VERSION",
    "node_exporter": "NODE_EXPORTER_VERSION",
}


class ToolMissing(RuntimeError):
    """A pinned tool is not installed; the message says how to install it."""


def cache_dir() -> Path:
    """Root of dsgate's cache, outside the repository."""
    if env := os.environ.get("DSGATE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "dsgate"


def tool_path(tool: str) -> Path:
    """Path of the cached pinned binary for TOOL; an env override DSGATE_<TOOL> wins.

    Raises ToolMissing with the fix when the binary is absent.
    """
    override = os.environ.get("DSGATE_" + tool.upper().replace("-", "_"))
    if override is not None:
        found = shutil.which(override) if os.sep not in override else override
        if not found or not os.access(found, os.X_OK):
            raise ToolMissing(f"{tool}: DSGATE_{tool.upper().replace('-', '_')}={override} is not an executable; fix the variable or unset it")
        return Path(found)
    version = pinned()[VERSION_KEYS[tool]]
    if tool == "helm-batch":  # keyed by its sources too, as hack/tools.sh does (main.go, patch-helm.sh, helm-patch/*.go)
        folder = HELM_BATCH_DIR
        sources = [folder / "main.go", folder / "patch-helm.sh", *sorted((folder / "helm-patch").glob("*.go"))]
        version += "-" + hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    path = cache_dir() / "tools" / tool / version / tool
    if not os.access(path, os.X_OK):
        raise ToolMissing(f"{tool} {version} is not installed at {path}; run 'make setup' (or 'hack/tools.sh install {tool}')")
    return path
