"""Expand a Flux cluster the way Flux would apply it.

Starting at an entry path (a `clusters/<name>` directory, built as Flux builds any path), every
Flux Kustomization found is built from its source (spec.path relative to the source's root, with its
patches, targetNamespace, namePrefix/nameSuffix, images, components and postBuild substitution) and
its output expanded in turn; HelmReleases are collected and rendered once every object is known
(their sources, and the ConfigMaps and Secrets their values come from, may come from any
Kustomization). A Kustomization whose path is the entry itself is the bootstrap (`flux-system`)
and is not built again; any other Kustomization met again on its own chain is a cycle: an error.

`flux bootstrap` writes the GitRepository `flux-system/flux-system` (in gotk-sync.yaml) pointing at
the repository itself. Repositories that publish their layout keep gotk-sync.yaml as a placeholder
(or leave it out), so a sourceRef to that GitRepository, when no such object exists, is the
repository under check; the chain says so (IMPLIED) on every object it leads to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dsgate.errors import DsgateError
from dsgate.gate.sources import kustomization_file
from dsgate.gitops import artifacts
from dsgate.gitops import substitute as subst
from dsgate.gitops.detect import argo_entry
from dsgate.gitops.kbuild import Builder
from dsgate.gitops.objects import (
    FLUX_HELM,
    FLUX_KUSTOMIZE,
    GitOpsError,
    Item,
    data_of,
    is_kind,
    meta,
    name_of,
    namespace_of,
    spec_of,
    step,
)
from dsgate.gitops.repos import Repos

BOOTSTRAP = ("GitRepository", "flux-system", "flux-system")  # (kind, namespace, name) flux bootstrap writes
IMPLIED = "GitRepository flux-system/flux-system absent: the repository under check, as flux bootstrap points it"

# A YAML stream -> its objects, read as kubectl reads them (the gate's converter), or why not.
Reader = Callable[[str, str], list[dict[str, Any]]]


class Deferred(DsgateError):
    """An object this Kustomization needs is not known yet (another Kustomization may define it)."""


class Cluster:
    """Every object a Flux cluster would get, keyed for lookups by (kind, namespace, name)."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.index: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, obj: dict[str, Any], via: tuple[str, ...]) -> None:
        self.items.append(Item(obj, via))
        self.index[(str(obj.get("kind")), namespace_of(obj), name_of(obj))] = obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.index.get((kind, namespace, name))

    def implied(self, kind: str, namespace: str, name: str) -> bool:
        """(KIND, NAMESPACE, NAME) is flux bootstrap's own GitRepository and the repository does not
        define it: it stands for the repository under check."""
        return (kind, namespace, name) == BOOTSTRAP and self.get(kind, namespace, name) is None


def variables(ks: dict[str, Any], cluster: Cluster) -> dict[str, str]:
    """The postBuild variables of Flux Kustomization KS: substituteFrom in order, then substitute."""
    post = spec_of(ks).get("postBuild") or {}
    out: dict[str, str] = {}
    for ref in post.get("substituteFrom") or []:
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind not in ("ConfigMap", "Secret"):
            raise GitOpsError(f"{step(ks)}: postBuild.substituteFrom kind {kind!r} is not ConfigMap or Secret")
        obj = cluster.get(kind, namespace_of(ks), name)
        if obj is None:
            if ref.get("optional"):
                continue
            raise Deferred(
                f"postBuild.substituteFrom {kind} {namespace_of(ks)}/{name} is defined nowhere in the repository (mark it optional: true if it may be absent)"
            )
        out.update({k: v.replace("\n", "") for k, v in data_of(obj).items()})
    out.update({str(k): str(v).replace("\n", "") for k, v in (post.get("substitute") or {}).items()})
    return out


def apply_substitution(
    objs: list[dict[str, Any]], variables_: dict[str, str], read: Reader, what: str
) -> list[dict[str, Any]]:
    """OBJS with postBuild substitution applied per object, as kustomize-controller does."""
    if not variables_:
        return objs
    try:
        subst.check_names(variables_)
    except subst.SubstitutionError as exc:
        raise GitOpsError(f"{what}: postBuild: {exc}") from exc
    out: list[dict[str, Any]] = []
    texts: list[tuple[str, str]] = []  # (object, its substituted YAML)
    for obj in objs:
        m = meta(obj)
        if (m.get("labels") or {}).get(subst.DISABLED_KEY) == "disabled" or (m.get("annotations") or {}).get(
            subst.DISABLED_KEY
        ) == "disabled":
            out.append(obj)
            continue
        text = yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=1 << 20)
        try:
            texts.append((step(obj), subst.substitute(text, variables_)))
        except subst.SubstitutionError as exc:
            raise GitOpsError(f"{what}: variable substitution failed in {step(obj)}: {exc}") from exc
    if texts:  # one read for the whole build; object by object only to name the one that does not read
        try:
            out.extend(read("---\n".join(text for _, text in texts), f"{what}: after substitution"))
        except GitOpsError:
            for name, text in texts:
                read(text, f"{what}: {name} after substitution")
            raise
    return out


class FluxExpander:
    """Expands one entry path into a Cluster, then hands its HelmReleases to RENDER_RELEASES."""

    def __init__(self, entry: Path, repos: Repos, read: Reader) -> None:
        self.entry = entry.resolve()
        self.repos = repos
        self.read = read
        self.cluster = Cluster()
        self.builder = Builder()
        self.releases: list[Item] = []
        self.done: set[str] = set()
        self.artifacts: dict[str, Path] = {}  # ExternalArtifact namespace/name -> its assembled directory

    def close(self) -> None:
        self.builder.close()

    def source_root(self, ks: dict[str, Any]) -> Path:
        ref = spec_of(ks).get("sourceRef") or {}
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        ns = str(ref.get("namespace") or namespace_of(ks))
        if kind not in ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"):
            raise GitOpsError(
                f"{step(ks)}: spec.sourceRef.kind {kind!r} is not GitRepository, OCIRepository, Bucket or ExternalArtifact"
            )
        return self.resolve(kind, ns, name, step(ks))

    def resolve(self, kind: str, ns: str, name: str, what: str) -> Path:
        """The root on this machine of source KIND NS/NAME (raises Deferred while it is not known yet)."""
        if self.cluster.implied(kind, ns, name):
            return self.repos.root.resolve()
        if kind == "ExternalArtifact":
            return self._artifact(ns, name, what)
        source = self.cluster.get(kind, ns, name)
        if source is None:
            raise Deferred(f"spec.sourceRef {kind} {ns}/{name} is defined nowhere in the repository")
        url = str(spec_of(source).get("url") or spec_of(source).get("endpoint") or "")
        if kind == "GitRepository":
            return self.repos.git(url).resolve()
        local = self.repos.local(url)
        if local is None:
            raise GitOpsError(
                f"{what}: source {kind} {ns}/{name} ({url}) is not on this machine; map it with --repo {url}=PATH (repos: in dsgate.yaml)"
            )
        return local.resolve()

    def _artifact(self, ns: str, name: str, what: str) -> Path:
        """ExternalArtifact NS/NAME assembled from the ArtifactGenerator that makes it (once)."""
        key = f"{ns}/{name}"
        if key not in self.artifacts:
            found = artifacts.generator_of([i.obj for i in self.cluster.items], ns, name)
            if found is None:
                raise Deferred(
                    f"spec.sourceRef ExternalArtifact {key}: no ArtifactGenerator in the repository makes it"
                )
            generator, artifact = found
            dest = self.builder.scratch() / f"artifact-{len(self.artifacts)}"
            self.artifacts[key] = artifacts.assemble(
                generator, artifact, lambda k, n, m: self.resolve(k, n, m, step(generator)), dest
            ).resolve()
        return self.artifacts[key]

    def expand(self) -> None:
        what = str(self.entry)
        if argo_entry(self.entry) and kustomization_file(self.entry) is None:
            objs = [
                obj
                for path in sorted(self.entry.iterdir())
                if path.is_file() and path.suffix in (".yaml", ".yml")
                for obj in self.read(path.read_text(), str(path))
            ]
        else:
            objs = self.read(
                self.builder.build(self.entry if self.entry.is_dir() else self.entry.parent, self.entry, {}, what),
                f"build {what}",
            )
        pending = self._add(objs, ())
        while pending:
            waiting: list[tuple[dict[str, Any], tuple[str, ...], str]] = []
            progress = False
            for ks, via in pending:
                try:
                    new = self._kustomization(ks, via)
                except Deferred as exc:
                    waiting.append((ks, via, str(exc)))
                    continue
                progress = True
                waiting.extend((k, v, "") for k, v in new)
            if not progress and waiting:
                ks, via, reason = waiting[0]
                raise GitOpsError(f"{' → '.join([*via, step(ks)])}: {reason}")
            pending = [(k, v) for k, v, _ in waiting]

    def _add(self, objs: list[dict[str, Any]], via: tuple[str, ...]) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
        found = []
        for obj in objs:
            self.cluster.add(obj, via)
            if is_kind(obj, FLUX_KUSTOMIZE, "Kustomization"):
                found.append((obj, via))
            elif is_kind(obj, FLUX_HELM, "HelmRelease"):
                self.releases.append(Item(obj, via))
        return found

    def _kustomization(self, ks: dict[str, Any], via: tuple[str, ...]) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
        spec = spec_of(ks)
        me = step(ks)
        if spec.get("suspend"):
            return []
        root = self.source_root(ks)
        path = (root / str(spec.get("path") or "./")).resolve()
        if path == self.entry and root == self.repos.root.resolve():
            return []  # the bootstrap Kustomization: it applies the entry path itself
        if me in (v.split(" (", 1)[0] for v in via):
            raise GitOpsError(f"Kustomization cycle: {' → '.join([*via, me])}")
        if me in self.done:
            return []  # reached again through another Kustomization: applied once
        self.done.add(me)
        vars_ = variables(ks, self.cluster)
        ref = spec.get("sourceRef") or {}
        implied = self.cluster.implied(
            str(ref.get("kind", "")), str(ref.get("namespace") or namespace_of(ks)), str(ref.get("name", ""))
        )
        chain = (*via, f"{me} ({IMPLIED})" if implied else me)
        what = " → ".join(chain)
        objs = self.read(self.builder.build(root, path, spec, what), f"kustomize build {path}")
        objs = apply_substitution(objs, vars_, self.read, what)
        return self._add(objs, chain)
