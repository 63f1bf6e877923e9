# METADATA
# title: Host access
# description: What a node agent may see and change on the host.
package dsgate.rules.host_access

import data.dsgate.lib

# METADATA
# title: hostPath volumes are mounted read-only unless allowlisted
# description: >-
#   A writable hostPath lets a compromised agent change the node. Only paths under a
#   writable_host_paths prefix (e.g. a log agent's position directory) may be mounted read-write.
# scope: rule
# custom:
#   id: DS-HST-001
#   category: host-access
#   severity: deny
#   field: spec.template.spec.containers[*].volumeMounts
#   parameters: [writable_host_paths, well_known_agents]
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
# scope: rule
# custom:
#   id: DS-HST-002
#   category: host-access
#   severity: deny
#   field: spec.template.spec.volumes
#   parameters: []
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
#   privileged container for it.
# scope: rule
# custom:
#   id: DS-HST-003
#   category: host-access
#   severity: deny
#   field: spec.template.spec.containers[*].volumeMounts
#   parameters: []
#   remediation: >-
#     Use `mountPropagation: HostToContainer` (enough to see host mounts), or justify a privileged container.
findings contains finding if {
	some ds in lib.daemonsets
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
# title: hostNetwork uses dnsPolicy ClusterFirstWithHostNet
# description: >-
#   With hostNetwork and the default dnsPolicy the agent resolves names with the node's resolver, not
#   cluster DNS.
# scope: rule
# custom:
#   id: DS-HST-004
#   category: host-access
#   severity: deny
#   field: spec.template.spec.dnsPolicy
#   parameters: []
#   remediation: >-
#     Set spec.template.spec.dnsPolicy to ClusterFirstWithHostNet.
findings contains finding if {
	some ds in lib.daemonsets
	ds.pod.hostNetwork == true
	policy := object.get(ds.pod, "dnsPolicy", "ClusterFirst")
	policy != "ClusterFirstWithHostNet"
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s uses hostNetwork with dnsPolicy %q",
		[lib.display(ds), policy],
	))
}

# METADATA
# title: hostNetwork, hostPID and hostIPC only for allowlisted agents
# description: >-
#   Host namespaces remove the pod's isolation from the node; only agents that must see the host (e.g.
#   node-exporter) get them.
# scope: rule
# custom:
#   id: DS-HST-005
#   category: host-access
#   severity: deny
#   field: spec.template.spec.hostNetwork
#   parameters: [host_namespace_agents, well_known_agents]
#   remediation: >-
#     Remove hostNetwork, hostPID and hostIPC, or add the agent's app.kubernetes.io/name to
#     host_namespace_agents.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.host_namespaces
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	ds.pod[field] == true
	message := sprintf("%s sets %s but agent %q is not in host_namespace_agents", [lib.display(ds), field, ds.agent])
	finding := lib.finding_at(rego.metadata.rule(), ds, message, concat(".", ["spec.template.spec", field]))
}

# METADATA
# title: A host port is used by at most one DaemonSet
# description: >-
#   A cross-document check: two DaemonSets binding the same host port (hostPort, or a
#   containerPort under hostNetwork) and protocol cannot both run on any node.
# scope: rule
# custom:
#   id: DS-HST-006
#   category: host-access
#   severity: deny
#   field: spec.template.spec.containers[*].ports
#   parameters: []
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

_writable(path, prefixes) if {
	some prefix in prefixes
	lib.path_under(path, prefix)
}
