"""dsgate.yaml: what a bare `dsgate check` covers in a repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgate import limits as limits_mod
from dsgate.gate import controls as controls_mod
from dsgate.gate.documents import DocumentError, read_text, safe_load
from dsgate.gate.render import HELM_TOOLS
from dsgate.gate.servercheck import DEFAULT_PSA_LEVEL, PSA_LEVELS
from dsgate.versions import kube_target_versions

CONFIG_NAME = "dsgate.yaml"
KEYS = {
    "sources",
    "kubeVersions",
    "helmVersions",
    "policies",
    "parameters",
    "exemptions",
    "allowKinds",
    "deploy",
    "crds",
    "charts",
    "repos",
    "argocdClusters",
    "limits",
    "podSecurity",
    "profile",
    "rules",
    "overrides",
}


class ConfigError(RuntimeError):
    """dsgate.yaml is malformed; the message names the key."""


@dataclass
class Config:
    root: Path
    sources: list[Path] = field(default_factory=list)
    kube_versions: list[str] = field(default_factory=kube_target_versions)
    helm_versions: list[str] = field(default_factory=lambda: ["v4"])
    policies: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    exemptions: list[dict[str, Any]] = field(default_factory=list)
    allow_kinds: list[str] = field(default_factory=list)
    deploy: list[Path] = field(default_factory=list)
    crds: list[Path] = field(default_factory=list)  # CRD files or directories defining more kinds
    charts: list[Path] = field(default_factory=list)  # offline chart store for GitOps sources
    repos: list[str] = field(default_factory=list)  # URL=PATH: local checkouts of GitOps repositories
    argocd_clusters: list[str] = field(default_factory=list)  # NAME=SERVER: clusters Argo CD knows (ApplicationSet clusters generator)
    limits: limits_mod.Limits = field(default_factory=limits_mod.Limits)
    pod_security_default: str = DEFAULT_PSA_LEVEL  # the server check's Pod Security level of a namespace
    pod_security_namespaces: dict[str, str] = field(default_factory=dict)  # namespace -> level
    controls: controls_mod.Settings = field(default_factory=controls_mod.Settings)  # profile, rules, overrides

    @property
    def policy_data(self) -> dict[str, Any]:
        """What the OPA server gets as data.dsgate."""
        return {"parameters": self.parameters, "exemptions": self.exemptions}


def _list_of_str(raw: dict[str, Any], key: str, path: Path) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ConfigError(f"{path}: '{key}' must be a list of strings")
    return [str(v) for v in value]


def load(path: Path) -> Config:
    """Read and check dsgate.yaml."""
    try:
        raw = safe_load(read_text(path), str(path)) or {}
    except (DocumentError, limits_mod.LimitError) as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of {', '.join(sorted(KEYS))}")
    unknown = set(raw) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known keys: {', '.join(sorted(KEYS))}")
    root = path.parent
    cfg = Config(root=root)
    cfg.sources = [root / s for s in _list_of_str(raw, "sources", path)]
    if "kubeVersions" in raw:
        cfg.kube_versions = [v.lstrip("v") for v in _list_of_str(raw, "kubeVersions", path)]
    if "helmVersions" in raw:
        cfg.helm_versions = _list_of_str(raw, "helmVersions", path)
        bad = [v for v in cfg.helm_versions if v not in HELM_TOOLS]
        if bad:
            raise ConfigError(f"{path}: helmVersions {bad} unknown; use {sorted(HELM_TOOLS)}")
    if "policies" in raw:
        cfg.policies = root / str(raw["policies"])
    for key, attr in (("parameters", "parameters"),):
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: '{key}' must be a mapping")
        setattr(cfg, attr, value)
    exemptions = raw.get("exemptions", [])
    if not isinstance(exemptions, list) or not all(isinstance(e, dict) for e in exemptions):
        raise ConfigError(f"{path}: 'exemptions' must be a list of {{rule, resource or selector, reason, expires}} mappings")
    cfg.exemptions = exemptions
    try:
        cfg.controls = controls_mod.parse(raw, str(path))
        controls_mod.check_exemptions(exemptions, str(path))
    except controls_mod.ControlError as exc:
        raise ConfigError(str(exc)) from None
    cfg.controls.root, cfg.controls.config, cfg.controls.exemptions = root, path, exemptions
    cfg.controls.exemption_lines = controls_mod.item_lines(read_text(path), "exemptions")
    cfg.allow_kinds = _list_of_str(raw, "allowKinds", path)
    cfg.deploy = [root / s for s in _list_of_str(raw, "deploy", path)]
    cfg.crds = [root / s for s in _list_of_str(raw, "crds", path)]
    cfg.charts = [root / s for s in _list_of_str(raw, "charts", path)]
    repos = raw.get("repos", {})
    if not isinstance(repos, dict) or not all(isinstance(v, str) for v in repos.values()):
        raise ConfigError(f"{path}: 'repos' must be a mapping of repository URL to local path")
    cfg.repos = [f"{url}={root / local}" for url, local in repos.items()]
    clusters = raw.get("argocdClusters", {})
    if not isinstance(clusters, dict) or not all(isinstance(v, str) for v in clusters.values()):
        raise ConfigError(f"{path}: 'argocdClusters' must be a mapping of Argo CD cluster name to API server URL")
    cfg.argocd_clusters = [f"{name}={server}" for name, server in clusters.items()]
    try:
        cfg.limits = limits_mod.parse(raw.get("limits"), str(path))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _pod_security(cfg, raw.get("podSecurity", {}), path)
    return cfg


def _pod_security(cfg: Config, raw: Any, path: Path) -> None:
    """podSecurity: {default: LEVEL, namespaces: {NAME: LEVEL}}, each LEVEL a Pod Security Standard."""
    where = f"{path}: 'podSecurity'"
    if not isinstance(raw, dict) or set(raw) - {"default", "namespaces"}:
        raise ConfigError(f"{where} must be a mapping with 'default' and 'namespaces'")
    namespaces = raw.get("namespaces", {})
    if not isinstance(namespaces, dict):
        raise ConfigError(f"{where}.namespaces must map namespace names to levels")
    levels = {"default": raw.get("default", DEFAULT_PSA_LEVEL), **{f"namespaces.{k}": v for k, v in namespaces.items()}}
    for key, level in levels.items():
        if level not in PSA_LEVELS:
            raise ConfigError(f"{where}.{key} is {level!r}; use one of {', '.join(PSA_LEVELS)}")
    cfg.pod_security_default = str(levels["default"])
    cfg.pod_security_namespaces = {str(k): str(v) for k, v in namespaces.items()}


def find(start: Path) -> Path | None:
    """The nearest dsgate.yaml at or above START."""
    for directory in (start, *start.parents):
        if (directory / CONFIG_NAME).is_file():
            return directory / CONFIG_NAME
    return None
