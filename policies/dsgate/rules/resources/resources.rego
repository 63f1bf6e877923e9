# METADATA
# title: Resources
# description: >-
#   A DaemonSet's cost is multiplied by the number of nodes: every container is bounded, memory
#   is guaranteed, and agents stay within per-agent and per-node budgets.
package dsgate.rules.resources

import data.dsgate.lib

# METADATA
# title: Every container sets cpu and memory requests and limits
# description: Containers and init containers alike; an unbounded agent competes with the workloads it serves.
# scope: rule
# custom:
#   id: DS-RES-001
#   category: resources
#   severity: deny
#   field: spec.template.spec.containers[*].resources
#   parameters: []
#   remediation: >-
#     Set resources.requests.cpu, resources.requests.memory, resources.limits.cpu and
#     resources.limits.memory on every container and init container.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	missing := [sprintf("%s %s", [resource, singular]) |
		some kind, singular in {"requests": "request", "limits": "limit"}
		some resource in ["cpu", "memory"]
		object.get(container.spec, ["resources", kind, resource], null) == null
	]
	count(missing) > 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has no %s",
		[lib.display_container(ds, container), concat(", ", missing)],
	))
}

# METADATA
# title: Memory request equals memory limit
# description: A memory limit above the request lets the kubelet pick the agent first when the node runs short.
# scope: rule
# custom:
#   id: DS-RES-002
#   category: resources
#   severity: deny
#   field: spec.template.spec.containers[*].resources.limits.memory
#   parameters: []
#   remediation: >-
#     Set resources.requests.memory to the same quantity as resources.limits.memory.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	container.amounts["requests.memory"] != container.amounts["limits.memory"]
	request := container.spec.resources.requests.memory
	limit := container.spec.resources.limits.memory
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s requests memory %v but limits it to %v",
		[lib.display_container(ds, container), request, limit],
	))
}

# METADATA
# title: An agent's limits stay within the per-agent budget
# description: >-
#   The pod's effective limit (long-running containers summed, init containers at their peak,
#   as the scheduler computes it) must not exceed agent_limit_budget.
# scope: rule
# custom:
#   id: DS-RES-003
#   category: resources
#   severity: deny
#   field: spec.template.spec.containers[*].resources.limits
#   parameters: [agent_limit_budget]
#   remediation: >-
#     Lower the containers' limits, or raise agent_limit_budget for this installation if the agent
#     really needs more on every node.
findings contains finding if {
	some ds in lib.daemonsets
	some resource in ["cpu", "memory"]
	total := ds.limits[resource]
	budget := lib.amount(resource, lib.parameters.agent_limit_budget[resource])
	total > budget
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has an effective %s limit of %s, above agent_limit_budget %s",
		[lib.display(ds), resource, lib.format_amount(resource, total), lib.format_amount(resource, budget)],
	))
}

# METADATA
# title: All DaemonSets together stay within the per-node request budget
# description: >-
#   A cross-document check: every DaemonSet puts one pod on every node, so their effective
#   requests add up on each node. The sum must not exceed node_request_budget. Each DaemonSet
#   that requests some of the resource is reported.
# scope: rule
# custom:
#   id: DS-RES-004
#   category: resources
#   severity: deny
#   field: spec.template.spec.containers[*].resources.requests
#   parameters: [node_request_budget]
#   remediation: >-
#     Lower the requests of the node agents in this set, or raise node_request_budget if the nodes
#     are sized for it.
findings contains finding if {
	some resource, total in _node_requests
	budget := lib.amount(resource, lib.parameters.node_request_budget[resource])
	total > budget
	some ds in lib.daemonsets
	own := ds.requests[resource]
	own > 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s requests %s %s per node; with the other DaemonSets of this set that makes %s, above node_request_budget %s",
		[
			lib.display(ds), lib.format_amount(resource, own), resource,
			lib.format_amount(resource, total), lib.format_amount(resource, budget),
		],
	))
}

# The sum of every DaemonSet's effective requests, by resource.
_node_requests[resource] := sum([ds.requests[resource] | some ds in lib.daemonsets]) if {
	some resource in ["cpu", "memory"]
}
