"""The gate's stages, in data-flow order: discover -> render -> documents -> validate -> server check
-> evaluate -> deploy -> report.

`sources` is the Source protocol and discovery, `sourcekinds` the gate's own kinds (chart, kustomize,
files), `options` the CheckOptions of a run, `stages` the stages, `pipeline` the runner that runs
them in order and owns their processes; `report` writes the result. The gate imports neither
dsgate.gitops nor dsgate.cluster: they plug in through the Source protocol and stages.DeployStage
(see dsgate.plugins and docs/ARCHITECTURE.md).
"""
