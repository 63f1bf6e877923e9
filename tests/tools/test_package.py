"""dsgate as a package: `uv build` makes a wheel and an sdist that carry everything dsgate reads, and
the wheel, installed into a fresh virtualenv on each supported Python (3.11, 3.12, 3.13), gates a
repository from any directory.

The interpreters are the machine's own (Debian's 3.11, pyenv's builds of the others; `uv python
install` downloads from a host this machine cannot reach). A missing one fails the test, naming it.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from dsgate.paths import DATA_DIR
from dsgate.tools import cache_dir
from dsgate.versions import pinned
from tests.tools.support import DAEMONSET, REPO, python_interpreter, run, uv

pytestmark = pytest.mark.slow

# Every minor the classifiers in pyproject.toml name.
PYTHONS = ["3.11", "3.12", "3.13"]

# Files the installed package must carry (relative to the dsgate package), besides its modules.
EXPECTED_DATA = [
    "data/versions.env",
    "data/helm-batch/main.go",
    "data/helm-batch/patch-helm.sh",
    "data/celcost/main.go",
    "data/cluster/topology.yaml",
    "data/policies/main/main.rego",
    "toolbuild/build.sh",
]


@pytest.fixture(scope="module", params=PYTHONS, ids=lambda v: f"python{v}")
def venv(request: pytest.FixtureRequest, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    version: str = request.param
    venv = tmp_path_factory.mktemp("venv") / "venv"
    run([uv(), "venv", "--quiet", "--python", str(python_interpreter(version)), str(venv)])
    reported = run(
        [str(venv / "bin" / "python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    ).stdout.strip()
    assert reported == version
    run([uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(next(dist.glob("*.whl")))])
    return venv


def test_wheel_and_sdist_carry_the_data(dist: Path) -> None:
    with zipfile.ZipFile(next(dist.glob("dsgate-*.whl"))) as zf:
        wheel = zf.namelist()
    for rel in EXPECTED_DATA:
        assert f"dsgate/{rel}" in wheel
    with tarfile.open(next(dist.glob("dsgate-*.tar.gz"))) as tf:
        sdist = tf.getnames()
    for rel in EXPECTED_DATA:
        assert any(name.endswith(f"src/dsgate/{rel}") for name in sdist), rel
    shipped_rego = sorted(
        n.split("dsgate/data/policies/", 1)[1]
        for n in wheel
        if n.startswith("dsgate/data/policies/") and n.endswith(".rego")
    )
    assert shipped_rego == sorted(str(p.relative_to(REPO / "policies")) for p in (REPO / "policies").rglob("*.rego"))


def test_installed_wheel_checks_a_repository_from_anywhere(venv: Path, tmp_path: Path) -> None:
    repo = tmp_path / "some-repo"
    (repo / "deploy").mkdir(parents=True)
    shutil.copy(DAEMONSET, repo / "deploy" / "agent.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"DSGATE_CACHE": str(cache_dir())}
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import dsgate.paths as p; print(p.policies_dir()); print(p.VERSIONS_FILE)",
        ],
        cwd=elsewhere,
        env=env,
    )
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout
    assert (
        run([str(venv / "bin" / "dsgate"), "tools", "doctor", "--for", "check"], cwd=elsewhere, env=env).returncode == 0
    )
    proc = run(
        [str(venv / "bin" / "dsgate"), "check", "--no-deploy", "--format", "github", str(repo / "deploy")],
        cwd=elsewhere,
        env=env,
        ok=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "::error file=" in proc.stdout and "DS-" in proc.stdout


def test_pins_match_the_checkout(venv: Path) -> None:
    shipped = run([str(venv / "bin" / "dsgate"), "version"]).stdout
    assert shipped.splitlines() == [f"{k}={v}" for k, v in pinned().items()]
    assert (DATA_DIR / "versions.env").is_file()
