"""dsgate command line: `dsgate check`, `dsgate server`, `dsgate tools`, `dsgate cluster`, `dsgate simulate`,
`dsgate version`."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dsgate import procs
from dsgate.errors import EXIT_ERROR
from dsgate.versions import pinned

if TYPE_CHECKING:
    from dsgate.gate import pipeline as gate

# The gate's modules (OPA client, schema engines, ...) take seconds to import on a loaded machine:
# they are imported by the `check` command only, so `dsgate tools` and `dsgate cluster` start fast,
# and not before `check` knows whether a warm server (dsgate.serverd) runs it instead.


def _fail(message: str) -> int:
    print(f"dsgate: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from dsgate.gate import report
    from dsgate.gate.render import HELM_TOOLS
    from dsgate.gate.ruleset import PROFILES

    p = sub.add_parser(
        "check",
        help="render, validate and evaluate charts, kustomizations and YAML",
        description="Gate PATHs (charts, kustomize directories, YAML files or directories). Without PATH, "
        "the sources listed in the nearest dsgate.yaml. Exit 0 clean, 1 policy deny or schema error, 2 usage or infrastructure error.",
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    p.add_argument(
        "-f",
        "--values",
        action="append",
        type=Path,
        default=[],
        help="values file layered under every scenario of every chart (repeatable): helm template -f VALUES... -f ci/<scenario>-values.yaml, "
        "so a ci file wins over VALUES for a key both set; use it to supply a value a chart requires",
    )
    p.add_argument("--format", choices=report.FORMATS, default="text")
    p.add_argument("-o", "--output", type=Path, help="write the report to a file instead of stdout")
    p.add_argument("--strict", action="store_true", help="warnings fail the gate too")
    p.add_argument(
        "--kube-version",
        action="append",
        default=[],
        help="Kubernetes version to validate against (repeatable; default: the last four minors)",
    )
    p.add_argument(
        "--helm",
        action="append",
        choices=sorted(HELM_TOOLS),
        default=[],
        help="helm major(s) to render with (repeatable; default v4)",
    )
    p.add_argument("--policies", type=Path, help="policy library directory (default: dsgate's own)")
    p.add_argument("--config", type=Path, help="dsgate.yaml to use (default: nearest one above the current directory)")
    p.add_argument("--no-config", action="store_true", help="ignore dsgate.yaml")
    p.add_argument(
        "--crd",
        action="append",
        type=Path,
        default=[],
        help="CustomResourceDefinition file or directory defining more kinds (repeatable)",
    )
    p.add_argument(
        "--allow-kind", action="append", default=[], help="kind (or group/version/Kind) to accept without a schema"
    )
    p.add_argument(
        "--no-server-check",
        action="store_true",
        help="skip the server-side dry-run on the real kube-apiserver (JSON schemas only)",
    )
    model = p.add_argument_group(
        "cluster model", "the cluster the gate models (dsgate.yaml cluster:; defaults: a stock kubeadm cluster)"
    )
    model.add_argument(
        "--allow-privileged",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="kube-apiserver allows privileged containers (default: yes)",
    )
    model.add_argument(
        "--pod-security",
        metavar="LEVEL",
        help="Pod Security level of a namespace without an enforce label (default: privileged)",
    )
    model.add_argument(
        "--pod-security-namespace",
        action="append",
        default=[],
        metavar="NS=LEVEL",
        help="Pod Security level of one namespace (repeatable)",
    )
    model.add_argument(
        "--enable-admission-plugins",
        metavar="A,B",
        help="admission plugins on top of kube-apiserver's defaults (default: NodeRestriction)",
    )
    model.add_argument(
        "--disable-admission-plugins", metavar="A,B", help="kube-apiserver default admission plugins to turn off"
    )
    model.add_argument("--release-name", help="helm release name charts are rendered with (default: dsgate)")
    model.add_argument("--namespace", help="release namespace charts are rendered into (default: dsgate-system)")
    p.add_argument("--no-deploy", action="store_true", help="skip the deploy stage configured in dsgate.yaml")
    warm = p.add_mutually_exclusive_group()
    warm.add_argument(
        "--warm",
        action="store_true",
        help="run on this user's warm server, starting one when none runs (`dsgate server`; also DSGATE_WARM=1)",
    )
    warm.add_argument("--cold", action="store_true", help="do not use a running warm server")
    p.add_argument("--workers", type=int, default=None, help="parallel renders (default: 2 x cores)")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="gate only the Ith of N parts of the sources (a CI job matrix); `dsgate report merge` joins the parts' --format json reports",
    )
    p.add_argument(
        "--charts",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="GitOps: directory of chart packages or unpacked charts (repeatable)",
    )
    p.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="URL=PATH",
        help="GitOps: a repository URL and its local checkout (repeatable)",
    )
    p.add_argument(
        "--argocd-cluster",
        action="append",
        default=[],
        metavar="NAME=SERVER",
        help="GitOps: a cluster Argo CD knows, for ApplicationSet clusters generators, besides the repository's cluster Secrets (repeatable)",
    )
    p.add_argument(
        "--nodes",
        type=Path,
        metavar="FILE",
        help="the fleet's nodes (`kubectl get nodes -o yaml`, or a topology file): coverage rules (DS-COV-*) and the fleet size (cluster_nodes)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--profile",
        choices=PROFILES,
        help="rules to run: minimal, baseline (default, or dsgate.yaml's 'profile') or strict",
    )
    p.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn rule RULE off for every source (repeatable)",
    )
    baseline = p.add_mutually_exclusive_group()
    baseline.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="findings recorded in FILE do not fail the run; entries no longer found are listed",
    )
    baseline.add_argument(
        "--write-baseline", type=Path, metavar="FILE", help="record this run's findings in FILE (and pass on them)"
    )


def _run_check(args: argparse.Namespace, out: TextIO, servers: gate.Servers | None = None) -> int:
    from dsgate import config as config_mod
    from dsgate import plugins
    from dsgate.gate import pipeline as gate
    from dsgate.gate import report, shard

    part = shard.parse(args.shard) if args.shard else None
    options = config_mod.check_options(args)
    if args.nodes:  # the fleet's nodes, read as dsgate audit reads them: coverage rules and the fleet size
        from dsgate.audit.fleet import load_nodes

        nodes = load_nodes(args.nodes)  # FleetError: one line, exit 2
        data = dict(options.policy_data)
        parameters = {**dict(data.get("parameters", {})), "cluster_nodes": len(nodes)}  # type: ignore[call-overload]
        options = dataclasses.replace(options, policy_data={**data, "nodes": nodes, "parameters": parameters})
    sources = config_mod.with_releases(plugins.discover(options.paths, options), options.releases)
    mine = sources
    if part is not None:
        shard.refuse(options, bool(args.baseline or args.write_baseline))
        mine = shard.select(sources, part)
        if not mine:
            print(
                f"dsgate: shard {part} holds none of the {len(sources)} sources (the other shards gate them)",
                file=sys.stderr,
            )

    def run(progress: Callable[[int, int], None] | None) -> gate.GateResult:
        if not mine:
            return gate.GateResult()
        return gate.run(
            mine,
            options,
            progress=progress,
            say=lambda msg: print(msg, file=sys.stderr),
            deploy=plugins.deploy_stage,
            servers=servers,
        )

    if options.progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("gating", total=None)
            result = run(lambda done, total: bar.update(task, completed=done, total=total))
    else:
        result = run(None)

    if part is not None and options.format == "json":  # the shard's record, for `dsgate report merge`
        text = report.to_json(result, options.strict)
        text = shard.with_record(text, shard.record(result, part, sources, mine, options))
        if options.output:
            options.output.write_text(text)
            report.to_text(result, sys.stderr, options.strict)
        else:
            out.write(text)
    elif options.output:
        with options.output.open("w") as fh:
            report.render_report(result, options.format, fh, options.strict, color=False)
        if options.format != "text":
            report.to_text(result, sys.stderr, options.strict)
    else:
        report.render_report(result, options.format, out, options.strict)
    return result.exit_code(options.strict)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsgate", description="Policy gate for node-agent DaemonSets.")
    sub = parser.add_subparsers(dest="command", required=True)
    _check_parser(sub)
    cluster = sub.add_parser(
        "cluster", help="local control plane with kwok nodes (up, down, status, kubeconfig)", add_help=False
    )
    cluster.add_argument("rest", nargs=argparse.REMAINDER)
    simulate = sub.add_parser(
        "simulate",
        help="coverage and rollout of a chart/kustomization/manifests on a throwaway cluster of a topology",
        add_help=False,
    )
    simulate.add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser("diff", help="what a change does to the rendered manifests (--base REF)", add_help=False)
    tools = sub.add_parser(
        "tools", help="build the pinned tools into the cache and check them (install, doctor, path)", add_help=False
    )
    tools.add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser(
        "audit",
        help="a live cluster's DaemonSets against its real nodes: coverage, exposure, rollout, findings",
        add_help=False,
    )
    sub.add_parser(
        "admission",
        help="the rules as ValidatingAdmissionPolicies: render, install into a cluster, uninstall",
        add_help=False,
    )
    sub.add_parser("report", help="merge the JSON reports of dsgate check --shard I/N (report merge)", add_help=False)
    sub.add_parser("server", help="this user's warm server for `dsgate check` (start, stop, status)", add_help=False)
    sub.add_parser("version", help="print dsgate and pinned tool versions")
    return parser


# Commands with a parser of their own (--help included), each imported only when it runs.
def _cluster(argv: list[str]) -> int:
    from dsgate.cluster import cli as cluster_cli

    return cluster_cli.main(argv)


def _diff(argv: list[str]) -> int:
    from dsgate.gitops import diffcli

    return diffcli.main(argv)


def _simulate(argv: list[str]) -> int:
    from dsgate.cluster import simulate

    return simulate.main(argv)


def _audit(argv: list[str]) -> int:
    from dsgate.audit import cli as audit_cli

    return audit_cli.main(argv)


def _admission(argv: list[str]) -> int:
    from dsgate.admission import cli as admission_cli

    return admission_cli.main(argv)


def _report(argv: list[str]) -> int:
    from dsgate.gate import merge

    return merge.main(argv)


def _server(argv: list[str]) -> int:
    from dsgate.serverd import cli as server_cli

    return server_cli.main(argv, _warm_check)


def _tools(argv: list[str]) -> int:
    from dsgate.toolbuild import install

    return install.main(argv)


OWN_PARSER: dict[str, Callable[[list[str]], int]] = {
    "admission": _admission,
    "audit": _audit,
    "cluster": _cluster,
    "diff": _diff,
    "report": _report,
    "server": _server,
    "simulate": _simulate,
    "tools": _tools,
}


def _check(
    args: argparse.Namespace, out: TextIO | None = None, servers: gate.Servers | None = None, handlers: bool = True
) -> int:
    """`dsgate check`. The warm server passes its OUT, SERVERS, and handles the signals itself (HANDLERS false)."""
    if handlers:
        procs.install_handlers()
    return procs.guarded("dsgate", lambda: _run_check(args, out or sys.stdout, servers))


def _warm_check(argv: list[str], out: TextIO, err: TextIO, servers: gate.Servers) -> int:
    """`dsgate check ARGV` inside the warm server: OUT and ERR are the client's, SERVERS the warm ones."""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = build_parser().parse_args(["check", *argv])
        except SystemExit as exc:  # a usage error: argparse printed it
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        return _check(args, out, servers, handlers=False)


def _on_warm_server(argv: list[str]) -> int | None:
    """`dsgate check ARGV` on this user's warm server when one runs (or --warm starts one): its exit
    code, its output written here; None: run it cold in this process."""
    if "--cold" in argv or "-h" in argv or "--help" in argv:
        return None
    from dsgate.serverd import client

    answer = client.check(argv)
    if answer is None and ("--warm" in argv or os.environ.get("DSGATE_WARM") == "1"):
        from dsgate.serverd import cli as server_cli

        try:
            client.start(server_cli.idle_timeout(None))
        except (RuntimeError, OSError) as exc:
            print(f"dsgate: warm server not started ({exc}); cold start", file=sys.stderr)
            return None
        answer = client.check(argv)
    if answer is None:
        return None
    sys.stdout.write(str(answer.get("stdout", "")))
    sys.stderr.write(str(answer.get("stderr", "")))
    return int(answer["code"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"] and (code := _on_warm_server(argv[1:])) is not None:
        return code
    if argv[:1] and argv[0] in OWN_PARSER:
        command = argv[0]
        return procs.guarded(f"dsgate {command}", lambda: OWN_PARSER[command](argv[1:]))
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return _check(args)
    if args.command == "version":
        for key, value in pinned().items():
            print(f"{key}={value}")
        return 0
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
