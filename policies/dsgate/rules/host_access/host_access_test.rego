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
		"DS-HST-002", "warn",
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
		"DS-HST-004", "warn",
		"DaemonSet <monitoring/agent> uses hostNetwork with dnsPolicy \"ClusterFirst\", which resolves with the node's resolver only: set ClusterFirstWithHostNet if it resolves Service names, else Default",
	]} with input as fx.render([ds])
}

test_host_network_explicit_default_dns_policy_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostNetwork"]), true),
		fx.put(concat("/", [_pod, "dnsPolicy"]), "Default"),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

# A CNI must not depend on CoreDNS, which depends on the CNI: no DNS advice for network agents.
test_cni_with_cluster_first_allowed if {
	count(host_access.findings) == 0 with input as fx.render([_cni])
}

# The same DaemonSet labelled cilium but running another image is not the CNI: advised.
test_cilium_label_with_other_image_dns_warned if {
	ds := json.patch(_cni, [fx.replace_at(concat("/", [_pod, "containers/0/image"]), "quay.io/example/debug-agent:1.0@sha256:0000")])
	{[f.rule, f.severity] | some f in host_access.findings} == {["DS-HST-004", "warn"], ["DS-HST-005", "deny"]} with input as fx.render([ds])
}

test_windows_host_network_dns_policy_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostNetwork"]), true),
		fx.put(concat("/", [_pod, "nodeSelector"]), {"kubernetes.io/os": "windows"}),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

test_windows_bidirectional_propagation_not_checked if {
	ds := fx.ds_with([
		fx.put(concat("/", [_mount, "mountPropagation"]), "Bidirectional"),
		fx.put(concat("/", [_pod, "os"]), {"name": "windows"}),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

# A Windows HostProcess pod must use hostNetwork (the API requires it); DS-SEC-007 reports it.
test_windows_host_process_host_network_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostNetwork"]), true),
		fx.put("/metadata/labels/app.kubernetes.io~1name", "my-windows-agent"),
		fx.put("/spec/template/metadata/labels/app.kubernetes.io~1name", "my-windows-agent"),
		fx.put(concat("/", [_pod, "securityContext"]), {"windowsOptions": {"hostProcess": true, "runAsUserName": "NT AUTHORITY\\system"}}),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
}

# The catalogue grants node-exporter hostNetwork and hostPID, not hostIPC.
test_catalogue_host_namespaces_are_per_agent if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostNetwork"]), true),
		fx.put(concat("/", [_pod, "dnsPolicy"]), "ClusterFirstWithHostNet"),
		fx.put(concat("/", [_pod, "hostPID"]), true),
		fx.put(concat("/", [_pod, "hostIPC"]), true),
	])
	fx.results(host_access.findings) == {[
		"DS-HST-005", "deny",
		"DaemonSet <monitoring/agent> sets hostIPC but agent \"node-exporter\" is not in host_namespace_agents",
	]} with input as fx.render([ds])
}

test_host_namespace_parameter_grants_all_three if {
	ds := fx.ds_with([fx.put(concat("/", [_pod, "hostPID"]), true), fx.put(concat("/", [_pod, "hostIPC"]), true)])
	count(host_access.findings) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"host_namespace_agents": ["node-exporter"]}
}

# An empty string in host_namespace_agents does not allowlist a DaemonSet without a name label.
test_empty_agent_name_not_allowlisted if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostPID"]), true),
		fx.remove("/spec/template/metadata/labels/app.kubernetes.io~1name"),
		fx.remove("/metadata/labels/app.kubernetes.io~1name"),
		fx.unknown_image,
	])
	fx.results(host_access.findings) == {[
		"DS-HST-005", "deny",
		"DaemonSet <monitoring/agent> sets hostPID but agent \"\" is not in host_namespace_agents",
	]} with input as fx.render([ds]) with data.dsgate.parameters as {"host_namespace_agents": [""]}
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
		fx.unknown_image,
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

# A Cilium-like CNI: hostNetwork with the implicit dnsPolicy, the cilium image and labels.
_cni := fx.ds_with([
	fx.replace_at("/metadata/labels/app.kubernetes.io~1name", "cilium-agent"),
	fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "cilium-agent"),
	fx.replace_at(concat("/", [_pod, "containers/0/image"]), "quay.io/cilium/cilium:v1.18.0@sha256:0000"),
	fx.put(concat("/", [_pod, "hostNetwork"]), true),
	fx.replace_at(concat("/", [_pod, "containers/0/ports/0"]), {"name": "health", "containerPort": 9879}),
])

# The Windows EBS node plugin writes the kubelet directory and csi-proxy's pipes, Windows paths.
test_windows_csi_host_paths_are_the_agents_own if {
	ds := fx.ds_with([
		fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "ebs-csi-node-windows"),
		fx.replace_at(concat("/", [_pod, "containers/0/image"]), "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.45.0"),
		fx.put(concat("/", [_pod, "nodeSelector"]), {"kubernetes.io/os": "windows"}),
		fx.replace_at(concat("/", [_pod, "volumes/0"]), {"name": "proc", "hostPath": {"path": "C:\\var\\lib\\kubelet\\plugins", "type": "Directory"}}),
		fx.remove(concat("/", [_mount, "readOnly"])),
	])
	count(host_access.findings) == 0 with input as fx.render([ds])
	{f.rule | some f in host_access.findings} == {"DS-HST-001"} with input as fx.render([json.patch(ds, [fx.unknown_image])])
}
