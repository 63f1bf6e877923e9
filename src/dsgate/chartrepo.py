"""The charts as a chart repository: packages, index.yaml, provenance files; the version-bump check.

    python -m dsgate.chartrepo package [--out DIR] [--url URL]   (make package)
    python -m dsgate.chartrepo check-versions [--base REF]       (make lint)

`package` runs the pinned helm: `helm package` for every chart into DIR (default dist/charts), signed
(`--sign`, a `.prov` file beside each package) when SIGNING_KEY (the key's name) and SIGNING_KEYRING
(a secret keyring in the legacy format helm reads: `gpg --export-secret-keys > secring.gpg`) are set,
and `helm repo index` over DIR.

`check-versions` does what chart-testing does: a chart whose templates, values or values schema (or
those of a local `file://` dependency, such as the dsgate-common library) differ from the merge base (`git merge-base HEAD origin/main`, else `main`) while its Chart.yaml
version does not is an error. In a fresh clone of main the merge base is HEAD: nothing changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from dsgate import yamlc
from dsgate.errors import DsgateError
from dsgate.gate.chartdeps import local_dependencies
from dsgate.gate.render import RenderError, build_dependencies
from dsgate.paths import CHARTS, REPO_ROOT
from dsgate.tools import ToolMissing, tool_path

# What a version bump must accompany, relative to the chart directory.
VERSIONED = ("templates", "values.yaml", "values.schema.json")
BASES = ("origin/main", "main")


class ChartRepoError(DsgateError):
    """Packaging or the version check cannot proceed; the message names the cause and the fix."""


def _run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, cwd=cwd)
    if proc.returncode != 0:
        raise ChartRepoError(f"{' '.join(cmd[:3])} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def chart_version(chart_yaml: str) -> str:
    doc = yamlc.safe_load(chart_yaml) or {}
    return str(doc.get("version", "")) if isinstance(doc, dict) else ""


def package(charts: Sequence[Path], out: Path, url: str = "", key: str = "", keyring: str = "") -> list[Path]:
    """Package CHARTS into OUT (signed with KEY from KEYRING when both are given), then index OUT."""
    helm = str(tool_path("helm"))
    if bool(key) != bool(keyring):
        raise ChartRepoError(
            "set both SIGNING_KEY (the key's name) and SIGNING_KEYRING (a secret keyring: gpg --export-secret-keys > secring.gpg), or neither"
        )
    if keyring and not Path(keyring).is_file():
        raise ChartRepoError(
            f"SIGNING_KEYRING={keyring} is not a file; export one with: gpg --export-secret-keys > secring.gpg"
        )
    out.mkdir(parents=True, exist_ok=True)
    packages = []
    for chart in charts:
        try:  # helm package takes the local dependencies from charts/ (gitignored): build them first
            build_dependencies(chart)
        except RenderError as exc:
            raise ChartRepoError(str(exc)) from None
        sign = ["--sign", "--key", key, "--keyring", keyring] if key else []
        _run([helm, "package", str(chart), "--destination", str(out), *sign])
        name = yamlc.safe_load((chart / "Chart.yaml").read_text())["name"]
        packages.append(out / f"{name}-{chart_version((chart / 'Chart.yaml').read_text())}.tgz")
    _run([helm, "repo", "index", str(out), *(["--url", url] if url else [])])
    return packages


def merge_base(repo: Path, bases: Sequence[str] = BASES) -> str:
    """The merge base of HEAD with the first of BASES that exists; HEAD when none does."""
    for base in bases:
        proc = subprocess.run(
            ["git", "merge-base", "HEAD", base], capture_output=True, text=True, check=False, cwd=repo
        )
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return _run(["git", "rev-parse", "HEAD"], cwd=repo).strip()


def unbumped(repo: Path, charts: Sequence[Path], base: str) -> list[str]:
    """One line per chart of CHARTS whose versioned files differ from BASE (working tree included)
    while its version does not."""
    problems = []
    for chart in charts:
        rel = chart.resolve().relative_to(repo.resolve()).as_posix()
        # A local dependency (the library chart) is part of what the chart's package renders.
        dirs = [
            rel,
            *(
                d.resolve().relative_to(repo.resolve()).as_posix()
                for _, d in local_dependencies(chart)
                if d.resolve().is_relative_to(repo.resolve())
            ),
        ]
        paths = [f"{d}/{p}" for d in dirs for p in VERSIONED]
        changed = _run(["git", "diff", "--name-only", base, "--", *paths], cwd=repo).split()
        untracked = _run(["git", "ls-files", "--others", "--exclude-standard", "--", *paths], cwd=repo).split()
        if not changed and not untracked:
            continue
        shown = subprocess.run(
            ["git", "show", f"{base}:{rel}/Chart.yaml"], capture_output=True, text=True, check=False, cwd=repo
        )
        if shown.returncode != 0:
            continue  # a chart that did not exist at the base is new: any version will do
        old, new = chart_version(shown.stdout), chart_version((chart / "Chart.yaml").read_text())
        if old == new:
            files = ", ".join(sorted({*changed, *untracked})[:3])
            problems.append(
                f"{rel}: {files} changed since {base[:12]} but the chart version is still {new}; bump version in {rel}/Chart.yaml and add a CHANGELOG.md entry"
            )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dsgate.chartrepo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pkg = sub.add_parser("package", help="package both charts and index them (signed with SIGNING_KEY/SIGNING_KEYRING)")
    pkg.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "charts")
    pkg.add_argument("--url", default="", help="the URL the repository will be served from (index.yaml entries)")
    chk = sub.add_parser(
        "check-versions", help="fail when a chart's templates or values changed without a version bump"
    )
    chk.add_argument(
        "--base", default="", help="compare with this commit (default: the merge base with origin/main or main)"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "package":
            for path in package(
                CHARTS, args.out, args.url, os.environ.get("SIGNING_KEY", ""), os.environ.get("SIGNING_KEYRING", "")
            ):
                print(path)
            print(args.out / "index.yaml")
            return 0
        base = args.base or merge_base(REPO_ROOT)
        problems = unbumped(REPO_ROOT, CHARTS, base)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    except (ChartRepoError, ToolMissing) as exc:
        print(f"dsgate chartrepo: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
