"""GitOps benchmark (`make bench`): a synthetic Flux repository of N clusters x 70 HelmReleases (the
project's two charts, from a GitRepository and as packaged charts from a HelmRepository, values from
ConfigMaps, every third release with a kustomize post-renderer) plus Kustomizations, gated with
`dsgate check`, first one cluster, then all three.

Prints wall time, CPU time (every process of the tree) and the peak resident memory of the whole process tree (dsgate, helm-batch,
kustomize, OPA; sampled every 50 ms from /proc). Goal: 3 clusters in <= 60 s, <= 1 GiB, linear growth.
Not a test: nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from dsgate.paths import REPO_ROOT
from dsgate.tools import tool_path
from dsgate.versions import kube_target_versions
from proctree import tree_rss

REPO = REPO_ROOT
CHARTS = REPO / "charts"
SELF_URL = "https://git.example.com/bench/fleet"
DSGATE_URL = "https://github.com/dsgate/dsgate"
# scenarios that render on their own (no object they expect to exist elsewhere)
SCENARIOS = {
    "node-exporter": ["default", "hardened", "large-cluster", "minimal", "on-delete", "no-host-network"],
    "fluentd": ["default", "containerd", "cri-o", "docker", "hardened", "large-cluster"],
}


def _dump(path: Path, docs: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _ks(name: str, path: str, extra: dict[str, object] | None = None) -> dict[str, object]:
    spec: dict[str, object] = {
        "interval": "10m",
        "path": path,
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }
    spec.update(extra or {})
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": spec,
    }


def generate(root: Path, clusters: int, releases: int) -> None:
    """The synthetic fleet repository at ROOT."""
    _dump(
        root / "infrastructure/sources.yaml",
        [
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "dsgate", "namespace": "flux-system"},
                "spec": {"url": DSGATE_URL, "ref": {"branch": "main"}},
            },
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "dsgate-charts", "namespace": "flux-system"},
                "spec": {"url": "https://charts.example.com/dsgate"},
            },
        ],
    )
    for c in range(1, clusters + 1):
        name = f"c{c}"
        cdir = root / "clusters" / name
        _dump(
            cdir / "flux-system/gotk-sync.yaml",
            [
                {
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "metadata": {"name": "flux-system", "namespace": "flux-system"},
                    "spec": {"url": SELF_URL},
                },
                _ks("flux-system", f"./clusters/{name}"),
            ],
        )
        (cdir / "flux-system/kustomization.yaml").write_text("resources: [gotk-sync.yaml]\n")
        _dump(
            cdir / "vars.yaml",
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "cluster-vars", "namespace": "flux-system"},
                    "data": {"cluster": name},
                }
            ],
        )
        _dump(
            cdir / "kustomizations.yaml",
            [
                _ks("infrastructure", "./infrastructure"),
                _ks(
                    "apps",
                    f"./apps/{name}",
                    {"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"}]}},
                ),
            ],
        )
        app_docs: list[dict[str, object]] = []
        for i in range(releases):
            chart = "node-exporter" if i % 2 == 0 else "fluentd"
            scenario = SCENARIOS[chart][(i // 2) % len(SCENARIOS[chart])]
            ns, rel = f"team-{i:02d}", f"{chart[:2]}-{i:02d}"
            values_file = CHARTS / chart / "ci" / f"{scenario}-values.yaml"
            values_text = values_file.read_text() if values_file.is_file() else "{}\n"
            chart_spec: dict[str, object]
            if i % 3 == 0:  # a packaged chart from the Helm repository
                chart_spec = {
                    "chart": chart,
                    "version": ">=0.1.0",
                    "sourceRef": {"kind": "HelmRepository", "name": "dsgate-charts", "namespace": "flux-system"},
                }
            else:
                chart_spec = {
                    "chart": f"./charts/{chart}",
                    "sourceRef": {"kind": "GitRepository", "name": "dsgate", "namespace": "flux-system"},
                }
            spec: dict[str, object] = {
                "interval": "30m",
                "chart": {"spec": chart_spec},
                "valuesFrom": [{"kind": "ConfigMap", "name": f"{rel}-values"}],
                "values": {"commonLabels": {"fleet.example.com/cluster": "${cluster}"}},
            }
            if i % 3 == 1:
                patch = [
                    {"op": "add", "path": "/metadata/annotations", "value": {"fleet.example.com/post-rendered": "yes"}}
                ]
                spec["postRenderers"] = [
                    {"kustomize": {"patches": [{"target": {"kind": "DaemonSet"}, "patch": yaml.safe_dump(patch)}]}}
                ]
            app_docs += [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"{rel}-values", "namespace": ns},
                    "data": {"values.yaml": values_text},
                },
                {
                    "apiVersion": "helm.toolkit.fluxcd.io/v2",
                    "kind": "HelmRelease",
                    "metadata": {"name": rel, "namespace": ns},
                    "spec": spec,
                },
            ]
        _dump(root / "apps" / name / "releases.yaml", app_docs)


def measure(args: list[str], cwd: Path) -> tuple[float, int, int, float]:
    """(wall seconds, peak tree RSS bytes, exit code, CPU seconds of the whole tree) of `dsgate check ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dsgate.cli", "check", "--no-config", "--format", "json", "-o", os.devnull, *args],
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every descendant, reaped, is counted here
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode == 2:
        raise SystemExit(f"dsgate check {' '.join(args)} failed: {err[-3000:]}")
    return wall, peak, proc.returncode, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--releases", type=int, default=70)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsgate-bench-gitops-") as tmp:
        root = Path(tmp) / "fleet"
        generate(root, args.clusters, args.releases)
        store = Path(tmp) / "charts"
        for chart in SCENARIOS:
            subprocess.run(
                [str(tool_path("helm")), "package", str(CHARTS / chart), "-d", str(store)],
                check=True,
                capture_output=True,
            )
        common = [
            "--charts",
            str(store),
            "--repo",
            f"{DSGATE_URL}={REPO}",
            "--kube-version",
            kube_target_versions()[-1],
        ]
        one = measure([*common, "clusters/c1"], root)
        alls = measure([*common, "."], root)
    figures = {
        "releases_per_cluster": args.releases,
        "one_cluster": {
            "wall_s": round(one[0], 1),
            "cpu_s": round(one[3], 1),
            "peak_rss_mib": round(one[1] / 2**20),
            "exit": one[2],
        },
        f"{args.clusters}_clusters": {
            "wall_s": round(alls[0], 1),
            "cpu_s": round(alls[3], 1),
            "peak_rss_mib": round(alls[1] / 2**20),
            "exit": alls[2],
        },
        "growth_wall": round(alls[0] / one[0], 2),
        "growth_cpu": round(alls[3] / one[3], 2),
        "growth_rss": round(alls[1] / one[1], 2),
    }
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
