"""The local control plane with kwok nodes: `lifecycle` (up, down, attach) built on `state` (where a
cluster lives, the lock), `components` (its component processes and ports) and `kwokctl` (how it is started);
`cli` (`dsgate cluster ...`), `topology` (the nodes), `kube` (a small API client), `deploy` (install a
chart and wait for its DaemonSets), `deploystage` (the gate's deploy stage, built on `deploy`)."""
