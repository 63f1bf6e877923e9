"""`dsgate server start|stop|status` (and `run`, the daemon itself, which `start` runs in the background).

    dsgate server start [--idle-timeout SECONDS]   start this user's warm server, wait until ready
    dsgate server status                           pid, uptime, versions, checks served, idle time left
    dsgate server stop                             stop it (its OPA, etcd and kube-apiserver with it)

While a warm server runs, `dsgate check` runs on it (`--cold` does not); `dsgate check --warm` (or
DSGATE_WARM=1) starts one when none runs. The idle timeout: --idle-timeout, else DSGATE_SERVER_IDLE,
else 15 minutes.
"""

from __future__ import annotations

import argparse
import os
import sys

from dsgate.errors import EXIT_ERROR
from dsgate.serverd import client, wire
from dsgate.serverd.daemon import DaemonError, Runner
from dsgate.serverd.daemon import run as run_daemon


def idle_timeout(value: float | None) -> float:
    """VALUE, else DSGATE_SERVER_IDLE, else wire.DEFAULT_IDLE (seconds)."""
    if value is not None:
        return value
    env = os.environ.get("DSGATE_SERVER_IDLE")
    return float(env) if env else wire.DEFAULT_IDLE


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _print_status(answer: dict[str, object]) -> None:
    versions = answer.get("versions") or {}
    children = answer.get("children") or {}
    assert isinstance(versions, dict) and isinstance(children, dict)
    print(f"warm server: pid {answer.get('pid')}, up {_duration(float(str(answer.get('uptime', 0))))}")
    print(f"  socket: {answer.get('socket')}")
    print(f"  versions: {', '.join(f'{k} {v}' for k, v in versions.items())}; fingerprint {answer.get('fingerprint')}")
    print(f"  children: {', '.join(f'{k} {v}' for k, v in sorted(children.items())) or 'none'}")
    print(
        f"  checks served: {answer.get('checks')}; idle time left: {_duration(float(str(answer.get('idle_left', 0))))}"
        f" of {_duration(float(str(answer.get('idle_timeout', 0))))}"
    )


def main(argv: list[str], runner: Runner) -> int:
    parser = argparse.ArgumentParser(prog="dsgate server", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("start", "run"):
        p = sub.add_parser(name, help="start the warm server" if name == "start" else argparse.SUPPRESS)
        p.add_argument("--idle-timeout", type=float, metavar="SECONDS", help="exit after this long without a request")
    sub.add_parser("status", help="the warm server's pid, uptime, versions and idle time left")
    sub.add_parser("stop", help="stop the warm server")
    args = parser.parse_args(argv)
    try:
        if args.action == "run":
            return run_daemon(runner, idle_timeout(args.idle_timeout))
        if args.action == "start":
            _print_status(client.start(idle_timeout(args.idle_timeout)))
            return 0
        if args.action == "status":
            answer = client.status()
            if answer is None:
                print("warm server: not running")
                return 3
            _print_status(answer)
            return 0
        print("warm server: stopped" if client.stop() else "warm server: not running")
        return 0
    except (DaemonError, RuntimeError, OSError) as exc:
        print(f"dsgate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
