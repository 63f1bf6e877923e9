# METADATA
# title: Tolerations
# description: >-
#   Where a node agent may (and must) run, as decided by taints and tolerations. Where a DaemonSet
#   is meant to run is read from its nodeSelector and required node affinity, matched against model
#   nodes (see _control_plane_nodes and _worker_nodes): an agent narrowed to a subset of nodes (GPU
#   nodes, say) is not told to run on control planes.
package dsgate.rules.tolerations

import data.dsgate.lib

# METADATA
# title: An agent meant for every node tolerates the control-plane taint
# description: >-
#   A DaemonSet whose nodeSelector and required node affinity select a control-plane node (no
#   selector, `kubernetes.io/os: linux`, an architecture, or only exclusions of other nodes) must
#   tolerate node-role.kubernetes.io/control-plane:NoSchedule, or it never runs there. A device
#   plugin (it mounts the kubelet's /var/lib/kubelet/device-plugins) serves hardware that control
#   planes do not have, so it is not expected there even without a selector.
# related_resources:
#   - ref: https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/create-cluster-kubeadm/
#     description: kubeadm taints control-plane nodes node-role.kubernetes.io/control-plane:NoSchedule
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#taints-and-tolerations
#     description: the tolerations the DaemonSet controller adds (the control-plane taint is not one of them)
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity
#     description: nodeSelector and required node affinity decide the nodes a DaemonSet runs on
#   - ref: https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/
#     description: device plugins register through /var/lib/kubelet/device-plugins for the node's own hardware
# scope: rule
# custom:
#   id: DS-TOL-001
#   category: tolerations
#   severity: deny
#   profile: minimal
#   admission: vap
#   field: spec.template.spec.tolerations
#   parameters: []
#   rationale: >-
#     kubeadm (and most self-managed installers) taint every control-plane node
#     node-role.kubernetes.io/control-plane:NoSchedule, and the DaemonSet controller does not add a
#     toleration for it. An agent meant for every node then silently never runs on the control planes:
#     no logs or metrics from the API server's nodes, no CNI or CSI there, no security reboots of them.
#     Nothing reports it: the DaemonSet's desired count simply excludes those nodes. Managed clusters
#     with hidden control planes are unaffected; disable the rule there.
#   remediation: >-
#     Add `{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}` to
#     spec.template.spec.tolerations, or, if the agent must not run on control planes, say so with a
#     required node affinity `node-role.kubernetes.io/control-plane DoesNotExist` (or a nodeSelector that
#     names the nodes it is for).
findings contains finding if {
	some ds in lib.daemonsets
	_selects_any(ds.pod, _control_plane_nodes)
	not _tolerates_control_plane(ds.pod)
	not _device_plugin(ds.pod)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		concat(" ", [
			"%s is meant for every node (its nodeSelector and node affinity select control-plane nodes) but does not",
			"tolerate the taint node-role.kubernetes.io/control-plane:NoSchedule, so control-plane nodes get no pod",
		]),
		[lib.display(ds)],
	))
}

# METADATA
# title: Only allowlisted agents tolerate every NoSchedule taint
# description: >-
#   A toleration with `operator: Exists`, no key and effect NoSchedule (or no effect, which also
#   covers NoSchedule) places the agent on every node, including nodes tainted precisely to keep
#   DaemonSets off. A key-less toleration of NoExecute or PreferNoSchedule only is not reported.
# related_resources:
#   - ref: https://github.com/virtual-kubelet/virtual-kubelet/pull/376
#     description: virtual-kubelet nodes carry a NoSchedule taint so that DaemonSet pods are not assigned to them
#   - ref: https://github.com/kubernetes-sigs/azurefile-csi-driver/pull/454
#     description: a CSI node DaemonSet with `operator Exists` was scheduled onto virtual-kubelet nodes
# scope: rule
# custom:
#   id: DS-TOL-002
#   category: tolerations
#   severity: warn
#   profile: strict
#   admission: vap
#   field: spec.template.spec.tolerations
#   parameters: [blanket_toleration_agents, well_known_agents]
#   rationale: >-
#     Virtual nodes (virtual-kubelet, AKS virtual nodes, kwok) and nodes reserved for other tenants
#     carry NoSchedule taints to keep DaemonSets off. An agent that tolerates every NoSchedule taint
#     is placed there anyway and stays Pending or fails, on every such node. It is a warning: many
#     CNIs and kube-proxy rely on it, and the catalogue of well-known agents allows it.
#   remediation: >-
#     Tolerate the taints the agent needs by key (for example node-role.kubernetes.io/control-plane), or add
#     the agent's app.kubernetes.io/name to the blanket_toleration_agents parameter.
findings contains finding if {
	some ds in lib.daemonsets
	not ds.allowed.blanket_tolerations
	some toleration in object.get(ds.pod, "tolerations", [])
	lib.blanket_toleration(toleration)
	scope := _blanket_scope[object.get(toleration, "effect", "")]
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s tolerates %s but agent %q is not in blanket_toleration_agents",
		[lib.display(ds), scope, ds.agent],
	))
}

# METADATA
# title: NoExecute tolerations carry no tolerationSeconds
# description: >-
#   With tolerationSeconds a NoExecute toleration only delays eviction. Not reported: a toleration
#   `{key: node.kubernetes.io/not-ready or node.kubernetes.io/unreachable, operator: Exists, effect:
#   NoExecute}`, whose tolerationSeconds the DaemonSet controller replaces with none.
# related_resources:
#   - ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/controller/daemon/util/daemonset_util.go
#     description: AddOrUpdateDaemonPodTolerations replaces a toleration with the same key, operator, value and effect
#   - ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/v1/helper/helpers.go
#     description: GetMatchingTolerations uses the first toleration that matches each taint
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
#     description: Taint based evictions and tolerationSeconds
# scope: rule
# custom:
#   id: DS-TOL-003
#   category: tolerations
#   severity: deny
#   profile: minimal
#   admission: vap
#   field: spec.template.spec.tolerations
#   parameters: []
#   rationale: >-
#     The taint-eviction controller uses, for each NoExecute taint on the node, the first matching
#     toleration of the pod, and evicts the pod after the smallest tolerationSeconds among them. The
#     DaemonSet controller's own not-ready and unreachable tolerations (no tolerationSeconds) are appended
#     after the user's, so a key-less `{operator: Exists, effect: NoExecute, tolerationSeconds: 300}`, or
#     a not-ready toleration with operator Equal, wins: the agent is evicted 300 s after its node goes
#     NotReady or unreachable, exactly when its logs and metrics matter, and comes back only when the node
#     recovers.
#   remediation: >-
#     Remove tolerationSeconds from NoExecute tolerations. The DaemonSet controller already adds
#     node.kubernetes.io/not-ready and node.kubernetes.io/unreachable NoExecute tolerations without it.
findings contains finding if {
	some ds in lib.daemonsets
	some toleration in object.get(ds.pod, "tolerations", [])
	toleration.effect == "NoExecute"
	not _replaced_by_controller(toleration)
	seconds := toleration.tolerationSeconds
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s tolerates %s for only %v seconds (tolerationSeconds), then its pod is evicted from the node",
		[lib.display(ds), _no_execute_scope(object.get(toleration, "key", "")), seconds],
	))
}

# METADATA
# title: An agent meant for every node tolerates NoExecute taints
# description: >-
#   A DaemonSet whose nodeSelector and required node affinity select an ordinary node has a
#   key-less `operator: Exists` toleration with effect NoExecute (or no effect). The not-ready and
#   unreachable NoExecute taints need none: the DaemonSet controller tolerates them for every DaemonSet.
# related_resources:
#   - ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/controller/daemon/util/daemonset_util.go
#     description: AddOrUpdateDaemonPodTolerations, the only NoExecute tolerations a DaemonSet pod gets by itself
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#concepts
#     description: a NoExecute taint evicts running pods that do not tolerate it, at once
#   - ref: https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown
#     description: node.kubernetes.io/out-of-service, a NoExecute taint applied during node remediation
# scope: rule
# custom:
#   id: DS-TOL-004
#   category: tolerations
#   severity: warn
#   profile: minimal
#   admission: vap
#   field: spec.template.spec.tolerations
#   parameters: []
#   rationale: >-
#     The DaemonSet controller (AddOrUpdateDaemonPodTolerations) gives every DaemonSet pod NoExecute
#     tolerations without tolerationSeconds for node.kubernetes.io/not-ready and
#     node.kubernetes.io/unreachable only, so an agent is not evicted when its node goes NotReady. Every
#     other NoExecute taint (a dedicated node pool, node.kubernetes.io/out-of-service during
#     remediation, a startup taint such as node.cilium.io/agent-not-ready, an operator's maintenance
#     taint) evicts the agent at once and keeps it off that node while the taint stays: that node's logs
#     and metrics are gone while something is being done to it. A warning: whether such taints exist
#     depends on the cluster.
#   remediation: >-
#     Add `{operator: Exists, effect: NoExecute}` to spec.template.spec.tolerations (no tolerationSeconds),
#     or narrow the DaemonSet with a nodeSelector or required node affinity to the nodes it is for.
findings contains finding if {
	some ds in lib.daemonsets
	_selects_any(ds.pod, _worker_nodes)
	not _tolerates_any_no_execute(ds.pod)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		concat(" ", [
			"%s is meant for every node but tolerates no NoExecute taint beyond node.kubernetes.io/not-ready and",
			"node.kubernetes.io/unreachable (which the DaemonSet controller adds), so any other NoExecute taint",
			"evicts it from that node at once",
		]),
		[lib.display(ds)],
	))
}

_tolerates_control_plane(pod) if {
	some toleration in object.get(pod, "tolerations", [])
	lib.tolerates(toleration, {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
}

_device_plugin(pod) if {
	some volume in object.get(pod, "volumes", [])
	lib.path_under(object.get(volume, ["hostPath", "path"], ""), "/var/lib/kubelet/device-plugins")
}

_tolerates_any_no_execute(pod) if {
	some toleration in object.get(pod, "tolerations", [])
	lib.blanket_toleration(toleration)
	object.get(toleration, "effect", "") in {"", "NoExecute"}
}

_selects_any(pod, nodes) if {
	some node in nodes
	lib.selects_node(pod, node)
}

# Model nodes: the well-known labels the kubelet and kubeadm set, for each OS and architecture a
# node agent commonly targets. A DaemonSet that selects one of them is meant for every node of that
# kind; one that needs any other label (nvidia.com/gpu.present, a node pool) is narrowed.
_base_nodes := [{
	"kubernetes.io/os": os,
	"beta.kubernetes.io/os": os,
	"kubernetes.io/arch": arch,
	"beta.kubernetes.io/arch": arch,
} |
	some os in ["linux", "windows"]
	some arch in ["amd64", "arm64"]
]

# Workers, with and without the worker role label some distributions (OpenShift) set: an agent
# that selects node-role.kubernetes.io/worker is meant for every worker.
_worker_nodes := array.concat(_base_nodes, [object.union(node, {"node-role.kubernetes.io/worker": ""}) |
	some node in _base_nodes
])

# Control-plane nodes run Linux and carry both role labels (kubeadm before 1.24 set
# node-role.kubernetes.io/master), so an affinity that excludes either one excludes them.
_control_plane_nodes := [object.union(node, {
	"node-role.kubernetes.io/control-plane": "",
	"node-role.kubernetes.io/master": "",
	"node.kubernetes.io/exclude-from-external-load-balancers": "",
}) |
	some node in _base_nodes
	node["kubernetes.io/os"] == "linux"
]

# What a key-less `operator: Exists` toleration covers, by effect (only those DS-TOL-002 reports).
_blanket_scope := {
	"": "every taint of every effect (operator Exists, no key, no effect)",
	"NoSchedule": "every NoSchedule taint (operator Exists, no key, effect NoSchedule)",
}

_no_execute_scope("") := concat(" ", [
	"every NoExecute taint, node.kubernetes.io/not-ready",
	"and node.kubernetes.io/unreachable included,",
])

_no_execute_scope(key) := sprintf("the NoExecute taint %q", [key]) if key != ""

# The DaemonSet controller's AddOrUpdateDaemonPodTolerations swaps a toleration that has its own
# toleration's key, operator, value and effect (Toleration.MatchToleration) for its own, without
# tolerationSeconds.
_replaced_by_controller(toleration) if {
	toleration.key in {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
	toleration.operator == "Exists"
	object.get(toleration, "value", "") == ""
}
