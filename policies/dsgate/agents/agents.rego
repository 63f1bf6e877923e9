# METADATA
# title: dsgate library - the catalogue of well-known node agents
# description: >-
#   Data (lib.complete_agent fills in each entry's needs): the node agents the policies recognise
#   without configuration. An entry matches a
#   DaemonSet only when BOTH one of its name labels (the value of app.kubernetes.io/name, k8s-app,
#   app or name on the pod template or the DaemonSet) is in `labels` AND one of the pod's images has
#   a repository path (without the registry host, so a mirror is still recognised; a mirror's extra
#   path prefix is allowed) in `images`. A DaemonSet labelled `cilium` that runs some other image
#   gets nothing. `needs` says what the agent legitimately needs, per agent: the host namespaces it
#   uses, root, privileged, the Linux capabilities it adds, an unconfined seccomp profile, the host
#   paths it writes, and whether it is part of the node's network (it must not depend on cluster
#   DNS). A parameter given in data.dsgate.parameters for a need overrides the catalogue for that
#   need, and `well_known_agents: false` turns the catalogue off. The needs are read from each
#   project's own upstream manifests or Helm chart.
package dsgate.agents

import data.dsgate.lib

# METADATA
# title: The well-known node agents with every need filled in, in matching order
# description: >-
#   What the docs and the admission parameters read. Matching a DaemonSet reads `entries` and
#   completes only the entry it matches: `entries` is a constant, which OPA does not rebuild for each
#   query, where this list is built anew by every query that reads it.
catalogue := [lib.complete_agent(entry) | some entry in entries]

# METADATA
# title: The well-known node agents as written, in matching order (lib.complete_agent fills in the needs)
entries := [
	# --- CNI plugins and the node's network datapath -----------------------------------------
	{
		"name": "cilium", "kind": "network",
		"labels": ["cilium", "cilium-agent"],
		"images": ["cilium/cilium"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"capabilities": [
				"CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_MODULE", "SYS_ADMIN",
				"SYS_RESOURCE", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "SYS_CHROOT", "SYS_PTRACE",
				"PERFMON", "BPF", "SYSLOG",
			],
			"seccomp_unconfined": true,
			"writable_host_paths": [
				"/var/run/cilium", "/run/cilium", "/sys/fs/bpf", "/opt/cni/bin", "/etc/cni/net.d",
				"/run/xtables.lock", "/proc", "/var/run/netns", "/run/netns",
			],
		},
	},
	{
		"name": "cilium-envoy", "kind": "network",
		"labels": ["cilium-envoy"],
		"images": ["cilium/cilium-envoy"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true,
			"capabilities": ["NET_ADMIN", "SYS_ADMIN", "BPF", "PERFMON"],
			"seccomp_unconfined": true,
			"writable_host_paths": ["/sys/fs/bpf", "/var/run/cilium/envoy"],
		},
	},
	{
		"name": "calico-node", "kind": "network",
		"labels": ["calico-node"],
		"images": ["calico/node", "calico/cni", "calico/pod2daemon-flexvol"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"writable_host_paths": [
				"/var/run/calico", "/var/lib/calico", "/var/log/calico", "/sys/fs", "/opt/cni/bin",
				"/etc/cni/net.d", "/run/xtables.lock", "/var/run/nodeagent", "/var/lib/cni/networks",
				"/usr/libexec/kubernetes/kubelet-plugins/volume/exec",
			],
		},
	},
	{
		"name": "flannel", "kind": "network",
		"labels": ["flannel", "kube-flannel"],
		"images": [
		"flannel/flannel", "flannel-io/flannel", "flannel/flannel-cni-plugin",
		"flannel-io/flannel-cni-plugin", "coreos/flannel",
	],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "capabilities": ["NET_ADMIN", "NET_RAW"],
			"writable_host_paths": ["/run/flannel", "/etc/cni/net.d", "/opt/cni/bin", "/run/xtables.lock"],
		},
	},
	{
		"name": "weave-net", "kind": "network",
		"labels": ["weave-net"],
		"images": ["weaveworks/weave-kube", "weaveworks/weave-npc"],
		"needs": {
			"host_namespaces": ["hostNetwork", "hostPID"], "root": true, "privileged": true,
			"writable_host_paths": ["/var/lib/weave", "/opt/cni/bin", "/etc/cni/net.d", "/run/xtables.lock"],
		},
	},
	{
		"name": "kube-router", "kind": "network",
		"labels": ["kube-router"],
		"images": ["cloudnativelabs/kube-router"],
		"needs": {
			"host_namespaces": ["hostNetwork", "hostPID"], "root": true, "privileged": true,
			# Its install-cni init container writes the CNI binaries through a mount of the host's /opt.
			"writable_host_paths": ["/var/lib/kube-router", "/etc/cni/net.d", "/opt", "/run/xtables.lock"],
		},
	},
	{
		"name": "antrea-agent", "kind": "network",
		"labels": ["antrea", "antrea-agent"],
		"images": [
		"antrea/antrea-agent-ubuntu", "antrea/antrea-ubuntu", "antrea/antrea-agent-ubi",
	],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"capabilities": ["NET_ADMIN", "SYS_ADMIN", "SYS_MODULE", "SYS_NICE"],
			"writable_host_paths": [
				"/var/run/antrea", "/var/run/openvswitch", "/var/log/antrea", "/var/lib/cni",
				"/etc/cni/net.d", "/opt/cni/bin", "/run/xtables.lock",
			],
		},
	},
	{
		"name": "aws-node", "kind": "network",
		"labels": ["aws-node", "aws-vpc-cni"],
		"images": [
		"amazon-k8s-cni", "amazon/amazon-k8s-cni", "amazon-k8s-cni-init", "amazon/amazon-k8s-cni-init",
		"amazon/aws-network-policy-agent",
	],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"capabilities": ["NET_ADMIN", "NET_RAW"],
			"writable_host_paths": [
				"/opt/cni/bin", "/etc/cni/net.d", "/var/log/aws-routed-eni", "/var/run/aws-node",
				"/run/xtables.lock", "/sys/fs/bpf",
			],
		},
	},
	{
		"name": "azure-cns", "kind": "network",
		"labels": ["azure-cns"],
		"images": ["containernetworking/azure-cns", "containernetworking/azure-cni"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "capabilities": ["NET_ADMIN"],
			"writable_host_paths": [
				"/var/run/azure-cns", "/var/run/azure-vnet", "/var/log", "/etc/cni/net.d", "/opt/cni/bin",
				"/run/xtables.lock",
			],
		},
	},
	{
		"name": "kube-proxy", "kind": "network",
		"labels": ["kube-proxy"],
		"images": ["kube-proxy", "eks/kube-proxy"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"writable_host_paths": ["/run/xtables.lock"],
		},
	},
	# --- Load balancers ----------------------------------------------------------------------
	{
		"name": "metallb speaker", "kind": "network",
		"labels": ["metallb", "metallb-speaker"],
		"images": ["metallb/speaker", "frrouting/frr"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true,
			"capabilities": ["NET_RAW", "NET_ADMIN", "NET_BIND_SERVICE", "SYS_ADMIN"],
		},
	},
	{
		"name": "kube-vip", "kind": "network",
		"labels": ["kube-vip", "kube-vip-ds"],
		"images": ["kube-vip/kube-vip", "plndr/kube-vip"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "capabilities": ["NET_ADMIN", "NET_RAW"],
		},
	},
	# --- CSI node plugins (the driver's own image; the registrar alone identifies nothing) ----
	{
		"name": "aws-ebs-csi-driver node", "kind": "storage",
		"labels": ["ebs-csi-node", "ebs-csi-node-windows", "aws-ebs-csi-driver"],
		"images": ["ebs-csi-driver/aws-ebs-csi-driver"],
		"needs": {
			"root": true, "privileged": true,
			# The Windows node plugin writes the kubelet directory and talks to csi-proxy's named pipes.
			"writable_host_paths": [
				"/var/lib/kubelet", "/dev", "C:/var/lib/kubelet", "//./pipe/csi-proxy-disk-v1",
				"//./pipe/csi-proxy-filesystem-v1", "//./pipe/csi-proxy-volume-v1",
			],
		},
	},
	{
		"name": "aws-efs-csi-driver node", "kind": "storage",
		"labels": ["efs-csi-node", "aws-efs-csi-driver"],
		"images": [
		"eks/aws-efs-csi-driver", "amazon/aws-efs-csi-driver",
	],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"writable_host_paths": ["/var/lib/kubelet", "/var/run/efs", "/var/amazon/efs"],
		},
	},
	{
		"name": "gce-pd-csi-driver node", "kind": "storage",
		"labels": ["gcp-compute-persistent-disk-csi-driver", "gce-pd-node"],
		"images": [
		"cloud-provider-gcp/gcp-compute-persistent-disk-csi-driver",
	],
		"needs": {
			"root": true, "privileged": true,
			"writable_host_paths": ["/var/lib/kubelet", "/dev", "/run/udev"],
		},
	},
	{
		"name": "azuredisk-csi-driver node", "kind": "storage",
		"labels": ["csi-azuredisk-node", "azuredisk-csi-driver"],
		"images": ["kubernetes-csi/azuredisk-csi", "k8s/csi/azuredisk-csi"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"writable_host_paths": ["/var/lib/kubelet", "/dev", "/sys/bus/scsi/devices", "/sys/class"],
		},
	},
	{
		"name": "azurefile-csi-driver node", "kind": "storage",
		"labels": ["csi-azurefile-node", "azurefile-csi-driver"],
		"images": ["kubernetes-csi/azurefile-csi", "k8s/csi/azurefile-csi"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"writable_host_paths": ["/var/lib/kubelet"],
		},
	},
	{
		"name": "csi-driver-nfs node", "kind": "storage",
		"labels": ["csi-nfs-node", "csi-driver-nfs"],
		"images": ["sig-storage/nfsplugin", "k8s-staging-sig-storage/nfsplugin"],
		"needs": {
			"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
			"capabilities": ["SYS_ADMIN"], "writable_host_paths": ["/var/lib/kubelet"],
		},
	},
	{
		"name": "secrets-store-csi-driver", "kind": "storage",
		"labels": ["secrets-store-csi-driver"],
		"images": ["csi-secrets-store/driver"],
		"needs": {
			"root": true, "privileged": true,
			"writable_host_paths": [
				"/var/lib/kubelet", "/etc/kubernetes/secrets-store-csi-providers",
				"/var/run/secrets-store-csi-providers",
			],
		},
	},
	# --- Node maintenance ----------------------------------------------------------------------
	{
		"name": "kured", "kind": "maintenance",
		"labels": ["kured"],
		"images": ["kubereboot/kured", "weaveworks/kured"],
		"needs": {
			"host_namespaces": ["hostPID"], "root": true, "privileged": true,
		},
	},
	{
		"name": "node-problem-detector", "kind": "maintenance",
		"labels": ["node-problem-detector"],
		"images": ["node-problem-detector/node-problem-detector"],
		"needs": {
			"root": true, "privileged": true,
		},
	},
	{
		"name": "node-feature-discovery worker", "kind": "maintenance",
		"labels": ["node-feature-discovery", "nfd-worker"],
		"images": ["nfd/node-feature-discovery"],
		"needs": {
			"writable_host_paths": ["/etc/kubernetes/node-feature-discovery/features.d"],
		},
	},
	{
		"name": "NVIDIA device plugin", "kind": "maintenance",
		"labels": ["nvidia-device-plugin", "nvidia-device-plugin-ds"],
		"images": ["nvidia/k8s-device-plugin"],
		"needs": {
			# hostPID and privileged: the chart's MPS control daemon, labelled like the plugin.
			"host_namespaces": ["hostPID"], "root": true, "privileged": true,
			"writable_host_paths": ["/var/lib/kubelet/device-plugins", "/run/nvidia/mps", "/var/run/cdi"],
		},
	},
	{
		"name": "Intel GPU device plugin", "kind": "maintenance",
		"labels": ["intel-gpu-plugin"],
		"images": ["intel/intel-gpu-plugin"],
		"needs": {
			"root": true, "writable_host_paths": ["/var/lib/kubelet/device-plugins", "/var/run/cdi"],
		},
	},
	# --- Metrics agents --------------------------------------------------------------------------
	{
		"name": "node-exporter", "kind": "metrics",
		"labels": ["node-exporter", "prometheus-node-exporter"],
		"images": ["prometheus/node-exporter", "prom/node-exporter"],
		"needs": {
			"host_namespaces": ["hostNetwork", "hostPID"],
		},
	},
	{
		"name": "cadvisor", "kind": "metrics",
		"labels": ["cadvisor"],
		"images": ["cadvisor/cadvisor", "google/cadvisor"],
		"needs": {
			"root": true, "privileged": true,
		},
	},
	{
		"name": "windows-exporter", "kind": "metrics",
		"labels": ["windows-exporter", "prometheus-windows-exporter"],
		"images": ["prometheus-community/windows-exporter"],
		"needs": {
			# A Windows HostProcess container: it must use hostNetwork and is privileged on the node.
			"host_namespaces": ["hostNetwork"], "privileged": true,
		},
	},
	{
		"name": "datadog agent", "kind": "metrics",
		"labels": ["datadog", "datadog-agent"],
		"images": ["datadoghq/agent", "datadog/agent"],
		"needs": {
			"host_namespaces": ["hostNetwork", "hostPID"], "root": true,
			"capabilities": [
				"SYS_ADMIN", "SYS_RESOURCE", "SYS_PTRACE", "NET_ADMIN", "NET_BROADCAST", "NET_RAW",
				"IPC_LOCK", "CHOWN", "DAC_READ_SEARCH",
			],
			"writable_host_paths": ["/var/run/datadog", "/var/lib/datadog-agent/logs"],
		},
	},
	# --- Log agents ------------------------------------------------------------------------------
	# Log agents keep their read positions next to the logs by default (fluentd's pos_file,
	# fluent-bit's DB under /var/log), so they write /var/log.
	{
		"name": "fluentd", "kind": "logs",
		"labels": ["fluentd", "fluentd-elasticsearch"],
		"images": [
		"fluent/fluentd", "fluent/fluentd-kubernetes-daemonset", "kokuwaio/fluentd-elasticsearch",
	],
		"needs": {
			"root": true, "writable_host_paths": ["/var/lib/fluentd", "/var/log"],
		},
	},
	{
		"name": "fluent-bit", "kind": "logs",
		"labels": ["fluent-bit"],
		"images": ["fluent/fluent-bit"],
		"needs": {
			"root": true, "writable_host_paths": ["/var/lib/fluent-bit", "/var/log"],
		},
	},
	{
		"name": "promtail", "kind": "logs",
		"labels": ["promtail"],
		"images": ["grafana/promtail"],
		"needs": {
			"root": true, "writable_host_paths": ["/run/promtail"],
		},
	},
	{
		"name": "grafana alloy", "kind": "logs",
		"labels": ["alloy"],
		"images": ["grafana/alloy"],
		"needs": {
			"root": true, "writable_host_paths": ["/var/lib/alloy"],
		},
	},
	{
		"name": "vector", "kind": "logs",
		"labels": ["vector"],
		"images": ["timberio/vector"],
		"needs": {
			"root": true, "writable_host_paths": ["/var/lib/vector"],
		},
	},
	{
		"name": "opentelemetry-collector", "kind": "logs",
		"labels": ["opentelemetry-collector", "opentelemetry-collector-agent"],
		"images": [
		"otel/opentelemetry-collector",
		"otel/opentelemetry-collector-contrib",
		"otel/opentelemetry-collector-k8s",
		"open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib",
		"open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-k8s",
	],
		"needs": {
			"root": true, "writable_host_paths": ["/var/lib/otelcol"],
		},
	},
]

# METADATA
# title: Helper containers, by image repository path
# description: >-
#   Sidecars that serve the agent's main container and expose no endpoint of their own worth
#   probing: the CSI node-driver-registrar (registers the driver's socket with the kubelet), the
#   CSI livenessprobe sidecar (it IS the prober: it serves the /healthz the driver container's
#   livenessProbe calls), config reloaders, and kube-rbac-proxy (its health is the upstream
#   endpoint's, which the main container probes).
helpers := {
	"sig-storage/csi-node-driver-registrar",
	"kubernetes-csi/csi-node-driver-registrar",
	"kubernetes-csi/node-driver-registrar",
	"eks/csi-node-driver-registrar",
	"sig-storage/livenessprobe",
	"kubernetes-csi/livenessprobe",
	"eks/livenessprobe",
	"prometheus-operator/prometheus-config-reloader",
	"jimmidyson/configmap-reload",
	"prometheus-operator/configmap-reload",
	"kiwigrid/k8s-sidecar",
	"brancz/kube-rbac-proxy",
	"kubebuilder/kube-rbac-proxy",
	"prometheus-operator/kube-rbac-proxy",
}
