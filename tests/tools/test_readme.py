"""The README's quick starts, each run: the chart consumer's `helm install` (against the chart in this
tree; tests/cluster/test_chart_releases.py runs it against a real OCI registry and cluster), the Flux HelmRelease (its values
rendered through the chart and gated), the plain CLI (run as written, in a fresh HOME), and the
workflow that uses the Action (valid against SchemaStore's workflow schema, inputs the Action has).
The pre-commit block is the configuration test_ci_integrations commits with."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsgate import yamlc
from dsgate.gate.render import build_dependencies
from dsgate.toolbuild.install import items_for
from dsgate.tools import cache_dir, tool_path
from tests.tools.support import (
    DAEMONSET,
    PRIVILEGED_NAMESPACE,
    REPO,
    SYSTEM_PATH,
    clean_manifests,
    readme_block,
    run,
)

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CHARTS = REPO / "charts"


def chart_version(name: str) -> str:
    return str(yamlc.safe_load((CHARTS / name / "Chart.yaml").read_text())["version"])


def test_chart_consumer_installs_the_current_version(tmp_path: Path) -> None:
    argv = shlex.split(readme_block("chart-consumer").replace("\\\n", " "))
    assert argv[:3] == ["helm", "install", "node-exporter"]
    reference = argv[3]
    match = re.fullmatch(r"oci://registry\.example\.com/dsgate/charts/(?P<chart>[a-z-]+)", reference)
    assert match, reference
    chart = match["chart"]
    assert argv[argv.index("--version") + 1] == chart_version(chart), "the README names the chart's current version"
    # The same command, the registry swapped for the chart it would serve: helm accepts every flag.
    argv[3] = str(CHARTS / chart)
    build_dependencies(CHARTS / chart)  # the library chart, into charts/ (gitignored)
    proc = run([str(tool_path("helm")), *argv[1:], "--dry-run=client"], env={"KUBECONFIG": str(tmp_path / "none")})
    assert "STATUS: pending-install" in proc.stdout


def test_gitops_helmrelease_points_at_the_chart_and_its_values_pass_the_gate(tmp_path: Path) -> None:
    docs = {d["kind"]: d for d in yamlc.safe_load_all(readme_block("gitops"))}
    source, release = docs["OCIRepository"], docs["HelmRelease"]
    chart = source["spec"]["url"].rsplit("/", 1)[1]
    assert source["spec"]["url"] == f"oci://registry.example.com/dsgate/charts/{chart}"
    assert source["spec"]["ref"]["semver"] == chart_version(chart)
    ref = release["spec"]["chartRef"]
    assert (ref["kind"], ref["name"], ref["namespace"]) == (
        "OCIRepository",
        source["metadata"]["name"],
        source["metadata"]["namespace"],
    )
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(release["spec"]["values"]))
    build_dependencies(CHARTS / chart)  # the library chart, into charts/ (gitignored)
    rendered = run(
        [
            str(tool_path("helm")),
            "template",
            release["metadata"]["name"],
            str(CHARTS / chart),
            "-n",
            release["metadata"]["namespace"],
            "-f",
            str(values),
        ]
    ).stdout
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "release.yaml").write_text(PRIVILEGED_NAMESPACE + rendered)
    gate = run([str(BIN / "dsgate"), "check", "--no-config", "--no-deploy", str(tmp_path / "deploy")], ok=False)
    assert gate.returncode == 0, gate.stdout + gate.stderr


def test_cli_block_runs_as_written(source_repo: Path, pip_env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    (work / "deploy").mkdir(parents=True)
    home.mkdir()
    (work / "dsgate").symlink_to(source_repo)
    (work / "deploy" / "node-exporter.yaml").write_text(clean_manifests())
    env = {
        "HOME": str(home),
        "DSGATE_CACHE": str(cache_dir()),  # the tools are already built: the install line checks them
        "PIP_CACHE_DIR": str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pip"),
        "PATH": SYSTEM_PATH,
        **pip_env,
    }
    proc = run(["bash", "-euo", "pipefail", "-c", readme_block("cli")], cwd=work, env=env)
    items = len(items_for("check"))  # the README's install line is `--for check`; its last item is the CRD schemas
    assert f"[{items}/{items}] crds schemas: cached" in proc.stderr
    sarif = json.loads((work / "dsgate.sarif").read_text())
    assert [r for r in sarif["runs"][0]["results"] if r["level"] == "error"] == [], (
        "the chart's default render has no deny (warnings may be)"
    )
    # The same install gates a denied DaemonSet: exit 1.
    (work / "deploy" / "agent.yaml").write_text(DAEMONSET.read_text())
    denied = run(
        [str(home / ".local" / "dsgate" / "bin" / "dsgate"), "check", "--no-deploy", "deploy/"],
        cwd=work,
        env=env,
        ok=False,
    )
    assert denied.returncode == 1, denied.stdout + denied.stderr


def test_action_workflow_is_valid_and_uses_the_action(tmp_path: Path) -> None:
    workflow = tmp_path / "dsgate.yml"
    workflow.write_text(readme_block("action"))
    proc = run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)], ok=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps: list[dict[str, Any]] = yamlc.safe_load(workflow.read_text())["jobs"]["gate"]["steps"]
    ours = [s for s in steps if s["uses"].split("@")[0].endswith("/dsgate")]
    assert len(ours) == 1
    inputs = yamlc.safe_load((REPO / "action.yml").read_text())["inputs"]
    assert set(ours[0].get("with", {})) <= set(inputs)
