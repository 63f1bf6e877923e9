# METADATA
# title: Disruption
# description: PodDisruptionBudgets that protect node agents and that the disruption controller can compute.
package dsgate.rules.disruption

import data.dsgate.lib

# METADATA
# title: Node-critical DaemonSets are selected by a PodDisruptionBudget
# description: >-
#   A cross-document check: a PodDisruptionBudget in the same set of documents, in the same
#   namespace, whose selector matches the DaemonSet's pod template labels.
# scope: rule
# custom:
#   id: DS-PDB-001
#   category: disruption
#   severity: deny
#   parameters: [node_critical_agents, well_known_agents]
#   remediation: >-
#     Ship a policy/v1 PodDisruptionBudget next to the DaemonSet, in its namespace, whose selector
#     matches the pod template labels (normally the DaemonSet's own selector), with an integer minAvailable.
findings contains finding if {
	some ds in lib.daemonsets
	ds.node_critical
	not _budgets[ds.ref]
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s is node-critical but no PodDisruptionBudget in namespace %q selects its pod template labels",
		[lib.display(ds), ds.namespace],
	))
}

# METADATA
# title: A PodDisruptionBudget that selects DaemonSet pods uses an integer minAvailable
# description: >-
#   The disruption controller can only compute maxUnavailable or a percentage minAvailable from
#   the scale of each pod's controller, and a DaemonSet has no scale subresource: the budget then
#   allows no disruption at all and every eviction of the agent is refused.
# related_resources:
#   - ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/controller/disruption/disruption.go
#     description: getExpectedPodCount, getExpectedScale, the controller finders and failSafe
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/#arbitrary-controllers-and-selectors
#     description: Specifying a Disruption Budget for your Application
# scope: rule
# custom:
#   id: DS-PDB-002
#   category: disruption
#   severity: deny
#   field: spec.minAvailable
#   parameters: []
#   remediation: >-
#     Use an integer `minAvailable` (for example 1) and no `maxUnavailable`. In the Kubernetes disruption
#     controller (pkg/controller/disruption/disruption.go), getExpectedPodCount computes maxUnavailable and a
#     percentage minAvailable through getExpectedScale, which finds each pod's controller with the
#     ReplicationController, Deployment, ReplicaSet and StatefulSet finders and then the scale subresource
#     (getScaleController). A DaemonSet has none of these, so the sync fails, failSafe sets
#     status.disruptionsAllowed to 0 and every eviction is refused. Only an integer minAvailable is computed from
#     the matching pods alone. The task page "Specifying a Disruption Budget for your Application" says the same:
#     for pods of other controllers only an integer `.spec.minAvailable` can be used.
findings contains finding if {
	some ds in lib.daemonsets
	some i in _budgets[ds.ref]
	pdb := _pdbs[i]
	problem := _budget_problem(object.get(pdb.object, "spec", {}))
	finding := lib.finding(rego.metadata.rule(), pdb, sprintf(
		"%s selects the pods of %s but %s; the disruption controller cannot count DaemonSet pods for it",
		[lib.display(pdb), lib.display(ds), problem],
	))
}

_pdbs := lib.of_kind(lib.entries, "PodDisruptionBudget")

# The PodDisruptionBudgets (their indexes in _pdbs) that select each DaemonSet's pods.
_budgets[ds.ref] contains i if {
	some ds in lib.daemonsets
	some i, pdb in _pdbs
	pdb.namespace == ds.namespace
	lib.selector_matches(object.get(pdb.object, ["spec", "selector"], null), ds.template_labels)
}

_budget_problem(spec) := sprintf("sets maxUnavailable %v", [spec.maxUnavailable]) if {
	spec.maxUnavailable != null
} else := sprintf("sets minAvailable %q, which is not an integer", [spec.minAvailable]) if {
	is_string(spec.minAvailable)
} else := "sets no minAvailable" if {
	object.get(spec, "minAvailable", null) == null
}
