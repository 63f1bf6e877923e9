"""Argo CD ApplicationSet generators, offline, as the applicationset-controller computes their parameters.

- `list`: its elements.
- `clusters`: one parameter set per Argo CD cluster: the cluster Secrets found in the repository
  (label `argocd.argoproj.io/secret-type: cluster`) and the clusters named with `--argocd-cluster
  NAME=SERVER`; Argo CD's own cluster (`in-cluster`) too unless a selector is set or a Secret declares
  it. `selector` (matchLabels, matchExpressions) picks among them; `values` are templated with each
  cluster's parameters. Parameters: name, nameNormalized, server, project, metadata.labels.*,
  metadata.annotations.*, values.*.
- `git`: `directories` (with `exclude`) and `files` (each JSON/YAML file's keys, plus its path) of a
  local checkout.
- `matrix` (two generators: the second is templated with each parameter set of the first, the
  result is their union) and `merge` (the first generator's sets, each overridden by the sets of the
  later generators that agree with it on every `mergeKeys` value).

Without goTemplate, parameters are flat (`values.kafka`, `path.basename`), as Argo CD flattens them;
with goTemplate they stay nested (`.values.kafka`). Any other generator is an error naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.gitops.objects import GitOpsError
from dsgate.gitops.repos import Repos

IN_CLUSTER = ("in-cluster", "https://kubernetes.default.svc")
SUPPORTED = "list, clusters, git directories and files, matrix, merge"

Template = Callable[[Any, dict[str, Any], bool], Any]  # argocd._template: NODE rendered with PARAMS


@dataclass(frozen=True)
class ArgoCluster:
    """A cluster Argo CD knows: a cluster Secret of the repository, or one named by flag."""

    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    project: str = ""


def parse_clusters(items: Sequence[str]) -> list[ArgoCluster]:
    """`NAME=SERVER` strings (--argocd-cluster) as clusters; GitOpsError on a malformed one."""
    out: list[ArgoCluster] = []
    for item in items:
        name, sep, server = item.partition("=")
        if not sep or not name or not server:
            raise GitOpsError(
                f"--argocd-cluster {item!r}: expected NAME=SERVER (an Argo CD cluster name and its API server URL)"
            )
        out.append(ArgoCluster(name, server))
    return out


def normalized(name: str) -> str:
    """A name as Argo CD sanitizes it for object names (nameNormalized, basenameNormalized)."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """PARAMS with nested maps as dotted keys (Argo CD's fasttemplate parameters); a map with a key
    equal to its own name (`path: {path: ...}`) also gives that value under its own name."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, full + "."))
            if key in value and not isinstance(value[key], Mapping):
                out[full] = value[key]
        else:
            out[full] = value
    return out


def lookup(params: Mapping[str, Any], key: str) -> Any:
    """The value of KEY (dotted) in PARAMS, flat or nested; None when absent."""
    if key in params:
        return params[key]
    current: Any = params
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            deep_merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else value
        )
    return out


def _selected(cluster: ArgoCluster, selector: Mapping[str, Any]) -> bool:
    labels = cluster.labels
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = (
            str(expr.get("key", "")),
            str(expr.get("operator", "")),
            [str(v) for v in expr.get("values") or []],
        )
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise GitOpsError(f"clusters generator: selector operator {op!r} is not In, NotIn, Exists or DoesNotExist")
    return True


class Generators:
    """Computes the parameter sets of one ApplicationSet's generators."""

    def __init__(self, repos: Repos, clusters: Callable[[], list[ArgoCluster]], template: Template) -> None:
        self.repos, self.clusters, self.template = repos, clusters, template

    def params(self, generator: Mapping[str, Any], go: bool, what: str) -> list[dict[str, Any]]:
        """Parameter sets of GENERATOR (flat unless GO)."""
        sets = self._raw(generator, go, what)
        return sets if go else [flatten(p) for p in sets]

    def _raw(self, generator: Mapping[str, Any], go: bool, what: str) -> list[dict[str, Any]]:
        if "list" in generator:
            return [dict(e) for e in (generator["list"] or {}).get("elements") or []]
        if "clusters" in generator:
            return self._clusters(generator["clusters"] or {}, go)
        if "git" in generator:
            return self._git(generator["git"] or {}, what)
        if "matrix" in generator:
            return self._matrix(generator["matrix"] or {}, go, what)
        if "merge" in generator:
            return self._merge(generator["merge"] or {}, go, what)
        raise GitOpsError(f"{what}: generator {sorted(generator)} is not one dsgate renders ({SUPPORTED})")

    # ------------------------------------------------------------------ clusters

    def _clusters(self, spec: Mapping[str, Any], go: bool) -> list[dict[str, Any]]:
        selector = spec.get("selector") or {}
        known = self.clusters()
        if not selector and not any(c.server.rstrip("/") == IN_CLUSTER[1] for c in known):
            known = [ArgoCluster(*IN_CLUSTER), *known]  # Argo CD's own cluster, unless a Secret declares it
        out: list[dict[str, Any]] = []
        for cluster in known:
            if not _selected(cluster, selector):
                continue
            params: dict[str, Any] = {
                "name": cluster.name,
                "nameNormalized": normalized(cluster.name),
                "server": cluster.server,
                "project": cluster.project,
                "metadata": {"labels": dict(cluster.labels), "annotations": dict(cluster.annotations)},
            }
            values = {
                str(k): self.template(str(v), params if go else flatten(params), go)
                for k, v in (spec.get("values") or {}).items()
            }
            params["values"] = values
            out.append(params)
        return out

    # ------------------------------------------------------------------ git

    def _git(self, git: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
        root = self.repos.git(str(git.get("repoURL", "")))
        if git.get("files"):
            return self._files(root, git["files"], what)
        directories = git.get("directories") or []

        def matching(exclude: bool) -> set[str]:
            return {
                str(path.relative_to(root))
                for d in directories
                if bool(d.get("exclude")) == exclude
                for path in root.glob(str(d.get("path", "")))
                if path.is_dir()
            }

        out: list[dict[str, Any]] = []
        for rel in sorted(matching(False) - matching(True)):  # excludes win, wherever they are listed
            parts = rel.split("/")
            out.append(
                {
                    "path": {
                        "path": rel,
                        "basename": parts[-1],
                        "basenameNormalized": normalized(parts[-1]),
                        "segments": parts,
                    }
                }
            )
        return out

    def _files(self, root: Path, files: Sequence[Mapping[str, Any]], what: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in files:
            for path in sorted(root.glob(str(entry.get("path", "")))):
                if not path.is_file():
                    continue
                try:
                    data = json.loads(path.read_text()) if path.suffix == ".json" else yamlc.safe_load(path.read_text())
                except (OSError, ValueError, yaml.YAMLError) as exc:
                    raise GitOpsError(
                        f"{what}: git files generator: {path} does not read as JSON or YAML: {exc}"
                    ) from exc
                rel = path.parent.relative_to(root)
                parts = [p for p in str(rel).split("/") if p and p != "."]
                info = {
                    "path": str(rel),
                    "basename": parts[-1] if parts else "",
                    "filename": path.name,
                    "basenameNormalized": normalized(parts[-1] if parts else ""),
                    "filenameNormalized": normalized(path.name),
                    "segments": parts,
                }
                for item in data if isinstance(data, list) else [data]:
                    if isinstance(item, dict):
                        out.append({**item, "path": info})
        return out

    # ------------------------------------------------------------------ matrix, merge

    def _matrix(self, spec: Mapping[str, Any], go: bool, what: str) -> list[dict[str, Any]]:
        children = spec.get("generators") or []
        if len(children) != 2:
            raise GitOpsError(f"{what}: a matrix generator combines exactly two generators (it has {len(children)})")
        out: list[dict[str, Any]] = []
        for first in self.params(children[0], go, what):
            second = self.template(children[1], first, go)  # the second generator may use the first's parameters
            for other in self.params(second, go, what):
                if go:
                    out.append(deep_merge(first, other))
                    continue
                clash = sorted(k for k in first.keys() & other.keys() if first[k] != other[k])
                if clash:
                    raise GitOpsError(
                        f"{what}: matrix generator: both generators set {', '.join(clash)} to different values"
                    )
                out.append({**first, **other})
        return out

    def _merge(self, spec: Mapping[str, Any], go: bool, what: str) -> list[dict[str, Any]]:
        children = spec.get("generators") or []
        keys = [str(k) for k in spec.get("mergeKeys") or []]
        if len(children) < 2 or not keys:
            raise GitOpsError(f"{what}: a merge generator needs mergeKeys and at least two generators")

        def by_key(sets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for params in sets:
                key = json.dumps([lookup(params, k) for k in keys], sort_keys=True, default=str)
                if key in out:
                    raise GitOpsError(
                        f"{what}: merge generator: two parameter sets of one generator share the mergeKeys values {key}"
                    )
                out[key] = params
            return out

        base = by_key(self.params(children[0], go, what))
        for child in children[1:]:
            for key, params in by_key(self.params(child, go, what)).items():
                if key in base:
                    base[key] = deep_merge(base[key], params) if go else {**base[key], **params}
        return list(base.values())
