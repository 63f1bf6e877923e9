"""The helm command kustomize runs for helmCharts (`kustomize build --helm-command`).

Before each chart it inflates, kustomize runs `helm version --short` to check the major, then `helm
template`: two helm processes, each paying helm's start (about 0.1 s of CPU). The command given to
kustomize is a shell script that answers `version --short` with the text the pinned helm printed for
it, and hands every other command line to that helm unchanged (exec: same arguments, environment,
output and exit code). The answer is helm's own, taken once per helm binary (its path, size and
modification time are the script's key), so kustomize sees exactly what the binary would print.
"""

from __future__ import annotations

import os
import shlex
import threading
from pathlib import Path

from dsgate import jsoncache, procs
from dsgate.paths import cache_dir

FOLDER = "kustomize-helm"
VERSION_ARGS = ("version", "--short")  # what kustomize's checkHelmVersion runs
_lock = threading.Lock()


def script(helm: Path, answer: str) -> str:
    """The script: ANSWER for exactly `version --short`, HELM for everything else."""
    return (
        "#!/bin/sh\n"
        "# dsgate: the helm command of `kustomize build --enable-helm` (dsgate/gate/helmshim.py)\n"
        f'if [ "$#" -eq 2 ] && [ "$1" = {VERSION_ARGS[0]} ] && [ "$2" = {VERSION_ARGS[1]} ]; then\n'
        f"  printf '%s' {shlex.quote(answer)}\n"
        "  exit 0\n"
        "fi\n"
        f'exec {shlex.quote(str(helm))} "$@"\n'
    )


def helm_command(helm: Path) -> Path:
    """The command to give kustomize for HELM: the script, or HELM itself when its `version --short`
    fails or the script cannot be written (kustomize then runs helm as it would anyway)."""
    try:
        info = helm.stat()
    except OSError:
        return helm
    name = jsoncache.key(
        [str(helm).encode(), f"{info.st_size}:{info.st_mtime_ns}".encode(), jsoncache.source(__file__)]
    )
    # Named helm, in a folder named after helm's own (its version, in the tool cache): kustomize's
    # errors name the command.
    path = cache_dir() / FOLDER / f"{helm.parent.name}-{name}" / "helm"
    if os.access(path, os.X_OK):
        return path
    with _lock:
        if os.access(path, os.X_OK):
            return path
        try:
            answer = procs.run_text([str(helm), *VERSION_ARGS], timeout=60)
        except OSError:  # not executable: kustomize reports it as it would
            return helm
        if answer.returncode != 0:
            return helm
        if not jsoncache.write_aside(path, lambda: script(helm, answer.stdout), 0o755):
            return helm  # a read-only cache: kustomize runs helm itself
    return path
