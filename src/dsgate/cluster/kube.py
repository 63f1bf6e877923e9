"""Small helpers over the official `kubernetes` client, used by the cluster and deploy stages.

Objects are plain dicts (as in manifests) and go through the DynamicClient, so any kind the
server knows works the same way; health endpoints are read raw.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

T = TypeVar("T")


def api_client(kubeconfig: Path) -> ApiClient:
    """An ApiClient for KUBECONFIG (never the user's default kubeconfig)."""
    client: ApiClient = kube_config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    return client


def dynamic_client(kubeconfig: Path, client: ApiClient | None = None) -> DynamicClient:
    """A DynamicClient for KUBECONFIG (or CLIENT made from it). Its discovery cache is written next to
    the kubeconfig, so it goes away with the cluster; the library's default, /tmp/osrcp-<host hash>.json,
    outlives it and would serve a later cluster on the same port a stale API list."""
    return DynamicClient(
        client or api_client(kubeconfig), cache_file=str(kubeconfig.with_name(kubeconfig.name + ".discovery.json"))
    )


def raw_get(api: ApiClient, path: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET PATH (e.g. /readyz) with the client's credentials; (status, body). Connection errors raise."""
    method, url, headers, body, post = api.param_serialize(
        method="GET", resource_path=path, auth_settings=["BearerToken"]
    )
    try:
        resp = api.call_api(method, url, headers, body, post, _request_timeout=timeout)
        resp.read()
        data = resp.data or b""
        return resp.status, data.decode(errors="replace")
    except ApiException as exc:
        return exc.status or 0, str(exc.body or exc.reason)


def get_json(api: ApiClient, path: str, timeout: float = 60.0) -> dict[str, Any]:
    """GET PATH (e.g. /api/v1/nodes) as parsed JSON: far cheaper than the DynamicClient's objects for
    long lists (1,000 nodes). ApiException on a non-200 answer."""
    status, body = raw_get(api, path, timeout)
    if status != 200:
        raise ApiException(status=status, reason=body[:300])
    data: dict[str, Any] = json.loads(body)
    return data


def list_all(api: ApiClient, path: str, page: int = 500) -> list[dict[str, Any]]:
    """Every item of the list at PATH (e.g. /api/v1/pods), read PAGE at a time (limit/continue), as
    parsed JSON; ApiException on a non-200 answer."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        data = get_json(api, f"{path}?limit={page}" + (f"&continue={quote(token)}" if token else ""))
        items.extend(data.get("items") or [])
        token = (data.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


def create_all(
    dyn: DynamicClient, objects: Sequence[dict[str, Any]], workers: int = 8, ignore_existing: bool = False
) -> None:
    """Create OBJECTS with WORKERS requests in flight (registering 1,000 nodes one by one is round-trip bound)."""
    from kubernetes.dynamic.exceptions import ConflictError

    def one(obj: dict[str, Any]) -> None:
        try:
            create(dyn, obj)
        except ConflictError:
            if not ignore_existing:
                raise

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(one, objects):
            pass


def resource(dyn: DynamicClient, api_version: str, kind: str) -> Any:
    return dyn.resources.get(api_version=api_version, kind=kind)


def get_or_none(
    dyn: DynamicClient, api_version: str, kind: str, name: str, namespace: str | None = None
) -> dict[str, Any] | None:
    """The object as a dict, or None if it (or its kind) does not exist."""
    try:
        res = resource(dyn, api_version, kind)
    except ResourceNotFoundError:
        return None
    try:
        obj = res.get(name=name, namespace=namespace) if res.namespaced else res.get(name=name)
    except NotFoundError:
        return None
    found: dict[str, Any] = obj.to_dict()
    return found


def list_items(
    dyn: DynamicClient, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
) -> list[dict[str, Any]]:
    res = resource(dyn, api_version, kind)
    kwargs: dict[str, Any] = {}
    if label_selector:
        kwargs["label_selector"] = label_selector
    if res.namespaced and namespace:
        kwargs["namespace"] = namespace
    return list(res.get(**kwargs).to_dict()["items"])


def create(dyn: DynamicClient, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    res = resource(dyn, obj["apiVersion"], obj["kind"])
    ns = namespace or obj.get("metadata", {}).get("namespace")
    created = res.create(body=obj, namespace=ns) if res.namespaced else res.create(body=obj)
    as_dict: dict[str, Any] = created.to_dict()
    return as_dict


def condition(obj: dict[str, Any], kind: str) -> str | None:
    """status of condition KIND ("True"/"False"/"Unknown") or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond["status"]) if cond.get("status") is not None else None
    return None


def node_ready(node: dict[str, Any]) -> bool:
    """Ready=True and none of the taints the node lifecycle controller puts on unhealthy nodes."""
    taints = (node.get("spec") or {}).get("taints") or []
    unhealthy = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    return condition(node, "Ready") == "True" and not any(t.get("key") in unhealthy for t in taints)


def pod_ready(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition(pod, "Ready") == "True"


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.25,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Poll PROBE until it returns something truthy; TimeoutError names WHAT (and on_timeout()'s detail)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (ApiException, OSError, ConnectionError) as exc:  # API not answering yet
            last_error = exc
        except Exception as exc:  # urllib3 / dynamic-client errors while the server starts
            if type(exc).__module__.startswith(("urllib3", "kubernetes")):
                last_error = exc
            else:
                raise
        if time.monotonic() >= deadline:
            detail = on_timeout() if on_timeout else ""
            if not detail and last_error is not None:
                detail = f"last error: {type(last_error).__name__}: {str(last_error).splitlines()[0] if str(last_error) else ''}"
            raise TimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({detail})" if detail else "")
            )
        time.sleep(interval)
