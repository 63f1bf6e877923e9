"""`dsgate audit`: judge the node agents of a live cluster against its real nodes (read-only).

Exit 0: every DaemonSet covers every node meant for it, no rollout would stall and no deny finding;
1: a miss, a stall, a deny, or a list that could not be read (the report names it); 2: the cluster
cannot be read at all, or bad usage. `--write-reports` also writes the reports into the cluster
(it needs only deploy/audit-clusterrole.yaml's rights); `--install-crds` installs the report CRDs
first.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from dsgate import config as config_mod
from dsgate import yamlc
from dsgate.audit import reports
from dsgate.audit.run import audit
from dsgate.audit.snapshot import AuditError, connect, read
from dsgate.cluster import kube
from dsgate.errors import EXIT_ERROR
from dsgate.gate.evaluate import default_policy_dir
from dsgate.tools import ToolMissing, cache_dir
from dsgate.versions import pinned

# The report CRDs --install-crds applies: the schema set dsgate tools install fetches (dsgate.tools.CRD_SOURCES).
REPORT_CRDS = {
    "policyreport": ("policy-reports", "KYVERNO_VERSION"),
    "openreports": ("openreports", "OPENREPORTS_VERSION"),
}
PLURALS = {"PolicyReport": "policyreports", "Report": "reports"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dsgate audit", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("--format", choices=reports.FORMATS, default="text")
    p.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    p.add_argument("--config", type=Path, help="dsgate.yaml with parameters and exemptions (default: the nearest one)")
    p.add_argument("--no-config", action="store_true", help="ignore dsgate.yaml")
    p.add_argument("--policies", type=Path, help="policy library directory (default: dsgate's own)")
    p.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="write the coverage matrix (DaemonSets by node pool) as a PNG"
    )
    p.add_argument(
        "--write-reports", choices=("policyreport", "openreports"), help="also write the reports into the cluster"
    )
    p.add_argument("--install-crds", action="store_true", help="install the report CRDs first (with --write-reports)")
    return p


def _policy_data(args: argparse.Namespace) -> dict[str, Any]:
    if args.no_config:
        return {}
    path = args.config or config_mod.find(Path.cwd())
    if args.config and not args.config.is_file():
        raise AuditError(f"{args.config}: no such config file")
    return config_mod.load(path).policy_data if path else {}


def _send(api: ApiClient, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    m, url, headers, payload, post = api.param_serialize(
        method=method,
        resource_path=path,
        body=body,
        header_params={"Content-Type": "application/json"},
        auth_settings=["BearerToken"],
    )
    resp = api.call_api(m, url, headers, payload, post, _request_timeout=60)
    resp.read()
    if resp.status >= 400:  # call_api hands back every answer; an error is ours to raise
        raise ApiException(status=resp.status, reason=(resp.data or b"").decode(errors="replace")[:300])
    data: dict[str, Any] = json.loads(resp.data or b"{}")
    return data


def _apply(api: ApiClient, collection: str, obj: dict[str, Any]) -> None:
    """Create OBJ in COLLECTION, or replace the one of the same name."""
    try:
        _send(api, "POST", f"{collection}?fieldValidation=Strict", obj)  # an unknown field is an error, not pruned
    except ApiException as exc:
        if exc.status != 409:
            raise
        live = _send(api, "GET", f"{collection}/{obj['metadata']['name']}")
        _send(
            api,
            "PUT",
            f"{collection}/{obj['metadata']['name']}?fieldValidation=Strict",
            {**obj, "metadata": {**obj["metadata"], "resourceVersion": live["metadata"]["resourceVersion"]}},
        )


def install_crds(api: ApiClient, kind: str) -> list[str]:
    name, key = REPORT_CRDS[kind]
    folder = cache_dir() / "crds" / name / pinned()[key]
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ToolMissing(f"the {kind} CRDs are not in {folder}; run 'dsgate tools install --for check'")
    applied = []
    for path in files:
        for crd in yamlc.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                _apply(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
                applied.append(crd["metadata"]["name"])
    for crd_name in applied:  # served only once Established
        kube.wait_for(f"CRD {crd_name} to be established", functools.partial(_established, api, crd_name), timeout=60)
    return applied


def _established(api: ApiClient, name: str) -> bool:
    crd = _send(api, "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


def write_reports(api: ApiClient, objects: Sequence[dict[str, Any]]) -> None:
    for obj in objects:
        ns = obj["metadata"]["namespace"]
        _apply(api, f"/apis/{obj['apiVersion']}/namespaces/{ns}/{PLURALS[obj['kind']]}", obj)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.install_crds and not args.write_reports:
        print("dsgate audit: error: --install-crds installs the CRDs of --write-reports; name one", file=sys.stderr)
        return EXIT_ERROR
    try:
        api = connect(args.kubeconfig, args.context)
        result = audit(read(api), args.policies or default_policy_dir(), _policy_data(args))
        if args.write_reports and not result.errors:
            if args.install_crds:
                for crd in install_crds(api, args.write_reports):
                    print(f"dsgate audit: installed CRD {crd}", file=sys.stderr)
            write_reports(api, reports.reports(result, args.write_reports))
    except (AuditError, ToolMissing, config_mod.ConfigError) as exc:
        print(f"dsgate audit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ApiException as exc:
        hint = (
            " (CRD not installed: add --install-crds)"
            if exc.status == 404
            else " (deploy/audit-clusterrole.yaml lists the rights)"
            if exc.status == 403
            else ""
        )
        print(f"dsgate audit: error: writing the reports failed: {exc.status} {exc.reason}{hint}", file=sys.stderr)
        return EXIT_ERROR
    except (HTTPError, OSError) as exc:
        print(f"dsgate audit: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.plot and not result.errors:
        reports.coverage_matrix(result, args.plot)
    if args.output:
        with args.output.open("w") as fh:
            reports.render(result, args.format, fh)
    else:
        reports.render(result, args.format, sys.stdout)
    for error in result.errors:
        print(f"dsgate audit: error: {error}", file=sys.stderr)
    return result.exit_code()


if __name__ == "__main__":
    sys.exit(main())
