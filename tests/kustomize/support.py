"""Discovery, building and inspection of the kustomizations under kustomize/ (real kustomize + helm).

Everything the kustomize tests need goes through here:
- `discover()` finds every kustomization (none is hard-listed);
- `build()` runs the real `kustomize build --enable-helm` (dsgate.gate.render) once per directory and
  process, and `check_render()` is the single place a build's documents are checked;
- `write_kustomization()` writes throw-away stacks (base + components) in a temporary directory;
- `unmatched_patch_targets()` finds `patches:` whose explicit target selects nothing, which kustomize
  itself silently accepts (see test_kustomize_bad_input.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from dsgate import yamlc
from dsgate.gate.documents import Document, Provenance, Render, parse_stream
from dsgate.gate.render import kustomize_build_text
from dsgate.gate.sources import kustomization_file
from dsgate.gate.validate import Validator
from dsgate.versions import pinned
from tests.support import KUSTOMIZE, NEWEST_KUBE, REPO, by_kind

# The Kubernetes version built-in kinds are validated against (strict: unknown fields are errors).
KUBE_VERSION = NEWEST_KUBE
# API groups served by CRDs, not by Kubernetes itself: validated against the cached CRD schemas.
CRD_GROUPS = frozenset({"monitoring.coreos.com", "autoscaling.k8s.io"})
# Component annotation naming the base(s) a component needs, space or comma separated.
REQUIRES_BASES = "dsgate.io/requires-bases"

Obj = dict[str, Any]


# ---------------------------------------------------------------- discovery


@dataclass(frozen=True)
class Kustomization:
    """One kustomization directory under kustomize/ and its parsed kustomization file."""

    path: Path
    doc: Mapping[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def rel(self) -> str:
        return self.path.relative_to(KUSTOMIZE).as_posix()

    @property
    def is_component(self) -> bool:
        return self.doc.get("kind") == "Component"

    @property
    def is_base(self) -> bool:
        return self.rel.startswith("bases/")

    @property
    def is_overlay(self) -> bool:
        return self.rel.startswith("overlays/")

    @property
    def requires_bases(self) -> tuple[str, ...]:
        """Bases a component needs together ((), when it applies to any base on its own)."""
        annotations = (self.doc.get("metadata") or {}).get("annotations") or {}
        return (
            tuple(re.split(r"[\s,]+", annotations.get(REQUIRES_BASES, "").strip()))
            if annotations.get(REQUIRES_BASES)
            else ()
        )


def load_kustomization(directory: Path) -> Kustomization:
    path = kustomization_file(directory)
    if path is None:
        raise FileNotFoundError(f"{directory}: no kustomization file")
    doc = yamlc.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a mapping")
    return Kustomization(directory, doc)


def discover(root: Path = KUSTOMIZE) -> list[Kustomization]:
    """Every kustomization (Kustomization or Component) below ROOT, sorted by path.

    `charts/` directories are skipped: kustomize may pull charts there (gitignored).
    """
    return list(_discover(root))


@functools.cache
def _discover(root: Path) -> tuple[Kustomization, ...]:
    found: list[Kustomization] = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "charts" and not d.startswith("."))
        if kustomization_file(Path(dirpath)) is not None:
            found.append(load_kustomization(Path(dirpath)))
    return tuple(sorted(found, key=lambda k: k.rel))


def buildables() -> list[Kustomization]:
    return [k for k in discover() if not k.is_component]


def components() -> list[Kustomization]:
    return [k for k in discover() if k.is_component]


def bases() -> dict[str, Kustomization]:
    """Base name (its directory name, the agent) -> base."""
    return {k.path.name: k for k in discover() if k.is_base and not k.is_component}


def overlays() -> list[Kustomization]:
    return [k for k in discover() if k.is_overlay and not k.is_component]


def component_stacks() -> list[tuple[Kustomization, tuple[str, ...]]]:
    """(component, base names) for every component: each base alone, or the bases it requires."""
    names = sorted(bases())
    out: list[tuple[Kustomization, tuple[str, ...]]] = []
    for comp in components():
        if comp.requires_bases:
            out.append((comp, tuple(comp.requires_bases)))
        else:
            out.extend((comp, (name,)) for name in names)
    return out


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class Build:
    """The bytes kustomize printed and the parsed documents."""

    text: str
    render: Render

    @property
    def objects(self) -> list[Obj]:
        return self.render.objects


# `stack_build(component, base_names)` -> (directory, build): the session fixture in conftest.py.
StackBuild = Callable[["Kustomization", tuple[str, ...]], tuple[Path, Build]]

_BUILDS: dict[Path, Build] = {}
# A directory shared by the pytest-xdist workers of one session (set by conftest.py): a build's
# bytes are stored there under a digest of everything it depends on, so the workers do not each
# rebuild the same kustomization. None: per-process caching only.
SHARED_CACHE: Path | None = None


def _digest_tree(digest: Any, root: Path) -> None:
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(files):
            path = Path(dirpath, name)
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")


def _build_key(directory: Path) -> str:
    """Digest of what a build of DIRECTORY reads: itself, kustomize/ and charts/.

    A directory outside the repository (a test's temporary stack) is identified by its content
    only, so the workers' copies of the same stack share one build.
    """
    digest = hashlib.sha256()
    digest.update(str(directory.relative_to(REPO)).encode() if directory.is_relative_to(REPO) else b"<outside>")
    for root in (directory, KUSTOMIZE, REPO / "charts"):
        _digest_tree(digest, root)
    return digest.hexdigest()


def _build_text(directory: Path) -> str:
    if SHARED_CACHE is None:
        return kustomize_build_text(directory)
    cached = SHARED_CACHE / _build_key(directory)
    if cached.is_file():
        return cached.read_text()
    text = kustomize_build_text(directory)
    SHARED_CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(cached)
    return text


def build(directory: Path) -> Build:
    """Build DIRECTORY with the real kustomize (cached per session; RenderError is not cached)."""
    directory = directory.resolve()
    if directory not in _BUILDS:
        # What dsgate.render.render_kustomization does, keeping the exact bytes for determinism checks.
        text = _build_text(directory)
        prov = Provenance(
            source=str(directory), kind="kustomize", overlay=str(directory), helm_version=pinned()["HELM_VERSION"]
        )
        _BUILDS[directory] = Build(
            text, Render(provenance=prov, documents=parse_stream(text, f"kustomize build {directory}", prov))
        )
    return _BUILDS[directory]


def rebuild_text(directory: Path) -> str:
    """A fresh build's bytes (never from a cache)."""
    return kustomize_build_text(directory.resolve())


def write_kustomization(directory: Path, doc: Obj, files: Mapping[str, str] | None = None) -> Path:
    """Write DOC as DIRECTORY/kustomization.yaml (plus FILES); return DIRECTORY.

    Paths in `resources` and `components` may be absolute: kustomize refuses absolute roots, so they
    are rewritten relative to DIRECTORY.
    """
    directory.mkdir(parents=True, exist_ok=True)
    doc = dict(doc)
    for key in ("resources", "components"):
        if key in doc:
            doc[key] = [os.path.relpath(p, directory) if Path(str(p)).is_absolute() else str(p) for p in doc[key]]
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for name, text in (files or {}).items():
        (directory / name).write_text(text)
    return directory


def stack(directory: Path, base_names: tuple[str, ...], component_dirs: tuple[Path, ...]) -> Path:
    """A kustomization in DIRECTORY: the named bases plus the components, in order."""
    all_bases = bases()
    doc: Obj = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [str(all_bases[name].path) for name in base_names],
    }
    if component_dirs:
        doc["components"] = [str(p) for p in component_dirs]
    return write_kustomization(directory, doc)


# ---------------------------------------------------------------- checking a render


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


_CRD_VALIDATOR: Validator | None = None
# Validation is the slow part (kubernetes-validate loads the schema on every call) and most objects
# recur unchanged across builds: results are cached per object content.
_SCHEMA_CACHE: dict[str, list[str]] = {}


def _document_schema_errors(doc: Document) -> list[str]:
    global _CRD_VALIDATOR
    if _group(doc.api_version) in CRD_GROUPS:
        if _CRD_VALIDATOR is None:
            _CRD_VALIDATOR = Validator([KUBE_VERSION])
        return [str(e) for e in _CRD_VALIDATOR.validate(doc)]
    try:
        kubernetes_validate.validate(doc.obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{doc.ref}: no Kubernetes {KUBE_VERSION} schema for {doc.api_version}/{doc.kind}"]
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        return [f"{doc.ref} at {where or '<root>'}: {exc.message}"]
    return []


def schema_errors(render: Render) -> list[str]:
    """Strict schema errors of every document: built-in kinds with kubernetes-validate, CRD kinds
    (ServiceMonitor, ...) against the real CRDs through dsgate.validate."""
    errors: list[str] = []
    for doc in render.documents:
        key = json.dumps(doc.obj, sort_keys=True)
        if key not in _SCHEMA_CACHE:
            _SCHEMA_CACHE[key] = _document_schema_errors(doc)
        errors += _SCHEMA_CACHE[key]
    return errors


CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "CustomResourceDefinition"}
)


def completeness_errors(render: Render) -> list[str]:
    """A build must not be empty or partial: it has a DaemonSet, and every namespaced object's
    namespace is created by the same build."""
    errors: list[str] = []
    if not any(d.kind == "DaemonSet" for d in render.documents):
        errors.append(f"{render.provenance.source}: no DaemonSet in the build")
    namespaces = {d.name for d in render.documents if d.kind == "Namespace"}
    for doc in render.documents:
        if doc.kind in CLUSTER_SCOPED:
            continue
        if not doc.namespace:
            errors.append(f"{doc.ref}: namespaced object without a namespace")
        elif doc.namespace not in namespaces:
            errors.append(f"{doc.ref}: namespace {doc.namespace!r} is not created by this build")
    return errors


def check_render(render: Render) -> list[str]:
    """Every problem of one build, empty when it is good. The one place builds are checked.

    The coordinator's policy gate slots in here (zero denies), e.g.
    `errors += [str(f) for f in gate(render).denies]`.
    """
    return schema_errors(render) + completeness_errors(render)


# ---------------------------------------------------------------- inspecting objects


def daemonsets(objs: list[Obj]) -> dict[str, Obj]:
    """namespace/name -> DaemonSet."""
    return {f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o for o in by_kind(objs, "DaemonSet")}


def agent(obj: Obj) -> str:
    return str((obj.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name", ""))


# ---------------------------------------------------------------- patch targets kustomize ignores


# ---------------------------------------------------------------- README tree


def layout_tree(root: Path = KUSTOMIZE) -> str:
    """The directory tree of ROOT (directories first, then files; charts/ caches skipped), as in
    kustomize/README.md between its tree markers."""
    lines = [root.name + "/"]

    def walk(directory: Path, prefix: str) -> None:
        entries = sorted(
            (p for p in directory.iterdir() if p.name != "charts" and not p.name.startswith(".")),
            key=lambda p: (not p.is_dir(), p.name),
        )
        for i, path in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{path.name}{'/' if path.is_dir() else ''}")
            if path.is_dir():
                walk(path, prefix + ("    " if last else "│   "))

    walk(root, "")
    return "\n".join(lines)
