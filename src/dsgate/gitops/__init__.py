"""GitOps repositories: render what Flux or Argo CD would apply, and name the chain that produced it.

`detect` finds GitOps entry points, `flux` expands Flux Kustomizations, `helmrelease` renders Flux
HelmReleases, `charts` is the offline chart store, `substitute` is Flux's postBuild substitution,
`chain` names where every object came from, `engine` ties them together, `source` is the gate's GitOps source kind.
"""
