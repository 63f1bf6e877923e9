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
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/
#     description: kubectl drain --ignore-daemonsets leaves DaemonSet pods alone (no eviction, no budget)
#   - ref: https://github.com/kubernetes-sigs/karpenter/issues/1776
#     description: Karpenter's drain does evict DaemonSet pods through the eviction API
#   - ref: https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md
#     description: cluster-autoscaler evicts DaemonSet pods best effort before it deletes a node
#   - ref: https://github.com/kubernetes-sigs/descheduler/blob/master/README.md
#     description: the descheduler does not evict DaemonSet pods unless evictDaemonSetPods is set
# scope: rule
# custom:
#   id: DS-PDB-001
#   category: disruption
#   severity: warn
#   profile: strict
#   admission: ci-only
#   admission_reason: >-
#     Needs another object: whether a PodDisruptionBudget in the DaemonSet's namespace selects its pod
#     template labels. Admission sees one object at a time, and a budget may be applied after its
#     DaemonSet.
#   parameters: [node_critical_agents, well_known_agents]
#   rationale: >-
#     A PodDisruptionBudget only gates the eviction API. For DaemonSet pods hardly anything uses it:
#     `kubectl drain --ignore-daemonsets` skips them, kubelet node-pressure eviction and DaemonSet
#     rollouts do not go through it, and the descheduler leaves them alone by default. The callers that
#     do evict them (Karpenter's drain, cluster-autoscaler before deleting a node) remove the node
#     anyway, and the DaemonSet controller recreates a pod evicted from a node that stays. So no outage
#     was found that a missing budget causes; it is a strict-profile warning for teams that want
#     eviction-based tools to take agents down one at a time. A budget that exists must be computable
#     (DS-PDB-002) and must not pin a broken release (DS-PDB-003).
#   remediation: >-
#     Ship a policy/v1 PodDisruptionBudget next to the DaemonSet, in its namespace, whose selector
#     matches the pod template labels (normally the DaemonSet's own selector), with an integer minAvailable
#     and `unhealthyPodEvictionPolicy: AlwaysAllow`.
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
#   - ref: https://github.com/kubernetes-sigs/karpenter/issues/1776
#     description: a node drain waiting on DaemonSet pods the eviction API will not evict
# scope: rule
# custom:
#   id: DS-PDB-002
#   category: disruption
#   severity: deny
#   profile: minimal
#   admission: ci-only
#   admission_reason: >-
#     Needs another object: the finding is on a PodDisruptionBudget only when it selects a DaemonSet's
#     pods, which admission of the budget does not see (either may be applied first).
#   field: spec.minAvailable
#   parameters: []
#   rationale: >-
#     The budget's status stays at disruptionsAllowed 0, so the eviction API refuses every eviction of
#     the agent's pods. Drains that evict DaemonSet pods then hang: Karpenter keeps the node (and its
#     cost) until its terminationGracePeriod, and cluster-autoscaler skips the node when it evicts
#     DaemonSet pods before scale-down. A budget written this way protects nothing and blocks node
#     maintenance.
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

# METADATA
# title: A PodDisruptionBudget over DaemonSet pods lets unhealthy pods be evicted
# description: >-
#   A budget that selects DaemonSet pods sets `unhealthyPodEvictionPolicy: AlwaysAllow` (GA in
#   Kubernetes 1.31). The default, IfHealthyBudget, refuses to evict a not-ready pod while fewer pods
#   are healthy than the budget requires.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/#unhealthy-pod-eviction-policy
#     description: Unhealthy Pod Eviction Policy (AlwaysAllow is recommended to let misbehaving pods be drained)
#   - ref: https://github.com/kubernetes/enhancements/tree/master/keps/sig-apps/3017-pod-healthy-policy-for-pdb
#     description: KEP-3017, the problem of PDBs that block the eviction of unhealthy pods
# scope: rule
# custom:
#   id: DS-PDB-003
#   category: disruption
#   severity: warn
#   profile: baseline
#   admission: ci-only
#   admission_reason: >-
#     Needs another object: the finding is on a PodDisruptionBudget only when it selects a DaemonSet's
#     pods, which admission of the budget does not see (either may be applied first).
#   field: spec.unhealthyPodEvictionPolicy
#   parameters: []
#   rationale: >-
#     A release that crash-loops on every node leaves fewer healthy agent pods than the budget's
#     minAvailable. With the default policy the eviction API then refuses to evict any of the broken
#     pods, so every drain that evicts DaemonSet pods (Karpenter, cluster-autoscaler) hangs on a pod
#     that does nothing useful, across the whole fleet, until the release is fixed.
#   remediation: >-
#     Set `spec.unhealthyPodEvictionPolicy: AlwaysAllow` on the PodDisruptionBudget (Kubernetes 1.27+,
#     GA in 1.31).
findings contains finding if {
	some ds in lib.daemonsets
	some i in _budget_index[ds.ref]
	pdb := _pdbs[i]
	policy := object.get(pdb.object, ["spec", "unhealthyPodEvictionPolicy"], "")
	policy != "AlwaysAllow"
	finding := lib.finding(rego.metadata.rule(), pdb, sprintf(
		concat(" ", [
			"%s selects the pods of %s with unhealthyPodEvictionPolicy %s: while fewer of them are healthy",
			"than it requires, evictions of the unhealthy ones are refused and node drains hang",
		]),
		[lib.display(pdb), lib.display(ds), _policy_name(policy)],
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

_policy_name("") := "IfHealthyBudget (the default)"

_policy_name(policy) := sprintf("%q", [policy]) if policy != ""
