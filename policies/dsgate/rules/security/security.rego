# METADATA
# title: Security
# description: >-
#   The container security context of an agent that runs on every node. Fields that exist at
#   pod level (runAsNonRoot, runAsUser, seccompProfile) are read as Kubernetes does: the
#   container's value, else the pod's. A privileged container is reported once, as privileged
#   (DS-SEC-007): the API rejects allowPrivilegeEscalation false on it, and it holds every
#   capability (it can remount its root filesystem) and runs without seccomp whatever its
#   securityContext says, so DS-SEC-002..006 do not apply to it. Windows pods get none of the
#   Linux-only rules (DS-SEC-001..006); a Windows HostProcess container is the Windows form of
#   privileged (DS-SEC-007). In a user namespace
#   (hostUsers false) root and capabilities are confined to the pod, so DS-SEC-001 and DS-SEC-004
#   do not apply.
package dsgate.rules.security

import data.dsgate.lib

# METADATA
# title: Containers run as non-root unless the agent is allowlisted
# description: >-
#   runAsNonRoot true (and no runAsUser 0) on every container, except for agents in root_agents
#   (or the catalogue's root agents), Windows pods and pods in a user namespace (hostUsers false).
# related_resources:
#   - ref: https://nvd.nist.gov/vuln/detail/CVE-2019-5736
#     description: CVE-2019-5736, a root process in a container overwrites the host's runc binary
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
#     description: User namespaces (GA in 1.36), root in the pod is not root on the node
# scope: rule
# custom:
#   id: DS-SEC-001
#   category: security
#   severity: deny
#   profile: strict
#   rationale: >-
#     A root process that escapes the container is root on every node the DaemonSet runs on;
#     container breakouts such as CVE-2019-5736 (runc overwritten from inside a container) need
#     root in the container. With hostUsers false the pod's root maps to an unprivileged host user,
#     which is why the rule skips such pods.
#   field: spec.template.spec.containers[*].securityContext.runAsNonRoot
#   parameters: [root_agents, well_known_agents]
#   admission: vap
#   remediation: >-
#     Set securityContext.runAsNonRoot: true with a non-zero runAsUser, set spec.hostUsers: false
#     (a user namespace), or add the agent's app.kubernetes.io/name to root_agents if it must read
#     root-owned host files.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.root
	not ds.windows
	not ds.user_namespace
	some container in ds.containers
	problem := _root_problem(ds.pod, container)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s %s",
		[lib.display_container(ds, container), problem],
	))
}

# METADATA
# title: allowPrivilegeEscalation is false
# description: >-
#   Without it a process can gain more privileges than its parent (setuid binaries). Not raised
#   on privileged containers (the API rejects the combination; DS-SEC-007 reports them) nor on
#   Windows pods.
# related_resources:
#   - ref: https://www.kernel.org/doc/html/latest/userspace-api/no_new_privs.html
#     description: no_new_privs, what allowPrivilegeEscalation false sets
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#     description: Pod Security Standards, restricted (Privilege Escalation)
# scope: rule
# custom:
#   id: DS-SEC-002
#   category: security
#   severity: deny
#   profile: strict
#   rationale: >-
#     Without no_new_privs, an attacker who gets code execution in the agent as a non-root user can
#     run a setuid binary in the image to become root in the container, and from there use every
#     root-only path out of it.
#   field: spec.template.spec.containers[*].securityContext.allowPrivilegeEscalation
#   parameters: []
#   admission: vap
#   remediation: >-
#     Set securityContext.allowPrivilegeEscalation to false on every container that is not privileged.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	some container in ds.containers
	not container.privileged
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
#   also drops everything for "all", but a restricted namespace rejects such a pod. Not raised on
#   privileged containers (they hold every capability regardless) nor on Windows pods.
# related_resources:
#   - ref: https://nvd.nist.gov/vuln/detail/CVE-2020-14386
#     description: CVE-2020-14386, a kernel memory corruption reachable with CAP_NET_RAW, a default container capability
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#     description: Pod Security Standards, restricted (Capabilities)
# scope: rule
# custom:
#   id: DS-SEC-003
#   category: security
#   severity: deny
#   profile: strict
#   rationale: >-
#     The runtime's default capability set includes CAP_NET_RAW, with which CVE-2020-14386
#     (AF_PACKET) turns code execution in a container into a kernel compromise of the node. An
#     agent that does not drop ALL keeps that set on every node.
#   field: spec.template.spec.containers[*].securityContext.capabilities.drop
#   parameters: []
#   admission: vap
#   remediation: >-
#     Set securityContext.capabilities.drop to ["ALL"] (upper case) on every container that is not privileged.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	some container in ds.containers
	not container.privileged
	dropped := object.get(container.spec, ["securityContext", "capabilities", "drop"], [])
	not "ALL" in dropped
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s %s",
		[lib.display_container(ds, container), _drop_problem(dropped)],
	))
}

# METADATA
# title: Added capabilities come from the allowlist
# description: >-
#   Capabilities are compared upper-case without the CAP_ prefix. An agent may add what
#   allowed_capabilities lists or, unless that parameter is given, what the catalogue says that
#   agent needs (cilium NET_ADMIN, metallb NET_RAW, ...). Not raised on privileged containers,
#   Windows pods, or pods in a user namespace (hostUsers false), where capabilities hold only
#   inside the pod's namespaces.
# related_resources:
#   - ref: https://nvd.nist.gov/vuln/detail/CVE-2022-0492
#     description: CVE-2022-0492, container escape through the cgroup v1 release_agent with CAP_SYS_ADMIN
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#     description: Pod Security Standards, baseline (Capabilities)
# scope: rule
# custom:
#   id: DS-SEC-004
#   category: security
#   severity: deny
#   profile: baseline
#   rationale: >-
#     An added capability is a host privilege on every node: CAP_SYS_ADMIN alone let a container
#     escape through the cgroup release_agent (CVE-2022-0492). Only the capabilities an agent is
#     known to need should be granted.
#   field: spec.template.spec.containers[*].securityContext.capabilities.add
#   parameters: [allowed_capabilities, well_known_agents]
#   admission: vap
#   remediation: >-
#     Remove the capability from securityContext.capabilities.add, or add it to allowed_capabilities.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	not ds.user_namespace
	some container in ds.containers
	not container.privileged
	some capability in (_capabilities(container, "add") - ds.allowed.capabilities)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s adds capability %s, which is not in allowed_capabilities",
		[lib.display_container(ds, container), capability],
	))
}

# METADATA
# title: seccompProfile is RuntimeDefault or Localhost
# description: >-
#   An unconfined agent can call every system call of the node's kernel. Not raised on
#   privileged containers (they always run Unconfined), on Windows pods, or on agents the
#   catalogue knows to need Unconfined.
# related_resources:
#   - ref: https://kubernetes.io/docs/tutorials/security/seccomp/
#     description: Restrict a Container's Syscalls with seccomp (privileged containers always run Unconfined)
#   - ref: https://nvd.nist.gov/vuln/detail/CVE-2022-0185
#     description: CVE-2022-0185, a kernel heap overflow reached through unshare, which RuntimeDefault blocks
# scope: rule
# custom:
#   id: DS-SEC-005
#   category: security
#   severity: deny
#   profile: strict
#   rationale: >-
#     Kubernetes runs containers Unconfined unless a profile is set. The kernel exploit for
#     CVE-2022-0185 needed unshare(CLONE_NEWUSER), which the runtime's default seccomp profile
#     blocks; an unconfined agent leaves that path open on every node.
#   field: spec.template.spec.securityContext.seccompProfile
#   parameters: [well_known_agents]
#   admission: vap
#   remediation: >-
#     Set spec.template.spec.securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile).
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	not ds.allowed.seccomp_unconfined
	some container in ds.containers
	not container.privileged
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
# title: The root filesystem is read-only (warning)
# description: >-
#   A read-only root filesystem keeps a compromised agent from changing its own image. Not
#   raised on Windows pods (the API rejects readOnlyRootFilesystem there) nor on privileged
#   containers (with every capability they can remount it read-write).
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
#     description: Configure a Security Context for a Pod or Container
# scope: rule
# custom:
#   id: DS-SEC-006
#   category: security
#   severity: warn
#   profile: strict
#   rationale: >-
#     A writable root filesystem lets an attacker drop tools and binaries into the running agent;
#     it does not by itself break the node, so it is a warning.
#   field: spec.template.spec.containers[*].securityContext.readOnlyRootFilesystem
#   parameters: []
#   admission: vap
#   remediation: >-
#     Set securityContext.readOnlyRootFilesystem to true; mount an emptyDir where the agent needs to write.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	some container in ds.containers
	not container.privileged
	object.get(container.spec, ["securityContext", "readOnlyRootFilesystem"], false) != true
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s does not set readOnlyRootFilesystem: true",
		[lib.display_container(ds, container)],
	))
}

# METADATA
# title: No privileged containers unless the agent is allowlisted
# description: >-
#   A privileged container (or, on Windows, a HostProcess container) is root on the node. The
#   one finding for it: the hardening rules that cannot apply to it are not raised as well.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#     description: Pod Security Standards, baseline (Privileged Containers, HostProcess)
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/create-hostprocess-pod/
#     description: Create a Windows HostProcess Pod
# scope: rule
# custom:
#   id: DS-SEC-007
#   category: security
#   severity: deny
#   profile: baseline
#   rationale: >-
#     A privileged container has every capability, every host device and no seccomp or AppArmor
#     confinement: code execution in it is root on the node, on every node of the DaemonSet.
#   field: spec.template.spec.containers[*].securityContext.privileged
#   parameters: [privileged_agents, well_known_agents]
#   admission: vap
#   remediation: >-
#     Remove securityContext.privileged (add only the capabilities needed), or add the agent to privileged_agents.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.privileged
	some container in ds.containers
	what := _privileged(ds, container)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s is %s but agent %q is not in privileged_agents",
		[lib.display_container(ds, container), what, ds.agent],
	))
}

# METADATA
# title: No service account token unless the ServiceAccount is bound by RBAC (warning)
# description: >-
#   A cross-document check. The token is mounted unless automountServiceAccountToken is false
#   on the pod, or (when the pod leaves it unset) on the ServiceAccount in the set. A mounted
#   token is only justified when a RoleBinding or ClusterRoleBinding in the set binds the
#   ServiceAccount.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/service-accounts/
#     description: Service Accounts (opt out of automounting credentials)
# scope: rule
# custom:
#   id: DS-SEC-008
#   category: security
#   severity: warn
#   profile: strict
#   rationale: >-
#     A token the agent does not use is still readable on every node by anyone who gets into the
#     agent, and gives them an API identity (discovery, and whatever a later binding grants). It
#     does not break anything by itself, so it is a warning.
#   field: spec.template.spec.automountServiceAccountToken
#   parameters: []
#   admission: ci-only
#   admission_reason: >-
#     Cross-object: whether the token is mounted depends on the ServiceAccount's
#     automountServiceAccountToken, and whether it is justified on the RoleBindings and
#     ClusterRoleBindings that bind it; a ValidatingAdmissionPolicy sees only the DaemonSet.
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

_privileged(ds, container) := "privileged" if {
	not ds.windows
	container.privileged
}

_privileged(ds, container) := "a Windows HostProcess container" if {
	ds.windows
	lib.host_process(ds.pod, container)
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
	spellings := [name | some name in dropped; lib.capability(name) == "ALL"]
	count(spellings) > 0
} else := "does not drop ALL capabilities"

_capabilities(container, list) := {lib.capability(name) |
	some name in object.get(container.spec, ["securityContext", "capabilities", list], [])
}

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
