package dsgate.rules.security_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.security

_pod := "/spec/template/spec"

_context := "/spec/template/spec/containers/0/securityContext"

_rules(findings) := {f.rule | some f in findings}

_binding(kind, namespace, subject) := {
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind": kind,
	"metadata": object.union({"name": "agent"}, {"namespace": namespace | namespace != ""}),
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "agent"},
	"subjects": [subject],
}

_token_mounted := fx.ds_with([fx.remove(concat("/", [_pod, "automountServiceAccountToken"]))])

test_restricted_container_allowed if {
	count(security.findings) == 0 with input as fx.render([fx.daemonset])
}

test_missing_run_as_non_root_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_pod, "securityContext/runAsNonRoot"]))])
	fx.results(security.findings) == {[
		"DS-SEC-001", "deny",
		"DaemonSet <monitoring/agent> container <exporter> does not set runAsNonRoot: true",
	]} with input as fx.render([ds])
}

test_container_run_as_non_root_overrides_pod_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "securityContext/runAsNonRoot"]), false),
		fx.put(concat("/", [_context, "runAsNonRoot"]), true),
	])
	count(security.findings) == 0 with input as fx.render([ds])
}

test_run_as_user_zero_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "runAsUser"]), 0)])
	{f.message | some f in security.findings} == {
		"DaemonSet <monitoring/agent> container <exporter> runs as user 0",
	} with input as fx.render([ds])
}

test_root_allowlisted_agent_allowed if {
	ds := fx.ds_with([
		fx.remove(concat("/", [_pod, "securityContext/runAsNonRoot"])),
		fx.put("/spec/template/metadata/labels/app.kubernetes.io~1name", "fluentd"),
	])
	count(security.findings) == 0 with input as fx.render([ds])
}

test_privilege_escalation_not_disabled_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_context, "allowPrivilegeEscalation"]))])
	fx.results(security.findings) == {[
		"DS-SEC-002", "deny",
		"DaemonSet <monitoring/agent> container <exporter> does not set allowPrivilegeEscalation: false",
	]} with input as fx.render([ds])
}

test_capabilities_not_dropped_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_context, "capabilities"]))])
	fx.results(security.findings) == {[
		"DS-SEC-003", "deny",
		"DaemonSet <monitoring/agent> container <exporter> does not drop ALL capabilities",
	]} with input as fx.render([ds])
}

test_lower_case_drop_all_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "capabilities/drop"]), ["all"])])
	fx.results(security.findings) == {[
		"DS-SEC-003", "deny",
		`DaemonSet <monitoring/agent> container <exporter> drops "all", not "ALL": Pod Security Admission restricted compares case-sensitively and rejects the pod`,
	]} with input as fx.render([ds])
}

test_cap_all_spelling_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "capabilities/drop"]), ["NET_RAW", "CAP_ALL"])])
	fx.results(security.findings) == {[
		"DS-SEC-003", "deny",
		`DaemonSet <monitoring/agent> container <exporter> drops "CAP_ALL", not "ALL": Pod Security Admission restricted compares case-sensitively and rejects the pod`,
	]} with input as fx.render([ds])
}

test_upper_case_drop_all_allowed if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "capabilities/drop"]), ["NET_RAW", "ALL"])])
	count(security.findings) == 0 with input as fx.render([ds])
}

test_added_capability_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "capabilities/add"]), ["NET_ADMIN", "cap_sys_time"])])
	fx.results(security.findings) == {
		["DS-SEC-004", "deny", "DaemonSet <monitoring/agent> container <exporter> adds capability NET_ADMIN, which is not in allowed_capabilities"],
		["DS-SEC-004", "deny", "DaemonSet <monitoring/agent> container <exporter> adds capability SYS_TIME, which is not in allowed_capabilities"],
	} with input as fx.render([ds])
}

test_allowlisted_capability_allowed if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "capabilities/add"]), ["NET_ADMIN"])])
	count(security.findings) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"allowed_capabilities": ["CAP_NET_ADMIN"]}
}

test_missing_seccomp_profile_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_pod, "securityContext/seccompProfile"]))])
	fx.results(security.findings) == {[
		"DS-SEC-005", "deny",
		"DaemonSet <monitoring/agent> container <exporter> has seccompProfile type \"\"",
	]} with input as fx.render([ds])
}

test_unconfined_pod_seccomp_profile_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_pod, "securityContext/seccompProfile/type"]), "Unconfined")])
	_rules(security.findings) == {"DS-SEC-005"} with input as fx.render([ds])
}

test_container_localhost_seccomp_overrides_pod_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "securityContext/seccompProfile/type"]), "Unconfined"),
		fx.put(concat("/", [_context, "seccompProfile"]), {"type": "Localhost", "localhostProfile": "agent.json"}),
	])
	count(security.findings) == 0 with input as fx.render([ds])
}

test_writable_root_filesystem_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_context, "readOnlyRootFilesystem"]))])
	fx.results(security.findings) == {[
		"DS-SEC-006", "warn",
		"DaemonSet <monitoring/agent> container <exporter> does not set readOnlyRootFilesystem: true",
	]} with input as fx.render([ds])
}

test_privileged_container_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "privileged"]), true)])
	fx.results(security.findings) == {[
		"DS-SEC-007", "deny",
		"DaemonSet <monitoring/agent> container <exporter> is privileged but agent \"node-exporter\" is not in privileged_agents",
	]} with input as fx.render([ds])
}

test_privileged_allowlisted_agent_allowed if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "privileged"]), true)])
	count(security.findings) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"privileged_agents": ["node-exporter"]}
}

test_unbound_default_service_account_token_denied if {
	fx.results(security.findings) == {[
		"DS-SEC-008", "warn",
		"DaemonSet <monitoring/agent> mounts the token of ServiceAccount \"default\", which no RoleBinding or ClusterRoleBinding in the set binds",
	]} with input as fx.render([_token_mounted])
}

test_explicit_token_of_unbound_service_account_denied if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "automountServiceAccountToken"]), true),
		fx.put(concat("/", [_pod, "serviceAccountName"]), "agent"),
	])
	{f.message | some f in security.findings} == {
		"DaemonSet <monitoring/agent> mounts the token of ServiceAccount \"agent\", which no RoleBinding or ClusterRoleBinding in the set binds",
	} with input as fx.render([ds])
}

test_service_account_without_token_allowed if {
	account := {
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": {"name": "default", "namespace": "monitoring"},
		"automountServiceAccountToken": false,
	}
	count(security.findings) == 0 with input as fx.render([_token_mounted, account])
}

test_role_binding_subject_defaults_to_binding_namespace_allowed if {
	binding := _binding("RoleBinding", "monitoring", {"kind": "ServiceAccount", "name": "default"})
	count(security.findings) == 0 with input as fx.render([_token_mounted, binding])
}

test_cluster_role_binding_for_service_account_allowed if {
	binding := _binding("ClusterRoleBinding", "", {"kind": "ServiceAccount", "name": "default", "namespace": "monitoring"})
	count(security.findings) == 0 with input as fx.render([_token_mounted, binding])
}

test_binding_of_same_name_in_other_namespace_denied if {
	binding := _binding("ClusterRoleBinding", "", {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"})
	_rules(security.findings) == {"DS-SEC-008"} with input as fx.render([_token_mounted, binding])
}

test_binding_of_user_with_same_name_denied if {
	binding := _binding("RoleBinding", "monitoring", {"kind": "User", "name": "default"})
	_rules(security.findings) == {"DS-SEC-008"} with input as fx.render([_token_mounted, binding])
}

# A privileged container without any hardening: one finding, "privileged". allowPrivilegeEscalation
# false is rejected by the API on it, and capabilities and seccomp do not apply to it.
test_privileged_container_is_one_finding if {
	ds := fx.ds_with([fx.put(_context, {"privileged": true, "readOnlyRootFilesystem": true})])
	fx.results(security.findings) == {[
		"DS-SEC-007", "deny",
		"DaemonSet <monitoring/agent> container <exporter> is privileged but agent \"node-exporter\" is not in privileged_agents",
	]} with input as fx.render([ds])
}

test_privileged_allowlisted_container_without_hardening_allowed if {
	ds := fx.ds_with([fx.put(_context, {"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}})])
	count(security.findings) == 0 with input as fx.render([ds])
		with data.dsgate.parameters as {"privileged_agents": ["node-exporter"]}
}

_cilium := fx.ds_with([
	fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "cilium-agent"),
	fx.replace_at("/spec/template/spec/containers/0/image", "quay.io/cilium/cilium:v1.18.0@sha256:0000"),
	fx.remove(concat("/", [_pod, "securityContext/seccompProfile"])),
	fx.put(concat("/", [_context, "capabilities/add"]), ["NET_ADMIN", "SYS_ADMIN", "BPF"]),
])

# The catalogue's capabilities and seccomp needs are per agent: cilium may add them and run unconfined.
test_catalogue_capabilities_for_cilium_allowed if {
	count(security.findings) == 0 with input as fx.render([_cilium])
}

# The same manifest labelled cilium but with another image gets none of cilium's needs.
test_cilium_label_with_other_image_denied if {
	ds := json.patch(_cilium, [fx.replace_at("/spec/template/spec/containers/0/image", "docker.io/example/miner:1.0")])
	fx.results(security.findings) == {
		["DS-SEC-004", "deny", "DaemonSet <monitoring/agent> container <exporter> adds capability BPF, which is not in allowed_capabilities"],
		["DS-SEC-004", "deny", "DaemonSet <monitoring/agent> container <exporter> adds capability NET_ADMIN, which is not in allowed_capabilities"],
		["DS-SEC-004", "deny", "DaemonSet <monitoring/agent> container <exporter> adds capability SYS_ADMIN, which is not in allowed_capabilities"],
		["DS-SEC-005", "deny", "DaemonSet <monitoring/agent> container <exporter> has seccompProfile type \"\""],
	} with input as fx.render([ds])
}

# Another agent does not get cilium's capabilities.
test_catalogue_capabilities_are_per_agent if {
	ds := fx.ds_with([fx.put(concat("/", [_context, "capabilities/add"]), ["NET_ADMIN"])])
	fx.results(security.findings) == {[
		"DS-SEC-004", "deny",
		"DaemonSet <monitoring/agent> container <exporter> adds capability NET_ADMIN, which is not in allowed_capabilities",
	]} with input as fx.render([ds])
}

# A Windows exporter: no Linux-only findings (no runAsNonRoot, seccomp, capabilities, readOnlyRootFilesystem).
test_windows_pod_gets_no_linux_findings if {
	ds := fx.ds_with([
		fx.replace_at(concat("/", [_pod, "securityContext"]), {"windowsOptions": {"runAsUserName": "ContainerUser"}}),
		fx.remove(_context),
		fx.put(concat("/", [_pod, "nodeSelector"]), {"kubernetes.io/os": "windows"}),
	])
	count(security.findings) == 0 with input as fx.render([ds])
}

# A Windows HostProcess container is the Windows form of privileged.
test_windows_host_process_unknown_agent_denied if {
	ds := fx.ds_with([
		fx.replace_at(concat("/", [_pod, "securityContext"]), {"windowsOptions": {"hostProcess": true, "runAsUserName": "NT AUTHORITY\\system"}}),
		fx.remove(_context),
		fx.unknown_image,
	])
	fx.results(security.findings) == {[
		"DS-SEC-007", "deny",
		"DaemonSet <monitoring/agent> container <exporter> is a Windows HostProcess container but agent \"node-exporter\" is not in privileged_agents",
	]} with input as fx.render([ds])
}

test_windows_exporter_host_process_allowed if {
	ds := fx.ds_with([
		fx.replace_at("/spec/template/metadata/labels/app.kubernetes.io~1name", "windows-exporter"),
		fx.replace_at("/spec/template/spec/containers/0/image", "ghcr.io/prometheus-community/windows-exporter:0.31.3@sha256:0000"),
		fx.replace_at(concat("/", [_pod, "securityContext"]), {"windowsOptions": {"hostProcess": true, "runAsUserName": "NT AUTHORITY\\system"}}),
		fx.remove(_context),
	])
	count(security.findings) == 0 with input as fx.render([ds])
}

# In a user namespace (hostUsers false) root and added capabilities stay inside the pod.
test_user_namespace_root_and_capabilities_allowed if {
	ds := fx.ds_with([
		fx.put(concat("/", [_pod, "hostUsers"]), false),
		fx.replace_at(concat("/", [_pod, "securityContext/runAsNonRoot"]), false),
		fx.replace_at(concat("/", [_pod, "securityContext/runAsUser"]), 0),
		fx.put(concat("/", [_context, "capabilities/add"]), ["NET_ADMIN"]),
	])
	count(security.findings) == 0 with input as fx.render([ds])
}

# A user namespace does not make a privileged container acceptable.
test_user_namespace_privileged_denied if {
	ds := fx.ds_with([fx.put(concat("/", [_pod, "hostUsers"]), false), fx.put(concat("/", [_context, "privileged"]), true)])
	{f.rule | some f in security.findings} == {"DS-SEC-007"} with input as fx.render([ds])
}
