"""CheckOptions: everything one `dsgate check` run is configured with, in one frozen object.

It is built in one place, `dsgate.config.check_options`, from the command line, dsgate.yaml and the
defaults below (precedence: command line > dsgate.yaml > default), and passed whole to the pipeline
(dsgate.gate.pipeline) and the report. A library caller (a test, a benchmark) builds one directly;
every field has the default `dsgate check` has without flags or dsgate.yaml.

Adding an option: a field here (with its default), its flag in cli.py, its key in config.py, and one
line in `config.check_options` that says which wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dsgate.gate.servercheck import Settings as ServerCheckSettings
from dsgate.limits import Limits
from dsgate.paths import policies_dir
from dsgate.versions import kube_target_versions

if TYPE_CHECKING:
    from dsgate.gate.stages import GateResult


@dataclass(frozen=True)
class CheckOptions:
    """How one check runs. Sequences are tuples and the object is frozen: a stage cannot change
    what the next one sees."""

    # what to gate
    paths: tuple[Path, ...] = ()  # PATHs, else dsgate.yaml `sources`
    values: tuple[Path, ...] = ()  # -f: layered under every chart scenario
    charts: tuple[
        Path, ...
    ] = ()  # chart packages or unpacked charts, for sources that name charts by repository (GitOps)
    repos: tuple[str, ...] = ()  # URL=PATH: local checkouts of the repositories sources refer to (GitOps)
    releases: Mapping[Path, tuple[str, str]] = field(
        default_factory=dict
    )  # dsgate.yaml sources: path -> (release name, namespace) of what is under it
    argocd_clusters: tuple[
        str, ...
    ] = ()  # NAME=SERVER: clusters Argo CD knows, for ApplicationSet clusters generators (GitOps)
    # render
    helm_versions: tuple[str, ...] = ("v4",)
    kube_versions: tuple[str, ...] = field(default_factory=lambda: tuple(kube_target_versions()))
    workers: int | None = None  # parallel renders (None: 2 x cores)
    use_batch: bool = True  # helm-batch when it is built (False: the helm binary for every render)
    limits: Limits = field(default_factory=Limits)
    # validate
    crds: tuple[Path, ...] = ()  # CustomResourceDefinition files or directories defining more kinds
    allow_kinds: tuple[str, ...] = ()  # kinds accepted without a schema
    server_check: ServerCheckSettings | None = (
        None  # None: the stage is not part of this run (a library caller's default)
    )
    # evaluate
    policy_dir: Path = field(default_factory=policies_dir)
    policy_data: Mapping[str, object] = field(default_factory=dict)  # data.dsgate: parameters, exemptions
    controls: tuple[
        Callable[[GateResult], None], ...
    ] = ()  # change the findings, in order: rule selection and severity, the baseline
    # deploy
    deploy: tuple[Path, ...] = ()  # charts the deploy stage installs when the static gate passed
    # report
    strict: bool = False  # warnings fail the gate too
    format: str = "text"
    output: Path | None = None  # the report goes to this file instead of stdout
    progress: bool = False  # a progress bar on stderr
