"""dsgate.yaml: what a bare `dsgate check` covers in a repository."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from dsgate import limits as limits_mod
from dsgate.errors import DsgateError
from dsgate.gate import baseline, ruleset
from dsgate.gate import controls as controls_mod
from dsgate.gate.clustermodel import ClusterModel, problems
from dsgate.gate.documents import DocumentError, read_text, safe_load
from dsgate.gate.options import CheckOptions
from dsgate.gate.render import HELM_TOOLS
from dsgate.gate.servercheck import Settings as ServerCheckSettings
from dsgate.gate.sources import CONFIG_NAME, Source
from dsgate.versions import kube_target_versions

if TYPE_CHECKING:
    from dsgate.gate.stages import GateResult

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
    "cluster",
    "podSecurity",  # before `cluster:`; read as cluster.podSecurity
    "profile",
    "rules",
    "overrides",
}
CLUSTER_KEYS = ("allowPrivileged", "podSecurity", "admissionPlugins", "releaseName", "namespace")


class ConfigError(DsgateError):
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
    argocd_clusters: list[str] = field(
        default_factory=list
    )  # NAME=SERVER: clusters Argo CD knows (ApplicationSet clusters generator)
    limits: limits_mod.Limits = field(default_factory=limits_mod.Limits)
    cluster: ClusterModel = field(default_factory=ClusterModel)  # the cluster the gate models (see clustermodel)
    releases: dict[Path, tuple[str, str]] = field(
        default_factory=dict
    )  # source path -> (release name, namespace) it sets ("" unset)
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


def load(path: Path) -> Config:  # noqa: C901  # one check per dsgate.yaml key, in the order of the keys; split up, the file's schema would be scattered
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
    cfg.sources, cfg.releases = _sources(raw.get("sources", []), root, path)
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
        raise ConfigError(
            f"{path}: 'exemptions' must be a list of {{rule, resource or selector, reason, expires}} mappings"
        )
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
    cfg.cluster = _cluster(raw, path)
    return cfg


SOURCE_KEYS = ("path", "releaseName", "namespace")


def _sources(raw: Any, root: Path, path: Path) -> tuple[list[Path], dict[Path, tuple[str, str]]]:
    """sources: each a path, or {path, releaseName, namespace} giving that source (and what is found
    under it) a release name and namespace of its own."""
    where = f"{path}: 'sources'"
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list of paths or {{{', '.join(SOURCE_KEYS)}}} mappings")
    paths: list[Path] = []
    releases: dict[Path, tuple[str, str]] = {}
    for i, item in enumerate(raw):
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            paths.append(root / str(item))
            continue
        if not isinstance(item, dict) or set(item) - set(SOURCE_KEYS) or not isinstance(item.get("path"), str):
            raise ConfigError(f"{where}[{i}] must be a path or a mapping with 'path' (and 'releaseName', 'namespace')")
        names = (item.get("releaseName", ""), item.get("namespace", ""))
        if not all(isinstance(n, str) for n in names) or names == ("", ""):
            raise ConfigError(
                f"{where}[{i}]: 'releaseName' and 'namespace' are strings, and one of them is set (else write the path alone)"
            )
        paths.append(root / item["path"])
        releases[root / item["path"]] = (str(names[0]), str(names[1]))
    return paths, releases


def with_releases(sources: Sequence[Source], releases: Mapping[Path, tuple[str, str]]) -> list[Source]:
    """SOURCES, each found under a path of RELEASES given that entry's release name and namespace."""
    out = []
    for source in sources:
        match = next(
            ((r, n) for base, (r, n) in releases.items() if source.path == base or source.path.is_relative_to(base)),
            None,
        )
        out.append(dataclasses.replace(source, release=match[0], namespace=match[1]) if match else source)  # type: ignore[type-var]  # every source kind is a dataclass with these fields
    return out


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _cluster(raw: dict[str, Any], path: Path) -> ClusterModel:
    """cluster: {allowPrivileged, podSecurity: {default, namespaces}, admissionPlugins: {enable, disable},
    releaseName, namespace}; each key optional, its default kubeadm's (see clustermodel). The top-level
    podSecurity of older files is read as cluster.podSecurity."""
    cluster = raw.get("cluster", {})
    where = f"{path}: 'cluster'"
    if not isinstance(cluster, dict) or set(cluster) - set(CLUSTER_KEYS):
        raise ConfigError(f"{where} must be a mapping of {', '.join(CLUSTER_KEYS)}")
    if "podSecurity" in raw and "podSecurity" in cluster:
        raise ConfigError(
            f"{path}: 'podSecurity' is given twice; keep cluster.podSecurity and remove the top-level key"
        )
    psa = cluster.get("podSecurity", raw.get("podSecurity", {}))
    if (
        not isinstance(psa, dict)
        or set(psa) - {"default", "namespaces"}
        or not isinstance(psa.get("namespaces", {}), dict)
    ):
        raise ConfigError(
            f"{where}.podSecurity must be a mapping with 'default' (a level) and 'namespaces' (namespace: level)"
        )
    plugins = cluster.get("admissionPlugins", {})
    if not isinstance(plugins, dict) or set(plugins) - {"enable", "disable"}:
        raise ConfigError(
            f"{where}.admissionPlugins must be a mapping with 'enable' and 'disable' (lists of plugin names)"
        )
    privileged = cluster.get("allowPrivileged", True)
    if not isinstance(privileged, bool):
        raise ConfigError(f"{where}.allowPrivileged must be true or false")
    names = {
        key: cluster.get(key, getattr(ClusterModel(), attr))
        for key, attr in (("releaseName", "release_name"), ("namespace", "namespace"))
    }
    for key, value in names.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}.{key} must be a non-empty string")
    model = ClusterModel(
        allow_privileged=privileged,
        pod_security=str(psa.get("default", ClusterModel().pod_security)),
        namespaces={str(k): str(v) for k, v in psa.get("namespaces", {}).items()},
        enable_admission_plugins=_strings(
            plugins.get("enable", list(ClusterModel().enable_admission_plugins)), f"{where}.admissionPlugins.enable"
        ),
        disable_admission_plugins=_strings(plugins.get("disable", []), f"{where}.admissionPlugins.disable"),
        release_name=names["releaseName"],
        namespace=names["namespace"],
    )
    for problem in problems(model):
        raise ConfigError(f"{where}: {problem}")
    return model


class ClusterFlags(TypedDict, total=False):
    """The command line's cluster-model flags (None or absent: not given)."""

    allow_privileged: bool | None
    pod_security: str | None
    pod_security_namespaces: Sequence[str]
    enable_admission_plugins: str | None
    disable_admission_plugins: str | None
    release_name: str | None
    namespace: str | None


def override_cluster(base: ClusterModel, **flags: Unpack[ClusterFlags]) -> ClusterModel:
    """BASE (dsgate.yaml's cluster, else the defaults) with what the command line sets: a flag given
    wins over dsgate.yaml. POD_SECURITY_NAMESPACES are NS=LEVEL, added to BASE's; the plugin lists are
    comma-separated and replace BASE's. ConfigError for a malformed value."""
    allow_privileged, pod_security = flags.get("allow_privileged"), flags.get("pod_security")
    pod_security_namespaces = flags.get("pod_security_namespaces", ())
    enable_admission_plugins, disable_admission_plugins = (
        flags.get("enable_admission_plugins"),
        flags.get("disable_admission_plugins"),
    )
    release_name, namespace = flags.get("release_name"), flags.get("namespace")
    extra: dict[str, str] = {}
    for item in pod_security_namespaces:
        ns, sep, level = item.partition("=")
        if not sep or not ns:
            raise ConfigError(f"--pod-security-namespace {item!r}: use NAMESPACE=LEVEL")
        extra[ns] = level
    changes: dict[str, Any] = {
        "allow_privileged": allow_privileged,
        "pod_security": pod_security,
        "namespaces": {**base.namespaces, **extra} if extra else None,
        "enable_admission_plugins": tuple(p for p in enable_admission_plugins.split(",") if p)
        if enable_admission_plugins is not None
        else None,
        "disable_admission_plugins": tuple(p for p in disable_admission_plugins.split(",") if p)
        if disable_admission_plugins is not None
        else None,
        "release_name": release_name,
        "namespace": namespace,
    }
    model = dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})
    for problem in problems(model):
        raise ConfigError(f"cluster model: {problem}")
    if not model.release_name or not model.namespace:
        raise ConfigError("cluster model: --release-name and --namespace must not be empty")
    return model


def find(start: Path) -> Path | None:
    """The nearest dsgate.yaml at or above START."""
    for directory in (start, *start.parents):
        if (directory / CONFIG_NAME).is_file():
            return directory / CONFIG_NAME
    return None


def _config_of(args: argparse.Namespace) -> Config | None:
    """The dsgate.yaml of this run: --config, else the nearest one above the working directory;
    None with --no-config or when there is none."""
    if args.no_config:
        return None
    if args.config and not args.config.is_file():
        raise ConfigError(f"{args.config}: no such config file")
    path = args.config or find(Path.cwd())
    return load(path) if path is not None else None


def check_options(args: argparse.Namespace) -> CheckOptions:
    """The options of `dsgate check ARGS`: each from the command line when given, else from dsgate.yaml,
    else the default (CheckOptions' own). Lists given in both places are joined (flags first)."""
    cfg = _config_of(args)
    paths = args.paths or (cfg.sources if cfg else [])
    if not paths:
        raise ConfigError("nothing to check: name PATHs or list 'sources' in dsgate.yaml")
    default = CheckOptions()
    policy_dir = args.policies or (cfg.policies if cfg and cfg.policies else default.policy_dir)
    return CheckOptions(
        paths=tuple(paths),
        values=tuple(args.values),
        charts=(*args.charts, *(cfg.charts if cfg else [])),
        repos=(*args.repo, *(cfg.repos if cfg else [])),
        argocd_clusters=(*args.argocd_cluster, *(cfg.argocd_clusters if cfg else [])),
        helm_versions=tuple(args.helm or (cfg.helm_versions if cfg else default.helm_versions)),
        kube_versions=tuple(
            [v.lstrip("v") for v in args.kube_version] or (cfg.kube_versions if cfg else ()) or default.kube_versions
        ),
        workers=args.workers,
        limits=cfg.limits if cfg else default.limits,
        crds=(*args.crd, *(cfg.crds if cfg else [])),
        allow_kinds=(*args.allow_kind, *(cfg.allow_kinds if cfg else [])),
        server_check=ServerCheckSettings(
            enabled=not args.no_server_check,
            cluster=override_cluster(
                cfg.cluster if cfg else ClusterModel(),
                allow_privileged=args.allow_privileged,
                pod_security=args.pod_security,
                pod_security_namespaces=args.pod_security_namespace,
                enable_admission_plugins=args.enable_admission_plugins,
                disable_admission_plugins=args.disable_admission_plugins,
                release_name=args.release_name,
                namespace=args.namespace,
            ),
        ),
        releases=cfg.releases if cfg else {},
        policy_dir=policy_dir,
        policy_data=cfg.policy_data if cfg else {},
        controls=tuple(_controls(args, cfg, policy_dir)),
        deploy=tuple(cfg.deploy) if cfg and not args.no_deploy and not args.paths else (),
        strict=args.strict,
        format=args.format,
        output=args.output,
        progress=sys.stderr.isatty() if args.progress is None else args.progress,
    )


def _controls(args: argparse.Namespace, cfg: Config | None, policy_dir: Path) -> list[Callable[[GateResult], None]]:
    """The run's controls (dsgate.gate.controls, then the baseline), their rule ids checked against the
    library (RulesetError, ControlError, BaselineError: DsgateErrors, exit 2)."""
    known = ruleset.read(policy_dir, controls_mod.GATE_RULES)
    settings = cfg.controls if cfg else controls_mod.Settings()
    if len(known) > len(controls_mod.GATE_RULES):  # a library without rule METADATA: nothing to check the ids against
        settings.check(known, str(cfg.controls.config) if cfg else "dsgate.yaml")
        for rule in args.disable:
            controls_mod.check_rule(rule, known, f"--disable {rule}")
    settings = dataclasses.replace(settings.with_cli(args.profile, args.disable), report_unused=not args.paths)
    steps: list[Callable[[GateResult], None]] = [controls_mod.Controls(settings, known)]
    if args.baseline or args.write_baseline:
        steps.append(baseline.Step.of(args.write_baseline or args.baseline, bool(args.write_baseline)))
    return steps
