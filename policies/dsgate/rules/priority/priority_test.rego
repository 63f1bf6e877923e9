package dsgate.rules.priority_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.priority

test_system_node_critical_allowed if {
	count(priority.findings) == 0 with input as fx.render([fx.daemonset])
}

test_empty_priority_class_denied if {
	ds := fx.ds_with([fx.remove("/spec/template/spec/priorityClassName")])
	fx.results(priority.findings) == {[
		"DS-PRI-001", "deny",
		"DaemonSet <monitoring/agent> has no priorityClassName (priority 0: on a full node its pod cannot preempt and stays Pending), not one of [\"system-node-critical\"]",
	]} with input as fx.render([ds])
}

test_other_priority_class_denied if {
	ds := fx.ds_with([fx.put("/spec/template/spec/priorityClassName", "high")])
	{f.message | some f in priority.findings} == {
		"DaemonSet <monitoring/agent> has priorityClassName \"high\", not one of [\"system-node-critical\"]",
	} with input as fx.render([ds])
}

test_allowlisted_priority_class_allowed if {
	ds := fx.ds_with([fx.put("/spec/template/spec/priorityClassName", "agents")])
	count(priority.findings) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"allowed_priority_classes": ["system-node-critical", "agents"]}
}
