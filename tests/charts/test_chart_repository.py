"""The charts as a chart repository: `make package` (packages, index.yaml, provenance verified by
`helm verify` with a throwaway GPG key), the Artifact Hub annotations and CHANGELOG, and the
chart-testing style version-bump check of `make lint`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsgate import yamlc
from dsgate.chartrepo import chart_version, unbumped
from dsgate.gate.render import helm_template
from dsgate.paths import CHARTS
from dsgate.tools import tool_path

REPO = Path(__file__).resolve().parents[2]
CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


def _python(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path | str]]:
    """A throwaway signing key: its name, the legacy secret keyring helm signs with, the public keyring helm verifies with."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    name = "dsgate test signer <signer@dsgate.invalid>"
    gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", name, "ed25519", "sign", "1d"], env=env, check=True, capture_output=True)
    secring, pubring = home / "secring.gpg", home / "pubring.export.gpg"
    secring.write_bytes(subprocess.run([*gpg, "--export-secret-keys"], env=env, check=True, capture_output=True).stdout)
    pubring.write_bytes(subprocess.run(["gpg", "--batch", "--export"], env=env, check=True, capture_output=True).stdout)
    yield {"name": name, "secring": secring, "pubring": pubring}
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)


@pytest.fixture(scope="module")
def signed_repo(tmp_path_factory: pytest.TempPathFactory, gpg_key: dict[str, Path | str]) -> Path:
    out = tmp_path_factory.mktemp("dist") / "charts"
    proc = _python(
        "-m",
        "dsgate.chartrepo",
        "package",
        "--out",
        str(out),
        env={"SIGNING_KEY": str(gpg_key["name"]), "SIGNING_KEYRING": str(gpg_key["secring"])},
    )
    assert proc.returncode == 0, proc.stderr
    return out


def _versions() -> dict[str, str]:
    return {chart.name: chart_version((chart / "Chart.yaml").read_text()) for chart in CHARTS}


@pytest.mark.render
def test_package_writes_both_charts_and_an_index(tmp_path: Path) -> None:
    out = tmp_path / "charts"
    proc = _python("-m", "dsgate.chartrepo", "package", "--out", str(out), "--url", "https://charts.example/dsgate")
    assert proc.returncode == 0, proc.stderr
    expected = {f"{name}-{version}.tgz" for name, version in _versions().items()}
    assert {p.name for p in out.iterdir()} == expected | {"index.yaml"}  # no .prov without a key
    index = yamlc.safe_load((out / "index.yaml").read_text())
    assert {name: [e["version"] for e in entries] for name, entries in index["entries"].items()} == {
        n: [v] for n, v in _versions().items()
    }
    assert all(
        e["urls"] == [f"https://charts.example/dsgate/{n}-{e['version']}.tgz"]
        for n, es in index["entries"].items()
        for e in es
    )
    with tarfile.open(out / f"node-exporter-{_versions()['node-exporter']}.tgz") as tgz:
        names = set(tgz.getnames())
    assert {
        "node-exporter/Chart.yaml",
        "node-exporter/values.yaml",
        "node-exporter/values.schema.json",
        "node-exporter/CHANGELOG.md",
    } <= names


@pytest.mark.render
@pytest.mark.parametrize("chart", [c.name for c in CHARTS])
def test_signed_package_verifies(signed_repo: Path, gpg_key: dict[str, Path | str], chart: str) -> None:
    package = signed_repo / f"{chart}-{_versions()[chart]}.tgz"
    assert (signed_repo / f"{package.name}.prov").is_file()
    proc = subprocess.run(
        [str(tool_path("helm")), "verify", str(package), "--keyring", str(gpg_key["pubring"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Signed by: dsgate test signer" in proc.stdout


@pytest.mark.render
def test_tampered_package_fails_verification(signed_repo: Path, gpg_key: dict[str, Path | str], tmp_path: Path) -> None:
    name = f"fluentd-{_versions()['fluentd']}.tgz"
    shutil.copy(signed_repo / f"{name}.prov", tmp_path / f"{name}.prov")
    shutil.copy(
        signed_repo / f"node-exporter-{_versions()['node-exporter']}.tgz", tmp_path / name
    )  # other bytes, same name
    proc = subprocess.run(
        [str(tool_path("helm")), "verify", str(tmp_path / name), "--keyring", str(gpg_key["pubring"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "sha256 sum does not match" in proc.stderr


@pytest.mark.unit
@pytest.mark.parametrize(
    ("env", "expected_message"),
    [
        ({"SIGNING_KEY": "someone"}, "set both SIGNING_KEY"),
        ({"SIGNING_KEY": "someone", "SIGNING_KEYRING": "/nonexistent/secring.gpg"}, "is not a file"),
    ],
)
def test_signing_misconfiguration_is_one_line_exit_2(
    tmp_path: Path, env: dict[str, str], expected_message: str
) -> None:
    proc = _python("-m", "dsgate.chartrepo", "package", "--out", str(tmp_path), env={"SIGNING_KEYRING": "", **env})
    assert proc.returncode == 2
    assert expected_message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.render
@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_artifacthub_images_are_the_rendered_images(chart: Path) -> None:
    meta = yamlc.safe_load((chart / "Chart.yaml").read_text())
    listed = {i["image"] for i in yamlc.safe_load(meta["annotations"]["artifacthub.io/images"])}
    rendered: dict[str, set[str]] = {}
    for values in [None, *sorted((chart / "ci").glob("*-values.yaml"))]:
        docs = yamlc.safe_load_all(helm_template(chart, values_files=[values] if values else []).text)
        rendered[values.name if values else "default"] = {
            c["image"]
            for d in docs
            if d
            for c in (d.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [])
            if d.get("kind") == "DaemonSet"
        }
    assert rendered["default"] <= listed, "every image of the default render is listed"
    assert listed <= set().union(*rendered.values()), "every listed image is rendered by some scenario"


@pytest.mark.unit
@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_artifacthub_metadata_and_changelog(chart: Path) -> None:
    meta = yamlc.safe_load((chart / "Chart.yaml").read_text())
    annotations = meta["annotations"]
    # the repository's own licence, as its LICENSE file states it
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert "Apache License\n                           Version 2.0" in (REPO / "LICENSE").read_text()
    assert all(
        link["name"] and link["url"].startswith("https://")
        for link in yamlc.safe_load(annotations["artifacthub.io/links"])
    )
    changes = yamlc.safe_load(annotations["artifacthub.io/changes"])
    assert changes and all(c["kind"] in CHANGE_KINDS and c["description"] for c in changes)
    changelog = (chart / "CHANGELOG.md").read_text()
    assert f"\n## {meta['version']}\n" in changelog, "the CHANGELOG has an entry for the chart's version"


# ---------------------------------------------------------------------------------- version bumps


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def chart_repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of one chart, committed."""
    repo = tmp_path / "repo"
    shutil.copytree(CHARTS[0], repo / "charts" / "agent", ignore=shutil.ignore_patterns("charts"))
    _git(repo.parent, "init", "-q", "-b", "main", str(repo))
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "chart")
    return repo


def _bump(chart_yaml: Path) -> None:
    text = chart_yaml.read_text()
    version = chart_version(text)
    chart_yaml.write_text(text.replace(f"\nversion: {version}\n", f"\nversion: {version}-next\n"))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("edit", "bump", "commit", "expected_problem"),
    [
        pytest.param(
            "templates/daemonset.yaml", False, True, "templates/daemonset.yaml changed", id="template-committed"
        ),
        pytest.param(
            "templates/daemonset.yaml", False, False, "templates/daemonset.yaml changed", id="template-uncommitted"
        ),
        pytest.param("values.yaml", False, True, "values.yaml changed", id="values"),
        pytest.param("values.schema.json", False, True, "values.schema.json changed", id="values-schema"),
        pytest.param("templates/new.yaml", False, False, "templates/new.yaml changed", id="new-template-untracked"),
        pytest.param("templates/daemonset.yaml", True, True, "", id="bumped"),
        pytest.param("README.md", False, True, "", id="docs-only"),
        pytest.param("", False, False, "", id="nothing"),
    ],
)
def test_version_bump_check(chart_repo: Path, edit: str, bump: bool, commit: bool, expected_problem: str) -> None:
    chart = chart_repo / "charts" / "agent"
    base = _git(chart_repo, "rev-parse", "HEAD").strip()
    if edit:
        with (chart / edit).open("a") as fh:
            fh.write("\n# an edit\n" if not edit.endswith(".json") else "\n")
    if bump:
        _bump(chart / "Chart.yaml")
    if commit:
        _git(chart_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "edit")
    problems = unbumped(chart_repo, [chart], base)
    if expected_problem:
        (problem,) = problems
        assert (
            problem.startswith("charts/agent: ")
            and expected_problem in problem
            and "bump version in charts/agent/Chart.yaml" in problem
        )
    else:
        assert problems == []


@pytest.mark.unit
@pytest.mark.parametrize(
    ("bump", "expected_problem"),
    [
        # the library's templates are part of what the chart renders: an edit there needs the chart's bump
        pytest.param(False, "charts/dsgate-common/templates/_names.tpl changed", id="library-edit-unbumped"),
        pytest.param(True, "", id="library-edit-bumped"),
    ],
)
def test_library_edit_needs_the_dependents_bump(tmp_path: Path, bump: bool, expected_problem: str) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CHARTS[0], repo / "charts" / "agent", ignore=shutil.ignore_patterns("charts"))
    shutil.copytree(REPO / "charts" / "dsgate-common", repo / "charts" / "dsgate-common")
    _git(tmp_path, "init", "-q", "-b", "main", str(repo))
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "charts")
    base = _git(repo, "rev-parse", "HEAD").strip()
    with (repo / "charts" / "dsgate-common" / "templates" / "_names.tpl").open("a") as fh:
        fh.write("\n{{/* an edit */}}\n")
    if bump:
        _bump(repo / "charts" / "agent" / "Chart.yaml")
    problems = unbumped(repo, [repo / "charts" / "agent"], base)
    if expected_problem:
        (problem,) = problems
        assert problem.startswith("charts/agent: ") and expected_problem in problem
    else:
        assert problems == []


@pytest.mark.unit
def test_fresh_clone_compares_with_itself(tmp_path: Path) -> None:
    """A fresh single-branch clone has neither origin/main nor main: the merge base is HEAD, nothing changed;
    an uncommitted template edit without a bump is then caught."""
    branch = _git(REPO, "rev-parse", "--abbrev-ref", "HEAD").strip()
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--single-branch", "--branch", branch, "--no-tags", str(REPO), str(clone))
    _git(clone, "remote", "remove", "origin")
    env = {"PYTHONPATH": str(clone / "src")}
    clean = _python("-m", "dsgate.chartrepo", "check-versions", cwd=clone, env=env)
    assert (clean.returncode, clean.stderr) == (0, "")
    with (clone / "charts" / "fluentd" / "templates" / "service.yaml").open("a") as fh:
        fh.write("\n# an edit\n")
    dirty = _python("-m", "dsgate.chartrepo", "check-versions", cwd=clone, env=env)
    assert dirty.returncode == 1
    assert dirty.stderr.startswith("charts/fluentd: charts/fluentd/templates/service.yaml changed since ")
