"""Fixtures for the packaging tests: the source tree as its own git repository, and the built wheel."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from dsgate.tools import cache_dir
from tests.tools.support import REPO, SYSTEM_PATH, run, uv


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's files (tracked and new, not ignored) committed to a fresh git repository:
    what a user's `pre-commit` or `pip install` gets, built without writing into the checkout."""
    src = tmp_path_factory.mktemp("src") / "dsgate"
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        source = REPO / rel
        if not (source.is_symlink() or source.is_file()):
            continue  # deleted in the working tree
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    run(["git", "init", "--quiet", "-b", "main"], cwd=src)
    run(["git", "add", "-A"], cwd=src)
    run(["git", "commit", "--quiet", "-m", "dsgate under test"], cwd=src)
    return src


@pytest.fixture(scope="session")
def dist(source_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist `uv build` makes."""
    out = tmp_path_factory.mktemp("dist")
    run([uv(), "build", "--quiet", "--out-dir", str(out), str(source_repo)])
    return out


@pytest.fixture(scope="session")
def pip_env() -> dict[str, str]:
    """pip's settings for the tests that install dsgate as its README, pre-commit hook and Action do
    (a fresh venv, `pip install`): the same pip and the same commands, with the pinned dependencies
    (and the build backend) from a local wheelhouse instead of the package index, and no bytecode
    compiled at install time. Resolving against PyPI here (through a slow mirror) and compiling
    numpy, matplotlib and the kubernetes client took 35-45 s of each install, none of it dsgate's
    behaviour. The wheelhouse is downloaded from PyPI once per dependency set and interpreter (the
    python3 those tests run), kept in the tool cache outside the repository."""
    python = shutil.which("python3", path=SYSTEM_PATH)
    assert python, f"python3 is not on {SYSTEM_PATH}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = sorted([*project["project"]["dependencies"], *project["build-system"]["requires"]])
    version = run([python, "-c", "import sys; print(sys.version)"]).stdout.strip()
    key = hashlib.sha256("\n".join([version, *requirements]).encode()).hexdigest()[:16]
    house = cache_dir() / "wheelhouse" / key
    house.parent.mkdir(parents=True, exist_ok=True)
    with (house.parent / f"{key}.lock").open("w") as lock:  # the other xdist worker may be downloading it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not house.is_dir():
            partial = house.with_name(f"{key}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            proc = subprocess.run(
                [
                    python,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-d",
                    str(partial),
                    *requirements,
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
            assert proc.returncode == 0, f"pip download of the pinned dependencies failed:\n{proc.stderr}"
            partial.rename(house)
    # PIP_COMPILE=0 is --no-compile (PIP_NO_COMPILE=1 is not: pip reads a negative flag's variable inverted)
    return {"PIP_FIND_LINKS": str(house), "PIP_NO_INDEX": "1", "PIP_COMPILE": "0"}
