"""The gate's deploy stage (a dsgate.gate.stages.DeployStage): install each configured chart's default
scenario on the local cluster. dsgate.plugins hands it to the gate's runner.

Uses the running local cluster when there is one; otherwise starts a dedicated one for the stage, in
the run's temporary directory (dsgate.rundir: a SIGKILLed gate's reaper stops its components and
removes it), and stops it afterwards. A chart whose DaemonSet does not reach every eligible node, or that leaves
objects behind, is a gate failure (exit 1); a cluster or tool that cannot run is an error (exit 2).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from dsgate import rundir
from dsgate.gate.stages import DeployOutcome
from dsgate.tools import ToolMissing

STAGE_CLUSTER = "dsgate-gate"


def run(charts: Sequence[Path], say: Callable[[str], None] = lambda _: None) -> DeployOutcome:
    """Install, check and uninstall CHARTS on a local cluster (the running one, else one of its own)."""
    from dsgate.cluster import deploy
    from dsgate.cluster import lifecycle as cluster

    out = DeployOutcome()
    root: Path | None = None  # set: the stage started its own cluster there
    try:
        try:
            target = cluster.attach()
        except cluster.ClusterError:
            say(f"deploy stage: starting a local cluster ({STAGE_CLUSTER}) for the deploy checks")
            root = rundir.mkdtemp("dsgate-deploy-")
            target = cluster.up(name=STAGE_CLUSTER, root=root, quiet=True)
        for i, chart in enumerate(charts):
            try:
                res = deploy.deploy_chart(
                    chart, kubeconfig=target.kubeconfig, namespace=f"dsgate-deploy-{i}", release=f"gate-{chart.name}"
                )
            except deploy.DeployError as exc:
                out.errors.append(f"deploy {chart}: {exc}")
                continue
            summary = ", ".join(
                f"{d.name}: {d.available}/{d.desired} available on {len(d.eligible_nodes)} eligible nodes"
                for d in res.daemonsets
            )
            out.lines.append(f"deploy {chart}: {'ok' if res.ok else 'FAILED'} ({summary or 'no DaemonSet'})")
            if not res.ok:
                out.failures.extend(f"deploy {chart}: {m}" for m in res.messages)
    except (cluster.ClusterError, ToolMissing, OSError, ValueError) as exc:  # ValueError: a bad topology file
        out.errors.append(f"deploy stage: the local cluster could not run: {exc}")
    finally:
        if root is not None:
            cluster.down(STAGE_CLUSTER, root, quiet=True)
            shutil.rmtree(root, ignore_errors=True)
    return out
