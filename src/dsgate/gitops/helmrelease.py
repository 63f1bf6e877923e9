"""Render a Flux HelmRelease (helm.toolkit.fluxcd.io/v2) as helm-controller would install it.

- The chart: spec.chart.spec (chart, version constraint, sourceRef HelmRepository / GitRepository)
  or spec.chartRef (OCIRepository, HelmChart), found offline: packages and unpacked charts in the
  chart store, or a path in a local checkout of the GitRepository.
- The values: valuesFrom in order (ConfigMap/Secret key, default `values.yaml`; with targetPath the
  value is set at that path as `helm --set` would, quoted values as strings; optional refs may be
  missing), then spec.values; maps merge deeply, anything else replaces (helm-controller's MergeMaps).
- The release: releaseName (default `[<targetNamespace>-]<name>`), targetNamespace (default the
  HelmRelease's namespace), install.crds (Skip leaves the chart's crds/ out), then the kustomize
  post-renderers (patches, images), and every namespaced object lands in the release namespace.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dsgate import rundir, yamlc
from dsgate.gate.render import HelmBatch, RenderError, helm_template, run_render_tool
from dsgate.gitops.charts import ChartStore, missing_dependencies
from dsgate.gitops.flux import Cluster, Reader
from dsgate.gitops.objects import CLUSTER_SCOPED, GitOpsError, data_of, name_of, namespace_of, spec_of, step
from dsgate.gitops.repos import Repos
from dsgate.tools import tool_path


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """OVER merged into BASE: maps merge key by key, any other value replaces (helm-controller MergeMaps)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


_SEGMENT = re.compile(r"^(?P<key>.*?)(?:\[(?P<index>\d+)\])?$")


def _typed(value: str) -> Any:
    """helm strvals' reading of an unquoted --set value."""
    if value == "true":
        return True
    if value == "false":
        return False
    if value == "null":
        return None
    if re.fullmatch(r"-?(0|[1-9]\d*)", value):
        return int(value)
    return value


def set_path(values: dict[str, Any], path: str, raw: str) -> None:
    """Set RAW at the dotted PATH (`a.b[0].c`, `\\.` escapes a dot) as helm-controller's targetPath does."""
    quoted = len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""
    value: Any = raw.strip("'\"") if quoted else _typed(raw)
    parts = [p.replace("\0", ".") for p in path.replace("\\.", "\0").split(".")]
    current: Any = values
    for i, part in enumerate(parts):
        m = _SEGMENT.match(part)
        assert m is not None
        key, index = m.group("key"), m.group("index")
        last = i == len(parts) - 1
        if not isinstance(current, dict):
            raise GitOpsError(f"targetPath {path!r}: {'.'.join(parts[:i])} is not a map")
        if index is None:
            if last:
                current[key] = value
            else:
                if not isinstance(current.get(key), dict):
                    current[key] = {}
                current = current[key]
            continue
        existing = current.get(key)
        seq: list[Any] = existing if isinstance(existing, list) else []
        current[key] = seq
        n = int(index)
        while len(seq) <= n:
            seq.append(None)
        if last:
            seq[n] = value
        else:
            if not isinstance(seq[n], dict):
                seq[n] = {}
            current = seq[n]


def release_values(hr: dict[str, Any], cluster: Cluster) -> dict[str, Any]:
    """The values helm-controller would install HR with."""
    spec = spec_of(hr)
    ns = namespace_of(hr, "default")
    result: dict[str, Any] = {}
    for ref in spec.get("valuesFrom") or []:
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        key = str(ref.get("valuesKey") or "values.yaml")
        if kind not in ("ConfigMap", "Secret"):
            raise GitOpsError(f"{step(hr)}: valuesFrom kind {kind!r} is not ConfigMap or Secret")
        obj = cluster.get(kind, ns, name)
        data = data_of(obj) if obj is not None else {}
        if obj is None or key not in data:
            if ref.get("optional"):
                continue
            missing = f"{kind} {ns}/{name}" if obj is None else f"key {key!r} of {kind} {ns}/{name}"
            raise GitOpsError(
                f"{step(hr)}: valuesFrom {missing} is defined nowhere in the repository (mark it optional: true if it may be absent)"
            )
        if ref.get("targetPath"):
            set_path(result, str(ref["targetPath"]), data[key])
            continue
        try:
            parsed = yamlc.safe_load(data[key]) or {}
        except yaml.YAMLError as exc:
            raise GitOpsError(f"{step(hr)}: valuesFrom {kind} {ns}/{name} key {key!r} is not YAML: {exc}") from exc
        if not isinstance(parsed, dict):
            raise GitOpsError(f"{step(hr)}: valuesFrom {kind} {ns}/{name} key {key!r} is not a map of values")
        result = merge(result, parsed)
    return merge(result, spec.get("values") or {})


def release_name(hr: dict[str, Any]) -> str:
    spec = spec_of(hr)
    if spec.get("releaseName"):
        return str(spec["releaseName"])
    return f"{spec['targetNamespace']}-{name_of(hr)}" if spec.get("targetNamespace") else name_of(hr)


class ChartResolver:
    """Finds the chart a HelmRelease installs, offline."""

    def __init__(self, store: ChartStore, repos: Repos, cluster: Cluster) -> None:
        self.store, self.repos, self.cluster = store, repos, cluster

    def _source(self, hr: dict[str, Any], ref: dict[str, Any], field: str) -> dict[str, Any]:
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        ns = str(ref.get("namespace") or namespace_of(hr, "default"))
        if self.cluster.implied(kind, ns, name):
            return {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": kind,
                "metadata": {"name": name, "namespace": ns},
                "spec": {"url": ""},
            }
        obj = self.cluster.get(kind, ns, name)
        if obj is None:
            raise GitOpsError(f"{step(hr)}: {field} {kind} {ns}/{name} is defined nowhere in the repository")
        return obj

    def _from_store(self, hr: dict[str, Any], chart: str, constraint: str, url: str) -> Path:
        return self.store.require(step(hr), chart, constraint, url)

    def _chart_spec(self, hr: dict[str, Any], cs: dict[str, Any]) -> Path:
        chart, constraint = str(cs.get("chart", "")), str(cs.get("version") or "*")
        source = self._source(hr, cs.get("sourceRef") or {}, "spec.chart.spec.sourceRef")
        url = str(spec_of(source).get("url", ""))
        if source.get("kind") == "HelmRepository":
            full = f"{url.rstrip('/')}/{chart}"
            return self._from_store(hr, chart, constraint, full)
        if source.get("kind") == "GitRepository":
            root = self.repos.git(url)
            path = (root / chart).resolve()
            if not (path / "Chart.yaml").is_file():
                raise GitOpsError(
                    f"{step(hr)}: chart path {chart!r} has no Chart.yaml in {root} (the checkout of {url}); map the repository with --repo {url}=PATH"
                )
            return path
        raise GitOpsError(
            f"{step(hr)}: chart source kind {source.get('kind')!r} is not supported offline (use HelmRepository, GitRepository or OCIRepository)"
        )

    def implied(self, hr: dict[str, Any]) -> bool:
        """HR's chart comes from flux bootstrap's GitRepository, absent here (the repository under check)."""
        ref = ((spec_of(hr).get("chart") or {}).get("spec") or {}).get("sourceRef") or {}
        ns = str(ref.get("namespace") or namespace_of(hr, "default"))
        return self.cluster.implied(str(ref.get("kind", "")), ns, str(ref.get("name", "")))

    def resolve(self, hr: dict[str, Any]) -> Path:
        spec = spec_of(hr)
        if spec.get("chartRef"):
            ref = spec["chartRef"]
            source = self._source(hr, ref, "spec.chartRef")
            if source.get("kind") == "HelmChart":
                return self._chart_spec(hr, spec_of(source))
            if source.get("kind") != "OCIRepository":
                raise GitOpsError(
                    f"{step(hr)}: spec.chartRef kind {source.get('kind')!r} is not OCIRepository or HelmChart"
                )
            url = str(spec_of(source).get("url", ""))
            local = self.repos.local(url)
            if local is not None and (local / "Chart.yaml").is_file():
                return local
            oci_ref = spec_of(source).get("ref") or {}
            constraint = str(oci_ref.get("semver") or oci_ref.get("tag") or "*")
            if oci_ref.get("digest") and not (oci_ref.get("semver") or oci_ref.get("tag")):
                raise GitOpsError(
                    f"{step(hr)}: OCIRepository {url} is pinned by digest only; map it to a chart directory with --repo {url}=PATH"
                )
            return self._from_store(
                hr, url.rstrip("/").rsplit("/", 1)[-1], "*" if constraint == "latest" else constraint, url
            )
        if spec.get("chart") and (spec["chart"].get("spec")):
            return self._chart_spec(hr, spec["chart"]["spec"])
        raise GitOpsError(f"{step(hr)}: neither spec.chart.spec nor spec.chartRef names a chart")


def post_render(text: str, renderers: list[dict[str, Any]], what: str) -> str:
    """Apply the kustomize post-renderers (patches, images) to a rendered release, as helm-controller does."""
    for renderer in renderers:
        kust = renderer.get("kustomize") or {}
        if not kust:
            continue
        with tempfile.TemporaryDirectory(prefix="dsgate-postrender-", dir=rundir.path()) as tmp:
            Path(tmp, "release.yaml").write_text(text)
            k: dict[str, Any] = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["release.yaml"],
            }
            if kust.get("patches"):
                k["patches"] = kust["patches"]
            if kust.get("images"):
                k["images"] = kust["images"]
            Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(k, sort_keys=False))
            proc = run_render_tool([str(tool_path("kustomize")), "build", tmp])
            if proc.returncode != 0:
                raise GitOpsError(
                    f"{what}: postRenderers kustomize failed: {proc.stderr.strip().replace(tmp, '<release>')}"
                )
            text = proc.stdout
    return text


def render_release(
    hr: dict[str, Any],
    via: tuple[str, ...],
    resolver: ChartResolver,
    read: Reader,
    batch: HelmBatch | None,
    kube_version: str | None = None,
) -> list[dict[str, Any]]:
    """The objects HR installs."""
    spec = spec_of(hr)
    what = " → ".join([*via, step(hr)])
    chart = resolver.resolve(hr)
    values = release_values(hr, resolver.cluster)
    namespace = str(spec.get("targetNamespace") or namespace_of(hr, "default"))
    crds = str(((spec.get("install") or {}).get("crds")) or "Create")
    names = ((spec.get("chart") or {}).get("spec") or {}).get("valuesFiles") or []
    if names and not chart.is_dir():
        raise GitOpsError(
            f"{what}: spec.chart.spec.valuesFiles reads files inside the chart; dsgate reads them from an unpacked chart, not {chart.name}"
        )
    values_files = [chart / f for f in names]
    try:
        rendered = helm_template(
            chart,
            values=values,
            values_files=values_files,
            release=release_name(hr),
            namespace=namespace,
            kube_version=kube_version,
            include_crds=crds != "Skip",
            batch=batch,
        )
    except RenderError as exc:
        missing = missing_dependencies(step(hr), chart, str(exc), resolver.store.dirs) if chart.is_dir() else None
        raise missing or GitOpsError(f"{what}: {exc}") from exc
    renderers = [r for r in spec.get("postRenderers") or [] if r.get("kustomize")]
    if renderers or rendered.objects is None:
        objs = read(post_render(rendered.text, renderers, what), f"{what}: rendered chart {chart.name}")
    else:
        objs = [obj for _, obj in rendered.objects if obj is not None]
    for obj in objs:
        if (
            obj.get("kind") not in CLUSTER_SCOPED
            and isinstance(obj.get("metadata"), dict)
            and not obj["metadata"].get("namespace")
        ):
            obj["metadata"]["namespace"] = namespace
    return objs


ReleaseRenderer = Callable[[dict[str, Any], tuple[str, ...]], list[dict[str, Any]]]
