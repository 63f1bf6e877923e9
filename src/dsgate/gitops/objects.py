"""Small helpers over Kubernetes objects as dicts: identity, the GitOps kinds, the chain step names."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from dsgate.errors import DsgateError

FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"
ARGO = "argoproj.io"
ENTRY_KINDS = {
    (FLUX_KUSTOMIZE, "Kustomization"),
    (FLUX_HELM, "HelmRelease"),
    (ARGO, "Application"),
    (ARGO, "ApplicationSet"),
}

# Kinds that have no namespace (helm installs everything else into the release namespace).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "RuntimeClass",
        "IngressClass",
        "APIService",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "VolumeAttachment",
        "ClusterIssuer",
    }
)


class GitOpsError(DsgateError):
    """A GitOps object dsgate cannot render as the controller would; the message names it and the fix."""


def group(obj: dict[str, Any]) -> str:
    api = str(obj.get("apiVersion", ""))
    return api.split("/")[0] if "/" in api else ""


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name_of(obj: dict[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: dict[str, Any], default: str = "") -> str:
    return str(meta(obj).get("namespace") or default)


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def step(obj: dict[str, Any]) -> str:
    """The chain step naming OBJ: `Kind namespace/name` (or `Kind name` when it has no namespace)."""
    ns = namespace_of(obj)
    return f"{obj.get('kind')} {ns}/{name_of(obj)}" if ns else f"{obj.get('kind')} {name_of(obj)}"


def is_kind(obj: dict[str, Any], grp: str, kind: str) -> bool:
    return group(obj) == grp and obj.get("kind") == kind


@dataclass(frozen=True)
class Item:
    """One object a cluster would get, and the chain of GitOps objects that produced it."""

    obj: dict[str, Any]
    via: tuple[str, ...] = ()
    cluster: str = ""  # where it lands: "" for the entry point's own cluster, else an Argo CD destination (see argocd.destinations)


def data_of(obj: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's data, or a Secret's data (base64-decoded) and stringData."""
    out: dict[str, str] = {}
    if obj.get("kind") == "Secret":
        for key, value in (obj.get("data") or {}).items():
            try:
                out[str(key)] = base64.b64decode(str(value), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise GitOpsError(f"{step(obj)}: data.{key} is not base64 text: {exc}") from exc
        out.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
    else:
        out.update({str(k): str(v) for k, v in (obj.get("data") or {}).items()})
    return out
