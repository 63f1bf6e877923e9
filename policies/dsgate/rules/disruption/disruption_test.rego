package dsgate.rules.disruption_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.disruption

test_daemonset_with_integer_min_available_budget_allowed if {
	count(disruption.findings) == 0 with input as fx.render([fx.daemonset, fx.pdb])
}

test_node_critical_without_budget_denied if {
	fx.results(disruption.findings) == {[
		"DS-PDB-001", "warn",
		"DaemonSet <monitoring/agent> is node-critical but no PodDisruptionBudget in namespace \"monitoring\" selects its pod template labels",
	]} with input as fx.render([fx.daemonset])
}

test_budget_in_other_namespace_denied if {
	pdb := json.patch(fx.pdb, [fx.put("/metadata/namespace", "other")])
	{f.rule | some f in disruption.findings} == {"DS-PDB-001"} with input as fx.render([fx.daemonset, pdb])
}

test_budget_in_another_file_of_the_set_allowed if {
	documents := array.concat(fx.render([fx.daemonset]), [{"path": "pdb.yaml", "contents": fx.pdb}])
	count(disruption.findings) == 0 with input as documents
}

test_budget_selecting_other_labels_denied if {
	pdb := json.patch(fx.pdb, [fx.put("/spec/selector", {"matchLabels": {"app.kubernetes.io/name": "fluentd"}})])
	{f.rule | some f in disruption.findings} == {"DS-PDB-001"} with input as fx.render([fx.daemonset, pdb])
}

test_budget_with_null_selector_denied if {
	pdb := json.patch(fx.pdb, [fx.remove("/spec/selector")])
	{f.rule | some f in disruption.findings} == {"DS-PDB-001"} with input as fx.render([fx.daemonset, pdb])
}

test_budget_with_empty_selector_selects_everything_allowed if {
	pdb := json.patch(fx.pdb, [fx.put("/spec/selector", {})])
	count(disruption.findings) == 0 with input as fx.render([fx.daemonset, pdb])
}

test_budget_with_match_expressions_allowed if {
	pdb := json.patch(fx.pdb, [fx.put("/spec/selector", {"matchExpressions": [
		{"key": "app.kubernetes.io/name", "operator": "In", "values": ["node-exporter", "x"]},
		{"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["b"]},
		{"key": "app.kubernetes.io/instance", "operator": "Exists"},
		{"key": "tier", "operator": "DoesNotExist"},
	]})])
	count(disruption.findings) == 0 with input as fx.render([fx.daemonset, pdb])
}

test_budget_with_failing_match_expression_denied if {
	pdb := json.patch(fx.pdb, [fx.put("/spec/selector", {"matchExpressions": [
		{"key": "app.kubernetes.io/instance", "operator": "DoesNotExist"},
	]})])
	{f.rule | some f in disruption.findings} == {"DS-PDB-001"} with input as fx.render([fx.daemonset, pdb])
}

test_not_node_critical_without_budget_allowed if {
	ds := fx.ds_with([
		fx.put("/spec/template/spec/priorityClassName", "other"),
		fx.put("/spec/template/metadata/labels/app.kubernetes.io~1name", "debug-agent"),
		fx.unknown_image,
	])
	count(disruption.findings) == 0 with input as fx.render([ds])
}

test_budget_with_max_unavailable_denied if {
	pdb := json.patch(fx.pdb, [fx.remove("/spec/minAvailable"), fx.put("/spec/maxUnavailable", 1)])
	fx.results(disruption.findings) == {[
		"DS-PDB-002", "deny",
		"PodDisruptionBudget <monitoring/agent> selects the pods of DaemonSet <monitoring/agent> but sets maxUnavailable 1; the disruption controller cannot count DaemonSet pods for it",
	]} with input as fx.render([fx.daemonset, pdb])
}

test_budget_with_percentage_min_available_denied if {
	pdb := json.patch(fx.pdb, [fx.put("/spec/minAvailable", "50%")])
	fx.results(disruption.findings) == {[
		"DS-PDB-002", "deny",
		"PodDisruptionBudget <monitoring/agent> selects the pods of DaemonSet <monitoring/agent> but sets minAvailable \"50%\", which is not an integer; the disruption controller cannot count DaemonSet pods for it",
	]} with input as fx.render([fx.daemonset, pdb])
}

test_budget_without_min_available_denied if {
	pdb := json.patch(fx.pdb, [fx.remove("/spec/minAvailable")])
	fx.results(disruption.findings) == {[
		"DS-PDB-002", "deny",
		"PodDisruptionBudget <monitoring/agent> selects the pods of DaemonSet <monitoring/agent> but sets no minAvailable; the disruption controller cannot count DaemonSet pods for it",
	]} with input as fx.render([fx.daemonset, pdb])
}

# A pod template with many labels finds its budget through the index (one lookup per label), and
# a budget of another namespace, or one whose other labels differ, still does not select it.
test_many_template_labels_found_through_the_index if {
	labels := object.union(fx.daemonset.spec.template.metadata.labels, {sprintf("extra/l%d", [n]): "v" | some n in numbers.range(1, 40)})
	ds := json.patch(fx.daemonset, [fx.put("/spec/template/metadata/labels", labels)])
	count(disruption.findings) == 0 with input as fx.render([ds, fx.pdb])
	elsewhere := json.patch(fx.pdb, [fx.put("/metadata/namespace", "other")])
	{f.rule | some f in disruption.findings} == {"DS-PDB-001"} with input as fx.render([ds, elsewhere])
	mismatched := json.patch(fx.pdb, [fx.put("/spec/selector/matchLabels/zzz-other", "x")])
	{f.rule | some f in disruption.findings} == {"DS-PDB-001"} with input as fx.render([ds, mismatched])
}

# Two budgets select one DaemonSet, one by a subset of its labels (the index) and one by an
# expression (compared one by one): each is checked, and the one with a percentage is denied.
test_budgets_found_through_the_index_and_one_by_one if {
	by_labels := json.patch(fx.pdb, [fx.put("/metadata/name", "by-labels"), fx.put("/spec/minAvailable", "50%")])
	by_expression := json.patch(fx.pdb, [
		fx.put("/metadata/name", "by-expression"),
		fx.put("/spec/selector", {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]}),
	])
	{[f.rule, f.resource] | some f in disruption.findings} == {["DS-PDB-002", "PodDisruptionBudget/monitoring/by-labels"]} with input as fx.render([fx.daemonset, by_labels, by_expression])
}

test_budget_without_unhealthy_pod_eviction_policy_warned if {
	pdb := json.patch(fx.pdb, [fx.remove("/spec/unhealthyPodEvictionPolicy")])
	fx.results(disruption.findings) == {[
		"DS-PDB-003", "warn",
		"PodDisruptionBudget <monitoring/agent> selects the pods of DaemonSet <monitoring/agent> with unhealthyPodEvictionPolicy IfHealthyBudget (the default): while fewer of them are healthy than it requires, evictions of the unhealthy ones are refused and node drains hang",
	]} with input as fx.render([fx.daemonset, pdb])
}

test_budget_with_if_healthy_budget_policy_warned if {
	pdb := json.patch(fx.pdb, [fx.put("/spec/unhealthyPodEvictionPolicy", "IfHealthyBudget")])
	fx.results(disruption.findings) == {[
		"DS-PDB-003", "warn",
		"PodDisruptionBudget <monitoring/agent> selects the pods of DaemonSet <monitoring/agent> with unhealthyPodEvictionPolicy \"IfHealthyBudget\": while fewer of them are healthy than it requires, evictions of the unhealthy ones are refused and node drains hang",
	]} with input as fx.render([fx.daemonset, pdb])
}

test_budget_of_other_pods_needs_no_unhealthy_pod_eviction_policy if {
	# a budget that selects no DaemonSet's pods is not the library's business
	pdb := json.patch(fx.pdb, [
		fx.remove("/spec/unhealthyPodEvictionPolicy"),
		fx.put("/spec/selector", {"matchLabels": {"app.kubernetes.io/name": "web"}}),
		fx.put("/metadata/name", "web"),
	])
	{[f.rule, f.resource] | some f in disruption.findings} == set() with input as fx.render([fx.daemonset, fx.pdb, pdb])
}
