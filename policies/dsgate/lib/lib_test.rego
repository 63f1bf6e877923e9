package dsgate.lib_test

import data.dsgate.lib
import data.dsgate.lib.fixtures_test as fx

test_documents_keep_path_and_reference if {
	{[d.path, d.ref] | some d in lib.documents} == {
		["a.yaml", "DaemonSet/monitoring/agent"],
		["a.yaml", "PodDisruptionBudget/monitoring/agent"],
		["b.yaml", "Namespace//monitoring"],
	} with input as [
		{"path": "a.yaml", "contents": [fx.daemonset, fx.pdb]},
		{"path": "b.yaml", "contents": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}},
	]
}

test_documents_tolerate_null_metadata_fields if {
	{d.ref | some d in lib.documents} == {"ConfigMap//"} with input as [{
		"path": "a.yaml",
		"contents": {"kind": "ConfigMap", "metadata": {"name": null, "labels": null, "annotations": null}},
	}]
}

test_daemonset_with_null_spec_is_still_checked if {
	ds := {"kind": "DaemonSet", "metadata": {"name": "bare"}, "spec": null}
	{[d.spec, d.pod, d.containers] | some d in lib.daemonsets} == {[{}, {}, []]} with input as fx.render([ds])
}

test_daemonset_without_template_has_empty_pod if {
	{[ds.pod, ds.containers, ds.agent] | some ds in lib.daemonsets} == {[{}, [], ""]} with input as fx.render([{"kind": "DaemonSet", "metadata": {"name": "bare"}}])
}

test_agent_name_prefers_template_then_object_labels if {
	lib.agent_name({"app.kubernetes.io/name": "a"}, {"app.kubernetes.io/name": "b"}) == "b"
	lib.agent_name({"app.kubernetes.io/name": "a"}, {}) == "a"
	lib.agent_name({}, {}) == ""
}

test_display_without_namespace if {
	lib.display({"kind": "DaemonSet", "namespace": "", "name": "agent"}) == "DaemonSet <agent>"
}

test_parameters_merge_objects_and_replace_lists if {
	params := lib.parameters with data.dsgate.parameters as {"agent_limit_budget": {"cpu": "2"}, "root_agents": []}
	params.agent_limit_budget == {"cpu": "2", "memory": "1Gi"}
	params.root_agents == []
	params.allowed_priority_classes == ["system-node-critical"]
}

test_every_parameter_has_a_description if {
	every name, doc in lib.parameter_docs {
		object.keys(doc) == {"default", "description"}
		doc.description != ""
		regex.match(`^[a-z][a-z_]*$`, name)
	}
}

test_quantities if {
	lib.amount("cpu", "100m") == 100
	lib.amount("cpu", 2) == 2000
	lib.amount("cpu", "0.5") == 500
	lib.amount("memory", "1Gi") == 1073741824
	lib.amount("memory", "1G") == 1000000000
	lib.amount("memory", "1e3") == 1000
	lib.format_amount("cpu", 1500) == "1500m"
	lib.format_amount("memory", 1073741824) == "1024Mi"
}

test_tolerations_follow_kubernetes_matching if {
	taint := {"key": "k", "value": "v", "effect": "NoSchedule"}
	lib.tolerates({"operator": "Exists"}, taint)
	lib.tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
	lib.tolerates({"key": "k", "value": "v"}, taint)
	not lib.tolerates({"key": "k", "value": "w"}, taint)
	not lib.tolerates({"key": "other", "operator": "Exists"}, taint)
	not lib.tolerates({"operator": "Exists", "effect": "NoExecute"}, taint)
}

test_image_references if {
	lib.image_reference("node-exporter") == {"registry": "docker.io", "tag": "", "digest": ""}
	lib.image_reference("quay.io/prometheus/node-exporter:v1@sha256:1") == {"registry": "quay.io", "tag": "v1", "digest": "sha256:1"}
	lib.image_reference("localhost:5000/a/b") == {"registry": "localhost:5000", "tag": "", "digest": ""}
	lib.image_reference(null) == {"registry": "", "tag": "", "digest": ""}
}

test_percentages_scale_up if {
	lib.scaled("10%", 15) == 2
	lib.scaled(3, 15) == 3
	not lib.percent(3)
	not lib.percent("3")
}

test_path_prefixes if {
	lib.path_under("/var/lib/fluentd", "/var/lib/fluentd/")
	lib.path_under("/var/lib/fluentd/pos", "/var/lib/fluentd")
	lib.path_under("/anything", "/")
	not lib.path_under("/var/lib/fluentd2", "/var/lib/fluentd")
}

test_or_empty_helpers_replace_other_types if {
	lib.object_or_empty(null) == {}
	lib.string_or_empty(1) == ""
}

test_dates_are_checked_against_the_calendar if {
	lib.valid_date("2026-06-01")
	lib.valid_date("2999-12-31")
	lib.valid_date("2400-02-29")
	not lib.valid_date("2100-02-29")
	not lib.valid_date("2026-13-01")
	not lib.valid_date("26-06-01")
}

test_image_paths if {
	lib.image_path("quay.io/prometheus/node-exporter:v1@sha256:1") == "prometheus/node-exporter"
	lib.image_path("prom/node-exporter") == "prom/node-exporter"
	lib.image_path("localhost:5000/a/b:1") == "a/b"
	lib.image_path("registry.k8s.io/kube-proxy:v1.36.3") == "kube-proxy"
	lib.image_path("busybox") == "busybox"
	lib.image_path(null) == ""
}

_community_exporter := fx.ds_with([
	fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "prometheus-node-exporter"),
	fx.replace_at("/metadata/labels/app.kubernetes.io~1name", "prometheus-node-exporter"),
	fx.remove("/spec/template/spec/priorityClassName"),
])

# Cilium as its chart renders it: k8s-app label only, image from a mirror with a path prefix.
_cilium := fx.ds_with([
	fx.remove("/spec/template/metadata/labels/app.kubernetes.io~1name"),
	fx.put("/spec/template/metadata/labels/k8s-app", "cilium"),
	fx.replace_at("/metadata/labels/app.kubernetes.io~1name", "cilium-agent"),
	fx.replace_at("/spec/template/spec/containers/0/image", "mirror.example.com/quay/cilium/cilium:v1.18.0"),
])

# A DaemonSet labelled cilium that runs some other image.
_fake_cilium := fx.ds_with([
	fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "cilium"),
	fx.replace_at("/metadata/labels/app.kubernetes.io~1name", "cilium"),
	fx.replace_at("/spec/template/spec/containers/0/image", "docker.io/example/miner:1.0"),
	fx.remove("/spec/template/spec/priorityClassName"),
])

_known := [[d.agent, object.get(d.well_known, "name", ""), d.allowed, d.node_critical, d.writable_host_paths] |
	some d in lib.daemonsets
]

_nothing := {
	"root": false, "privileged": false, "blanket_tolerations": false, "node_critical": false,
	"host_namespaces": set(), "capabilities": set(), "seccomp_unconfined": false, "network": false,
}

test_well_known_agent_by_name_label_and_image if {
	_known == [[
		"prometheus-node-exporter", "node-exporter",
		{
			"root": false, "privileged": false, "blanket_tolerations": true, "node_critical": true,
			"host_namespaces": {"hostNetwork", "hostPID"}, "capabilities": set(),
			"seccomp_unconfined": false, "network": false,
		},
		true, ["/var/lib/fluentd"],
	]] with input as fx.render([_community_exporter])
}

test_well_known_agent_by_k8s_app_label_and_mirrored_image if {
	[[agent, name, allowed, _, paths]] := _known with input as fx.render([_cilium])
	[agent, name, allowed.privileged, allowed.host_namespaces, allowed.network] == ["cilium-agent", "cilium", true, {"hostNetwork"}, true]
	"NET_ADMIN" in allowed.capabilities
	"/sys/fs/bpf" in paths
}

test_name_label_alone_gets_nothing if {
	_known == [["cilium", "", _nothing, false, ["/var/lib/fluentd"]]] with input as fx.render([_fake_cilium])
}

test_image_alone_gets_nothing if {
	ds := fx.ds_with([
		fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "my-cni"),
		fx.replace_at("/spec/template/spec/containers/0/image", "quay.io/cilium/cilium:v1.18.0"),
		fx.remove("/spec/template/spec/priorityClassName"),
	])
	_known == [["my-cni", "", _nothing, false, ["/var/lib/fluentd"]]] with input as fx.render([ds])
}

test_unknown_agent_gets_only_the_parameters if {
	ds := fx.ds_with([
		fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "mine"),
		fx.replace_at("/spec/template/spec/containers/0/image", "example.com/me/mine:1"),
		fx.remove("/spec/template/spec/priorityClassName"),
	])
	_known == [["mine", "", _nothing, false, ["/var/lib/fluentd"]]] with input as fx.render([ds])
}

test_given_parameter_overrides_the_catalogue if {
	[[_, name, allowed, _, paths]] := _known with input as fx.render([_cilium]) with data.dsgate.parameters as {
		"privileged_agents": [],
		"writable_host_paths": ["/opt/mine"],
		"allowed_capabilities": ["cap_net_raw"],
		"host_namespace_agents": [],
	}
	[name, allowed.privileged, allowed.host_namespaces, allowed.capabilities, paths] == [
		"cilium", false, set(), {"NET_RAW"}, ["/opt/mine"],
	]
}

test_malformed_parameters_grant_nothing if {
	[[_, _, allowed, _, paths]] := _known with input as fx.render([_fake_cilium]) with data.dsgate.parameters as {
		"privileged_agents": "cilium",
		"host_namespace_agents": [""],
		"writable_host_paths": "/",
		"allowed_capabilities": [1, "SYS_ADMIN"],
	}
	[allowed.privileged, allowed.host_namespaces, allowed.capabilities, paths] == [false, set(), {"SYS_ADMIN"}, []]
}

test_catalogue_can_be_turned_off if {
	[[_, name, allowed, critical, _]] := _known with input as fx.render([_community_exporter])
		with data.dsgate.parameters as {"well_known_agents": false}
	[name, allowed.host_namespaces, critical] == ["", set(), false]
}

test_helper_containers_are_recognised_by_image if {
	lib.helper_container({"spec": {"image": "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0"}}, lib.helper_images)
	lib.helper_container({"spec": {"image": "mirror.example.com/k8s/sig-storage/livenessprobe:v2.15.0"}}, lib.helper_images)
	not lib.helper_container({"spec": {"image": "registry.k8s.io/sig-storage/csi-provisioner:v5.2.0"}}, lib.helper_images)
	lib.helper_images == set() with data.dsgate.parameters as {"well_known_agents": false}
}

test_windows_pods if {
	lib.windows_pod({"os": {"name": "windows"}})
	lib.windows_pod({"nodeSelector": {"kubernetes.io/os": "windows"}})
	lib.windows_pod({"securityContext": {"windowsOptions": {"hostProcess": true}}})
	lib.windows_pod({"containers": [{"securityContext": {"windowsOptions": {"runAsUserName": "x"}}}]})
	lib.windows_pod({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
		{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]},
	]}}}})
	not lib.windows_pod({"nodeSelector": {"kubernetes.io/os": "linux"}})
	not lib.windows_pod({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
		{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]},
		{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]},
	]}}}})
	not lib.windows_pod({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}})
}

test_pod_level_resources_take_precedence if {
	pod := {"resources": {"limits": {"memory": "128Mi"}}}
	cs := lib.containers({"containers": [{"name": "a", "resources": {"limits": {"memory": "64Mi", "cpu": "100m"}}}]})
	lib.effective_amount(pod, cs, "limits", "memory") == 134217728
	lib.effective_amount(pod, cs, "limits", "cpu") == 100
}

test_catalogue_labels_and_images_are_unique if {
	labels := [l | some e in data.dsgate.agents.catalogue; some l in e.labels]
	count(labels) == count({l | some l in labels})
	images := [i | some e in data.dsgate.agents.catalogue; some i in e.images]
	count(images) == count({i | some i in images})
}

test_label_selector_not_in_matches_an_absent_label if {
	not_in := {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["canary"]}]}
	lib.selector_matches(not_in, {"app": "agent"})
	lib.selector_matches(not_in, {"tier": "stable"})
	not lib.selector_matches(not_in, {"tier": "canary"})
}

test_selector_applies_to_pod_images if {
	pod := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
	lib.selector_applies({"image": "registry.k8s.io/*"}, lib.document("p.yaml", pod))
	not lib.selector_applies({"image": "quay.io/*"}, lib.document("p.yaml", pod))
}

test_selector_exemption_named_by_its_selector if {
	{e.resource | some e in lib.exemptions} == {"selector {\"namespace\":\"kube-system\"}", ""} with input as []
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "selector": {"namespace": "kube-system"}}, {"rule": "DS-PRI-001"}]
}
