package dsgate.rules.tolerations_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.tolerations

_tolerations := "/spec/template/spec/tolerations"

_pod := "/spec/template/spec"

_name_label := "/spec/template/metadata/labels/app.kubernetes.io~1name"

_no_control_plane := "DaemonSet <monitoring/agent> is meant for every node (its nodeSelector and node affinity select control-plane nodes) but does not tolerate the taint node-role.kubernetes.io/control-plane:NoSchedule, so control-plane nodes get no pod"

_no_no_execute := "DaemonSet <monitoring/agent> is meant for every node but tolerates no NoExecute taint beyond node.kubernetes.io/not-ready and node.kubernetes.io/unreachable (which the DaemonSet controller adds), so any other NoExecute taint evicts it from that node at once"

# The fixture as an agent no allowlist or catalogue entry knows, with these tolerations.
_unknown_agent(tolerations) := fx.ds_with([
	fx.put(_tolerations, tolerations),
	fx.put(_name_label, "debug-agent"),
	fx.unknown_image,
])

_rules(findings) := {f.rule | some f in findings}

_required_affinity(terms) := fx.put(concat("/", [_pod, "affinity"]), {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}})

_cp_does_not_exist := {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}

test_fixture_allowed if {
	count(tolerations.findings) == 0 with input as fx.render([fx.daemonset])
}

# DS-TOL-001

test_missing_control_plane_toleration_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_tolerations, "0"]))])
	fx.results(tolerations.findings) == {["DS-TOL-001", "deny", _no_control_plane]} with input as fx.render([ds])
}

test_control_plane_toleration_variants if {
	# [toleration replacing the control-plane one, expected rules]
	cases := [
		# the legacy master taint is another taint
		[{"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"}, {"DS-TOL-001"}],
		# NoExecute only does not cover NoSchedule
		[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoExecute"}, {"DS-TOL-001"}],
		# Equal with a value the taint does not have
		[{"key": "node-role.kubernetes.io/control-plane", "value": "true", "effect": "NoSchedule"}, {"DS-TOL-001"}],
		# Equal without a value matches the taint's empty value
		[{"key": "node-role.kubernetes.io/control-plane", "operator": "Equal", "effect": "NoSchedule"}, set()],
		# an empty operator is Equal, an empty effect every effect
		[{"key": "node-role.kubernetes.io/control-plane", "operator": ""}, set()],
	]
	every case in cases {
		_rules(tolerations.findings) == case[1] with input as fx.render([fx.ds_with([fx.replace_at(concat("/", [_tolerations, "0"]), case[0])])])
	}
}

test_non_critical_agent_without_tolerations_denied if {
	# a reboot daemon or feature-discovery worker with `tolerations: []` and no priority class
	ds := fx.ds_with([
		fx.put(_tolerations, []),
		fx.remove(concat("/", [_pod, "priorityClassName"])),
		fx.put(_name_label, "reboot-daemon"),
		fx.unknown_image,
	])
	fx.results(tolerations.findings) == {
		["DS-TOL-001", "deny", _no_control_plane],
		["DS-TOL-004", "warn", _no_no_execute],
	} with input as fx.render([ds])
}

test_where_the_daemonset_is_meant_to_run if {
	no_cp := fx.remove(concat("/", [_tolerations, "0"]))

	# [patch narrowing (or not) the fixture without its control-plane toleration, expected rules]
	cases := [
		# a GPU device plugin's nodeSelector: not meant for control planes
		[fx.put(concat("/", [_pod, "nodeSelector"]), {"nvidia.com/gpu.present": "true"}), set()],
		# the OS label does not narrow
		[fx.put(concat("/", [_pod, "nodeSelector"]), {"kubernetes.io/os": "linux"}), {"DS-TOL-001"}],
		# Windows nodes are not control planes
		[fx.put(concat("/", [_pod, "nodeSelector"]), {"kubernetes.io/os": "windows"}), set()],
		# control planes excluded by a required affinity, new and legacy role label
		[_required_affinity([{"matchExpressions": [_cp_does_not_exist]}]), set()],
		[_required_affinity([{"matchExpressions": [{"key": "node-role.kubernetes.io/master", "operator": "DoesNotExist"}]}]), set()],
		# an architecture does not narrow
		[_required_affinity([{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}]), {"DS-TOL-001"}],
		# excluding virtual nodes does not narrow
		[_required_affinity([{"matchExpressions": [{"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}]}]), {"DS-TOL-001"}],
		# terms are ORed: one generic term is enough
		[_required_affinity([{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]), {"DS-TOL-001"}],
		# a term naming nodes (matchFields), an empty term, a numeric comparison: particular nodes
		[_required_affinity([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}], "matchExpressions": [{"key": "kubernetes.io/os", "operator": "Exists"}]}]), set()],
		[_required_affinity([{}]), set()],
		[_required_affinity([{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}]), set()],
		# a preferred affinity does not narrow
		[fx.put(concat("/", [_pod, "affinity"]), {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [_cp_does_not_exist]}}]}}), {"DS-TOL-001"}],
	]
	every case in cases {
		_rules(tolerations.findings) == case[1] with input as fx.render([fx.ds_with([no_cp, case[0]])])
	}
}

# DS-TOL-002

test_blanket_toleration_allowlisted_agent_allowed if {
	ds := fx.ds_with([fx.put(_tolerations, [{"operator": "Exists"}])])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_blanket_toleration_other_agent_warned if {
	ds := _unknown_agent([{"operator": "Exists"}])
	fx.results(tolerations.findings) == {[
		"DS-TOL-002", "warn",
		"DaemonSet <monitoring/agent> tolerates every taint of every effect (operator Exists, no key, no effect) but agent \"debug-agent\" is not in blanket_toleration_agents",
	]} with input as fx.render([ds])
}

test_blanket_no_schedule_toleration_other_agent_warned if {
	ds := _unknown_agent([{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}])
	fx.results(tolerations.findings) == {[
		"DS-TOL-002", "warn",
		"DaemonSet <monitoring/agent> tolerates every NoSchedule taint (operator Exists, no key, effect NoSchedule) but agent \"debug-agent\" is not in blanket_toleration_agents",
	]} with input as fx.render([ds])
}

test_blanket_no_execute_and_prefer_no_schedule_tolerations_not_reported if {
	ds := _unknown_agent([
		{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
		{"operator": "Exists", "effect": "NoExecute"},
		{"operator": "Exists", "effect": "PreferNoSchedule"},
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_blanket_toleration_allowlist_parameter_respected if {
	ds := fx.ds_with([fx.put(_tolerations, [{"operator": "Exists"}])])
	_rules(tolerations.findings) == {"DS-TOL-002"} with input as fx.render([ds])
		with data.dsgate.parameters as {"blanket_toleration_agents": []}
}

# DS-TOL-003

test_no_execute_toleration_seconds_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_tolerations, "1", "tolerationSeconds"]), 300)])
	fx.results(tolerations.findings) == {[
		"DS-TOL-003", "deny",
		"DaemonSet <monitoring/agent> tolerates every NoExecute taint, node.kubernetes.io/not-ready and node.kubernetes.io/unreachable included, for only 300 seconds (tolerationSeconds), then its pod is evicted from the node",
	]} with input as fx.render([ds])
}

test_keyed_no_execute_toleration_seconds_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_tolerations, "-"]), {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "tolerationSeconds": 60})])
	fx.results(tolerations.findings) == {[
		"DS-TOL-003", "deny",
		"DaemonSet <monitoring/agent> tolerates the NoExecute taint \"node.kubernetes.io/not-ready\" for only 60 seconds (tolerationSeconds), then its pod is evicted from the node",
	]} with input as fx.render([ds])
}

test_toleration_seconds_the_controller_replaces_allowed if {
	# AddOrUpdateDaemonPodTolerations swaps these for its own, without tolerationSeconds
	ds := fx.ds_with([
		fx.put(concat("/", [_tolerations, "-"]), {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
		fx.put(concat("/", [_tolerations, "-"]), {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

# DS-TOL-004

test_no_schedule_only_agent_warned if {
	# the node-exporter chart's default: every NoSchedule taint, no NoExecute one
	ds := fx.ds_with([fx.put(_tolerations, [{"operator": "Exists", "effect": "NoSchedule"}])])
	fx.results(tolerations.findings) == {["DS-TOL-004", "warn", _no_no_execute]} with input as fx.render([ds])
}

test_no_execute_coverage_variants if {
	cp := {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}

	# [tolerations, expected rules]
	cases := [
		# only the taints the DaemonSet controller already tolerates
		[[cp, {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}, {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}], {"DS-TOL-004"}],
		# one keyed NoExecute taint is not every one
		[[cp, {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}], {"DS-TOL-004"}],
		# a CNI's key-less Exists tolerates everything
		[[{"operator": "Exists"}], set()],
		# key-less Exists for NoExecute
		[[cp, {"operator": "Exists", "effect": "NoExecute"}], set()],
	]
	every case in cases {
		_rules(tolerations.findings) == case[1] with input as fx.render([fx.ds_with([fx.put(_tolerations, case[0])])])
	}
}

test_narrowed_agent_needs_no_no_execute_toleration if {
	# a GPU device plugin with only its own taint's toleration
	ds := fx.ds_with([
		fx.put(_tolerations, [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]),
		fx.put(concat("/", [_pod, "nodeSelector"]), {"nvidia.com/gpu.present": "true"}),
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_device_plugin_without_selector_needs_no_control_plane_toleration if {
	# a static device-plugin manifest: no selector, its own hardware taint, the kubelet's device-plugins directory
	ds := fx.ds_with([
		fx.put(_tolerations, [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}]),
		fx.put(concat("/", [_pod, "volumes", "-"]), {"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": "Directory"}}),
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

# Regression patterns of real agents (own minimal fixtures, tolerations package only).

test_cni_with_key_less_exists_allowed if {
	# hostNetwork, its own label and image (the catalogue matches both), key-less Exists plus CriticalAddonsOnly
	ds := fx.ds_with([
		fx.put(_name_label, "calico-node"),
		fx.replace_at("/spec/template/spec/containers/0/image", "quay.io/calico/node:v3.31.0@sha256:0000"),
		fx.put(concat("/", [_pod, "hostNetwork"]), true),
		fx.put(_tolerations, [{"operator": "Exists"}, {"key": "CriticalAddonsOnly", "operator": "Exists"}]),
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_node_problem_detector_no_schedule_only_reported if {
	# every NoSchedule taint, nothing for NoExecute
	ds := fx.ds_with([
		fx.put(_name_label, "node-problem-detector"),
		fx.unknown_image,
		fx.put(_tolerations, [{"operator": "Exists", "effect": "NoSchedule"}]),
	])
	_rules(tolerations.findings) == {"DS-TOL-002", "DS-TOL-004"} with input as fx.render([ds])
}

test_reboot_daemon_with_both_role_tolerations_reported if {
	# control planes tolerated by both role keys, no NoExecute toleration
	ds := fx.ds_with([
		fx.put(_name_label, "kured"),
		fx.unknown_image,
		fx.put(_tolerations, [
			{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
			{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"},
		]),
	])
	_rules(tolerations.findings) == {"DS-TOL-004"} with input as fx.render([ds])
}

test_gpu_device_plugin_chart_allowed if {
	# required affinity on NFD's PCI vendor label, its own taint only
	ds := fx.ds_with([
		_required_affinity([{"matchExpressions": [{"key": "feature.node.kubernetes.io/pci-10de.present", "operator": "In", "values": ["true"]}]}]),
		fx.put(_tolerations, [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]),
	])
	count(tolerations.findings) == 0 with input as fx.render([ds])
}

test_worker_role_selector_meant_for_every_worker if {
	# OpenShift-style: every worker, so NoExecute coverage matters, control planes do not
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "nodeSelector"]), {"node-role.kubernetes.io/worker": ""}),
		fx.put(_tolerations, []),
	])
	_rules(tolerations.findings) == {"DS-TOL-004"} with input as fx.render([ds])
}
