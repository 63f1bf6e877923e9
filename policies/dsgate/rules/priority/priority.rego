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
# scope: rule
# custom:
#   id: DS-PRI-001
#   category: priority
#   severity: deny
#   field: spec.template.spec.priorityClassName
#   parameters: [allowed_priority_classes]
#   remediation: >-
#     Set spec.template.spec.priorityClassName to system-node-critical (or a class listed in the
#     allowed_priority_classes parameter).
findings contains finding if {
	some ds in lib.daemonsets
	class := object.get(ds.pod, "priorityClassName", "")
	not class in lib.parameters.allowed_priority_classes
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has priorityClassName %q, not one of %v",
		[lib.display(ds), class, lib.parameters.allowed_priority_classes],
	))
}
