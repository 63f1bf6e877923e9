# METADATA
# title: Coverage
# description: >-
#   A DaemonSet against the nodes of the fleet it is gated for (`dsgate check --nodes FILE` puts
#   them in data.dsgate.nodes): the nodes its nodeSelector and required node affinity select, and
#   the taints and sizes that keep it off some of them. Without nodes these rules say nothing.
package dsgate.rules.coverage

import data.dsgate.lib

# METADATA
# title: A DaemonSet tolerates the taints of the nodes it selects
# description: >-
#   A node the DaemonSet selects but whose NoSchedule or NoExecute taint it does not tolerate gets
#   no pod: the DaemonSet controller skips it (the tolerations the controller adds itself count:
#   not-ready, unreachable, the pressure taints, unschedulable, and network-unavailable for
#   hostNetwork pods). One finding per taint, naming how many of the selected nodes carry it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#taints-and-tolerations
#     description: the tolerations the DaemonSet controller adds, and that taints keep daemon pods off nodes
# scope: rule
# custom:
#   id: DS-COV-001
#   category: coverage
#   severity: deny
#   profile: minimal
#   admission: ci-only
#   admission_reason: >-
#     Needs data admission does not have: the fleet's nodes (data.dsgate.nodes, from dsgate check
#     --nodes): their labels, taints and allocatable. Admission sees the DaemonSet alone; without nodes
#     the rule says nothing.
#   field: spec.template.spec.tolerations
#   parameters: []
#   rationale: >-
#     The agent silently never runs on those nodes: their logs, metrics or network are missing,
#     and nothing reports it, because the DaemonSet's status counts only the nodes it selects and
#     tolerates.
#   remediation: >-
#     Tolerate the taint (spec.template.spec.tolerations), or narrow the nodeSelector or node
#     affinity so the DaemonSet does not select those nodes on purpose.
findings contains finding if {
	some ds in lib.daemonsets
	selected := [node | some node in _fleet; lib.selects_node(ds.pod, node.labels)]
	some taint in {_taint_of(t) | some node in selected; some t in node.taints; t.effect in {"NoSchedule", "NoExecute"}}
	not _tolerated(ds.pod, taint)
	carriers := sort([node.name | some node in selected; some t in node.taints; _taint_of(t) == taint])
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s selects %d of the %d nodes but does not tolerate the taint %s on %d of them (%s)",
		[lib.display(ds), count(selected), count(_fleet), _show(taint), count(carriers), _some(carriers)],
	))
}

# METADATA
# title: A DaemonSet selects some node of the fleet
# description: A DaemonSet whose nodeSelector and required node affinity select none of the nodes runs nowhere.
# scope: rule
# custom:
#   id: DS-COV-002
#   category: coverage
#   severity: warn
#   profile: minimal
#   admission: ci-only
#   admission_reason: >-
#     Needs data admission does not have: the fleet's nodes (data.dsgate.nodes, from dsgate check
#     --nodes): their labels, taints and allocatable. Admission sees the DaemonSet alone; without nodes
#     the rule says nothing.
#   field: spec.template.spec.nodeSelector
#   parameters: []
#   rationale: >-
#     A selector that matches no node (a label renamed, a pool removed) leaves the agent installed
#     but running nowhere, with a healthy-looking status of 0 desired pods.
#   remediation: >-
#     Fix the nodeSelector or required node affinity to the labels the nodes carry.
findings contains finding if {
	some ds in lib.daemonsets
	count([node | some node in _fleet; lib.selects_node(ds.pod, node.labels)]) == 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s selects none of the %d nodes (nodeSelector and required node affinity)",
		[lib.display(ds), count(_fleet)],
	))
}

# METADATA
# title: A DaemonSet's pod fits the nodes it selects
# description: >-
#   The pod's effective requests (as the scheduler computes them) exceed the allocatable cpu or
#   memory of a selected node even when nothing else runs there: that node's pod stays Pending.
# scope: rule
# custom:
#   id: DS-COV-003
#   category: coverage
#   severity: deny
#   profile: minimal
#   admission: ci-only
#   admission_reason: >-
#     Needs data admission does not have: the fleet's nodes (data.dsgate.nodes, from dsgate check
#     --nodes): their labels, taints and allocatable. Admission sees the DaemonSet alone; without nodes
#     the rule says nothing.
#   field: spec.template.spec.containers[*].resources.requests
#   parameters: []
#   rationale: >-
#     The DaemonSet controller creates the pod anyway and the scheduler never places it: the node
#     runs without the agent while the DaemonSet reports an unavailable pod forever.
#   remediation: >-
#     Lower the requests, or narrow the DaemonSet to nodes large enough for it.
findings contains finding if {
	some ds in lib.daemonsets
	some resource in ["cpu", "memory"]
	small := sort([node.name |
		some node in _fleet
		lib.selects_node(ds.pod, node.labels)
		allocatable := object.get(node.allocatable, resource, null)
		allocatable != null
		ds.requests[resource] > lib.amount(resource, allocatable)
	])
	count(small) > 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s requests %s %s, more than the allocatable of %d selected nodes (%s)",
		[lib.display(ds), resource, lib.format_amount(resource, ds.requests[resource]), count(small), _some(small)],
	))
}

# The nodes, when given (none: the rules say nothing).
_fleet := data.dsgate.nodes if {
	is_array(data.dsgate.nodes)
	count(data.dsgate.nodes) > 0
}

_taint_of(t) := {"key": object.get(t, "key", ""), "value": object.get(t, "value", ""), "effect": t.effect}

_show(taint) := sprintf("%s:%s", [taint.key, taint.effect]) if taint.value == ""

_show(taint) := sprintf("%s=%s:%s", [taint.key, taint.value, taint.effect]) if taint.value != ""

_some(names) := concat(", ", names) if count(names) <= 3

_some(names) := sprintf("%s, ... %d more", [concat(", ", array.slice(names, 0, 3)), count(names) - 3]) if {
	count(names) > 3
}

_tolerated(pod, taint) if {
	some toleration in object.get(pod, "tolerations", [])
	lib.tolerates(toleration, taint)
}

# The tolerations the DaemonSet controller adds to every daemon pod (pkg/controller/daemon/util).
_tolerated(_, taint) if {
	some [key, effect] in [
		["node.kubernetes.io/not-ready", "NoExecute"],
		["node.kubernetes.io/unreachable", "NoExecute"],
		["node.kubernetes.io/disk-pressure", "NoSchedule"],
		["node.kubernetes.io/memory-pressure", "NoSchedule"],
		["node.kubernetes.io/pid-pressure", "NoSchedule"],
		["node.kubernetes.io/unschedulable", "NoSchedule"],
	]
	taint.key == key
	taint.effect == effect
}

# ... and network-unavailable to hostNetwork pods.
_tolerated(pod, taint) if {
	object.get(pod, "hostNetwork", false) == true
	taint.key == "node.kubernetes.io/network-unavailable"
	taint.effect == "NoSchedule"
}
