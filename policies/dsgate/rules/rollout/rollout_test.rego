package dsgate.rules.rollout_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.rollout

_max_unavailable := "/spec/updateStrategy/rollingUpdate/maxUnavailable"

_max_surge := "/spec/updateStrategy/rollingUpdate/maxSurge"

_rules(findings) := {f.rule | some f in findings}

test_percentage_max_unavailable_allowed if {
	count(rollout.findings) == 0 with input as fx.render([fx.daemonset])
}

test_no_update_strategy_denied if {
	ds := fx.ds_with([fx.remove("/spec/updateStrategy")])
	fx.results(rollout.findings) == {[
		"DS-ROL-001", "warn",
		"DaemonSet <monitoring/agent> rolls out without maxUnavailable (Kubernetes defaults it to 1)",
	]} with input as fx.render([ds])
}

test_max_unavailable_percentage_above_ceiling_denied if {
	ds := fx.ds_with([fx.put(_max_unavailable, "30%")])
	fx.results(rollout.findings) == {[
		"DS-ROL-002", "deny",
		"DaemonSet <monitoring/agent> has maxUnavailable 30%, above max_unavailable_ceiling 25%",
	]} with input as fx.render([ds])
}

test_integer_max_unavailable_unknown_cluster_size_allowed if {
	ds := fx.ds_with([fx.put(_max_unavailable, 3)])
	count(rollout.findings) == 0 with input as fx.render([ds])
}

test_integer_max_unavailable_above_scaled_ceiling_denied if {
	ds := fx.ds_with([fx.put(_max_unavailable, 3)])
	_rules(rollout.findings) == {"DS-ROL-002"} with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 8}
}

test_integer_max_unavailable_within_scaled_ceiling_allowed if {
	ds := fx.ds_with([fx.put(_max_unavailable, 2)])
	count(rollout.findings) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 8}
}

test_integer_ceiling_integer_value_above_denied if {
	ds := fx.ds_with([fx.put(_max_unavailable, 3)])
	_rules(rollout.findings) == {"DS-ROL-002"} with input as fx.render([ds])
		with data.dsgate.parameters as {"max_unavailable_ceiling": 2}
}

test_integer_ceiling_percentage_value_above_denied if {
	ds := fx.ds_with([fx.put(_max_unavailable, "50%")])
	_rules(rollout.findings) == {"DS-ROL-002"} with input as fx.render([ds])
		with data.dsgate.parameters as {"max_unavailable_ceiling": 2, "cluster_nodes": 10}
}

test_large_cluster_integer_max_unavailable_denied if {
	ds := fx.ds_with([fx.put(_max_unavailable, 1)])
	fx.results(rollout.findings) == {[
		"DS-ROL-003", "warn",
		"DaemonSet <monitoring/agent> has maxUnavailable 1, a fixed number, on a cluster of 500 nodes (above large_cluster_threshold 100)",
	]} with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 500, "rollout_time_budget": "3h"}
}

test_large_cluster_percentage_max_unavailable_allowed if {
	count(rollout.findings) == 0 with input as fx.render([fx.daemonset])
		with data.dsgate.parameters as {"cluster_nodes": 500}
}

test_on_delete_warned if {
	ds := fx.ds_with([fx.put("/spec/updateStrategy", {"type": "OnDelete"})])
	fx.results(rollout.findings) == {[
		"DS-ROL-004", "warn",
		"DaemonSet <monitoring/agent> uses updateStrategy OnDelete; updates reach a node only when its pod is deleted",
	]} with input as fx.render([ds])
}

test_missing_min_ready_seconds_denied if {
	ds := fx.ds_with([fx.remove("/spec/minReadySeconds")])
	fx.results(rollout.findings) == {[
		"DS-ROL-005", "warn",
		"DaemonSet <monitoring/agent> has minReadySeconds 0",
	]} with input as fx.render([ds])
}

test_max_surge_with_host_network_denied if {
	ds := fx.ds_with([
		fx.put(_max_surge, 1),
		fx.put("/spec/template/spec/hostNetwork", true),
	])
	fx.results(rollout.findings) == {[
		"DS-ROL-006", "deny",
		"DaemonSet <monitoring/agent> has maxSurge 1 but uses hostNetwork (every port it listens on is a host port); the surge pod cannot bind them next to the old one",
	]} with input as fx.render([ds])
}

test_max_surge_with_host_network_and_no_declared_port_denied if {
	ds := fx.ds_with([
		fx.put(_max_surge, 1),
		fx.put("/spec/template/spec/hostNetwork", true),
		fx.remove("/spec/template/spec/containers/0/ports"),
	])
	{f.rule | some f in rollout.findings} == {"DS-ROL-006"} with input as fx.render([ds])
}

test_percentage_max_surge_with_host_port_denied if {
	ds := fx.ds_with([
		fx.put(_max_surge, "25%"),
		fx.put("/spec/template/spec/containers/0/ports/0/hostPort", 9100),
		fx.put("/spec/template/spec/containers/0/ports/0/protocol", "UDP"),
	])
	{f.message | some f in rollout.findings} == {
		"DaemonSet <monitoring/agent> has maxSurge 25% but binds host ports 9100/UDP; the surge pod cannot bind them next to the old one",
	} with input as fx.render([ds])
}

test_max_surge_without_host_ports_allowed if {
	ds := fx.ds_with([fx.put(_max_surge, 1)])
	count(rollout.findings) == 0 with input as fx.render([ds])
}

test_zero_percent_max_surge_with_host_port_allowed if {
	ds := fx.ds_with([
		fx.put(_max_surge, "0%"),
		fx.put("/spec/template/spec/containers/0/ports/0/hostPort", 9100),
	])
	count(rollout.findings) == 0 with input as fx.render([ds])
}

# DS-ROL-007: the model's overhead is fixed here (1 s + 0.1 s per pod a wave) so the arithmetic is visible.
_model := {"rollout": {"wave_overhead": {"base_seconds": 1, "per_pod_seconds": 0.1}}}

test_rollout_time_unknown_fleet_allowed if {
	ds := fx.ds_with([fx.put(_max_unavailable, 1)])
	count({f | some f in rollout.findings; f.rule == "DS-ROL-007"}) == 0 with input as fx.render([ds])
		with data.dsgate.model as _model
}

test_rollout_time_one_at_a_time_on_1000_nodes_warned if {
	# 1000 waves x (10 s ready + minReadySeconds 10 + 1 s + 0.1 s) = 21,100 s; 12 a wave: 84 x 22.2 s = 1,864.8 s > 30 min,
	# 13 a wave: 77 x 22.3 s = 1,717.1 s
	ds := fx.ds_with([fx.put(_max_unavailable, 1)])
	fx.results({f | some f in rollout.findings; f.rule == "DS-ROL-007"}) == {[
		"DS-ROL-007", "warn",
		concat("", [
			"DaemonSet <monitoring/agent> rolls out over 1000 nodes in about 5 h 52 min (1000 waves, 1 pods each), ",
			"over rollout_time_budget 30m; maxUnavailable 13 (2%) would take about 29 min",
		]),
	]} with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 1000}
		with data.dsgate.model as _model
}

test_rollout_time_ten_percent_on_1000_nodes_allowed if {
	# 10 waves x (10 + 10 + 1 + 10) s = 310 s
	rollout.findings == set() with input as fx.render([fx.daemonset])
		with data.dsgate.parameters as {"cluster_nodes": 1000}
		with data.dsgate.model as _model
}

test_rollout_time_surge_counts_as_the_wave if {
	# maxUnavailable 0, maxSurge 50%: 2 waves of 500 x (10 + 10 + 1 + 50) s = 142 s, within 2m
	ds := fx.ds_with([fx.put(_max_unavailable, 0), fx.put(_max_surge, "50%")])
	count({f | some f in rollout.findings; f.rule == "DS-ROL-007"}) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 1000, "rollout_time_budget": "2m30s"}
		with data.dsgate.model as _model
}

test_rollout_time_nothing_fits_warned if {
	# 10 waves x 21.1 s = 211 s; every node at once: 1 wave x (10 + 10 + 1 + 0.1 x 10) s = 22 s > 20 s; default maxUnavailable (1, no surge)
	ds := fx.ds_with([fx.remove("/spec/updateStrategy")])
	fx.results({f | some f in rollout.findings; f.rule == "DS-ROL-007"}) == {[
		"DS-ROL-007", "warn",
		concat("", [
			"DaemonSet <monitoring/agent> rolls out over 10 nodes in about 4 min (10 waves, 1 pods each), ",
			"over rollout_time_budget 20s; even every node at once takes about 22 s: shorten minReadySeconds or raise rollout_time_budget",
		]),
	]} with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 10, "rollout_time_budget": "20s"}
		with data.dsgate.model as _model
}

test_rollout_time_on_delete_allowed if {
	ds := fx.ds_with([fx.put("/spec/updateStrategy", {"type": "OnDelete"})])
	count({f | some f in rollout.findings; f.rule == "DS-ROL-007"}) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"cluster_nodes": 1000}
		with data.dsgate.model as _model
}
