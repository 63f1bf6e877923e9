"""`dsgate cluster up|down|status|kubeconfig|export-topology` (also `python -m dsgate.cluster.cli ...`).

Exit codes: 0 done (or nothing to do), 1 the cluster failed or is not running, 2 a missing tool, a bad
topology file or a port in use (the fix is on the caller's side), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from dsgate import procs
from dsgate.cluster.components import inspect
from dsgate.cluster.lifecycle import DEFAULT_TIMEOUT, attach, down, up
from dsgate.cluster.state import COMPONENTS, DEFAULT_NAME, ClusterError, locked, paths_for
from dsgate.cluster.topology import TopologyError, topology_from_nodes
from dsgate.errors import EXIT_ERROR
from dsgate.paths import DEFAULT_TOPOLOGY
from dsgate.tools import ToolMissing


def _status(name: str, root: Path | None) -> int:
    paths = paths_for(name, root)
    with locked(paths.root, wait=False) as free:
        if not free:  # an up or down is in progress: its half-made directory is not stale
            print(f"cluster {name!r}: busy (a 'dsgate cluster up' or 'down' is running under {paths.root})")
            return 1
        st = inspect(paths)
    if st.state == "absent":
        print(f"cluster {name!r}: not running")
        print(f"kubeconfig: {paths.kubeconfig} (written by 'dsgate cluster up')")
        return 1
    if st.state == "stale":
        print(f"cluster {name!r}: stale ({st.reason}); 'dsgate cluster down --name {name}' or 'up' cleans it")
        return 1
    print(f"cluster {name!r}: running (kubernetes {st.info.get('kubernetes_version')}, server {st.info.get('server')})")
    for component in COMPONENTS:
        print(f"  {component:<24} pid {st.pids[component]}")
    try:
        from dsgate.cluster import kube  # the kubernetes client is slow to import: only here

        cluster = attach(name, root)
        nodes = cluster.nodes()
        ready = sum(1 for n in nodes if kube.node_ready(n))
        print(f"  nodes: {ready}/{len(nodes)} Ready")
    except Exception as exc:  # report, do not crash: status is a diagnostic
        print(f"  nodes: cannot list ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        return 1
    print(f"kubeconfig: {paths.kubeconfig}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsgate cluster", description="Local Kubernetes control plane with kwok-simulated nodes."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--name",
            default=os.environ.get("DSGATE_CLUSTER_NAME", DEFAULT_NAME),
            help="cluster name (default: dsgate, or $DSGATE_CLUSTER_NAME)",
        )

    p_up = sub.add_parser("up", help="start the cluster (idempotent)")
    common(p_up)
    p_up.add_argument(
        "--topology",
        type=Path,
        default=None,
        help=f"topology file (default: {DEFAULT_TOPOLOGY.relative_to(DEFAULT_TOPOLOGY.parents[1])})",
    )
    p_up.add_argument("--port", type=int, default=0, help="API server port on 127.0.0.1 (default 0: any free port)")
    p_up.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the cluster to be ready"
    )
    for cmd, text in (
        ("down", "stop the cluster and remove its files"),
        ("status", "show whether the cluster runs"),
        ("kubeconfig", "print the kubeconfig path"),
    ):
        common(sub.add_parser(cmd, help=text))
    p_export = sub.add_parser(
        "export-topology",
        help="a topology file of a live cluster's nodes (shapes, taints, labels, counts) for simulate",
    )
    p_export.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig of the cluster (default: $KUBECONFIG, else ~/.kube/config)"
    )
    p_export.add_argument("--context", help="kubeconfig context (default: the current one)")
    p_export.add_argument("-o", "--output", type=Path, help="write the topology here instead of stdout")
    p_export.add_argument(
        "--keep-names", action="store_true", help="list each pool's node names in a comment (dropped by default)"
    )
    return parser


def _export_topology(args: argparse.Namespace) -> int:
    """`dsgate cluster export-topology`: the live cluster's nodes as a topology file."""
    from dsgate.cluster import kube

    try:
        api = kube_config.new_client_from_config(
            config_file=str(args.kubeconfig) if args.kubeconfig else None, context=args.context, persist_config=False
        )
        nodes = kube.list_all(api, "/api/v1/nodes")
        data, names = topology_from_nodes(nodes, args.keep_names)
    except (kube_config.ConfigException, OSError, ValueError) as exc:
        print(f"dsgate cluster export-topology: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ApiException as exc:
        print(f"dsgate cluster export-topology: listing nodes failed: {exc.status} {exc.reason}", file=sys.stderr)
        return EXIT_ERROR
    text = (
        f"# Exported from {api.configuration.host}: {len(nodes)} nodes in {len(data['pools'])} pools.\n"
        + yaml.safe_dump(data, sort_keys=False)
    )
    for pool, members in names.items():
        text += f"# pool {pool}: {', '.join(members)}\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`dsgate cluster`: SIGINT and SIGTERM during `up` stop everything it started (exit 130, 143)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "export-topology":
        return _export_topology(args)
    procs.install_handlers()
    try:
        if args.command == "kubeconfig":
            print(paths_for(args.name).kubeconfig)
            return 0
        if args.command == "status":
            return _status(args.name, None)
        if args.command == "down":
            down(args.name)
            return 0
        if not 0 <= args.port <= 65535:
            raise ClusterError(f"--port {args.port} is not a TCP port (1-65535, or 0 for any free port)")
        cluster = up(args.topology, args.name, api_port=args.port, timeout=args.timeout)
    except (ToolMissing, TopologyError, ClusterError) as exc:  # PortInUse is a ClusterError
        print(f"dsgate cluster: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        procs.stop_all()
        print(f"dsgate cluster: interrupted ({exc or 'SIGINT'}); everything started was stopped", file=sys.stderr)
        return procs.exit_code(exc)
    pools = ", ".join(f"{p.count} {p.name}" for p in cluster.topology.pools if p.count)
    if not cluster.already_running:
        print(
            f"cluster {cluster.name!r} is up in {cluster.up_seconds:.1f}s: {cluster.topology.node_count} nodes Ready ({pools}), server {cluster.server}"
        )
    else:
        print(f"cluster {cluster.name!r} is already running: server {cluster.server}")
    print(f"kubeconfig: {cluster.kubeconfig}")
    print(f"  export KUBECONFIG={cluster.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
