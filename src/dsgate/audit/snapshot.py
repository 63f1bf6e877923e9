"""Reading a live cluster for `dsgate audit`: read-only, paginated lists (limit/continue) of the
objects the audit needs, kept as plain dicts.

A list the credentials may not read (403) is recorded as unreadable with the server's words, and the
audit says what it could not judge; it never becomes an empty list. An unreachable server or
rejected credentials (401) stop the audit (AuditError, exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from dsgate.cluster import kube
from dsgate.errors import DsgateError

PAGE = 500

# What the audit reads: name -> list path (every namespace).
LISTS: dict[str, str] = {
    "nodes": "/api/v1/nodes",
    "daemonsets": "/apis/apps/v1/daemonsets",
    "pods": "/api/v1/pods",
    "poddisruptionbudgets": "/apis/policy/v1/poddisruptionbudgets",
    "priorityclasses": "/apis/scheduling.k8s.io/v1/priorityclasses",
    "resourcequotas": "/api/v1/resourcequotas",
}


class AuditError(DsgateError):
    """The cluster cannot be read at all (unreachable, credentials rejected, bad kubeconfig): exit 2."""


@dataclass
class Snapshot:
    """The cluster's objects by list name; UNREADABLE names each list that could not be read and why."""

    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    server: str = ""

    def items(self, name: str) -> list[dict[str, Any]]:
        return self.objects.get(name, [])


def connect(kubeconfig: Path | None, context: str | None) -> ApiClient:
    """An API client the way kubectl picks one: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; --context or the current one."""
    try:
        client: ApiClient = kube_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
        )
    except (kube_config.ConfigException, OSError, ValueError, TypeError) as exc:
        raise AuditError(
            f"cannot load the kubeconfig{f' {kubeconfig}' if kubeconfig else ''}: {exc}; pass --kubeconfig FILE or --context NAME"
        ) from None
    return client


def read(api: ApiClient, lists: dict[str, str] | None = None, page: int = PAGE) -> Snapshot:
    """Read every list of LISTS; a 403 or 404 on one is recorded, anything that stops every read raises AuditError."""
    snap = Snapshot(server=str(api.configuration.host))
    for name, path in (lists or LISTS).items():
        try:
            snap.objects[name] = kube.list_all(api, path, page)
        except ApiException as exc:
            if exc.status == 401:
                raise AuditError(
                    f"{snap.server}: the credentials were rejected (401 Unauthorized); renew the token or pick another --context"
                ) from None
            if exc.status in (403, 404):
                snap.unreadable[name] = (
                    f"{exc.status} {'Forbidden' if exc.status == 403 else 'Not Found'}: {_message(exc)}"
                )
                continue
            raise AuditError(f"{snap.server}: listing {name} failed: {exc.status} {_message(exc)}") from None
        except (HTTPError, OSError) as exc:
            raise AuditError(
                f"{snap.server}: cannot reach the API server ({type(exc).__name__}: {exc}); check --kubeconfig/--context and the network"
            ) from None
    return snap


def _message(exc: ApiException) -> str:
    """The API server's own message from a Status body (kube.get_json carries it in the reason)."""
    text = str(exc.body or exc.reason or "")
    try:
        return str(json.loads(text).get("message") or text)
    except (ValueError, AttributeError):
        return text
