"""`dsgate diff --base REF [PATH...]`: the command line of dsgate.gitops.diff. Exit 0 when no change is
blocking, 1 when one is, 2 on an error; SIGINT or SIGTERM stop every render and remove the base tree
(exit 130, 143)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsgate import config as config_mod
from dsgate import procs, rundir
from dsgate.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover
from dsgate.gate.sources import Source, SourceError
from dsgate.gitops.diff import FORMATS, DiffError, compare, extract, git, render_side, report
from dsgate.gitops.objects import GitOpsError
from dsgate.gitops.repos import parse_mapping
from dsgate.gitops.source import WITH_GITOPS
from dsgate.versions import kube_target_versions


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dsgate diff", description=__doc__)
    p.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="what to render (default: the sources in dsgate.yaml)"
    )
    p.add_argument(
        "--base", required=True, metavar="REF", help="git revision to compare the working tree with (e.g. origin/main)"
    )
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("-o", "--output", type=Path, help="write the report to a file instead of stdout")
    p.add_argument("--nodes", type=int, help="node count: how many waves each DaemonSet rollout takes")
    p.add_argument("--kube-version", default=None, help="Kubernetes version to render for (default: the newest target)")
    p.add_argument(
        "--charts",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="directory of chart packages or unpacked charts (repeatable)",
    )
    p.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="URL=PATH",
        help="a repository URL and its local checkout (repeatable)",
    )
    p.add_argument("--config", type=Path, help="dsgate.yaml to use (default: nearest one above the current directory)")
    p.add_argument("--no-config", action="store_true", help="ignore dsgate.yaml")
    return p


def _sources(paths: list[Path], charts: list[Path], repos: list[str], missing_ok: bool) -> list[Source]:
    present = [p for p in paths if p.exists() or not missing_ok]
    return discover(present, (), WITH_GITOPS, CheckOptions(charts=tuple(charts), repos=tuple(repos))) if present else []


def _moved(path: Path, top: Path, base_top: Path) -> Path:
    """PATH's place in the base tree when it lies inside the repository."""
    resolved = path.resolve()
    return base_top / resolved.relative_to(top) if resolved.is_relative_to(top) else path


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    procs.install_handlers()
    try:
        return _run(args)
    except (DiffError, SourceError, GitOpsError, config_mod.ConfigError) as exc:
        print(f"dsgate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: render_side stopped its renders, the base tree is gone
        procs.stop_all()
        print(
            f"dsgate: error: interrupted ({exc or 'SIGINT'}); every process dsgate started was stopped", file=sys.stderr
        )
        return procs.exit_code(exc)


def _run(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    cfg_path = None if args.no_config else (args.config or config_mod.find(cwd))
    cfg = config_mod.load(cfg_path) if cfg_path else None
    paths = [p.resolve() for p in (args.paths or (cfg.sources if cfg else []))]
    if not paths:
        raise DiffError("nothing to diff: name PATHs or list 'sources' in dsgate.yaml")
    charts = [*args.charts, *(cfg.charts if cfg else [])]
    repos = [*args.repo, *(cfg.repos if cfg else [])]
    parse_mapping(repos)
    kube = args.kube_version or kube_target_versions()[-1]
    top = Path(git(cwd, "rev-parse", "--show-toplevel").strip()).resolve()
    head = render_side(_sources(paths, charts, repos, missing_ok=False), top, kube)
    with rundir.temporary("dsgate-diff-") as tmp:
        extract(cwd, args.base, tmp)
        base_top = (tmp / "tree").resolve()
        base_repos = []
        for item in repos:
            url, _, local = item.rpartition("=")
            base_repos.append(f"{url}={_moved(Path(local), top, base_top)}")
        base_paths = [_moved(p, top, base_top) for p in paths]
        base = render_side(_sources(base_paths, charts, base_repos, missing_ok=True), base_top, kube)
    changes = compare(base, head, args.nodes)
    text = report(changes, args.format, args.base)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_FINDINGS if any(c.blocking for c in changes) else EXIT_OK
