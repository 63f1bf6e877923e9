"""Build the pinned tools into the cache, check them, and report on them (`dsgate tools ...`).

    dsgate tools install [--for check|cluster|all] [TOOL...]   build what is missing (default: all)
    dsgate tools doctor [--for GROUP]                         tool, pinned, found, path; exit 1 on a gap
    dsgate tools path TOOL                                    the cached binary (exit 1 if absent)
    dsgate tools bindir | cache-dir | cache-key               the bin directory, the cache, a key of the pins

A binary is built by build.sh into a temporary directory, checked by running it (it must report its
pinned version), and only then renamed into place: a failed build never leaves a file that passes
for a good one. One install runs at a time per cache (a file lock); a second one waits, then finds
the tools built. Go's output goes to <cache>/logs/; a failure prints its tail.

SIGINT and SIGTERM stop the build (bash, go and every compile and link it started: they run in a PID
namespace of their own, see dsgate.procs, so they die with dsgate even when it is SIGKILLed) and
remove its temporary directories, Go's work directory included (exit 130, 143). What a killed install
leaves in <cache>/tmp, the next one removes.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from dsgate import procs
from dsgate.errors import EXIT_ERROR, EXIT_FINDINGS, DsgateError
from dsgate.paths import CELCOST_DIR, HELM_BATCH_DIR, TOOL_BUILD_SCRIPT, VERSIONS_FILE, cache_dir
from dsgate.tools import (
    BATCHES,
    CRD_FILES,
    CRD_SOURCES,
    GROUPS,
    SCHEMA_SETS,
    TOOLS,
    cached_path,
    own_sources,
    version_of,
)
from dsgate.versions import pinned

LOG_TAIL = 25


class InstallError(DsgateError):
    """A tool or schema could not be installed; the message names the cause and the fix."""


def items_for(group: str) -> list[str]:
    """Every tool and schema set `install --for GROUP` installs, in build order."""
    wanted = {"check": {"check"}, "cluster": {"check", "cluster"}, "all": set(GROUPS)}[
        group
    ]  # the cluster runs the check group's kube-apiserver and etcd
    return [t for t, tool in TOOLS.items() if tool.group in wanted] + [s for s, g in SCHEMA_SETS.items() if g in wanted]


def reports_version(tool: str, binary: Path) -> bool:
    """True when BINARY runs and prints TOOL's pinned version."""
    want = pinned()[TOOLS[tool].version_key].removeprefix("v")
    request = json.dumps({"args": ["version", "--short"]}) if tool in BATCHES else None
    try:
        done = subprocess.run(
            [str(binary), *TOOLS[tool].version_args],
            input=request,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return want in done.stdout + done.stderr


def schema_dirs(item: str) -> list[Path]:
    """The cache directories a schema set fills (each complete once it exists: it is renamed into place)."""
    if item == "crds":
        return [cache_dir() / "crds" / name / pinned()[key] for name, (_, key) in CRD_SOURCES.items()]
    return [sarif_schema_path().parent]


def sarif_schema_path() -> Path:
    """The SARIF 2.1.0 JSON schema, from the npm package pinned as SARIF_SCHEMA_NPM."""
    return cache_dir() / "schemas" / "sarif" / pinned()["SARIF_SCHEMA_NPM"].rsplit("@", 1)[1] / "sarif-2.1.0.json"


def installed(item: str) -> bool:
    if item in TOOLS:
        path = cached_path(item)
        return os.access(path, os.X_OK) and reports_version(item, path)
    return all(d.is_dir() for d in schema_dirs(item))


def _require(command: str, fix: str) -> None:
    if shutil.which(command) is None:
        raise InstallError(f"{command} is not on PATH; {fix}")


def _run_logged(cmd: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> None:
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = procs.popen(
            cmd, tree=True, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, stdin=subprocess.DEVNULL
        )
        procs.finish(proc)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL:])
        raise InstallError(f"{' '.join(cmd[:2])} failed (exit {proc.returncode}); last lines of {log}:\n{tail}")


def build_env() -> dict[str, str]:
    """The environment of a Go build: every pin, the Go toolchain pinned in versions.env, the sources of dsgate's own programs."""
    env = {**os.environ, **pinned(), "HELM_BATCH_DIR": str(HELM_BATCH_DIR), "CELCOST_DIR": str(CELCOST_DIR)}
    env.setdefault("GOTOOLCHAIN", pinned()["GO_TOOLCHAIN"])
    return env


def _build_tool(tool: str, log: Path) -> None:
    _require("go", "install Go >= 1.26 (Debian: golang, or from the Go site into /usr/local/go) and retry")
    version = version_of(tool)
    (cache_dir() / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{tool}.", dir=cache_dir() / "tmp") as tmp:
        out, work, gotmp = Path(tmp) / "out", Path(tmp) / "work", Path(tmp) / "gotmp"
        out.mkdir()
        gotmp.mkdir()  # Go's work directory: removed with this one whatever happens to go
        _run_logged(
            ["bash", str(TOOL_BUILD_SCRIPT), tool, pinned()[TOOLS[tool].version_key], str(out), str(work)],
            log,
            {**build_env(), "GOTMPDIR": str(gotmp)},
        )
        binary = out / tool
        if not os.access(binary, os.X_OK):
            raise InstallError(f"building {tool} {version} produced no binary; see {log}")
        if not reports_version(tool, binary):
            raise InstallError(f"{tool} built from {version} does not report that version; see {log}")
        final = cached_path(tool)
        final.parent.mkdir(parents=True, exist_ok=True)
        binary.replace(final)


def _module_dir(module: str, log: Path) -> Path:
    """MODULE@VERSION's source in the Go module cache, downloaded through the proxy."""
    _require("go", "install Go >= 1.26 and retry (the CRD schemas come from Go modules)")
    proc = procs.popen(
        ["go", "mod", "download", "-json", module],
        tree=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=build_env(),
        cwd=cache_dir(),
    )
    out, err = procs.finish(proc)
    with log.open("a") as fh:
        fh.write(out + err)
    try:
        folder = Path(json.loads(out)["Dir"])
    except (ValueError, KeyError):
        raise InstallError(f"cannot download {module} through the Go module proxy; see {log}") from None
    return folder


def _generate_crds(module_source: Path, out: Path, log: Path) -> None:
    """CRDs generated from a module's API types with the pinned controller-gen (the HelmRelease CRD:
    helm-controller's own module is not served by the proxy, its API module is)."""
    version = pinned()["CONTROLLER_TOOLS_VERSION"]
    gen_dir = cache_dir() / "tools" / "controller-gen" / version
    gen = gen_dir / "controller-gen"
    if not os.access(gen, os.X_OK):
        _run_logged(
            ["go", "install", f"sigs.k8s.io/controller-tools/cmd/controller-gen@{version}"],
            log,
            {**build_env(), "GOBIN": str(gen_dir)},
            cwd=cache_dir(),
        )
    with tempfile.TemporaryDirectory(prefix="api.", dir=cache_dir() / "tmp") as tmp:
        api = Path(tmp) / "api"
        shutil.copytree(module_source, api)
        for path in [api, *api.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
        _run_logged(
            [str(gen), "crd", "paths=./v2/...", f"output:crd:artifacts:config={out}"], log, build_env(), cwd=api
        )
    if not any(out.glob("*.yaml")):
        raise InstallError(f"controller-gen wrote no CRD from {module_source}; see {log}")


def _install_schemas(item: str, log: Path) -> None:
    tmp_root = cache_dir() / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    if item == "crds":
        for name, (module, key) in CRD_SOURCES.items():
            target = cache_dir() / "crds" / name / pinned()[key]
            if target.is_dir():
                continue
            source = _module_dir(f"{module}@{pinned()[key]}", log)
            staging = Path(tempfile.mkdtemp(prefix="crds.", dir=tmp_root))
            if name in CRD_FILES:
                for rel in CRD_FILES[name]:
                    if not (source / rel).is_file():
                        raise InstallError(f"{module}@{pinned()[key]} has no {rel}; fix CRD_FILES in dsgate/tools.py")
                    shutil.copy(source / rel, staging / Path(rel).name)
            else:
                _generate_crds(source, staging, log)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.replace(target)
        return
    _require("npm", "install Node.js/npm (the SARIF schema comes from an npm package) and retry")
    package = pinned()["SARIF_SCHEMA_NPM"]
    with tempfile.TemporaryDirectory(prefix="sarif.", dir=tmp_root) as tmp:
        _run_logged(["npm", "pack", "--silent", package], log, dict(os.environ), cwd=Path(tmp))
        tarball = next(Path(tmp).glob("*.tgz"))
        shutil.unpack_archive(tarball, tmp)
        found = sorted((Path(tmp) / "package" / "lib" / "schemas").glob("sarif-2.1.0-*.json"))
        if not found:
            raise InstallError(f"{package} ships no SARIF 2.1.0 schema")
        target = sarif_schema_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(found[0], target.with_suffix(".tmp"))
        target.with_suffix(".tmp").replace(target)


def link_bin() -> Path:
    """<cache>/bin: a link to every installed tool, for PATH (`make env`)."""
    bindir = cache_dir() / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        path = cached_path(tool)
        if os.access(path, os.X_OK):
            link = bindir / tool
            tmp = bindir / f".{tool}.new"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(path)
            tmp.replace(link)
    return bindir


@contextlib.contextmanager
def _locked(say: Callable[[str], None]) -> Iterator[None]:
    lock_file = cache_dir() / "tools.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another 'dsgate tools install' on {cache_dir()} to finish ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


class _Display:
    """Progress: a live line per item on a terminal, a plain line per step elsewhere (CI logs)."""

    def __init__(self, total: int, live: bool) -> None:
        self.total, self.live, self.done = total, live, 0
        self._progress: Progress | None = None
        self._task = TaskID(0)

    def __enter__(self) -> _Display:
        if self.live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("tools", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def say(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)
        else:
            print(message, file=sys.stderr, flush=True)

    def start(self, label: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=f"building {label}")
        else:
            self.say(f"[{self.done + 1}/{self.total}] building {label} ...")

    def finish(self, label: str, seconds: float | None) -> None:
        self.done += 1
        how = "cached" if seconds is None else f"built in {seconds:.0f} s"
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description="tools")
        if seconds is not None or self._progress is None:
            self.say(f"[{self.done}/{self.total}] {label}: {how}")


def install(items: list[str], live: bool | None = None) -> list[str]:
    """Install every missing item (tool or schema set); return the failures' messages (empty: all good)."""
    live = sys.stderr.isatty() if live is None else live
    failures: list[str] = []
    with _Display(len(items), live) as display, _locked(display.say):
        shutil.rmtree(
            cache_dir() / "tmp", ignore_errors=True
        )  # what an install killed mid-build left (the lock is ours)
        with ThreadPoolExecutor(max_workers=4) as pool:  # version checks of cached tools, in parallel
            present = dict(zip(items, pool.map(installed, items), strict=True))
        log_dir = cache_dir() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for item in items:
            label = f"{item} {version_of(item)}" if item in TOOLS else f"{item} schemas"
            if present[item]:
                display.finish(label, None)
                continue
            display.start(label)
            log = log_dir / f"{item}.log"
            log.write_text("")
            started = time.monotonic()
            try:
                _build_tool(item, log) if item in TOOLS else _install_schemas(item, log)
            except InstallError as exc:
                failures.append(f"{item}: {exc}")
                display.say(f"dsgate tools: {item}: {exc}")
                continue
            display.finish(label, time.monotonic() - started)
        link_bin()
    return failures


def doctor_rows(items: list[str]) -> list[tuple[str, str, str, str]]:
    """(item, pinned, found, path) for every item; found is the version, ok, WRONG or MISSING."""
    rows = []
    for item in items:
        if item in TOOLS:
            path = cached_path(item)
            if not os.access(path, os.X_OK):
                rows.append((item, version_of(item), "MISSING", "-"))
            else:
                rows.append(
                    (item, version_of(item), version_of(item) if reports_version(item, path) else "WRONG", str(path))
                )
        else:
            for folder in schema_dirs(item):
                rows.append((item, folder.name, "ok" if folder.is_dir() else "MISSING", str(folder)))
    return rows


def cache_key() -> str:
    """A key that changes whenever a pinned tool would: versions.env and the sources of dsgate's own programs."""
    digest = hashlib.sha256(VERSIONS_FILE.read_bytes())
    for path in sorted({p for tool in [*BATCHES, "celcost"] for p in own_sources(tool)}):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsgate tools",
        description="Build and check dsgate's pinned tools in the cache (" + str(cache_dir()) + ").",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="build every missing pinned tool (cold: minutes; cached: seconds)")
    p_install.add_argument(
        "--for",
        dest="group",
        choices=GROUPS,
        default="all",
        help="check: what 'dsgate check --no-deploy' runs; cluster: the local cluster; all (default)",
    )
    p_install.add_argument(
        "items", nargs="*", metavar="TOOL", help="only these tools (or schema sets: " + ", ".join(SCHEMA_SETS) + ")"
    )
    p_install.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live progress display (default: when stderr is a terminal)",
    )
    p_doctor = sub.add_parser(
        "doctor", help="print every pinned tool with pinned version, found version and path; exit 1 on a gap"
    )
    p_doctor.add_argument("--for", dest="group", choices=GROUPS, default="all")
    p_path = sub.add_parser("path", help="print a tool's cached binary (exit 1 if absent)")
    p_path.add_argument("tool", choices=sorted(TOOLS))
    sub.add_parser("bindir", help="print the directory of links to the tools, for PATH")
    sub.add_parser("cache-dir", help="print the cache directory")
    sub.add_parser("cache-key", help="print a key of the pinned versions (for CI caches)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "install":
        unknown = [i for i in args.items if i not in TOOLS and i not in SCHEMA_SETS]
        if unknown:
            print(
                f"dsgate tools: unknown tool {', '.join(unknown)} (known: {', '.join([*TOOLS, *SCHEMA_SETS])})",
                file=sys.stderr,
            )
            return EXIT_ERROR
        procs.install_handlers()
        try:
            failures = install(args.items or items_for(args.group), args.progress)
        except (InstallError, OSError) as exc:
            print(f"dsgate tools: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except (
            KeyboardInterrupt
        ) as exc:  # SIGINT or SIGTERM: the build's process tree was killed, its temporary directories removed
            procs.stop_all()
            print(
                f"dsgate tools: interrupted ({exc or 'SIGINT'}); the build was stopped and its temporary files removed",
                file=sys.stderr,
            )
            return procs.exit_code(exc)
        if failures:
            print(
                f"dsgate tools: not installed: {', '.join(f.split(':', 1)[0] for f in failures)} (see the errors above)",
                file=sys.stderr,
            )
            return EXIT_ERROR
        return 0
    if args.command == "doctor":
        rows = doctor_rows(items_for(args.group))
        for row in [("TOOL", "PINNED", "FOUND", "PATH"), *rows]:
            print(f"{row[0]:<24} {row[1]:<24} {row[2]:<24} {row[3]}")
        gaps = [r[0] for r in rows if r[2] in ("MISSING", "WRONG")]
        if gaps:
            print(
                f"dsgate tools: missing or wrong: {', '.join(dict.fromkeys(gaps))}; run 'dsgate tools install --for {args.group}'",
                file=sys.stderr,
            )
        return EXIT_FINDINGS if gaps else 0
    if args.command == "path":
        path = cached_path(args.tool)
        if not os.access(path, os.X_OK):
            print(
                f"dsgate tools: {args.tool} {version_of(args.tool)} is not installed; run 'dsgate tools install --for {TOOLS[args.tool].group}'",
                file=sys.stderr,
            )
            return EXIT_FINDINGS
        print(path)
        return 0
    print({"bindir": cache_dir() / "bin", "cache-dir": cache_dir(), "cache-key": cache_key()}[args.command])
    return 0
