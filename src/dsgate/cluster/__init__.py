"""The local control plane with kwok nodes: `lifecycle` (up, down, status), `topology` (the nodes),
`kube` (a small API client), `deploy` (install a chart and wait for its DaemonSets)."""
