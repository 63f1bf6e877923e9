package dsgate.rules.tolerations_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.tolerations

_tolerations := "/spec/template/spec/tolerations"

test_fixture_allowed if {
	count(tolerations.findings) == 0 with input as fx.render([fx.daemonset])
}

test_missing_control_plane_toleration_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_tolerations, "0"]))])
	fx.results(tolerations.findings) == {[
		"DS-TOL-001", "deny",
		"DaemonSet <monitoring/agent> is node-critical but does not tolerate the taint node-role.kubernetes.io/control-plane:NoSchedule",
	]} with input as fx.render([ds])
}

test_legacy_master_toleration_denied if {
	ds := fx.ds_with([fx.put(_tolerations, [{"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"}])])
	{f.rule | some f in tolerations.findings} == {"DS-TOL-001"} with input as fx.render([ds])
}

test_control_plane_toleration_with_other_effect_denied if {
	ds := fx.ds_with([fx.put(_tolerations, [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoExecute"}])])
	{f.rule | some f in tolerations.findings} == {"DS-TOL-001"} with input as fx.render([ds])
}

test_control_plane_equal_with_wrong_value_denied if {
	ds := fx.ds_with([fx.put(_tolerations, [{"key": "node-role.kubernetes.io/control-plane", "value": "true", "effect": "NoSchedule"}])])
	{f.rule | some f in tolerations.findings} == {"DS-TOL-001"} with input as fx.render([ds])
}

test_control_plane_equal_without_value_allowed if {
	ds := fx.ds_with([fx.put(_tolerations, [{"key": "node-role.kubernetes.io/control-plane", "operator": "Equal", "effect": "NoSchedule"}])])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_control_plane_empty_operator_empty_effect_allowed if {
	ds := fx.ds_with([fx.put(_tolerations, [{"key": "node-role.kubernetes.io/control-plane", "operator": ""}])])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_not_node_critical_without_control_plane_toleration_allowed if {
	ds := fx.ds_with([
		fx.remove(concat("/", [_tolerations, "0"])),
		fx.put("/spec/template/spec/priorityClassName", "other"),
		fx.put("/spec/template/metadata/labels/app.kubernetes.io~1name", "debug-agent"),
		fx.unknown_image,
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_node_critical_by_agent_allowlist_denied if {
	ds := fx.ds_with([
		fx.remove(concat("/", [_tolerations, "0"])),
		fx.remove("/spec/template/spec/priorityClassName"),
	])
	{f.rule | some f in tolerations.findings} == {"DS-TOL-001"} with input as fx.render([ds])
}

test_blanket_toleration_allowlisted_agent_allowed if {
	ds := fx.ds_with([fx.put(_tolerations, [{"operator": "Exists"}])])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_blanket_toleration_other_agent_denied if {
	ds := fx.ds_with([
		fx.put(_tolerations, [{"operator": "Exists", "effect": "NoSchedule"}]),
		fx.put("/spec/template/metadata/labels/app.kubernetes.io~1name", "debug-agent"),
		fx.unknown_image,
	])
	fx.results(tolerations.findings) == {[
		"DS-TOL-002", "deny",
		"DaemonSet <monitoring/agent> tolerates every taint (operator Exists without a key, effect \"NoSchedule\") but agent \"debug-agent\" is not in blanket_toleration_agents",
	]} with input as fx.render([ds])
}

test_blanket_toleration_allowlist_parameter_respected if {
	ds := fx.ds_with([fx.put(_tolerations, [{"operator": "Exists"}])])
	{f.rule | some f in tolerations.findings} == {"DS-TOL-002"} with input as fx.render([ds])
		with data.dsgate.parameters as {"blanket_toleration_agents": []}
}

test_no_execute_toleration_seconds_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_tolerations, "1", "tolerationSeconds"]), 300)])
	fx.results(tolerations.findings) == {[
		"DS-TOL-003", "deny",
		"DaemonSet <monitoring/agent> tolerates \"node.kubernetes.io/not-ready\" NoExecute for only 300 seconds (tolerationSeconds)",
	]} with input as fx.render([ds])
}
