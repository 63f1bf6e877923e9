package dsgate.rules.resources_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.resources

_container := "/spec/template/spec/containers/0"

_init(name, resources) := {"name": name, "image": "quay.io/a/b:v1", "resources": resources}

_sidecar(name, resources) := object.union(_init(name, resources), {"restartPolicy": "Always"})

_other_daemonset(cpu) := json.patch(fx.daemonset, [
	fx.put("/metadata/name", "other"),
	fx.put(concat("/", [_container, "resources/requests/cpu"]), cpu),
])

test_requests_and_limits_allowed if {
	count(resources.findings) == 0 with input as fx.render([fx.daemonset])
}

test_empty_resources_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_container, "resources"]), {})])
	fx.results(resources.findings) == {[
		"DS-RES-001", "deny",
		"DaemonSet <monitoring/agent> container <exporter> has no cpu limit, memory limit, cpu request, memory request",
	]} with input as fx.render([ds])
}

test_init_container_without_memory_limit_denied if {
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [_init(
		"setup",
		{"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"cpu": "10m"}},
	)])])
	fx.results(resources.findings) == {[
		"DS-RES-001", "deny",
		"DaemonSet <monitoring/agent> init container <setup> has no memory limit",
	]} with input as fx.render([ds])
}

test_memory_request_below_limit_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_container, "resources/requests/memory"]), "32Mi")])
	fx.results(resources.findings) == {[
		"DS-RES-002", "deny",
		"DaemonSet <monitoring/agent> container <exporter> requests memory 32Mi but limits it to 64Mi",
	]} with input as fx.render([ds])
}

test_memory_request_equal_in_other_units_allowed if {
	ds := fx.ds_with([fx.put(concat("/", [_container, "resources/requests/memory"]), 67108864)])
	count(resources.findings) == 0 with input as fx.render([ds])
}

test_limits_above_agent_budget_denied if {
	ds := fx.ds_with([
		fx.put(concat("/", [_container, "resources/limits/cpu"]), "1500m"),
		fx.put(concat("/", [_container, "resources/limits/memory"]), "1536Mi"),
		fx.put(concat("/", [_container, "resources/requests/memory"]), "1536Mi"),
	])
	fx.results(resources.findings) == {
		["DS-RES-003", "deny", "DaemonSet <monitoring/agent> has an effective cpu limit of 1500m, above agent_limit_budget 1000m"],
		["DS-RES-003", "deny", "DaemonSet <monitoring/agent> has an effective memory limit of 1536Mi, above agent_limit_budget 1024Mi"],
	} with input as fx.render([ds])
}

test_agent_budget_parameter_merges_with_defaults if {
	ds := fx.ds_with([
		fx.put(concat("/", [_container, "resources/limits/cpu"]), 1.5),
		fx.put(concat("/", [_container, "resources/limits/memory"]), "1536Mi"),
		fx.put(concat("/", [_container, "resources/requests/memory"]), "1536Mi"),
	])
	{f.message | some f in resources.findings} == {
		"DaemonSet <monitoring/agent> has an effective memory limit of 1536Mi, above agent_limit_budget 1024Mi",
	} with input as fx.render([ds])
		with data.dsgate.parameters as {"agent_limit_budget": {"cpu": "2"}}
}

test_init_container_peak_counts_earlier_sidecars_denied if {
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [
		_sidecar("sidecar", {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"cpu": "200m", "memory": "8Mi"}}),
		_init("setup", {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"cpu": "900m", "memory": "8Mi"}}),
	])])
	fx.results(resources.findings) == {[
		"DS-RES-003", "deny",
		"DaemonSet <monitoring/agent> has an effective cpu limit of 1100m, above agent_limit_budget 1000m",
	]} with input as fx.render([ds])
}

test_init_container_peak_ignores_later_sidecars_allowed if {
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [
		_init("setup", {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"cpu": "900m", "memory": "8Mi"}}),
		_sidecar("sidecar", {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"cpu": "200m", "memory": "8Mi"}}),
	])])
	count(resources.findings) == 0 with input as fx.render([ds])
}

test_node_request_budget_exceeded_by_the_set_denied if {
	fx.results(resources.findings) == {
		[
			"DS-RES-004", "deny",
			"DaemonSet <monitoring/agent> requests 100m cpu per node; with the other DaemonSets of this set that makes 1100m, above node_request_budget 1000m",
		],
		[
			"DS-RES-004", "deny",
			"DaemonSet <monitoring/other> requests 1000m cpu per node; with the other DaemonSets of this set that makes 1100m, above node_request_budget 1000m",
		],
	} with input as fx.render([fx.daemonset, _other_daemonset("1")])
}

test_node_request_budget_skips_daemonsets_without_requests if {
	ds := json.patch(_other_daemonset("1"), [fx.put(concat("/", [_container, "resources/requests/cpu"]), 0)])
	{f.resource | some f in resources.findings} == {"DaemonSet/monitoring/agent"} with input as fx.render([fx.daemonset, ds])
		with data.dsgate.parameters as {"node_request_budget": {"cpu": "50m"}}
}

test_node_request_budget_within_allowed if {
	count(resources.findings) == 0 with input as fx.render([fx.daemonset, _other_daemonset("900m")])
}

# Pod-level resources (Kubernetes 1.34+) satisfy the containers' missing requests and limits.
test_pod_level_resources_allowed if {
	ds := fx.ds_with([
		fx.remove(concat("/", [_container, "resources"])),
		fx.put("/spec/template/spec/resources", {
			"requests": {"cpu": "100m", "memory": "64Mi"},
			"limits": {"cpu": "200m", "memory": "64Mi"},
		}),
	])
	count(resources.findings) == 0 with input as fx.render([ds])
}

test_pod_level_memory_request_below_limit_denied if {
	ds := fx.ds_with([
		fx.remove(concat("/", [_container, "resources"])),
		fx.put("/spec/template/spec/resources", {
			"requests": {"cpu": "100m", "memory": "32Mi"},
			"limits": {"cpu": "200m", "memory": "64Mi"},
		}),
	])
	fx.results(resources.findings) == {[
		"DS-RES-002", "deny",
		"DaemonSet <monitoring/agent> pod-level resources request memory 32Mi but limit it to 64Mi",
	]} with input as fx.render([ds])
}

test_pod_level_limit_counts_for_the_budget if {
	ds := fx.ds_with([fx.put("/spec/template/spec/resources", {"limits": {"memory": "2Gi"}})])
	fx.results(resources.findings) == {[
		"DS-RES-003", "deny",
		"DaemonSet <monitoring/agent> has an effective memory limit of 2048Mi, above agent_limit_budget 1024Mi",
	]} with input as fx.render([ds])
}

# A native sidecar is long-running: it needs requests and limits like a container.
test_native_sidecar_without_resources_denied if {
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [_sidecar("shipper", {})])])
	fx.results(resources.findings) == {[
		"DS-RES-001", "deny",
		"DaemonSet <monitoring/agent> init container <shipper> has no cpu limit, memory limit, cpu request, memory request",
	]} with input as fx.render([ds])
}

# resizePolicy says how a running pod is resized; it changes none of the rules.
test_resize_policy_changes_nothing if {
	ds := fx.ds_with([fx.put(concat("/", [_container, "resizePolicy"]), [
		{"resourceName": "memory", "restartPolicy": "RestartContainer"},
		{"resourceName": "cpu", "restartPolicy": "NotRequired"},
	])])
	count(resources.findings) == 0 with input as fx.render([ds])
}
