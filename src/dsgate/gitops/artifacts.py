"""Flux ExternalArtifacts made by an ArtifactGenerator (source-watcher, `source.extensions.fluxcd.io`),
assembled offline as the generator would.

An ArtifactGenerator names sources by alias (GitRepository, OCIRepository, Bucket) and, per artifact,
`copy` operations from `@alias/<path or glob>` to `@artifact/<path>`: a glob copies the files it
matches, each kept at its path below the glob's fixed prefix (`@repo/apps/**` to `@artifact/`
copies the contents of apps/); a directory is copied with its name into a destination ending in `/`;
a file goes into such a directory, or to the destination path itself. `exclude` globs leave files
out. Only the default `Overwrite` strategy is rendered; another is an error naming it. A
Kustomization whose sourceRef is an ExternalArtifact is built from that assembled directory.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsgate.gitops.objects import GitOpsError, is_kind, namespace_of, spec_of, step

GROUP = "source.extensions.fluxcd.io"

# (kind, namespace, name) of a source -> its root on this machine (flux.FluxExpander.resolve)
Resolve = Callable[[str, str, str], Path]


def generator_of(objs: list[dict[str, Any]], namespace: str, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the ArtifactGenerator, its artifact entry) that makes ExternalArtifact NAMESPACE/NAME."""
    for obj in objs:
        if is_kind(obj, GROUP, "ArtifactGenerator") and namespace_of(obj) == namespace:
            for artifact in spec_of(obj).get("artifacts") or []:
                if isinstance(artifact, dict) and artifact.get("name") == name:
                    return obj, artifact
    return None


def _split(pattern: str) -> tuple[str, str]:
    """(fixed prefix, rest) of a path pattern: the rest starts at the first segment with a wildcard."""
    parts = pattern.strip("/").split("/")
    for i, part in enumerate(parts):
        if any(c in part for c in "*?["):
            return "/".join(parts[:i]), "/".join(parts[i:])
    return "/".join(parts), ""


def _glob(pattern: str) -> re.Pattern[str]:
    """PATTERN as a path glob: `**` any depth, `*` and `?` within one segment."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _matches(rel: str, pattern: str) -> bool:
    return _glob(pattern).match(rel) is not None


def assemble(generator: dict[str, Any], artifact: dict[str, Any], resolve: Resolve, dest: Path) -> Path:
    """Write ARTIFACT of GENERATOR into DEST (created); return DEST."""
    what = f"{step(generator)} artifact {artifact.get('name')}"
    ns = namespace_of(generator)
    aliases: dict[str, Path] = {}
    for source in spec_of(generator).get("sources") or []:
        kind, name = str(source.get("kind", "")), str(source.get("name", ""))
        aliases[str(source.get("alias", ""))] = resolve(kind, str(source.get("namespace") or ns), name)
    dest.mkdir(parents=True, exist_ok=True)
    for op in artifact.get("copy") or []:
        strategy = str(op.get("strategy") or "Overwrite")
        if strategy != "Overwrite":
            raise GitOpsError(f"{what}: copy strategy {strategy!r} is not rendered offline (only Overwrite)")
        src, to = str(op.get("from", "")), str(op.get("to", ""))
        if not src.startswith("@") or not to.startswith("@artifact"):
            raise GitOpsError(f"{what}: copy from {src!r} to {to!r}: expected from @alias/... and to @artifact/...")
        alias, _, pattern = src[1:].partition("/")
        if alias not in aliases:
            raise GitOpsError(f"{what}: copy from {src!r} names @{alias}, which spec.sources does not declare")
        root = aliases[alias]
        target = to.removeprefix("@artifact").lstrip("/")
        into_dir = to.endswith("/") or not target
        excludes = [str(e) for e in op.get("exclude") or []]
        fixed, rest = _split(pattern)
        base = (root / fixed).resolve()
        if not base.is_relative_to(root.resolve()):
            raise GitOpsError(f"{what}: copy from {src!r} leaves the source")
        if rest:
            files = [p for p in sorted(base.rglob("*")) if p.is_file() and _matches(str(p.relative_to(base)), rest)]
            pairs = [(p, dest / target / p.relative_to(base)) for p in files]
        elif base.is_dir():
            pairs = [
                (p, dest / target / base.name / p.relative_to(base)) for p in sorted(base.rglob("*")) if p.is_file()
            ]
        elif base.is_file():
            pairs = [(base, dest / target / base.name if into_dir else dest / target)]
        else:
            raise GitOpsError(f"{what}: copy from {src!r}: {fixed or '.'} is not in the source ({root})")
        for source_file, out in pairs:
            rel = str(source_file.relative_to(root))
            if any(fnmatch.fnmatchcase(rel, e) or fnmatch.fnmatchcase(source_file.name, e) for e in excludes):
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_file, out)
    return dest
