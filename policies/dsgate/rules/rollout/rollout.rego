# METADATA
# title: Rollout
# description: How fast an update may take the agent down across the fleet, and how soon a bad one is noticed.
package dsgate.rules.rollout

import data.dsgate.lib

# METADATA
# title: RollingUpdate sets maxUnavailable
# description: The rollout budget is an explicit decision, not Kubernetes' default of one node at a time.
# scope: rule
# custom:
#   id: DS-ROL-001
#   category: rollout
#   severity: deny
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: []
#   remediation: >-
#     Set spec.updateStrategy.rollingUpdate.maxUnavailable (a percentage such as 10% scales with the
#     cluster; at most max_unavailable_ceiling).
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	object.get(ds.spec, ["updateStrategy", "rollingUpdate", "maxUnavailable"], null) == null
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s rolls out without maxUnavailable (Kubernetes defaults it to 1)",
		[lib.display(ds)],
	))
}

# METADATA
# title: maxUnavailable stays within the ceiling
# description: >-
#   maxUnavailable may not exceed max_unavailable_ceiling. An integer and a percentage are only
#   compared when cluster_nodes is known; percentages round up as in the DaemonSet controller.
# scope: rule
# custom:
#   id: DS-ROL-002
#   category: rollout
#   severity: deny
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: [max_unavailable_ceiling, cluster_nodes]
#   remediation: >-
#     Lower spec.updateStrategy.rollingUpdate.maxUnavailable to at most max_unavailable_ceiling.
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	value := ds.spec.updateStrategy.rollingUpdate.maxUnavailable
	_exceeds(value, lib.parameters.max_unavailable_ceiling, lib.parameters.cluster_nodes)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has maxUnavailable %v, above max_unavailable_ceiling %v",
		[lib.display(ds), value, lib.parameters.max_unavailable_ceiling],
	))
}

# METADATA
# title: Large clusters use a percentage maxUnavailable
# description: >-
#   When cluster_nodes is above large_cluster_threshold, a fixed integer maxUnavailable makes the
#   rollout take as many steps as there are nodes divided by that integer; a percentage scales.
# scope: rule
# custom:
#   id: DS-ROL-003
#   category: rollout
#   severity: deny
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: [cluster_nodes, large_cluster_threshold]
#   remediation: >-
#     Express spec.updateStrategy.rollingUpdate.maxUnavailable as a percentage, e.g. "10%".
findings contains finding if {
	lib.parameters.cluster_nodes > lib.parameters.large_cluster_threshold
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	value := ds.spec.updateStrategy.rollingUpdate.maxUnavailable
	not lib.percent(value)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has maxUnavailable %v, a fixed number, on a cluster of %v nodes (above large_cluster_threshold %v)",
		[lib.display(ds), value, lib.parameters.cluster_nodes, lib.parameters.large_cluster_threshold],
	))
}

# METADATA
# title: OnDelete updates need a manual step on every node
# description: With OnDelete a new version only reaches a node when someone deletes the old pod there.
# scope: rule
# custom:
#   id: DS-ROL-004
#   category: rollout
#   severity: warn
#   field: spec.updateStrategy.type
#   parameters: []
#   remediation: >-
#     Use `updateStrategy.type: RollingUpdate` unless a manual, node-by-node rollout is intended.
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "OnDelete"
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s uses updateStrategy OnDelete; updates reach a node only when its pod is deleted",
		[lib.display(ds)],
	))
}

# METADATA
# title: minReadySeconds is greater than 0
# description: A new pod must stay ready for a while before the rollout moves on, so a crashing version stops early.
# scope: rule
# custom:
#   id: DS-ROL-005
#   category: rollout
#   severity: deny
#   field: spec.minReadySeconds
#   parameters: []
#   remediation: >-
#     Set spec.minReadySeconds, e.g. 10, so a crash-looping version halts the rollout.
findings contains finding if {
	some ds in lib.daemonsets
	seconds := object.get(ds.spec, "minReadySeconds", 0)
	seconds <= 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has minReadySeconds %v",
		[lib.display(ds), seconds],
	))
}

# METADATA
# title: No maxSurge together with host ports
# description: >-
#   A surge pod starts on a node while the old pod still runs there; with a hostPort (or
#   hostNetwork, where every containerPort is a host port) it can never bind its port.
# scope: rule
# custom:
#   id: DS-ROL-006
#   category: rollout
#   severity: deny
#   field: spec.updateStrategy.rollingUpdate.maxSurge
#   parameters: []
#   remediation: >-
#     Set spec.updateStrategy.rollingUpdate.maxSurge to 0 (and use maxUnavailable) for agents that bind host ports.
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	surge := ds.spec.updateStrategy.rollingUpdate.maxSurge
	_positive(surge)
	count(ds.host_ports) > 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has maxSurge %v but binds host ports %s",
		[lib.display(ds), surge, concat(", ", ds.host_ports)],
	))
}

_strategy(ds) := object.get(ds.spec, ["updateStrategy", "type"], "RollingUpdate")

_exceeds(value, ceiling, _) if lib.percent(value) > lib.percent(ceiling)

_exceeds(value, ceiling, _) if {
	is_number(value)
	is_number(ceiling)
	value > ceiling
}

_exceeds(value, ceiling, nodes) if {
	nodes > 0
	lib.scaled(value, nodes) > lib.scaled(ceiling, nodes)
}

_positive(value) if {
	is_number(value)
	value > 0
}

_positive(value) if lib.percent(value) > 0
