# METADATA
# title: dsgate library - the catalogue of well-known node agents
# description: >-
#   Data only: the node agents the policies recognise without configuration. An entry matches a
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

# METADATA
# title: The well-known node agents, in matching order
catalogue := [
	# --- CNI plugins and the node's network datapath -----------------------------------------
	_agent("cilium", "network", ["cilium", "cilium-agent"], ["cilium/cilium"], {
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
	}),
	_agent("cilium-envoy", "network", ["cilium-envoy"], ["cilium/cilium-envoy"], {
		"host_namespaces": ["hostNetwork"], "root": true,
		"capabilities": ["NET_ADMIN", "SYS_ADMIN", "BPF", "PERFMON"],
		"seccomp_unconfined": true,
		"writable_host_paths": ["/sys/fs/bpf", "/var/run/cilium/envoy"],
	}),
	_agent("calico-node", "network", ["calico-node"], ["calico/node", "calico/cni", "calico/pod2daemon-flexvol"], {
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"writable_host_paths": [
			"/var/run/calico", "/var/lib/calico", "/var/log/calico", "/sys/fs", "/opt/cni/bin",
			"/etc/cni/net.d", "/run/xtables.lock", "/var/run/nodeagent", "/var/lib/cni/networks",
			"/usr/libexec/kubernetes/kubelet-plugins/volume/exec",
		],
	}),
	_agent("flannel", "network", ["flannel", "kube-flannel"], [
		"flannel/flannel", "flannel-io/flannel", "flannel/flannel-cni-plugin",
		"flannel-io/flannel-cni-plugin", "coreos/flannel",
	], {
		"host_namespaces": ["hostNetwork"], "root": true, "capabilities": ["NET_ADMIN", "NET_RAW"],
		"writable_host_paths": ["/run/flannel", "/etc/cni/net.d", "/opt/cni/bin", "/run/xtables.lock"],
	}),
	_agent("weave-net", "network", ["weave-net"], ["weaveworks/weave-kube", "weaveworks/weave-npc"], {
		"host_namespaces": ["hostNetwork", "hostPID"], "root": true, "privileged": true,
		"writable_host_paths": ["/var/lib/weave", "/opt/cni/bin", "/etc/cni/net.d", "/run/xtables.lock"],
	}),
	_agent("kube-router", "network", ["kube-router"], ["cloudnativelabs/kube-router"], {
		"host_namespaces": ["hostNetwork", "hostPID"], "root": true, "privileged": true,
		# Its install-cni init container writes the CNI binaries through a mount of the host's /opt.
		"writable_host_paths": ["/var/lib/kube-router", "/etc/cni/net.d", "/opt", "/run/xtables.lock"],
	}),
	_agent("antrea-agent", "network", ["antrea", "antrea-agent"], [
		"antrea/antrea-agent-ubuntu", "antrea/antrea-ubuntu", "antrea/antrea-agent-ubi",
	], {
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"capabilities": ["NET_ADMIN", "SYS_ADMIN", "SYS_MODULE", "SYS_NICE"],
		"writable_host_paths": [
			"/var/run/antrea", "/var/run/openvswitch", "/var/log/antrea", "/var/lib/cni",
			"/etc/cni/net.d", "/opt/cni/bin", "/run/xtables.lock",
		],
	}),
	_agent("aws-node", "network", ["aws-node", "aws-vpc-cni"], [
		"amazon-k8s-cni", "amazon/amazon-k8s-cni", "amazon-k8s-cni-init", "amazon/amazon-k8s-cni-init",
		"amazon/aws-network-policy-agent",
	], {
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"capabilities": ["NET_ADMIN", "NET_RAW"],
		"writable_host_paths": [
			"/opt/cni/bin", "/etc/cni/net.d", "/var/log/aws-routed-eni", "/var/run/aws-node",
			"/run/xtables.lock", "/sys/fs/bpf",
		],
	}),
	_agent("azure-cns", "network", ["azure-cns"], ["containernetworking/azure-cns", "containernetworking/azure-cni"], {
		"host_namespaces": ["hostNetwork"], "root": true, "capabilities": ["NET_ADMIN"],
		"writable_host_paths": [
			"/var/run/azure-cns", "/var/run/azure-vnet", "/var/log", "/etc/cni/net.d", "/opt/cni/bin",
			"/run/xtables.lock",
		],
	}),
	_agent("kube-proxy", "network", ["kube-proxy"], ["kube-proxy", "eks/kube-proxy"], {
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"writable_host_paths": ["/run/xtables.lock"],
	}),
	# --- Load balancers ----------------------------------------------------------------------
	_agent("metallb speaker", "network", ["metallb", "metallb-speaker"], ["metallb/speaker", "frrouting/frr"], {
		"host_namespaces": ["hostNetwork"], "root": true,
		"capabilities": ["NET_RAW", "NET_ADMIN", "NET_BIND_SERVICE", "SYS_ADMIN"],
	}),
	_agent("kube-vip", "network", ["kube-vip", "kube-vip-ds"], ["kube-vip/kube-vip", "plndr/kube-vip"], {
		"host_namespaces": ["hostNetwork"], "root": true, "capabilities": ["NET_ADMIN", "NET_RAW"],
	}),
	# --- CSI node plugins (the driver's own image; the registrar alone identifies nothing) ----
	_agent("aws-ebs-csi-driver node", "storage", ["ebs-csi-node", "ebs-csi-node-windows", "aws-ebs-csi-driver"],
		["ebs-csi-driver/aws-ebs-csi-driver"],
	{
		"root": true, "privileged": true,
		# The Windows node plugin writes the kubelet directory and talks to csi-proxy's named pipes.
		"writable_host_paths": [
			"/var/lib/kubelet", "/dev", "C:/var/lib/kubelet", "//./pipe/csi-proxy-disk-v1",
			"//./pipe/csi-proxy-filesystem-v1", "//./pipe/csi-proxy-volume-v1",
		],
	}),
	_agent("aws-efs-csi-driver node", "storage", ["efs-csi-node", "aws-efs-csi-driver"], [
		"eks/aws-efs-csi-driver", "amazon/aws-efs-csi-driver",
	], {
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"writable_host_paths": ["/var/lib/kubelet", "/var/run/efs", "/var/amazon/efs"],
	}),
	_agent("gce-pd-csi-driver node", "storage", ["gcp-compute-persistent-disk-csi-driver", "gce-pd-node"], [
		"cloud-provider-gcp/gcp-compute-persistent-disk-csi-driver",
	], {
		"root": true, "privileged": true,
		"writable_host_paths": ["/var/lib/kubelet", "/dev", "/run/udev"],
	}),
	_agent("azuredisk-csi-driver node", "storage", ["csi-azuredisk-node", "azuredisk-csi-driver"],
		["kubernetes-csi/azuredisk-csi", "k8s/csi/azuredisk-csi"],
	{
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"writable_host_paths": ["/var/lib/kubelet", "/dev", "/sys/bus/scsi/devices", "/sys/class"],
	}),
	_agent("azurefile-csi-driver node", "storage", ["csi-azurefile-node", "azurefile-csi-driver"],
		["kubernetes-csi/azurefile-csi", "k8s/csi/azurefile-csi"],
	{
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"writable_host_paths": ["/var/lib/kubelet"],
	}),
	_agent("csi-driver-nfs node", "storage", ["csi-nfs-node", "csi-driver-nfs"],
		["sig-storage/nfsplugin", "k8s-staging-sig-storage/nfsplugin"],
	{
		"host_namespaces": ["hostNetwork"], "root": true, "privileged": true,
		"capabilities": ["SYS_ADMIN"], "writable_host_paths": ["/var/lib/kubelet"],
	}),
	_agent("secrets-store-csi-driver", "storage", ["secrets-store-csi-driver"], ["csi-secrets-store/driver"], {
		"root": true, "privileged": true,
		"writable_host_paths": [
			"/var/lib/kubelet", "/etc/kubernetes/secrets-store-csi-providers",
			"/var/run/secrets-store-csi-providers",
		],
	}),
	# --- Node maintenance ----------------------------------------------------------------------
	_agent("kured", "maintenance", ["kured"], ["kubereboot/kured", "weaveworks/kured"], {
		"host_namespaces": ["hostPID"], "root": true, "privileged": true,
	}),
	_agent("node-problem-detector", "maintenance", ["node-problem-detector"],
		["node-problem-detector/node-problem-detector"],
	{
		"root": true, "privileged": true,
	}),
	_agent("node-feature-discovery worker", "maintenance", ["node-feature-discovery", "nfd-worker"],
		["nfd/node-feature-discovery"],
	{
		"writable_host_paths": ["/etc/kubernetes/node-feature-discovery/features.d"],
	}),
	_agent("NVIDIA device plugin", "maintenance", ["nvidia-device-plugin", "nvidia-device-plugin-ds"],
		["nvidia/k8s-device-plugin"],
	{
		# hostPID and privileged: the chart's MPS control daemon, labelled like the plugin.
		"host_namespaces": ["hostPID"], "root": true, "privileged": true,
		"writable_host_paths": ["/var/lib/kubelet/device-plugins", "/run/nvidia/mps", "/var/run/cdi"],
	}),
	_agent("Intel GPU device plugin", "maintenance", ["intel-gpu-plugin"], ["intel/intel-gpu-plugin"], {
		"root": true, "writable_host_paths": ["/var/lib/kubelet/device-plugins", "/var/run/cdi"],
	}),
	# --- Metrics agents --------------------------------------------------------------------------
	_agent("node-exporter", "metrics", ["node-exporter", "prometheus-node-exporter"],
		["prometheus/node-exporter", "prom/node-exporter"],
	{
		"host_namespaces": ["hostNetwork", "hostPID"],
	}),
	_agent("cadvisor", "metrics", ["cadvisor"], ["cadvisor/cadvisor", "google/cadvisor"], {
		"root": true, "privileged": true,
	}),
	_agent("windows-exporter", "metrics", ["windows-exporter", "prometheus-windows-exporter"],
		["prometheus-community/windows-exporter"],
	{
		# A Windows HostProcess container: it must use hostNetwork and is privileged on the node.
		"host_namespaces": ["hostNetwork"], "privileged": true,
	}),
	_agent("datadog agent", "metrics", ["datadog", "datadog-agent"], ["datadoghq/agent", "datadog/agent"], {
		"host_namespaces": ["hostNetwork", "hostPID"], "root": true,
		"capabilities": [
			"SYS_ADMIN", "SYS_RESOURCE", "SYS_PTRACE", "NET_ADMIN", "NET_BROADCAST", "NET_RAW",
			"IPC_LOCK", "CHOWN", "DAC_READ_SEARCH",
		],
		"writable_host_paths": ["/var/run/datadog", "/var/lib/datadog-agent/logs"],
	}),
	# --- Log agents ------------------------------------------------------------------------------
	# Log agents keep their read positions next to the logs by default (fluentd's pos_file,
	# fluent-bit's DB under /var/log), so they write /var/log.
	_agent("fluentd", "logs", ["fluentd", "fluentd-elasticsearch"], [
		"fluent/fluentd", "fluent/fluentd-kubernetes-daemonset", "kokuwaio/fluentd-elasticsearch",
	], {
		"root": true, "writable_host_paths": ["/var/lib/fluentd", "/var/log"],
	}),
	_agent("fluent-bit", "logs", ["fluent-bit"], ["fluent/fluent-bit"], {
		"root": true, "writable_host_paths": ["/var/lib/fluent-bit", "/var/log"],
	}),
	_agent("promtail", "logs", ["promtail"], ["grafana/promtail"], {
		"root": true, "writable_host_paths": ["/run/promtail"],
	}),
	_agent("grafana alloy", "logs", ["alloy"], ["grafana/alloy"], {
		"root": true, "writable_host_paths": ["/var/lib/alloy"],
	}),
	_agent("vector", "logs", ["vector"], ["timberio/vector"], {
		"root": true, "writable_host_paths": ["/var/lib/vector"],
	}),
	_agent("opentelemetry-collector", "logs", ["opentelemetry-collector", "opentelemetry-collector-agent"], [
		"otel/opentelemetry-collector",
		"otel/opentelemetry-collector-contrib",
		"otel/opentelemetry-collector-k8s",
		"open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib",
		"open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-k8s",
	], {
		"root": true, "writable_host_paths": ["/var/lib/otelcol"],
	}),
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

# An entry with every need filled in: what `needs` leaves out is not needed. Every agent in the
# catalogue runs on every node (blanket tolerations) and is node-critical.
_agent(name, kind, labels, images, needs) := {
	"name": name,
	"kind": kind,
	"labels": labels,
	"images": images,
	"needs": object.union(
		{
			"host_namespaces": [],
			"root": false,
			"privileged": false,
			"capabilities": [],
			"seccomp_unconfined": false,
			"writable_host_paths": [],
			"network": kind == "network",
			"blanket_tolerations": true,
			"node_critical": true,
		},
		needs,
	),
}
