"""The CI integrations, run for real: the pre-commit hook (pre-commit from PyPI, installing dsgate from a
git repository as it would from GitHub, configured as the README's quick start says) refuses a commit that adds a denied DaemonSet and passes a
clean one; action.yml is valid against the GitHub Action metadata schema (SchemaStore's, vendored by
check-jsonschema) and its shell steps run, in order, as a runner would run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import yamlc
from dsgate.tools import cache_dir
from tests.tools.support import DAEMONSET, REPO, clean_manifests, readme_block, run

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- pre-commit


@pytest.fixture(scope="module")
def consumer(
    source_repo: Path, pip_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A repository using the dsgate-check hook, with `pre-commit install` done."""
    repo = tmp_path_factory.mktemp("consumer")
    env = {
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
        "DSGATE_CACHE": str(cache_dir()),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        **pip_env,
    }
    sha = run(["git", "rev-parse", "HEAD"], cwd=source_repo).stdout.strip()
    config = yamlc.safe_load(readme_block("pre-commit"))  # the README's quick start, pointed at the tree under test
    config["repos"][0] |= {"repo": str(source_repo), "rev": sha}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (repo / "dsgate.yaml").write_text("sources: [deploy]\n")
    run(["git", "init", "--quiet", "-b", "main"], cwd=repo)
    run([str(BIN / "pre-commit"), "install"], cwd=repo, env=env)
    return repo, env


def commit(repo: Path, env: dict[str, str], files: dict[str, str], message: str) -> Any:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    run(["git", "add", "-A"], cwd=repo)
    return run(["git", "commit", "-m", message], cwd=repo, env=env, ok=False)


def test_pre_commit_hook_passes_clean_and_refuses_denied(consumer: tuple[Path, dict[str, str]]) -> None:
    repo, env = consumer
    clean = commit(repo, env, {"deploy/node-exporter.yaml": clean_manifests()}, "clean agent")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r"^dsgate check\.+Passed$", clean.stdout + clean.stderr, re.M), clean.stdout + clean.stderr
    head = run(["git", "rev-parse", "HEAD"], cwd=repo).stdout

    denied = commit(repo, env, {"deploy/agent.yaml": DAEMONSET.read_text()}, "denied agent")
    out = denied.stdout + denied.stderr
    assert denied.returncode == 1, out
    assert re.search(r"^dsgate check\.+Failed$", out, re.M), out
    assert re.search(r"deny +DS-[A-Z]+-[0-9]+", out), out
    assert run(["git", "rev-parse", "HEAD"], cwd=repo).stdout == head, "the commit was refused"


def test_hook_manifest_is_valid() -> None:
    proc = run([str(BIN / "pre-commit"), "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")], ok=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooks = {h["id"]: h for h in yamlc.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["dsgate-check"]["entry"] == "dsgate check --no-deploy"
    assert hooks["dsgate-tools"]["entry"] == "dsgate tools install --for check"


# ---------------------------------------------------------------- the GitHub Action

ACTION = REPO / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@pytest.mark.parametrize(
    ("mutation", "expected_valid"),
    [
        (lambda a: a, True),
        (lambda a: {**a, "runs": {**a["runs"], "using": "docker-compose"}}, False),
        (lambda a: {k: v for k, v in a.items() if k != "description"}, False),
    ],
)
def test_action_metadata_schema(mutation: Any, expected_valid: bool, tmp_path: Path) -> None:
    path = tmp_path / "action.yml"
    path.write_text(yaml.safe_dump(mutation(yamlc.safe_load(ACTION.read_text()))))
    proc = run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(path)], ok=False)
    assert (proc.returncode == 0) == expected_valid, proc.stdout + proc.stderr


def evaluate(text: str, context: dict[str, Any]) -> str:
    """The `${{ a.b.c }}` references in TEXT, looked up in CONTEXT (a runner's contexts); anything else fails."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            assert isinstance(value, dict) and part in value, (
                f"expression {match.group(0)!r} is not a plain context reference"
            )
            value = value[part]
        return str(value)

    return EXPRESSION.sub(lookup, text)


def run_action(
    inputs: dict[str, str], workspace: Path, runner_temp: Path, pip_env: dict[str, str]
) -> tuple[dict[str, dict[str, str]], list[Any]]:
    """Run every shell step of action.yml as a runner would: contexts substituted in env, outputs
    through $GITHUB_OUTPUT, $GITHUB_PATH prepended for later steps. `uses:` steps are recorded, not run.
    PIP_ENV: where pip finds the dependencies (conftest.pip_env)."""
    action = yamlc.safe_load(ACTION.read_text())
    context: dict[str, Any] = {
        "inputs": {name: spec.get("default", "") for name, spec in action["inputs"].items()} | inputs,
        "steps": {},
        "runner": {"os": "Linux"},
    }
    path_dirs: list[str] = []
    results = []
    for number, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            results.append(step["uses"])
            continue
        assert "if" not in step, "the test runs every shell step unconditionally"
        files = {name: runner_temp / f"{name}-{number}" for name in ("GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_ENV")}
        env = {
            **os.environ,
            **{name: str(p) for name, p in files.items()},
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": "Linux",
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_WORKSPACE": str(workspace),
            "DSGATE_CACHE": str(cache_dir()),
            "PATH": os.pathsep.join([*path_dirs, "/usr/local/bin", "/usr/bin", "/bin", "/usr/local/go/bin"]),
            **pip_env,
        }
        env.update({k: evaluate(str(v), context) for k, v in step.get("env", {}).items()})
        for p in files.values():
            p.write_text("")
        assert step["shell"] == "bash"
        proc = run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=workspace, env=env, ok=False
        )
        outputs = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines())
        path_dirs = files["GITHUB_PATH"].read_text().split() + path_dirs
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": outputs}
        results.append((step.get("name"), proc.returncode, proc.stdout + proc.stderr))
        if proc.returncode != 0:
            break
    return context["steps"], results


@pytest.fixture(scope="module")
def action_run(
    dist: Path, pip_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, dict[str, str]], list[Any]]:
    workspace = tmp_path_factory.mktemp("workspace")
    (workspace / "deploy").mkdir()
    shutil.copy(DAEMONSET, workspace / "deploy" / "agent.yaml")
    wheel = str(next(dist.glob("dsgate-*.whl")))
    steps, results = run_action(
        {"args": "deploy", "package": wheel}, workspace, tmp_path_factory.mktemp("runner-temp"), pip_env
    )
    return workspace, steps, results


def test_action_shell_steps_gate_the_workspace(action_run: tuple[Path, dict[str, dict[str, str]], list[Any]]) -> None:
    workspace, steps, results = action_run
    names = [r[0] if isinstance(r, tuple) else r for r in results]
    assert names == [
        "actions/setup-python@v5",
        "actions/setup-go@v5",
        "Install dsgate",
        "actions/cache/restore@v4",
        "Build the pinned tools (cache miss only builds; a hit checks them)",
        "actions/cache/save@v4",
        "dsgate check",
        "github/codeql-action/upload-sarif@v3",
        "Verdict",
    ]
    codes = {r[0]: r[1] for r in results if isinstance(r, tuple)}
    assert codes == {
        "Install dsgate": 0,
        "Build the pinned tools (cache miss only builds; a hit checks them)": 0,
        "dsgate check": 0,
        "Verdict": 1,
    }
    assert steps["check"]["outputs"] == {"exit-code": "1"}
    assert steps["install"]["outputs"]["cache-dir"] == str(cache_dir())
    key = run([str(BIN / "dsgate"), "tools", "cache-key"]).stdout.strip()
    assert steps["install"]["outputs"]["cache-key"] == f"dsgate-tools-Linux-check-{key}"
    sarif = json.loads((workspace / "dsgate.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"], "the denied DaemonSet's findings are in the report"
