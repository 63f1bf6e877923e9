"""Render Argo CD Applications and ApplicationSets as Argo CD's repo-server would.

- An Application's `spec.source` or `spec.sources`: each is a Helm chart (a `chart` from a Helm
  repository, found in the chart store, or a path with a Chart.yaml), a kustomization, or a
  directory of manifests (recurse, include/exclude globs), read from the local checkout of its
  `repoURL` (`--repo URL=PATH`; the repository being checked maps to itself).
- Helm: valueFiles (`$ref/...` names a file of the source with that `ref`), then `valuesObject`
  (or, when it is unset, `values`), then `parameters` (`--set`; forceString as `--set-string`); releaseName defaults to
  the Application's name; the namespace is the destination's.
- Kustomize: namePrefix, nameSuffix, namespace, images (`name=new:tag`, `name:tag`, `name@digest`),
  patches, components, written into a copy of the kustomization as Argo CD does.
- Objects without a namespace land in `spec.destination.namespace`, in the cluster of
  `spec.destination` (server or name, see destinations): each cluster is its own evaluation set.
- ApplicationSet: the generators of dsgate.gitops.generators (list, clusters, git, matrix, merge),
  templated with fasttemplate `{{param}}` or, with goTemplate, `{{ .param }}`. Applications an Application renders are rendered in turn
  (app-of-apps); one met again on its own chain is a cycle: an error.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dsgate import rundir, yamlc
from dsgate.gate.render import HelmBatch, RenderError, helm_template, run_render_tool
from dsgate.gate.sources import kustomization_file
from dsgate.gitops import destinations
from dsgate.gitops.charts import ChartStore, MissingCharts, missing_dependencies
from dsgate.gitops.flux import Reader
from dsgate.gitops.generators import ArgoCluster, Generators
from dsgate.gitops.helmrelease import merge, set_path
from dsgate.gitops.objects import ARGO, CLUSTER_SCOPED, GitOpsError, Item, is_kind, name_of, namespace_of, spec_of, step
from dsgate.gitops.repos import Repos
from dsgate.tools import tool_path


def _braces(pattern: str) -> list[str]:
    """`{a,b}` alternatives expanded (Argo CD's globs allow them)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [x for alt in m.group(1).split(",") for x in _braces(pattern[: m.start()] + alt + pattern[m.end() :])]


def _matches(rel: str, patterns: str) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(Path(rel).name, p) for p in _braces(patterns))


def kustomize_images(images: list[Any]) -> list[dict[str, str]]:
    """Argo CD's image override strings as kustomize `images` entries."""
    out: list[dict[str, str]] = []
    for image in images:
        if isinstance(image, dict):
            out.append(image)
            continue
        text = str(image)
        name, _, new = text.partition("=") if "=" in text else ("", "", text)
        entry: dict[str, str] = {}
        ref, _, digest = new.partition("@")
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        entry["name"] = name or repo
        if name and repo != name:
            entry["newName"] = repo
        if tag:
            entry["newTag"] = tag
        if digest:
            entry["digest"] = digest
        out.append(entry)
    return out


class ArgoExpander:
    """Renders Applications (and the Applications they render) and ApplicationSets."""

    def __init__(
        self,
        repos: Repos,
        store: ChartStore,
        read: Reader,
        batch: HelmBatch | None,
        clusters: Sequence[ArgoCluster] = (),
    ) -> None:
        self.repos, self.store, self.read, self.batch = repos, store, read, batch
        self.flag_clusters = tuple(clusters)
        self.roots: list[Item] = []
        self.items: list[Item] = []
        self.generators = Generators(repos, self.known_clusters, _template)
        self.missing: list[MissingCharts] = []  # charts not in the store: the caller names them all in one error

    def expand(self, roots: list[Item]) -> list[Item]:
        """Every object ROOTS (Argo CD objects among a cluster's items) lead to, each with the cluster
        it lands in: an Application's objects in its destination, the Applications an ApplicationSet
        generates where the ApplicationSet is (see destinations)."""
        self.roots = roots
        pending = [r for r in roots if is_kind(r.obj, ARGO, "Application") or is_kind(r.obj, ARGO, "ApplicationSet")]
        while pending:
            item = pending.pop(0)
            if item.obj.get("kind") == "ApplicationSet":
                produced = [
                    Item(app, (*item.via, step(item.obj)), item.cluster) for app in self.application_set(item.obj)
                ]
                self.items.extend(produced)
                pending.extend(produced)
                continue
            me = step(item.obj)
            if me in item.via:
                raise GitOpsError(f"Application cycle: {' → '.join([*item.via, me])}")
            chain = (*item.via, me)
            where = destinations.raw(spec_of(item.obj).get("destination"))
            try:
                objs = self.application(item.obj, chain)
            except MissingCharts as exc:
                self.missing.append(exc)
                continue
            for obj in objs:
                new = Item(obj, chain, where)
                self.items.append(new)
                if is_kind(obj, ARGO, "Application") or is_kind(obj, ARGO, "ApplicationSet"):
                    pending.append(new)
        names = destinations.cluster_names(i.obj for i in [*roots, *self.items])
        names.update({c.name: c.server for c in self.flag_clusters})
        self.items = [dataclasses.replace(i, cluster=destinations.key(i.cluster, names)) for i in self.items]
        return self.items

    # ---------------------------------------------------------------- ApplicationSet

    def known_clusters(self) -> list[ArgoCluster]:
        """The clusters Argo CD would know now: every cluster Secret met so far, then the flag's."""
        out = [
            ArgoCluster(name, server, labels, annotations, project)
            for name, server, labels, annotations, project in destinations.cluster_secrets(
                i.obj for i in [*self.roots, *self.items]
            )
        ]
        return [*out, *(c for c in self.flag_clusters if c.name not in {o.name for o in out})]

    def application_set(self, appset: dict[str, Any]) -> list[dict[str, Any]]:
        spec = spec_of(appset)
        go = bool(spec.get("goTemplate"))
        out: list[dict[str, Any]] = []
        for generator in spec.get("generators") or []:
            for params in self.generators.params(generator, go, step(appset)):
                app = _template(copy.deepcopy(spec.get("template") or {}), params, go)
                app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **app}
                app.setdefault("metadata", {}).setdefault("namespace", namespace_of(appset))
                out.append(app)
        return out

    # ---------------------------------------------------------------- Application

    def _checkout(self, app: dict[str, Any], source: dict[str, Any]) -> Path:
        url = str(source.get("repoURL", ""))
        local = self.repos.local(url)
        return (local or self.repos.root).resolve()

    def application(self, app: dict[str, Any], chain: tuple[str, ...]) -> list[dict[str, Any]]:
        spec = spec_of(app)
        what = " → ".join(chain)
        sources = list(spec.get("sources") or ([spec["source"]] if spec.get("source") else []))
        if not sources:
            raise GitOpsError(f"{what}: neither spec.source nor spec.sources is set")
        refs = {str(s["ref"]): self._checkout(app, s) for s in sources if s.get("ref")}
        namespace = str((spec.get("destination") or {}).get("namespace") or "")
        objs: list[dict[str, Any]] = []
        for source in sources:
            if source.get("ref") and not source.get("path") and not source.get("chart"):
                continue  # a values-only source
            objs.extend(self._source(app, source, refs, namespace, what))
        for obj in objs:
            if (
                namespace
                and obj.get("kind") not in CLUSTER_SCOPED
                and isinstance(obj.get("metadata"), dict)
                and not obj["metadata"].get("namespace")
            ):
                obj["metadata"]["namespace"] = namespace
        return objs

    def _source(
        self, app: dict[str, Any], source: dict[str, Any], refs: dict[str, Path], namespace: str, what: str
    ) -> list[dict[str, Any]]:
        if source.get("chart"):
            chart, constraint = str(source["chart"]), str(source.get("targetRevision") or "*")
            path = self.store.require(what, chart, constraint, str(source.get("repoURL")))
            return self._helm(app, path, source, refs, namespace, what)
        root = self._checkout(app, source)
        path = (root / str(source.get("path") or ".")).resolve()
        if not path.is_dir():
            raise GitOpsError(
                f"{what}: path {source.get('path')!r} is not a directory in {root} (the checkout of {source.get('repoURL')}); map it with --repo URL=PATH"
            )
        if source.get("plugin"):
            raise GitOpsError(
                f"{what}: source {source.get('path')!r} uses config management plugin {(source['plugin'] or {}).get('name')!r}, which dsgate does not run"
            )
        if (path / "Chart.yaml").is_file() or source.get("helm"):
            return self._helm(app, path, source, refs, namespace, what)
        if kustomization_file(path) is not None or source.get("kustomize"):
            return self._kustomize(path, source.get("kustomize") or {}, what)
        return self._directory(path, source.get("directory") or {}, what)

    def _helm(
        self, app: dict[str, Any], chart: Path, source: dict[str, Any], refs: dict[str, Path], namespace: str, what: str
    ) -> list[dict[str, Any]]:
        helm = source.get("helm") or {}
        files: list[Path] = []
        for name in helm.get("valueFiles") or []:
            text = str(name)
            if text.startswith("$"):
                ref, _, rest = text[1:].partition("/")
                if ref not in refs:
                    raise GitOpsError(
                        f"{what}: valueFiles {text!r} names ${ref}, which no source of this Application declares with ref: {ref}"
                    )
                path = refs[ref] / rest
            else:
                path = chart / text
            if not path.is_file():
                if helm.get("ignoreMissingValueFiles"):
                    continue
                raise GitOpsError(f"{what}: value file {text!r} does not exist ({path})")
            files.append(path)
        values: dict[str, Any] = {}
        for path in files:
            try:
                loaded = yamlc.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise GitOpsError(f"{what}: value file {path} is not YAML: {exc}") from exc
            values = merge(values, loaded if isinstance(loaded, dict) else {})
        # valuesObject, when set, is used instead of values (Argo CD's ValuesYAML)
        inline = helm.get("valuesObject") or (
            yamlc.safe_load(str(helm["values"])) if isinstance(helm.get("values"), str) else helm.get("values")
        )
        if isinstance(inline, dict):
            values = merge(values, inline)
        for param in helm.get("parameters") or []:
            value = str(param.get("value", ""))
            set_path(values, str(param.get("name", "")), f'"{value}"' if param.get("forceString") else value)
        try:
            rendered = helm_template(
                chart,
                values=values,
                release=str(helm.get("releaseName") or name_of(app)),
                namespace=str(helm.get("namespace") or namespace or "default"),
                include_crds=not helm.get("skipCrds"),
                batch=self.batch,
            )
        except RenderError as exc:
            raise missing_dependencies(what, chart, str(exc), self.store.dirs) or GitOpsError(f"{what}: {exc}") from exc
        if rendered.objects is not None:
            return [obj for _, obj in rendered.objects if obj is not None]
        return self.read(rendered.text, f"{what}: rendered chart {chart}")

    def _kustomize(self, path: Path, kust: dict[str, Any], what: str) -> list[dict[str, Any]]:
        existing = kustomization_file(path)
        with tempfile.TemporaryDirectory(prefix="dsgate-argo-", dir=rundir.path()) as tmp:
            k: dict[str, Any] = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(path, tmp)],
            }
            if existing is None:
                raise GitOpsError(f"{what}: {path} has no kustomization file")
            for key in ("namePrefix", "nameSuffix", "namespace", "patches"):
                if kust.get(key):
                    k[key] = kust[key]
            if kust.get("images"):
                k["images"] = kustomize_images(kust["images"])
            if kust.get("components"):
                k["components"] = [os.path.relpath((path / c).resolve(), tmp) for c in kust["components"]]
            if kust.get("commonLabels"):
                k["labels"] = [{"pairs": kust["commonLabels"], "includeSelectors": True}]
            if kust.get("commonAnnotations"):
                k["commonAnnotations"] = kust["commonAnnotations"]
            Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(k, sort_keys=False))
            cmd = [str(tool_path("kustomize")), "build", "--load-restrictor", "LoadRestrictionsNone", tmp]
            proc = run_render_tool(cmd)
        if proc.returncode != 0:
            raise GitOpsError(f"{what}: kustomize build {path} failed: {proc.stderr.strip()}")
        return self.read(proc.stdout, f"{what}: kustomize build {path}")

    def _directory(self, path: Path, directory: dict[str, Any], what: str) -> list[dict[str, Any]]:
        files = sorted(path.rglob("*") if directory.get("recurse") else path.iterdir())
        jsonnet = [f for f in files if f.is_file() and f.suffix in (".jsonnet", ".libsonnet")]
        if jsonnet:  # Argo CD evaluates them; leaving them out would gate less than it applies
            raise GitOpsError(
                f"{what}: {path} holds Jsonnet ({jsonnet[0].name}), which dsgate does not evaluate; render it to YAML or exclude the Application"
            )
        objs: list[dict[str, Any]] = []
        for file in files:
            rel = str(file.relative_to(path))
            if not file.is_file() or file.suffix not in (".yaml", ".yml", ".json"):
                continue
            if directory.get("include") and not _matches(rel, str(directory["include"])):
                continue
            if directory.get("exclude") and _matches(rel, str(directory["exclude"])):
                continue
            objs.extend(self.read(file.read_text(), str(file)))
        return objs


_FAST = re.compile(r"\{\{\s*([\w.\[\]-]+)\s*\}\}")
_GO = re.compile(r"\{\{\s*\.([\w.]+)\s*\}\}")


def _lookup(params: dict[str, Any], key: str) -> Any:
    if key in params:  # a flat (fasttemplate) parameter
        return params[key]
    m = re.fullmatch(r"([\w.]+)\[(\d+)\]", key)
    if m:  # fasttemplate path[N]: the Nth path segment
        seq = _lookup(params, m.group(1) + ".segments")
        return seq[int(m.group(2))] if isinstance(seq, list) and int(m.group(2)) < len(seq) else None
    current: Any = params
    for part in key.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return None
    if isinstance(current, dict) and "path" in current and key == "path":
        return current["path"]
    return current


def _template(node: Any, params: dict[str, Any], go: bool) -> Any:
    if isinstance(node, dict):
        return {k: _template(v, params, go) for k, v in node.items()}
    if isinstance(node, list):
        return [_template(v, params, go) for v in node]
    if isinstance(node, str):
        pattern = _GO if go else _FAST

        def sub(m: re.Match[str]) -> str:
            value = _lookup(params, m.group(1))
            if value is None:
                return m.group(0) if not go else "<no value>"
            return str(value)

        return pattern.sub(sub, node)
    return node
