"""`dsgate admission render|install|uninstall|test`: the policy library enforced by the cluster itself.

render     the admission set as one YAML stream (stdout or -o FILE), after installing it on a private
           API server (the pinned kube-apiserver) where every policy must compile and type-check
install    render (or read -f FILE) and apply it to a cluster all-or-nothing
uninstall  delete every object labelled app.kubernetes.io/managed-by: dsgate of the admission kinds
test       the differential test: the gate and admission on the same DaemonSets (dsgate.admission.differential)

Exit 0 on success; 2 with one line on stderr for anything that stops it (a rule without CEL, a
policy that does not compile or type-check, a binding without its policy, a missing params object,
an unreachable cluster), after install restored the previous set.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dsgate import config as config_mod
from dsgate import procs
from dsgate.admission import install, library, render, verify
from dsgate.admission.localserver import LocalServer
from dsgate.gate import controls
from dsgate.gate.ruleset import PROFILES
from dsgate.paths import policies_dir

PROG = "dsgate admission"


def _render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policies", type=Path, help="policy library directory (default: dsgate.yaml's, else dsgate's own)")
    p.add_argument("--config", type=Path, help="dsgate.yaml (default: the nearest one above the working directory)")
    p.add_argument("--no-config", action="store_true", help="ignore dsgate.yaml: defaults only")
    p.add_argument("--profile", choices=PROFILES, help="rule profile (default: dsgate.yaml's, else baseline)")
    p.add_argument("--disable", action="append", default=[], metavar="RULE", help="leave RULE out (repeatable)")
    p.add_argument(
        "--action",
        choices=render.ACTION_CHOICES,
        default="severity",
        help="binding action: the rule's severity (deny: Deny, warn: Warn), or warn / audit for every rule (a dry-run rollout)",
    )
    p.add_argument(
        "--mutate", action="store_true", help="also the MutatingAdmissionPolicies of the rules with a safe default"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="write the admission policies, bindings and parameters as YAML")
    _render_options(p)
    p.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    p = sub.add_parser(
        "install",
        help="apply the admission set to a cluster, all-or-nothing",
        description=f"Apply the admission set to a cluster all-or-nothing: on any failure the previous set stays. "
        f"Needs {install.RBAC}.",
    )
    _render_options(p)
    _cluster_options(p)
    p.add_argument("-f", "--filename", type=Path, help="install this rendered set instead of rendering one")
    p.add_argument(
        "--timeout",
        type=float,
        default=install.TYPE_CHECK_TIMEOUT,
        help="seconds to wait for the type check (default: %(default)s)",
    )
    p = sub.add_parser(
        "uninstall",
        help="delete every admission object dsgate installed (by its label)",
        description=f"Delete every object labelled {install.SELECTOR} of the admission kinds. Needs {install.RBAC}.",
    )
    _cluster_options(p)
    p = sub.add_parser("test", help="the differential test of the gate against admission on a private API server")
    p.add_argument("--policies", type=Path, help="policy library directory (default: dsgate's own)")
    p.add_argument(
        "--allowlist",
        type=Path,
        help="a YAML allowlist of divergences (`divergences:` entries) instead of dsgate's own",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of its summary")
    return parser


def _cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: kubectl's: $KUBECONFIG, else ~/.kube/config)"
    )
    p.add_argument("--context", help="kubeconfig context (default: the current one)")


def _config(args: argparse.Namespace) -> config_mod.Config | None:
    if args.no_config:
        return None
    if args.config and not args.config.is_file():
        raise config_mod.ConfigError(f"{args.config}: no such config file")
    path = args.config or config_mod.find(Path.cwd())
    return config_mod.load(path) if path else None


def render_set(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Path]:
    """The admission set the render options of ARGS ask for, and the policy library it comes from."""
    cfg = _config(args)
    settings = cfg.controls if cfg else controls.Settings()
    policy_dir = args.policies or (cfg.policies if cfg and cfg.policies else policies_dir())
    lib = library.load(policy_dir)
    options = render.Options(
        settings=settings.with_cli(args.profile, args.disable),
        given=dict(cfg.parameters) if cfg else {},
        action=args.action,
        mutate=args.mutate,
    )
    return render.render(lib, options), policy_dir


def _render(args: argparse.Namespace) -> int:
    objects, policy_dir = render_set(args)
    verify.verify(objects, verify.samples(policy_dir))
    text = render.dump(objects)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _install(args: argparse.Namespace) -> int:
    objects = render.read(args.filename) if args.filename else render_set(args)[0]
    install.install(install.Kubectl(args.kubeconfig, args.context), objects, args.timeout)
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    removed = install.uninstall(install.Kubectl(args.kubeconfig, args.context))
    print(f"deleted {len(removed)} objects labelled {install.SELECTOR}")
    return 0


def _test(args: argparse.Namespace) -> int:
    """The differential test of dsgate.admission.differential on a private API server: its run() with the
    policies this dsgate renders and dsgate's allowlist of divergences (divergences.ALLOWLIST, or the
    YAML file --allowlist), its report's summary; exit 1 when the report is not ok."""
    from dsgate.admission import differential, divergences

    policy_dir = args.policies or policies_dir()
    entries = divergences.load(args.allowlist) if args.allowlist else divergences.ALLOWLIST
    options = differential.Options(policies=policy_dir, allowlist=entries)
    with LocalServer() as server:
        report = differential.run(server.api, differential.renderer(policy_dir), options)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(report.summary())
    return 0 if report.ok() else 1


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "render": _render,
    "install": _install,
    "uninstall": _uninstall,
    "test": _test,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    procs.install_handlers()
    return procs.guarded(f"{PROG} {args.command}", lambda: COMMANDS[args.command](args))
