"""dsgate command line: `dsgate check`, `dsgate tools`, `dsgate cluster`, `dsgate simulate`, `dsgate version`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dsgate import config as config_mod
from dsgate import procs
from dsgate.gate.ruleset import PROFILES
from dsgate.limits import Limits
from dsgate.versions import kube_target_versions, pinned

if TYPE_CHECKING:
    from dsgate.gate import pipeline as gate

# The gate's modules (OPA client, schema engines, ...) take seconds to import on a loaded machine:
# they are imported by the `check` command only, so `dsgate tools` and `dsgate cluster` start fast.

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"dsgate: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from dsgate.gate import report
    from dsgate.gate.render import HELM_TOOLS

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
    p.add_argument("--kube-version", action="append", default=[], help="Kubernetes version to validate against (repeatable; default: the last four minors)")
    p.add_argument("--helm", action="append", choices=sorted(HELM_TOOLS), default=[], help="helm major(s) to render with (repeatable; default v4)")
    p.add_argument("--policies", type=Path, help="policy library directory (default: dsgate's own)")
    p.add_argument("--config", type=Path, help="dsgate.yaml to use (default: nearest one above the current directory)")
    p.add_argument("--no-config", action="store_true", help="ignore dsgate.yaml")
    p.add_argument("--crd", action="append", type=Path, default=[], help="CustomResourceDefinition file or directory defining more kinds (repeatable)")
    p.add_argument("--allow-kind", action="append", default=[], help="kind (or group/version/Kind) to accept without a schema")
    p.add_argument("--no-server-check", action="store_true", help="skip the server-side dry-run on the real kube-apiserver (JSON schemas only)")
    model = p.add_argument_group("cluster model", "the cluster the gate models (dsgate.yaml cluster:; defaults: a stock kubeadm cluster)")
    model.add_argument(
        "--allow-privileged", action=argparse.BooleanOptionalAction, default=None, help="kube-apiserver allows privileged containers (default: yes)"
    )
    model.add_argument("--pod-security", metavar="LEVEL", help="Pod Security level of a namespace without an enforce label (default: privileged)")
    model.add_argument("--pod-security-namespace", action="append", default=[], metavar="NS=LEVEL", help="Pod Security level of one namespace (repeatable)")
    model.add_argument("--enable-admission-plugins", metavar="A,B", help="admission plugins on top of kube-apiserver's defaults (default: NodeRestriction)")
    model.add_argument("--disable-admission-plugins", metavar="A,B", help="kube-apiserver default admission plugins to turn off")
    model.add_argument("--release-name", help="helm release name charts are rendered with (default: dsgate)")
    model.add_argument("--namespace", help="release namespace charts are rendered into (default: dsgate-system)")
    p.add_argument("--no-deploy", action="store_true", help="skip the deploy stage configured in dsgate.yaml")
    p.add_argument(
        "--nodes",
        type=Path,
        metavar="FILE",
        help="the fleet's nodes (`kubectl get nodes -o yaml`, or a topology file): coverage rules (DS-COV-*) and the fleet size (cluster_nodes)",
    )
    p.add_argument("--workers", type=int, default=None, help="parallel renders (default: 2 x cores)")
    p.add_argument(
        "--charts", action="append", type=Path, default=[], metavar="DIR", help="GitOps: directory of chart packages or unpacked charts (repeatable)"
    )
    p.add_argument("--repo", action="append", default=[], metavar="URL=PATH", help="GitOps: a repository URL and its local checkout (repeatable)")
    p.add_argument(
        "--argocd-cluster",
        action="append",
        default=[],
        metavar="NAME=SERVER",
        help="GitOps: a cluster Argo CD knows, for ApplicationSet clusters generators, besides the repository's cluster Secrets (repeatable)",
    )
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: when stderr is a terminal)")
    p.add_argument("--profile", choices=PROFILES, help="rules to run: minimal, baseline (default, or dsgate.yaml's 'profile') or strict")
    p.add_argument("--disable", action="append", default=[], metavar="RULE", help="turn rule RULE off for every source (repeatable)")
    baseline = p.add_mutually_exclusive_group()
    baseline.add_argument("--baseline", type=Path, metavar="FILE", help="findings recorded in FILE do not fail the run; entries no longer found are listed")
    baseline.add_argument("--write-baseline", type=Path, metavar="FILE", help="record this run's findings in FILE (and pass on them)")


def _run_check(args: argparse.Namespace, out: TextIO) -> int:
    from dsgate.gate import pipeline as gate
    from dsgate.gate import report, servercheck
    from dsgate.gate.clustermodel import ClusterModel
    from dsgate.gate.evaluate import default_policy_dir
    from dsgate.gate.sources import SourceError, discover

    cfg: config_mod.Config | None = None
    if not args.no_config:
        path = args.config or config_mod.find(Path.cwd())
        if args.config and not args.config.is_file():
            return _fail(f"{args.config}: no such config file")
        if path is not None:
            try:
                cfg = config_mod.load(path)
            except config_mod.ConfigError as exc:
                return _fail(str(exc))
    paths = args.paths or (cfg.sources if cfg else [])
    if not paths:
        return _fail("nothing to check: name PATHs or list 'sources' in dsgate.yaml")
    try:
        sources = config_mod.with_releases(discover(paths, args.values), cfg.releases if cfg else {})
    except SourceError as exc:
        return _fail(str(exc))
    if any(s.kind == "gitops" for s in sources):
        from dsgate.gitops.gate import configure
        from dsgate.gitops.generators import parse_clusters
        from dsgate.gitops.objects import GitOpsError
        from dsgate.gitops.repos import parse_mapping

        repos = [*args.repo, *(cfg.repos if cfg else [])]
        clusters = [*args.argocd_cluster, *(cfg.argocd_clusters if cfg else [])]
        try:
            parse_mapping(repos)
            parse_clusters(clusters)
        except GitOpsError as exc:
            return _fail(str(exc))
        sources = configure(sources, [*args.charts, *(cfg.charts if cfg else [])], repos, clusters)
    kube_versions = [v.lstrip("v") for v in args.kube_version] or (cfg.kube_versions if cfg else None)
    helm_versions = args.helm or (cfg.helm_versions if cfg else ["v4"])
    policy_dir = args.policies or (cfg.policies if cfg and cfg.policies else default_policy_dir())
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        controls = _controls(args, cfg, policy_dir)
    except ValueError as exc:  # ControlError, BaselineError
        return _fail(str(exc))
    try:
        cluster = config_mod.override_cluster(
            cfg.cluster if cfg else ClusterModel(),
            allow_privileged=args.allow_privileged,
            pod_security=args.pod_security,
            pod_security_namespaces=args.pod_security_namespace,
            enable_admission_plugins=args.enable_admission_plugins,
            disable_admission_plugins=args.disable_admission_plugins,
            release_name=args.release_name,
            namespace=args.namespace,
        )
    except config_mod.ConfigError as exc:
        return _fail(str(exc))

    policy_data = cfg.policy_data if cfg else {}
    if args.nodes:
        from dsgate.audit.fleet import FleetError, load_nodes

        try:
            nodes = load_nodes(args.nodes)
        except FleetError as exc:
            return _fail(str(exc))
        policy_data = {**policy_data, "nodes": nodes, "parameters": {**policy_data.get("parameters", {}), "cluster_nodes": len(nodes)}}

    def run(progress: Callable[[int, int], None] | None) -> gate.GateResult:
        return gate.run(
            sources,
            policy_dir=policy_dir,
            policy_data=policy_data,
            kube_versions=kube_versions or kube_target_versions(),
            helm_versions=helm_versions,
            allow_kinds=[*args.allow_kind, *(cfg.allow_kinds if cfg else [])],
            workers=args.workers,
            progress=progress,
            crd_paths=[*args.crd, *(cfg.crds if cfg else [])],
            deploy=cfg.deploy if cfg and not args.no_deploy and not args.paths else [],
            strict=args.strict,
            say=lambda msg: print(msg, file=sys.stderr),
            limits=cfg.limits if cfg else Limits(),
            server_check=servercheck.Settings(enabled=not args.no_server_check, cluster=cluster),
            controls=controls,
        )

    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("gating", total=None)
            result = run(lambda done, total: bar.update(task, completed=done, total=total))
    else:
        result = run(None)

    if args.output:
        with args.output.open("w") as fh:
            report.render_report(result, args.format, fh, args.strict, color=False)
        if args.format != "text":
            report.to_text(result, sys.stderr, args.strict)
    else:
        report.render_report(result, args.format, out, args.strict)
    return result.exit_code(args.strict)


def _controls(args: argparse.Namespace, cfg: config_mod.Config | None, policy_dir: Path) -> list[Callable[[gate.GateResult], None]]:
    """The run's controls (dsgate.gate.controls, then the baseline), their rule ids checked against the library."""
    from dataclasses import replace

    from dsgate.gate import baseline, ruleset
    from dsgate.gate import controls as controls_mod

    try:
        known = ruleset.read(policy_dir, controls_mod.GATE_RULES)
    except ruleset.RulesetError as exc:
        raise ValueError(str(exc)) from None
    settings = cfg.controls if cfg else controls_mod.Settings()
    if len(known) > len(controls_mod.GATE_RULES):  # a library without rule METADATA: nothing to check the ids against
        settings.check(known, str(cfg.controls.config) if cfg else "dsgate.yaml")
        for rule in args.disable:
            controls_mod.check_rule(rule, known, f"--disable {rule}")
    settings = replace(settings.with_cli(args.profile, args.disable), report_unused=not args.paths)
    steps: list[Callable[[gate.GateResult], None]] = [controls_mod.Controls(settings, known)]
    if args.baseline or args.write_baseline:
        steps.append(baseline.Step.of(args.write_baseline or args.baseline, bool(args.write_baseline)))
    return steps


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsgate", description="Policy gate for node-agent DaemonSets.")
    sub = parser.add_subparsers(dest="command", required=True)
    _check_parser(sub)
    cluster = sub.add_parser("cluster", help="local control plane with kwok nodes (up, down, status, kubeconfig)", add_help=False)
    cluster.add_argument("rest", nargs=argparse.REMAINDER)
    simulate = sub.add_parser("simulate", help="coverage and rollout of a chart/kustomization/manifests on a throwaway cluster of a topology", add_help=False)
    simulate.add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser("diff", help="what a change does to the rendered manifests (--base REF)", add_help=False)
    sub.add_parser("audit", help="a live cluster's DaemonSets against its real nodes: coverage, exposure, rollout, findings", add_help=False)
    tools = sub.add_parser("tools", help="build the pinned tools into the cache and check them (install, doctor, path)", add_help=False)
    tools.add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser("version", help="print dsgate and pinned tool versions")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cluster"]:  # its own parser, --help included
        from dsgate.cluster import cli as cluster_cli

        return cluster_cli.main(argv[1:])
    if argv[:1] == ["diff"]:  # its own parser: dsgate.gitops.diffcli
        from dsgate.gitops import diffcli

        return diffcli.main(argv[1:])
    if argv[:1] == ["simulate"]:  # its own parser, --help included
        from dsgate.cluster import simulate

        return simulate.main(argv[1:])
    if argv[:1] == ["audit"]:  # its own parser, --help included
        from dsgate.audit import cli as audit_cli

        return audit_cli.main(argv[1:])
    if argv[:1] == ["tools"]:  # its own parser, --help included
        from dsgate.toolbuild import install

        return install.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "check":
        from dsgate.gate.validate import ValidationSetupError
        from dsgate.tools import ToolMissing

        procs.install_handlers()
        try:
            return _run_check(args, sys.stdout)
        except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: the stages stopped their children
            procs.stop_all()
            _fail(f"interrupted ({exc or 'SIGINT'}); every process dsgate started was stopped")
            return procs.exit_code(exc)
        except (ToolMissing, ValidationSetupError, OSError) as exc:  # set-up problems: one line, exit 2
            return _fail(str(exc))
        except Exception as exc:  # fail closed: never a traceback and never exit 1 for a crash
            if os.environ.get("DSGATE_DEBUG"):
                raise
            return _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with DSGATE_DEBUG=1 for the traceback and report it")
    if args.command == "version":
        for key, value in pinned().items():
            print(f"{key}={value}")
        return 0
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
