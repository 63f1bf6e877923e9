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
	not _budget_index[ds.ref]
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
	some i in _budget_index[ds.ref]
	pdb := _pdbs[i]
	problem := _budget_problem(object.get(pdb.object, "spec", {}))
	finding := lib.finding(rego.metadata.rule(), pdb, sprintf(
		"%s selects the pods of %s but %s; the disruption controller cannot count DaemonSet pods for it",
		[lib.display(pdb), lib.display(ds), problem],
	))
}

_pdbs := lib.of_kind(lib.entries, "PodDisruptionBudget")

# Each multi-value rule below is read whole, once, through a complete rule (its full extent is
# evaluated once and cached); looked up by key, OPA would evaluate its body again for every key.
# regal ignore:pointless-reassignment
_budget_index := _budgets

# regal ignore:pointless-reassignment
_first_label_index := _by_first_label

# regal ignore:pointless-reassignment
_unindexed_index := _unindexed

# The PodDisruptionBudgets (their indexes in _pdbs) that select each DaemonSet's pods. A budget
# selecting by matchLabels alone is indexed under its namespace and the first of its labels (by key):
# a DaemonSet finds it through one lookup per pod template label, then the whole selector is
# compared. So the cost grows with DaemonSets plus budgets, not with their product (500 of each in
# one input). Budgets with matchExpressions or no matchLabels are compared with every DaemonSet of
# their namespace.
_budgets[ds.ref] contains i if {
	some ds in lib.daemonsets
	some name, value in ds.template_labels
	some i in _first_label_index[[ds.namespace, name, value]]
	lib.selector_matches(_pdbs[i].object.spec.selector, ds.template_labels)
}

_budgets[ds.ref] contains i if {
	some ds in lib.daemonsets
	some i in object.get(_unindexed_index, ds.namespace, set())
	lib.selector_matches(object.get(_pdbs[i].object, ["spec", "selector"], null), ds.template_labels)
}

_by_first_label[[pdb.namespace, name, value]] contains i if {
	some i, pdb in _pdbs
	labels := _only_match_labels(pdb)
	name := min(object.keys(labels))
	value := labels[name]
}

_unindexed[pdb.namespace] contains i if {
	some i, pdb in _pdbs
	not _only_match_labels(pdb)
}

# The matchLabels of a budget whose selector has nothing else (and at least one label).
_only_match_labels(pdb) := labels if {
	selector := object.get(pdb.object, ["spec", "selector"], null)
	is_object(selector)
	count(object.get(selector, "matchExpressions", [])) == 0
	labels := object.get(selector, "matchLabels", {})
	is_object(labels)
	count(labels) > 0
}

_budget_problem(spec) := sprintf("sets maxUnavailable %v", [spec.maxUnavailable]) if {
	spec.maxUnavailable != null
} else := sprintf("sets minAvailable %q, which is not an integer", [spec.minAvailable]) if {
	is_string(spec.minAvailable)
} else := "sets no minAvailable" if {
	object.get(spec, "minAvailable", null) == null
}
