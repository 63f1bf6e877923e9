# METADATA
# title: Resources
# description: >-
#   A DaemonSet's cost is multiplied by the number of nodes: every container is bounded, memory
#   is guaranteed, and agents stay within per-agent and per-node budgets. Native sidecars (init
#   containers with restartPolicy Always) count as long-running. Pod-level resources
#   (spec.resources, Kubernetes 1.34+) take precedence over the containers' where they are set, as
#   the scheduler and kubelet apply them. resizePolicy only says how an in-place resize of a
#   running pod is applied (a DaemonSet template change still rolls out new pods), so it changes
#   none of these rules: the template's values are what every node gets.
package dsgate.rules.resources

import data.dsgate.lib

# METADATA
# title: Every container sets cpu and memory requests and limits
# description: >-
#   Containers and init containers alike; an unbounded agent competes with the workloads it serves.
#   A pod-level request or limit (spec.resources) of a resource satisfies it for every container.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
#     description: Resource Management for Pods and Containers
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/assign-pod-level-resources/
#     description: Assign Pod-level CPU and memory resources
# scope: rule
# custom:
#   id: DS-RES-001
#   category: resources
#   severity: deny
#   profile: minimal
#   rationale: >-
#     Without requests the scheduler reserves nothing for the agent, so nodes are packed as if it
#     did not exist and it is the first to starve; without limits a leak in the agent takes memory
#     from the workloads on every node at once.
#   field: spec.template.spec.containers[*].resources
#   parameters: []
#   admission: vap
#   remediation: >-
#     Set resources.requests.cpu, resources.requests.memory, resources.limits.cpu and
#     resources.limits.memory on every container and init container (or on the pod, spec.resources).
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	missing := [sprintf("%s %s", [resource, singular]) |
		some kind, singular in {"requests": "request", "limits": "limit"}
		some resource in ["cpu", "memory"]
		object.get(container.spec, ["resources", kind, resource], null) == null
		object.get(ds.pod, ["resources", kind, resource], null) == null
	]
	count(missing) > 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has no %s",
		[lib.display_container(ds, container), concat(", ", missing)],
	))
}

# METADATA
# title: Memory request equals memory limit
# description: >-
#   A memory limit above the request lets the kubelet pick the agent first when the node runs
#   short. With pod-level memory (spec.resources) the pod's request and limit are compared instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
#     description: Node-pressure eviction, pod selection (usage above requests first)
# scope: rule
# custom:
#   id: DS-RES-002
#   category: resources
#   severity: deny
#   profile: minimal
#   rationale: >-
#     Under memory pressure the kubelet evicts first the pods whose usage exceeds their requests:
#     an agent that bursts above its memory request loses its node's logs or metrics exactly when
#     the node is in trouble.
#   field: spec.template.spec.containers[*].resources.limits.memory
#   parameters: []
#   admission: vap
#   remediation: >-
#     Set resources.requests.memory to the same quantity as resources.limits.memory.
findings contains finding if {
	some ds in lib.daemonsets
	some message in _memory_mismatches(ds)
	finding := lib.finding(rego.metadata.rule(), ds, message)
}

# METADATA
# title: An agent's limits stay within the per-agent budget
# description: >-
#   The pod's effective limit (long-running containers summed, init containers at their peak,
#   as the scheduler computes it; a pod-level limit instead where set) must not exceed
#   agent_limit_budget.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
#     description: How Pods with resource limits are run
# scope: rule
# custom:
#   id: DS-RES-003
#   category: resources
#   severity: deny
#   profile: minimal
#   rationale: >-
#     A DaemonSet's limit is paid on every node: an agent allowed more than the budget can take
#     that much from the workloads of every node at once when it leaks or spikes, and the kernel
#     OOM-kills workloads on overcommitted nodes.
#   field: spec.template.spec.containers[*].resources.limits
#   parameters: [agent_limit_budget]
#   admission: vap
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
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#how-daemon-pods-are-scheduled
#     description: How Daemon Pods are scheduled (by the default scheduler, like any pod)
# scope: rule
# custom:
#   id: DS-RES-004
#   category: resources
#   severity: deny
#   profile: minimal
#   rationale: >-
#     Daemon pods are scheduled like any pod: on a node whose allocatable the agents' requests
#     together exceed, the last agent stays Pending on that node, and what is left for workloads
#     shrinks on every node.
#   field: spec.template.spec.containers[*].resources.requests
#   parameters: [node_request_budget]
#   admission: ci-only
#   admission_reason: >-
#     Cross-object: the budget is for the sum of every DaemonSet's requests on a node; a
#     ValidatingAdmissionPolicy sees only the DaemonSet being admitted, not the others.
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

# Memory requests that differ from the limits: the pod-level ones where set, else each container's.
_memory_mismatches(ds) := {sprintf(
	"%s pod-level resources request memory %v but limit it to %v",
	[lib.display(ds), request, limit],
) |
	request := ds.pod.resources.requests.memory
	limit := ds.pod.resources.limits.memory
	lib.amount("memory", request) != lib.amount("memory", limit)
} if {
	_pod_memory(ds.pod)
} else := {sprintf(
	"%s requests memory %v but limits it to %v",
	[
		lib.display_container(ds, container),
		container.spec.resources.requests.memory,
		container.spec.resources.limits.memory,
	],
) |
	some container in ds.containers
	container.amounts["requests.memory"] != container.amounts["limits.memory"]
}

# A pod with pod-level memory resources (spec.resources.requests or limits memory).
_pod_memory(pod) if {
	some kind in ["requests", "limits"]
	pod.resources[kind].memory != null
}
