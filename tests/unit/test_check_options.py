"""config.check_options: the one place where the command line, dsgate.yaml and the defaults become a
run's CheckOptions, with the command line winning over the file and the file over the default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsgate.cli import build_parser
from dsgate.config import ConfigError, check_options
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.options import CheckOptions

pytestmark = pytest.mark.unit

CONFIG = """\
sources: [charts]
helmVersions: [v3]
kubeVersions: [v1.35.0]
allowKinds: [Widget]
deploy: [charts/agent]
podSecurity: {default: restricted}
limits: {renderSeconds: 7}
"""
DEFAULT = CheckOptions()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # the file alone: its values, paths relative to it
        (
            [],
            {
                "paths": ("charts",),
                "helm_versions": ("v3",),
                "kube_versions": ("1.35.0",),
                "allow_kinds": ("Widget",),
                "deploy": ("charts/agent",),
                "server_level": "restricted",
                "render_seconds": 7,
            },
        ),
        # flags win over the file; a named PATH turns the deploy stage off; lists are joined, flags first
        (
            ["--helm", "v4", "--kube-version", "v1.36.0", "--allow-kind", "Gadget", "other"],
            {
                "paths": ("other",),
                "helm_versions": ("v4",),
                "kube_versions": ("1.36.0",),
                "allow_kinds": ("Gadget", "Widget"),
                "deploy": (),
            },
        ),
        # --no-config: the defaults, whatever the file says
        (
            ["--no-config", "other"],
            {
                "paths": ("other",),
                "helm_versions": DEFAULT.helm_versions,
                "kube_versions": DEFAULT.kube_versions,
                "allow_kinds": (),
                "deploy": (),
                "server_level": ClusterModel().pod_security,
                "render_seconds": DEFAULT.limits.render_seconds,
            },
        ),
        # --no-deploy and --no-server-check switch stages off
        (["--no-deploy", "--no-server-check"], {"deploy": (), "server_enabled": False}),
        # the cluster model: a flag wins over dsgate.yaml's podSecurity
        (["--pod-security", "baseline"], {"server_level": "baseline"}),
    ],
)
def test_precedence_cli_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: dict[str, Any]
) -> None:
    (tmp_path / "dsgate.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    options = check_options(build_parser().parse_args(["check", *argv]))
    assert options.server_check is not None
    seen = {
        "paths": tuple(str(p.relative_to(tmp_path)) if p.is_absolute() else str(p) for p in options.paths),
        "helm_versions": options.helm_versions,
        "kube_versions": options.kube_versions,
        "allow_kinds": options.allow_kinds,
        "deploy": tuple(str(p.relative_to(tmp_path)) for p in options.deploy),
        "server_level": options.server_check.cluster.pod_security,
        "server_enabled": options.server_check.enabled,
        "render_seconds": options.limits.render_seconds,
    }
    assert {key: seen[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("argv", "config", "expected_message"),
    [
        ([], None, "nothing to check: name PATHs or list 'sources' in dsgate.yaml"),  # no PATH and no file
        (["--config", "elsewhere.yaml"], None, "elsewhere.yaml: no such config file"),  # a named file must exist
        ([], "sources: x\n", "'sources' must be a list of paths"),  # the file's own errors
    ],
)
def test_options_that_cannot_be_built_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], config: str | None, expected_message: str
) -> None:
    if config is not None:
        (tmp_path / "dsgate.yaml").write_text(config)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=expected_message):
        check_options(build_parser().parse_args(["check", *argv]))
