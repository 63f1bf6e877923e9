# METADATA
# title: Security
# description: >-
#   The container security context of an agent that runs on every node. Fields that exist at
#   pod level (runAsNonRoot, runAsUser, seccompProfile) are read as Kubernetes does: the
#   container's value, else the pod's.
package dsgate.rules.security

import data.dsgate.lib

# METADATA
# title: Containers run as non-root unless the agent is allowlisted
# description: runAsNonRoot true (and no runAsUser 0) on every container, except for agents in root_agents.
# scope: rule
# custom:
#   id: DS-SEC-001
#   category: security
#   severity: deny
#   field: spec.template.spec.containers[*].securityContext.runAsNonRoot
#   parameters: [root_agents, well_known_agents]
#   remediation: >-
#     Set securityContext.runAsNonRoot: true with a non-zero runAsUser, or add the agent's
#     app.kubernetes.io/name to root_agents if it must read root-owned host files.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.root
	some container in ds.containers
	problem := _root_problem(ds.pod, container)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s %s",
		[lib.display_container(ds, container), problem],
	))
}

# METADATA
# title: allowPrivilegeEscalation is false
# description: Without it a process can gain more privileges than its parent (setuid binaries).
# scope: rule
# custom:
#   id: DS-SEC-002
#   category: security
#   severity: deny
#   field: spec.template.spec.containers[*].securityContext.allowPrivilegeEscalation
#   parameters: []
#   remediation: >-
#     Set securityContext.allowPrivilegeEscalation to false on every container.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	object.get(container.spec, ["securityContext", "allowPrivilegeEscalation"], true) != false
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s does not set allowPrivilegeEscalation: false",
		[lib.display_container(ds, container)],
	))
}

# METADATA
# title: Capabilities drop ALL
# description: >-
#   Start from no Linux capabilities and add back only what the allowlist permits. The drop list
#   must hold "ALL" exactly, as Pod Security Admission restricted requires: the container runtime
#   also drops everything for "all", but a restricted namespace rejects such a pod.
# scope: rule
# custom:
#   id: DS-SEC-003
#   category: security
#   severity: deny
#   field: spec.template.spec.containers[*].securityContext.capabilities.drop
#   parameters: []
#   remediation: >-
#     Set securityContext.capabilities.drop to ["ALL"] (upper case) on every container.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	dropped := object.get(container.spec, ["securityContext", "capabilities", "drop"], [])
	not "ALL" in dropped
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s %s",
		[lib.display_container(ds, container), _drop_problem(dropped)],
	))
}

# METADATA
# title: Added capabilities come from the allowlist
# description: Capabilities are compared upper-case without the CAP_ prefix.
# scope: rule
# custom:
#   id: DS-SEC-004
#   category: security
#   severity: deny
#   field: spec.template.spec.containers[*].securityContext.capabilities.add
#   parameters: [allowed_capabilities]
#   remediation: >-
#     Remove the capability from securityContext.capabilities.add, or add it to allowed_capabilities.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	allowed := {_capability(name) | some name in lib.parameters.allowed_capabilities}
	some capability in (_capabilities(container, "add") - allowed)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s adds capability %s, which is not in allowed_capabilities",
		[lib.display_container(ds, container), capability],
	))
}

# METADATA
# title: seccompProfile is RuntimeDefault or Localhost
# description: An unconfined agent can call every system call of the node's kernel.
# scope: rule
# custom:
#   id: DS-SEC-005
#   category: security
#   severity: deny
#   field: spec.template.spec.securityContext.seccompProfile
#   parameters: []
#   remediation: >-
#     Set spec.template.spec.securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile).
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	profile := object.get(
		container.spec,
		["securityContext", "seccompProfile", "type"],
		object.get(ds.pod, ["securityContext", "seccompProfile", "type"], ""),
	)
	not profile in {"RuntimeDefault", "Localhost"}
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has seccompProfile type %q",
		[lib.display_container(ds, container), profile],
	))
}

# METADATA
# title: The root filesystem is read-only
# description: A read-only root filesystem keeps a compromised agent from changing its own image.
# scope: rule
# custom:
#   id: DS-SEC-006
#   category: security
#   severity: deny
#   field: spec.template.spec.containers[*].securityContext.readOnlyRootFilesystem
#   parameters: []
#   remediation: >-
#     Set securityContext.readOnlyRootFilesystem to true; mount an emptyDir where the agent needs to write.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	object.get(container.spec, ["securityContext", "readOnlyRootFilesystem"], false) != true
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s does not set readOnlyRootFilesystem: true",
		[lib.display_container(ds, container)],
	))
}

# METADATA
# title: No privileged containers unless the agent is allowlisted
# description: A privileged container is root on the node.
# scope: rule
# custom:
#   id: DS-SEC-007
#   category: security
#   severity: deny
#   field: spec.template.spec.containers[*].securityContext.privileged
#   parameters: [privileged_agents, well_known_agents]
#   remediation: >-
#     Remove securityContext.privileged (add only the capabilities needed), or add the agent to privileged_agents.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.privileged
	some container in ds.containers
	container.spec.securityContext.privileged == true
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s is privileged but agent %q is not in privileged_agents",
		[lib.display_container(ds, container), ds.agent],
	))
}

# METADATA
# title: No service account token unless the ServiceAccount is bound by RBAC
# description: >-
#   A cross-document check. The token is mounted unless automountServiceAccountToken is false
#   on the pod, or (when the pod leaves it unset) on the ServiceAccount in the set. A mounted
#   token is only justified when a RoleBinding or ClusterRoleBinding in the set binds the
#   ServiceAccount.
# scope: rule
# custom:
#   id: DS-SEC-008
#   category: security
#   severity: deny
#   field: spec.template.spec.automountServiceAccountToken
#   parameters: []
#   remediation: >-
#     Set spec.template.spec.automountServiceAccountToken: false, or bind the ServiceAccount to the
#     Role or ClusterRole the agent needs (in the same chart or overlay).
findings contains finding if {
	some ds in lib.daemonsets
	_mounts_token(ds, _accounts_without_token)
	account := _service_account(ds.pod)
	not [ds.namespace, account] in _bound_accounts
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s mounts the token of ServiceAccount %q, which no RoleBinding or ClusterRoleBinding in the set binds",
		[lib.display(ds), account],
	))
}

_root_problem(pod, container) := "does not set runAsNonRoot: true" if {
	object.get(container.spec, ["securityContext", "runAsNonRoot"], object.get(
		pod,
		["securityContext", "runAsNonRoot"],
		false,
	)) != true
} else := "runs as user 0" if {
	pod_user := object.get(pod, ["securityContext", "runAsUser"], null)
	object.get(container.spec, ["securityContext", "runAsUser"], pod_user) == 0
}

_drop_problem(dropped) := sprintf(
	"drops %q, not \"ALL\": Pod Security Admission restricted compares case-sensitively and rejects the pod",
	[spellings[0]],
) if {
	spellings := [name | some name in dropped; _capability(name) == "ALL"]
	count(spellings) > 0
} else := "does not drop ALL capabilities"

_capabilities(container, list) := {_capability(name) |
	some name in object.get(container.spec, ["securityContext", "capabilities", list], [])
}

_capability(name) := trim_prefix(upper(name), "CAP_")

_service_account(pod) := name if {
	name := object.get(pod, "serviceAccountName", object.get(pod, "serviceAccount", ""))
	name != ""
} else := "default"

_mounts_token(ds, _) if ds.pod.automountServiceAccountToken == true

_mounts_token(ds, accounts_without_token) if {
	object.get(ds.pod, "automountServiceAccountToken", null) == null
	not [ds.namespace, _service_account(ds.pod)] in accounts_without_token
}

_accounts_without_token contains [account.namespace, account.name] if {
	some account in lib.of_kind(lib.entries, "ServiceAccount")
	account.object.automountServiceAccountToken == false
}

_bound_accounts contains [object.get(subject, "namespace", binding.namespace), subject.name] if {
	some kind in ["RoleBinding", "ClusterRoleBinding"]
	some binding in lib.of_kind(lib.entries, kind)
	some subject in object.get(binding.object, "subjects", [])
	subject.kind == "ServiceAccount"
}
