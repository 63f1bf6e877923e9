package dsgate.rules.coverage_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.coverage

_node(name, labels, taints, cpu) := {
	"name": name,
	"labels": object.union({"kubernetes.io/os": "linux"}, labels),
	"taints": taints,
	"allocatable": {"cpu": cpu, "memory": "4Gi"},
}

_gpu_taint := {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}

_fleet := [
	_node("cp-0", {"node-role.kubernetes.io/control-plane": ""}, [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}], "4"),
	_node("gpu-0", {"gpu": "true"}, [_gpu_taint], "8"),
	_node("gpu-1", {"gpu": "true"}, [_gpu_taint], "8"),
	_node("w-0", {}, [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}], "50m"),
]

test_no_nodes_no_findings if {
	count(coverage.findings) == 0 with input as fx.render([fx.daemonset])
}

test_untolerated_taints_denied if {
	# the fixture tolerates the control-plane taint; the controller's unschedulable toleration covers w-0
	fx.results({f | some f in coverage.findings; f.rule == "DS-COV-001"}) == {[
		"DS-COV-001", "deny",
		"DaemonSet <monitoring/agent> selects 4 of the 4 nodes but does not tolerate the taint nvidia.com/gpu=present:NoSchedule on 2 of them (gpu-0, gpu-1)",
	]} with input as fx.render([fx.daemonset])
		with data.dsgate.nodes as _fleet
}

test_narrowed_by_selector_allowed if {
	ds := fx.ds_with([fx.put("/spec/template/spec/nodeSelector", {"gpu": "true"}), fx.put("/spec/template/spec/tolerations", [{"operator": "Exists"}])])
	count(coverage.findings) == 0 with input as fx.render([ds])
		with data.dsgate.nodes as _fleet
}

test_selects_nothing_warned if {
	ds := fx.ds_with([fx.put("/spec/template/spec/nodeSelector", {"pool": "gone"})])
	fx.results(coverage.findings) == {[
		"DS-COV-002", "warn",
		"DaemonSet <monitoring/agent> selects none of the 4 nodes (nodeSelector and required node affinity)",
	]} with input as fx.render([ds])
		with data.dsgate.nodes as _fleet
}

test_too_big_for_small_nodes_denied if {
	# 100m requested; w-0 has 50m allocatable
	fx.results({f | some f in coverage.findings; f.rule == "DS-COV-003"}) == {[
		"DS-COV-003", "deny",
		"DaemonSet <monitoring/agent> requests cpu 100m, more than the allocatable of 1 selected nodes (w-0)",
	]} with input as fx.render([fx.daemonset])
		with data.dsgate.nodes as _fleet
}

test_many_carriers_are_summarised if {
	nodes := [_node(sprintf("n-%d", [i]), {}, [{"key": "spot", "effect": "NoSchedule"}], "4") | some i in numbers.range(1, 5)]
	fx.results(coverage.findings) == {[
		"DS-COV-001", "deny",
		"DaemonSet <monitoring/agent> selects 5 of the 5 nodes but does not tolerate the taint spot:NoSchedule on 5 of them (n-1, n-2, n-3, ... 2 more)",
	]} with input as fx.render([fx.daemonset])
		with data.dsgate.nodes as nodes
}

test_host_network_pods_tolerate_network_unavailable if {
	ds := fx.ds_with([fx.put("/spec/template/spec/hostNetwork", true)])
	nodes := [_node("n-1", {}, [{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}], "4")]
	count(coverage.findings) == 0 with input as fx.render([ds])
		with data.dsgate.nodes as nodes
}
