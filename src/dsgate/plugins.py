"""What the command line plugs into the gate: every source kind (GitOps entry points first, then the
gate's own: chart, kustomization, plain YAML) and the deploy stage (the local cluster's).

The gate (dsgate.gate) defines the seams, the Source protocol and stages.DeployStage, and imports
neither dsgate.gitops nor dsgate.cluster; this module, above all three, connects them. The cluster
code (and the kubernetes client) loads only when a deploy stage runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from dsgate.gate.options import CheckOptions
from dsgate.gate.sourcekinds import discover as discover_with
from dsgate.gate.sources import Source, SourceKind
from dsgate.gate.stages import DeployOutcome
from dsgate.gitops.source import WITH_GITOPS

SOURCE_KINDS: tuple[SourceKind, ...] = WITH_GITOPS


def discover(paths: Sequence[Path], options: CheckOptions | None = None) -> list[Source]:
    """Every source under PATHS, of every kind, with OPTIONS' -f values, charts and repositories."""
    options = options or CheckOptions()
    return discover_with(paths, options.values, SOURCE_KINDS, options)


def deploy_stage(charts: Sequence[Path], say: Callable[[str], None]) -> DeployOutcome:
    """The deploy stage: CHARTS installed and checked on the local cluster (dsgate.cluster.deploystage)."""
    from dsgate.cluster import deploystage

    return deploystage.run(charts, say)
