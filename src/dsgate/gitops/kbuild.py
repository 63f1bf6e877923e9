"""Build a directory with the pinned kustomize as Flux's kustomize-controller does.

Flux generates a kustomization.yaml when the path has none (every YAML manifest below it; a
subdirectory with its own kustomization file is one resource), then writes the Kustomization's
targetNamespace, patches, images, namePrefix/nameSuffix and components into it, and builds with
plugins off and no load restrictions. It refuses `helmCharts`. dsgate does the same in a private copy
of the source, so the repository is never modified.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from dsgate import rundir, yamlc
from dsgate.gate.render import run_render_tool
from dsgate.gate.sources import KUSTOMIZATION_FILES, SKIP_DIRS, kustomization_file
from dsgate.gitops.objects import GitOpsError
from dsgate.tools import tool_path

# Flux Kustomization fields written into the kustomization file, and where they go.
FLUX_FIELDS = ("targetNamespace", "patches", "images", "namePrefix", "nameSuffix", "components")


def _generated(directory: Path) -> dict[str, Any]:
    resources: list[str] = []

    def walk(d: Path) -> None:
        for path in sorted(d.iterdir()):
            if path.is_dir():
                if path.name in SKIP_DIRS or path.name.startswith("."):
                    continue
                if kustomization_file(path) is not None:
                    resources.append(str(path.relative_to(directory)))
                else:
                    walk(path)
            elif path.suffix in (".yaml", ".yml") and path.name not in KUSTOMIZATION_FILES:
                try:
                    docs = [d for d in yamlc.safe_load_all(path.read_text()) if d is not None]
                except yaml.YAMLError as exc:
                    raise GitOpsError(f"{path}: failed to decode Kubernetes YAML: {exc}") from exc
                if docs and all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in docs):
                    resources.append(str(path.relative_to(directory)))

    walk(directory)
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}


def _merge_flux_fields(kus: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(kus)
    if spec.get("targetNamespace"):
        out["namespace"] = spec["targetNamespace"]
    if spec.get("patches"):
        out["patches"] = [*(out.get("patches") or []), *spec["patches"]]
    for image in spec.get("images") or []:
        images = [i for i in (out.get("images") or []) if i.get("name") != image.get("name")]
        out["images"] = [*images, {k: v for k, v in image.items() if k in ("name", "newName", "newTag", "digest")}]
    for key in ("namePrefix", "nameSuffix"):
        if spec.get(key):
            out[key] = spec[key]
    if spec.get("components"):
        out["components"] = [*(out.get("components") or []), *spec["components"]]
    return out


class Builder:
    """Builds paths of source roots; copies a root once, on the first build that must change a file."""

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._copies: dict[Path, Path] = {}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def scratch(self) -> Path:
        """A private directory that lives until close()."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dsgate-flux-", dir=rundir.path())
        return Path(self._tmp.name)

    def _copy(self, root: Path) -> Path:
        if root not in self._copies:
            dest = self.scratch() / str(len(self._copies))
            shutil.copytree(root, dest, symlinks=True, ignore=shutil.ignore_patterns(*SKIP_DIRS))
            self._copies[root] = dest
        return self._copies[root]

    def build(self, root: Path, path: Path, spec: dict[str, Any], what: str) -> str:
        """kustomize build of PATH (inside ROOT) with the Flux Kustomization SPEC applied."""
        if not path.is_dir():
            raise GitOpsError(
                f"{what}: spec.path {path.relative_to(root) if path.is_relative_to(root) else path} is not a directory in {root}"
            )
        existing = kustomization_file(path)
        kus: dict[str, Any] = {}
        if existing is not None:
            try:
                kus = yamlc.safe_load(existing.read_text()) or {}
            except yaml.YAMLError as exc:
                raise GitOpsError(f"{existing}: malformed YAML: {exc}") from exc
            if kus.get("helmCharts"):
                raise GitOpsError(
                    f"{what}: {existing} uses helmCharts, which Flux's kustomize-controller refuses; use a HelmRelease"
                )
        changes = any(spec.get(k) for k in FLUX_FIELDS)
        target = path
        if existing is None or changes:
            target = self._copy(root) / path.relative_to(root)
            new = _merge_flux_fields(kus if existing is not None else _generated(path), spec)
            for name in KUSTOMIZATION_FILES:
                (target / name).unlink(missing_ok=True)
            (target / "kustomization.yaml").write_text(yaml.safe_dump(new, sort_keys=False))
        cmd = [str(tool_path("kustomize")), "build", "--load-restrictor", "LoadRestrictionsNone", str(target)]
        proc = run_render_tool(cmd)
        if existing is None or changes:
            # the copy serves later builds: put the file back as the repository has it
            (target / "kustomization.yaml").unlink()
            if existing is not None:
                shutil.copy2(existing, target / existing.name)
        if proc.returncode != 0:
            raise GitOpsError(
                f"{what}: kustomize build {path} failed: {proc.stderr.strip().replace(str(target), str(path))}"
            )
        return proc.stdout
