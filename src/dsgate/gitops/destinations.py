"""Which cluster an Argo CD Application deploys to: its `spec.destination`, by server URL or by name.

Argo CD's own cluster (`https://kubernetes.default.svc`, named `in-cluster`) is the cluster of the
entry point itself: key "". Any other cluster is keyed by its server URL. A name is turned into its
server by the cluster Secrets found in the repository (label `argocd.argoproj.io/secret-type:
cluster`, keys `name` and `server`), as Argo CD resolves it; a name no Secret declares stays
`name:<name>` (a cluster of its own). Objects of different keys never meet in one evaluation set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsgate.gitops.objects import data_of, meta

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


def raw(destination: Any) -> str:
    """An Application's destination as written (`server:URL` or `name:NAME`), resolved later by key
    (the cluster Secrets may come from any Application of the repository)."""
    if not isinstance(destination, dict):
        return ""
    if destination.get("server"):
        return f"server:{destination['server']}"
    if destination.get("name"):
        return f"name:{destination['name']}"
    return ""


def cluster_secrets(objs: Iterable[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], dict[str, str], str]]:
    """(name, server, labels, annotations, project) of every Argo CD cluster Secret in OBJS."""
    out: list[tuple[str, str, dict[str, str], dict[str, str], str]] = []
    for obj in objs:
        labels = meta(obj).get("labels")
        if obj.get("kind") == "Secret" and isinstance(labels, dict) and labels.get(SECRET_TYPE_LABEL) == "cluster":
            data = data_of(obj)
            if data.get("name") and data.get("server"):
                annotations = meta(obj).get("annotations")
                notes = {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {}
                out.append(
                    (
                        data["name"],
                        data["server"],
                        {str(k): str(v) for k, v in labels.items()},
                        notes,
                        data.get("project", ""),
                    )
                )
    return out


def cluster_names(objs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Cluster name -> server URL, from Argo CD's built-in in-cluster and the cluster Secrets in OBJS."""
    names = {IN_CLUSTER_NAME: IN_CLUSTER_SERVER}
    names.update({name: server for name, server, *_ in cluster_secrets(objs)})
    return names


def _by_server(server: str) -> str:
    url = server.rstrip("/")
    return "" if url == IN_CLUSTER_SERVER else url


def key(written: str, names: dict[str, str]) -> str:
    """The cluster key of a destination as `raw` wrote it: "" (Argo CD's own cluster), a server URL,
    or `name:NAME` for a name no cluster Secret declares."""
    how, _, value = written.partition(":")
    if how == "server":
        return _by_server(value)
    if how == "name":
        return _by_server(names[value]) if value in names else written
    return ""


def label(cluster: str) -> str:
    """A cluster key for people: `in-cluster` for "", else the key."""
    return cluster or IN_CLUSTER_NAME
