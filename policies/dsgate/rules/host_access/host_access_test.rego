package dsgate.rules.host_access_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.host_access

_pod := "/spec/template/spec"

_mount := "/spec/template/spec/containers/0/volumeMounts/0"

_rules(findings) := {f.rule | some f in findings}

_log_agent(path, mount_path) := fx.ds_with([
	fx.replace_at(concat("/", [_pod, "volumes/0"]), {"name": "pos", "hostPath": {"path": path, "type": "DirectoryOrCreate"}}),
	fx.replace_at(_mount, {"name": "pos", "mountPath": mount_path}),
])

_second(port) := json.patch(fx.daemonset, [
	fx.put("/metadata/name", "other"),
	fx.replace_at(concat("/", [_pod, "containers/0/ports/0"]), port),
])

test_read_only_host_path_allowed if {
	count(host_access.findings) == 0 with input as fx.render([fx.daemonset])
}

test_writable_host_path_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_mount, "readOnly"]))])
	fx.results(host_access.findings) == {[
		"DS-HST-001", "deny",
		"DaemonSet <monitoring/agent> container <exporter> mounts hostPath \"/proc\" at \"/host/proc\" read-write",
	]} with input as fx.render([ds])
}

test_writable_allowlisted_host_path_allowed if {
	count(host_access.findings) == 0 with input as fx.render([_log_agent("/var/lib/fluentd/", "/pos")])
	count(host_access.findings) == 0 with input as fx.render([_log_agent("/var/lib/fluentd/pos", "/pos")])
}

test_writable_sibling_of_allowlisted_host_path_denied if {
	_rules(host_access.findings) == {"DS-HST-001"} with input as fx.render([_log_agent("/var/lib/fluentd-other", "/pos")])
}

test_writable_empty_dir_allowed if {
	ds := fx.ds_with([
		fx.replace_at(concat("/", [_pod, "volumes/0"]), {"name": "proc", "emptyDir": {}}),
		fx.remove(concat("/", [_mount, "readOnly"])),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

test_host_path_without_type_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_pod, "volumes/0/hostPath/type"]))])
	fx.results(host_access.findings) == {[
		"DS-HST-002", "deny",
		"DaemonSet <monitoring/agent> hostPath volume \"proc\" (/proc) has no type",
	]} with input as fx.render([ds])
}

test_bidirectional_propagation_unprivileged_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_mount, "mountPropagation"]), "Bidirectional")])
	fx.results(host_access.findings) == {[
		"DS-HST-003", "deny",
		"DaemonSet <monitoring/agent> container <exporter> mounts \"proc\" with Bidirectional propagation but is not privileged",
	]} with input as fx.render([ds])
}

test_bidirectional_propagation_privileged_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_mount, "mountPropagation"]), "Bidirectional"),
		fx.put(concat("/", [_pod, "containers/0/securityContext/privileged"]), true),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

test_host_network_default_dns_policy_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_pod, "hostNetwork"]), true)])
	fx.results(host_access.findings) == {[
		"DS-HST-004", "deny",
		"DaemonSet <monitoring/agent> uses hostNetwork with dnsPolicy \"ClusterFirst\"",
	]} with input as fx.render([ds])
}

test_host_network_cluster_first_with_host_net_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostNetwork"]), true),
		fx.put(concat("/", [_pod, "dnsPolicy"]), "ClusterFirstWithHostNet"),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

test_host_pid_for_other_agent_denied if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostPID"]), true),
		fx.put(concat("/", [_pod, "hostIPC"]), true),
		fx.put("/spec/template/metadata/labels/app.kubernetes.io~1name", "fluentd"),
	])
	fx.results(host_access.findings) == {
		["DS-HST-005", "deny", "DaemonSet <monitoring/agent> sets hostPID but agent \"fluentd\" is not in host_namespace_agents"],
		["DS-HST-005", "deny", "DaemonSet <monitoring/agent> sets hostIPC but agent \"fluentd\" is not in host_namespace_agents"],
	} with input as fx.render([ds])
}

test_host_port_shared_by_two_daemonsets_denied if {
	port := {"containerPort": 9100, "hostPort": 9100}
	ds := fx.ds_with([fx.replace_at(concat("/", [_pod, "containers/0/ports/0"]), port)])
	fx.results(host_access.findings) == {
		[
			"DS-HST-006", "deny",
			"DaemonSet <monitoring/agent> binds host port 9100/TCP, also bound by DaemonSet <monitoring/other>",
		],
		[
			"DS-HST-006", "deny",
			"DaemonSet <monitoring/other> binds host port 9100/TCP, also bound by DaemonSet <monitoring/agent>",
		],
	} with input as fx.render([ds, _second(port)])
}

test_host_port_other_protocol_allowed if {
	ds := fx.ds_with([fx.replace_at(concat("/", [_pod, "containers/0/ports/0"]), {"containerPort": 9100, "hostPort": 9100})])
	count(host_access.findings) == 0 with input as fx.render([
		ds,
		_second({"containerPort": 9100, "hostPort": 9100, "protocol": "UDP"}),
	])
}
