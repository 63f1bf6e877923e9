# METADATA
# title: Host access
# description: >-
#   What a node agent may see and change on the host. Linux-only fields (mount propagation,
#   hostPID/hostIPC, dnsPolicy ClusterFirstWithHostNet) are not checked on Windows pods.
package dsgate.rules.host_access

import data.dsgate.lib

# METADATA
# title: hostPath volumes are mounted read-only unless allowlisted
# description: >-
#   A writable hostPath lets a compromised agent change the node. Only paths under a
#   writable_host_paths prefix (e.g. a log agent's position directory) may be mounted read-write;
#   a well-known agent may also write the host paths the catalogue lists for it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
#     description: hostPath volumes, security risks (mount read-only, scope to the file or directory)
# scope: rule
# custom:
#   id: DS-HST-001
#   category: host-access
#   severity: deny
#   profile: baseline
#   rationale: >-
#     A writable host directory lets code execution in the agent change the node itself, on every
#     node: kubelet configuration and credentials under /var/lib/kubelet, binaries, systemd units.
#     The Kubernetes documentation asks for read-only hostPath mounts for this reason.
#   field: spec.template.spec.containers[*].volumeMounts
#   parameters: [writable_host_paths, well_known_agents]
#   admission: vap
#   remediation: >-
#     Set `readOnly: true` on the volumeMount, or add the host directory to writable_host_paths if the
#     agent must write there.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	some mount in object.get(container.spec, "volumeMounts", [])
	not mount.readOnly
	some volume in object.get(ds.pod, "volumes", [])
	volume.name == mount.name
	path := volume.hostPath.path
	not _writable(path, ds.writable_host_paths)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s mounts hostPath %q at %q read-write",
		[lib.display_container(ds, container), path, object.get(mount, "mountPath", "")],
	))
}

# METADATA
# title: Every hostPath volume has a type
# description: >-
#   A type (Directory, File, ...) makes the kubelet check what it mounts instead of creating an empty
#   directory.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/#hostpath-volume-types
#     description: hostPath volume types (the empty type performs no checks)
# scope: rule
# custom:
#   id: DS-HST-002
#   category: host-access
#   severity: warn
#   profile: strict
#   rationale: >-
#     With no type the kubelet checks nothing: on a node where the path is missing the runtime
#     mounts a new empty directory and a log or metrics agent silently collects nothing there,
#     instead of failing to start where someone would notice.
#   field: spec.template.spec.volumes
#   parameters: []
#   admission: vap
#   remediation: >-
#     Set hostPath.type on the volume, e.g. Directory or File (DirectoryOrCreate only where the agent owns the path).
findings contains finding if {
	some ds in lib.daemonsets
	some volume in object.get(ds.pod, "volumes", [])
	object.get(volume.hostPath, "type", "") == ""
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s hostPath volume %q (%v) has no type",
		[lib.display(ds), volume.name, object.get(volume.hostPath, "path", "")],
	))
}

# METADATA
# title: Bidirectional mount propagation only with privileged
# description: >-
#   Bidirectional propagation lets the container's mounts reach the host; Kubernetes requires a
#   privileged container for it. Not checked on Windows pods (no mount propagation there).
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/#mount-propagation
#     description: Mount propagation (Bidirectional is only allowed in privileged containers)
# scope: rule
# custom:
#   id: DS-HST-003
#   category: host-access
#   severity: deny
#   profile: minimal
#   rationale: >-
#     The API server rejects a pod with Bidirectional propagation in a container that is not
#     privileged, so the DaemonSet creates no pod on any node.
#   field: spec.template.spec.containers[*].volumeMounts
#   parameters: []
#   admission: vap
#   remediation: >-
#     Use `mountPropagation: HostToContainer` (enough to see host mounts), or justify a privileged container.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	some container in ds.containers
	some mount in object.get(container.spec, "volumeMounts", [])
	mount.mountPropagation == "Bidirectional"
	not container.spec.securityContext.privileged
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s mounts %q with Bidirectional propagation but is not privileged",
		[lib.display_container(ds, container), mount.name],
	))
}

# METADATA
# title: hostNetwork states its DNS policy (warning)
# description: >-
#   Under hostNetwork the default dnsPolicy ClusterFirst silently behaves as Default: the agent
#   resolves with the node's resolver and cannot resolve Service names. An agent that reaches
#   Services by name needs ClusterFirstWithHostNet; one that must not depend on cluster DNS says
#   dnsPolicy Default. Agents that are part of the node's network (CNI plugins, kube-proxy,
#   load-balancer speakers in the catalogue) are never told to use cluster DNS: CoreDNS needs the
#   network they provide. Windows pods are skipped (ClusterFirstWithHostNet is not supported there).
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-dns-policy
#     description: Pod's DNS policy (ClusterFirst falls back to Default under hostNetwork)
#   - ref: https://github.com/sergelogvinov/proxmox-cloud-controller-manager/issues/300
#     description: a hostNetwork DaemonSet with ClusterFirstWithHostNet fails while cluster DNS is not up yet
# scope: rule
# custom:
#   id: DS-HST-004
#   category: host-access
#   severity: warn
#   profile: strict
#   rationale: >-
#     An agent on hostNetwork that ships to a Service by name (a log agent to
#     loki.monitoring.svc, say) fails to resolve it with the implicit policy, on every node. The
#     opposite fix is harmful for the node's network itself: a CNI plugin or kube-proxy that
#     depends on CoreDNS cannot start before CoreDNS, which cannot start before the network.
#   field: spec.template.spec.dnsPolicy
#   parameters: [well_known_agents]
#   admission: vap
#   remediation: >-
#     Set spec.template.spec.dnsPolicy to ClusterFirstWithHostNet if the agent resolves Service
#     names, or to Default if it only needs the node's resolver (always for CNI plugins and other
#     agents that start before cluster DNS).
findings contains finding if {
	some ds in lib.daemonsets
	not ds.windows
	not ds.allowed.network
	ds.pod.hostNetwork == true
	policy := object.get(ds.pod, "dnsPolicy", "ClusterFirst")
	not policy in {"ClusterFirstWithHostNet", "Default", "None"}
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s uses hostNetwork with dnsPolicy %q, which resolves with the node's resolver only: %s",
		[lib.display(ds), policy, "set ClusterFirstWithHostNet if it resolves Service names, else Default"],
	))
}

# METADATA
# title: hostNetwork, hostPID and hostIPC only for allowlisted agents
# description: >-
#   Host namespaces remove the pod's isolation from the node; only agents that must see the host (e.g.
#   node-exporter) get them. A parameter allowlist grants all three; the catalogue grants each
#   agent only the ones it uses (node-exporter hostNetwork and hostPID, a CNI hostNetwork). The
#   hostNetwork of a Windows HostProcess pod is not reported: the API requires it there, and
#   DS-SEC-007 reports the HostProcess container.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#     description: Pod Security Standards, baseline (Host Namespaces)
# scope: rule
# custom:
#   id: DS-HST-005
#   category: host-access
#   severity: deny
#   profile: baseline
#   rationale: >-
#     hostPID lets the agent read every process's environment and command line on the node
#     (secrets passed as environment variables included); hostNetwork lets it bind and sniff on
#     the node's interfaces and reach localhost-only services such as the kubelet's; hostIPC
#     shares the node's shared memory. A compromise of the agent is then a compromise of the node.
#   field: spec.template.spec.hostNetwork
#   parameters: [host_namespace_agents, well_known_agents]
#   admission: vap
#   remediation: >-
#     Remove hostNetwork, hostPID and hostIPC, or add the agent's app.kubernetes.io/name to
#     host_namespace_agents.
findings contains finding if {
	some ds in lib.daemonsets
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	ds.pod[field] == true
	not field in ds.allowed.host_namespaces
	not _host_process_network(ds, field)
	message := sprintf("%s sets %s but agent %q is not in host_namespace_agents", [lib.display(ds), field, ds.agent])
	finding := lib.finding_at(rego.metadata.rule(), ds, message, concat(".", ["spec.template.spec", field]))
}

# METADATA
# title: A host port is used by at most one DaemonSet
# description: >-
#   A cross-document check: two DaemonSets binding the same host port (hostPort, or a
#   containerPort under hostNetwork) and protocol cannot both run on any node.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/overview/#services
#     description: Configuration best practices (each hostIP, hostPort, protocol combination must be unique)
# scope: rule
# custom:
#   id: DS-HST-006
#   category: host-access
#   severity: deny
#   profile: minimal
#   rationale: >-
#     The scheduler places at most one pod per host port and protocol on a node, so whichever
#     DaemonSet comes second stays Pending on every node: that agent runs nowhere.
#   field: spec.template.spec.containers[*].ports
#   parameters: []
#   admission: ci-only
#   admission_reason: >-
#     Cross-object: a host port conflicts only with another DaemonSet that binds it; a
#     ValidatingAdmissionPolicy sees only the DaemonSet being admitted, not the others.
#   remediation: >-
#     Give each agent its own host port (or drop the hostPort and use a Service).
findings contains finding if {
	some ds in lib.daemonsets
	some port in ds.host_ports
	others := _port_index[port] - {lib.display(ds)}
	count(others) > 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s binds host port %s, also bound by %s",
		[lib.display(ds), port, concat(", ", others)],
	))
}

# The DaemonSets binding each host port; read whole once through _port_index (by key, OPA would
# evaluate the rule's body again for every port).
# regal ignore:pointless-reassignment
_port_index := _port_users

_port_users[port] contains lib.display(ds) if {
	some ds in lib.daemonsets
	some port in ds.host_ports
}

_host_process_network(ds, "hostNetwork") if {
	ds.windows
	some container in ds.containers
	lib.host_process(ds.pod, container)
}

# Windows host paths are compared with forward slashes (C:\var\lib -> C:/var/lib).
_writable(path, prefixes) if {
	some prefix in prefixes
	lib.path_under(replace(path, "\\", "/"), replace(prefix, "\\", "/"))
}
