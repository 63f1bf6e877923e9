# METADATA
# title: Tolerations
# description: Where a node agent may (and must) run, as decided by taints and tolerations.
package dsgate.rules.tolerations

import data.dsgate.lib

# METADATA
# title: Node-critical agents tolerate the control-plane taint
# description: >-
#   A node-critical agent (priorityClassName system-node-critical, or an agent in
#   node_critical_agents) must also run on control-plane nodes, which carry the taint
#   node-role.kubernetes.io/control-plane:NoSchedule.
# scope: rule
# custom:
#   id: DS-TOL-001
#   category: tolerations
#   severity: deny
#   field: spec.template.spec.tolerations
#   parameters: [node_critical_agents, well_known_agents]
#   remediation: >-
#     Add `{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}` to
#     spec.template.spec.tolerations (an agent in blanket_toleration_agents may instead use a key-less
#     `operator: Exists` toleration).
findings contains finding if {
	some ds in lib.daemonsets
	ds.node_critical
	not _tolerates_control_plane(ds.pod)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s is node-critical but does not tolerate the taint node-role.kubernetes.io/control-plane:NoSchedule",
		[lib.display(ds)],
	))
}

# METADATA
# title: Only allowlisted agents tolerate every taint
# description: >-
#   A toleration with `operator: Exists` and no key tolerates every taint, including taints that
#   mark a node as being drained or unfit. Only agents in blanket_toleration_agents may use it.
# scope: rule
# custom:
#   id: DS-TOL-002
#   category: tolerations
#   severity: deny
#   field: spec.template.spec.tolerations
#   parameters: [blanket_toleration_agents, well_known_agents]
#   remediation: >-
#     Tolerate the taints the agent needs by key (for example node-role.kubernetes.io/control-plane), or add
#     the agent's app.kubernetes.io/name to the blanket_toleration_agents parameter.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.blanket_tolerations
	some toleration in object.get(ds.pod, "tolerations", [])
	lib.blanket_toleration(toleration)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s tolerates every taint (operator Exists without a key, effect %q) but agent %q is not in %s",
		[lib.display(ds), object.get(toleration, "effect", ""), ds.agent, "blanket_toleration_agents"],
	))
}

# METADATA
# title: NoExecute tolerations carry no tolerationSeconds
# description: >-
#   With tolerationSeconds a NoExecute toleration only delays eviction: the agent is evicted from
#   a not-ready or unreachable node exactly when its logs and metrics matter most.
# scope: rule
# custom:
#   id: DS-TOL-003
#   category: tolerations
#   severity: deny
#   field: spec.template.spec.tolerations
#   parameters: []
#   remediation: >-
#     Remove tolerationSeconds from NoExecute tolerations. The DaemonSet controller already adds
#     node.kubernetes.io/not-ready and node.kubernetes.io/unreachable NoExecute tolerations without it.
findings contains finding if {
	some ds in lib.daemonsets
	some toleration in object.get(ds.pod, "tolerations", [])
	toleration.effect == "NoExecute"
	seconds := toleration.tolerationSeconds
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s tolerates %q NoExecute for only %v seconds (tolerationSeconds)",
		[lib.display(ds), object.get(toleration, "key", ""), seconds],
	))
}

_tolerates_control_plane(pod) if {
	some toleration in object.get(pod, "tolerations", [])
	lib.tolerates(toleration, {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
}
