"""README "Enforce in the cluster", run as written: every command of the section's blocks, in order,
on the admission tests' private kube-apiserver (v1.36.3, with the policy status controller), each
followed by a check of what it claims. The blocks are read from README.md (`<!-- admission: NAME -->`
before each), so a README change that no longer works fails here.

- rollout: render writes the set; each install leaves the bindings with the action it names
  (audit: Audit, warn: Warn, none: the rule's severity);
- mutate: the rendered file passes `kubectl apply --dry-run=server` and creates nothing; `install -f`
  installs it, and a catalogue agent without a priority class is admitted with system-node-critical;
- exemption: the annotation of the block admits a DaemonSet its rule refuses without it;
- rbac: on a second API server with RBAC authorization, the block's ClusterRole and binding are all
  `install` and `uninstall` need (as the block's user, through impersonation), and without the
  binding install exits 2 naming the rights;
- uninstall: nothing labelled by dsgate is left;
- test: `dsgate admission test` is a command the CLI takes (the differential run itself, a few
  minutes, is tests/admission/test_differential.py's, in the same make test).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.admission import cli, install, library, policies, render
from dsgate.admission.install import Kubectl
from dsgate.admission.localserver import LocalServer
from dsgate.paths import rules_dir
from dsgate.tools import tool_path
from tests.support import POLICIES, REPO

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("admission-server")]

JSON = dict[str, Any]
SECTION = "## Enforce in the cluster"
BLOCKS = ("rollout", "mutate", "exemption", "rbac", "uninstall", "test")
SETTLE_TIMEOUT = 60.0
UNKNOWN_IMAGE = "registry.example.com/team/my-agent:1.0.0@sha256:" + "0" * 64


def section() -> str:
    text = (REPO / "README.md").read_text()
    assert SECTION + "\n" in text, f"README.md has no section {SECTION!r}"
    body = text.split(SECTION + "\n", 1)[1]
    return re.split(r"^## ", body, maxsplit=1, flags=re.M)[0]


def blocks() -> dict[str, tuple[str, str]]:
    """The section's marked blocks: name -> (language, text)."""
    found = re.findall(r"<!-- admission: ([a-z-]+) -->\n```(\w+)\n(.*?)\n```", section(), re.S)
    return {name: (language, text + "\n") for name, language, text in found}


def commands(name: str) -> list[list[str]]:
    """The commands of block NAME, one argv per line (comments dropped)."""
    language, text = blocks()[name]
    assert language == "sh", f"block {name} is {language}, not sh"
    return [shlex.split(line, comments=True) for line in text.splitlines() if shlex.split(line, comments=True)]


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A working directory (the repository's deploy/ linked in, no dsgate.yaml) and an environment
    whose PATH has this tree's dsgate and the pinned kubectl."""
    root = tmp_path_factory.mktemp("readme-admission")
    work, bin_dir = root / "work", root / "bin"
    work.mkdir()
    bin_dir.mkdir()
    (work / "deploy").symlink_to(REPO / "deploy")
    dsgate = bin_dir / "dsgate"
    dsgate.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m dsgate.cli "$@"\n')
    dsgate.chmod(0o755)
    (bin_dir / "kubectl").symlink_to(tool_path("kubectl"))
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return work, env


def run(argv: list[str], shell: tuple[Path, dict[str, str]], kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    work, env = shell
    proc = subprocess.run(
        argv, cwd=work, env={**env, "KUBECONFIG": str(kubeconfig)}, capture_output=True, text=True, timeout=600
    )
    return proc


def ok(argv: list[str], shell: tuple[Path, dict[str, str]], kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    proc = run(argv, shell, kubeconfig)
    assert proc.returncode == 0, f"{shlex.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _sample(rule: str, known: bool = False) -> JSON:
    """RULE's denied sample DaemonSet; unless KNOWN, as an agent the catalogue does not know (so no
    mutation applies to it)."""
    (path,) = rules_dir(POLICIES).glob(f"*/samples/{rule}/denied.yaml")
    ds = copy.deepcopy(next(d for d in yamlc.safe_load_all(path.read_text()) if d and d.get("kind") == "DaemonSet"))
    if known:
        return ds
    for labels in (
        ds["metadata"]["labels"],
        ds["spec"]["selector"]["matchLabels"],
        ds["spec"]["template"]["metadata"]["labels"],
    ):
        labels["app.kubernetes.io/name"] = "my-agent"
    for container in ds["spec"]["template"]["spec"]["containers"]:
        container["image"] = UNKNOWN_IMAGE
    return ds


def _priority_class(server: LocalServer, ds: JSON) -> str:
    """The priorityClassName of DS as a dry-run create returns it ('' when refused or unset)."""
    return str(_dry_run(server, ds)[1].get("spec", {}).get("template", {}).get("spec", {}).get("priorityClassName", ""))


def _dry_run(server: LocalServer, ds: JSON, namespace: str = "default") -> tuple[int, JSON]:
    body = {**ds, "metadata": {**ds["metadata"], "namespace": namespace}}
    answer = server.api.request("POST", f"/apis/apps/v1/namespaces/{namespace}/daemonsets", body, {"dryRun": "All"})
    return answer.status_code, answer.json()


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {SETTLE_TIMEOUT:g} s")
        time.sleep(0.2)  # a condition wait: admission loads new policies a moment after they are created


def _actions(k: Kubectl) -> dict[str, list[str]]:
    """Rule id -> the validationActions of its installed binding."""
    return {
        o["metadata"]["annotations"][policies.RULE_ANNOTATION]: o["spec"]["validationActions"]
        for o in install.installed(k)
        if o["kind"] == policies.VAP_BINDING
    }


def _check_install(argv: list[str], k: Kubectl) -> None:
    """What `dsgate admission install [--action A]` installed: each binding's action."""
    args = cli.build_parser().parse_args(argv[2:])
    severities = {r.id: r.severity for r in library.load(POLICIES).rules}
    expected = {"audit": ["Audit"], "warn": ["Warn"]}
    actions = _actions(k)
    assert actions, "install left no binding"
    for rule, action in actions.items():
        assert action == expected.get(args.action, policies.ACTIONS[severities[rule]]), (rule, action)


@pytest.fixture(scope="module")
def kubectl(server: LocalServer) -> Iterator[Kubectl]:
    k = Kubectl(server.kubeconfig)
    yield k
    install.uninstall(k)


def test_every_block_is_marked_and_known() -> None:
    """Every fenced block of the section is one of the marked blocks this test runs."""
    assert list(blocks()) == list(BLOCKS)
    assert section().count("```") == 2 * len(BLOCKS)


def test_section_runs_as_written(server: LocalServer, kubectl: Kubectl, shell: tuple[Path, dict[str, str]]) -> None:
    work = shell[0]
    # rollout: render, then each install with the action it names
    for argv in commands("rollout"):
        assert argv[:2] == ["dsgate", "admission"], argv
        ok(argv, shell, server.kubeconfig)
        if argv[2] == "render":
            written = render.read(work / argv[argv.index("-o") + 1])
            assert [o for o in written if o["kind"] == policies.MAP] == [], "render without --mutate has no mutation"
        else:
            _check_install(argv, kubectl)
    # exemption (on the enforcing set without mutations): the block's annotation admits what its rule refuses
    language, text = blocks()["exemption"]
    assert language == "yaml"
    annotations = yamlc.safe_load(text)["metadata"]["annotations"]
    ((key, reason),) = annotations.items()
    rule = key.removeprefix("dsgate.io/exempt.")
    refused = _sample(rule, known=True)  # refused by RULE alone
    _wait(lambda: _dry_run(server, refused)[0] == 422, f"{rule}'s Deny binding did not load")
    status, answer = _dry_run(server, refused)
    assert status == 422 and f"{rule}: DaemonSet <" in answer["message"], answer
    exempt = copy.deepcopy(refused)
    exempt["metadata"]["annotations"] = {**exempt["metadata"].get("annotations", {}), key: reason}
    status, answer = _dry_run(server, exempt)
    assert status == 201, answer
    # mutate: render --mutate, kubectl's server dry-run of the file, install -f
    for argv in commands("mutate"):
        proc = ok(argv, shell, server.kubeconfig)
        if argv[0] == "kubectl":
            assert "--dry-run=server" in argv
            objects = render.read(work / argv[argv.index("-f") + 1])
            lines = proc.stdout.strip().splitlines()
            assert len(lines) == len(objects) and all(line.endswith("(server dry run)") for line in lines), proc.stdout
            assert not [o for o in install.installed(kubectl) if o["kind"] == policies.MAP], "the dry-run created"
        elif argv[2] == "install":
            assert len([o for o in install.installed(kubectl) if o["kind"] == policies.MAP]) == 2
    agent = _sample("DS-PRI-001", known=True)  # node-exporter of the catalogue, without a class
    _wait(
        lambda: _priority_class(server, agent) == "system-node-critical", "the agent did not get system-node-critical"
    )
    # uninstall: nothing of dsgate's is left
    for argv in commands("uninstall"):
        proc = ok(argv, shell, server.kubeconfig)
        assert re.fullmatch(r"deleted \d+ objects labelled app.kubernetes.io/managed-by=dsgate\n", proc.stdout)
    assert install.installed(kubectl) == []


def _impersonating(server: LocalServer, user: str, path: Path) -> Path:
    """A kubeconfig for SERVER that acts as USER (the admin token impersonates it)."""
    config = json.loads(server.kubeconfig.read_text())
    config["users"][0]["user"]["as"] = user
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def test_rbac_block_is_all_install_needs(shell: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """On an API server that authorizes by RBAC: without the block's binding install is refused (exit 2,
    one line naming the rights); after the block, install and uninstall work as its user."""
    rbac = commands("rbac")
    (binding,) = [argv for argv in rbac if argv[:3] == ["kubectl", "create", "clusterrolebinding"]]
    (user,) = [a.split("=", 1)[1] for a in binding if a.startswith("--user=")]
    with LocalServer(authorization="RBAC") as rbac_server:
        limited = _impersonating(rbac_server, user, tmp_path / "limited.kubeconfig")
        refused = run(["dsgate", "admission", "install", "--no-config"], shell, limited)
        assert refused.returncode == 2, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "forbidden" in refused.stderr and install.RBAC in refused.stderr, refused.stderr
        for argv in rbac:
            ok(argv, shell, rbac_server.kubeconfig)
        ok(["dsgate", "admission", "install", "--no-config", "--mutate"], shell, limited)
        k = Kubectl(rbac_server.kubeconfig)
        installed = install.installed(k)
        assert {o["kind"] for o in installed} == set(install.RESOURCES)
        ok(["dsgate", "admission", "uninstall"], shell, limited)
        assert install.installed(k) == []


def test_test_block_is_a_command_the_cli_takes() -> None:
    (argv,) = commands("test")
    assert argv[:2] == ["dsgate", "admission"]
    assert cli.build_parser().parse_args(argv[2:]).command == "test"
