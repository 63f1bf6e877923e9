"""The warm server (`dsgate server start|stop|status`): a per-user daemon that keeps the server
check's kube-apiserver + etcd and the OPA server with the policy library loaded, and runs
`dsgate check` in a process whose imports and caches are already warm.

- `wire`: where the daemon lives (a per-user runtime directory, mode 0700; a unix socket, mode
  0600; a lock file: one daemon per user), the fingerprint both sides compare (dsgate's code, the
  pinned versions, the tool binaries, the environment that changes a check), one JSON message per
  connection. Standard library only: the client imports it before anything else.
- `client`: what `dsgate check` and `dsgate server` do on the client side, with a clean fallback to a
  cold start (no daemon, a dead one's stale socket, a fingerprint that differs).
- `daemon`: the daemon process. Each check gets an API server nobody has used (the one used is
  replaced in the background), so a warm check's report equals a cold check's.

This package sits above the gate (it borrows the gate's OpaServer and ApiServer through
pipeline.Servers) and below the command line, which hands the daemon its check runner.
"""
