"""dsgate: packaging and a policy gate for node-agent DaemonSets."""
