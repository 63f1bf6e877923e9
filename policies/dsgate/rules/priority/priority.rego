# METADATA
# title: Priority
# description: Node agents must be scheduled even on a full node.
package dsgate.rules.priority

import data.dsgate.lib

# METADATA
# title: priorityClassName is system-node-critical or an allowed class
# description: >-
#   Without a node-critical priority, a new node that fills up before the agent is scheduled
#   never gets the agent. An empty priorityClassName is a violation.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/
#     description: Pod Priority and Preemption (a pending pod preempts only lower-priority pods)
#   - ref: https://kubernetes.io/docs/tasks/administer-cluster/guaranteed-scheduling-critical-addon-pods/
#     description: Guaranteed Scheduling For Critical Add-On Pods (system-node-critical)
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
#     description: the kubelet evicts lower-priority pods first under node pressure
# scope: rule
# custom:
#   id: DS-PRI-001
#   category: priority
#   severity: deny
#   profile: minimal
#   admission: vap
#   field: spec.template.spec.priorityClassName
#   parameters: [allowed_priority_classes]
#   rationale: >-
#     DaemonSet pods go through the default scheduler like any pod. When a node is full (a new node
#     that filled with workload pods before the agent was placed, or requests that grew), an agent
#     with the default priority 0 cannot preempt anything and stays Pending: that node has no CNI, no
#     logs, no metrics, and nothing retries until capacity frees up (the behaviour experiment shows it).
#     Under memory pressure the kubelet also evicts it before higher-priority pods.
#   remediation: >-
#     Set spec.template.spec.priorityClassName to system-node-critical (or a class listed in the
#     allowed_priority_classes parameter).
findings contains finding if {
	some ds in lib.daemonsets
	class := object.get(ds.pod, "priorityClassName", "")
	not class in lib.parameters.allowed_priority_classes
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s %s, not one of %v",
		[lib.display(ds), _has_class(class), lib.parameters.allowed_priority_classes],
	))
}

_has_class("") := "has no priorityClassName (priority 0: on a full node its pod cannot preempt and stays Pending)"

_has_class(class) := sprintf("has priorityClassName %q", [class]) if class != ""
