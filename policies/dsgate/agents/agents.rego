# METADATA
# title: dsgate library - the catalogue of well-known node agents
# description: >-
#   Data only: the node agents the policies recognise without configuration, by their
#   app.kubernetes.io/name label (any of `labels`) or, failing that, by the repository path of one of
#   their images without the registry host (any of `images`, so a mirrored image is still recognised).
#   `needs` says what the agent legitimately needs: host namespaces (hostNetwork/hostPID/hostIPC),
#   root, privileged containers, blanket tolerations (it must run on every node), node-critical
#   status, and the host paths it writes. The first matching entry wins (label matches first). A
#   parameter given in data.dsgate.parameters for a need overrides the catalogue for that need, and
#   `well_known_agents: false` turns the catalogue off.
package dsgate.agents

# METADATA
# title: The well-known node agents, in matching order
catalogue := [
	{
		"name": "node-exporter",
		"labels": ["node-exporter", "prometheus-node-exporter"],
		"images": ["prometheus/node-exporter", "prom/node-exporter"],
		"needs": _needs(true, false, false, []),
	},
	{
		"name": "fluentd",
		"labels": ["fluentd"],
		"images": ["fluent/fluentd", "fluent/fluentd-kubernetes-daemonset"],
		"needs": _needs(false, true, false, ["/var/lib/fluentd", "/var/log/fluentd-buffers"]),
	},
	{
		"name": "fluent-bit",
		"labels": ["fluent-bit"],
		"images": ["fluent/fluent-bit"],
		"needs": _needs(false, true, false, ["/var/lib/fluent-bit"]),
	},
	{
		"name": "promtail",
		"labels": ["promtail"],
		"images": ["grafana/promtail"],
		"needs": _needs(false, true, false, ["/run/promtail"]),
	},
	{
		"name": "grafana alloy",
		"labels": ["alloy"],
		"images": ["grafana/alloy"],
		"needs": _needs(false, true, false, ["/var/lib/alloy"]),
	},
	{
		"name": "vector",
		"labels": ["vector"],
		"images": ["timberio/vector"],
		"needs": _needs(false, true, false, ["/var/lib/vector"]),
	},
	{
		"name": "opentelemetry-collector",
		"labels": ["opentelemetry-collector", "opentelemetry-collector-agent"],
		"images": [
			"otel/opentelemetry-collector",
			"otel/opentelemetry-collector-contrib",
			"otel/opentelemetry-collector-k8s",
			"open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib",
			"open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-k8s",
		],
		"needs": _needs(false, true, false, ["/var/lib/otelcol"]),
	},
	{
		"name": "datadog agent",
		"labels": ["datadog", "datadog-agent"],
		"images": ["datadoghq/agent", "datadog/agent"],
		"needs": _needs(true, true, false, ["/var/run/datadog", "/var/lib/datadog-agent/logs"]),
	},
	{
		"name": "cilium",
		"labels": ["cilium", "cilium-agent"],
		"images": ["cilium/cilium"],
		"needs": _needs(true, true, true, [
			"/var/run/cilium", "/run/cilium", "/sys/fs/bpf",
			"/opt/cni/bin", "/etc/cni/net.d", "/run/xtables.lock",
		]),
	},
	{
		"name": "calico-node",
		"labels": ["calico-node"],
		"images": ["calico/node"],
		"needs": _needs(true, true, true, [
			"/var/run/calico", "/var/lib/calico", "/var/log/calico", "/sys/fs/bpf",
			"/opt/cni/bin", "/etc/cni/net.d", "/run/xtables.lock",
		]),
	},
	{
		"name": "kube-proxy",
		"labels": ["kube-proxy"],
		"images": ["kube-proxy"],
		"needs": _needs(true, true, true, ["/run/xtables.lock"]),
	},
	{
		"name": "aws-node",
		"labels": ["aws-node", "aws-vpc-cni"],
		"images": ["amazon-k8s-cni", "amazon/amazon-k8s-cni"],
		"needs": _needs(true, true, true, [
			"/opt/cni/bin", "/etc/cni/net.d", "/var/log/aws-routed-eni",
			"/var/run/aws-node", "/run/xtables.lock",
		]),
	},
	{
		"name": "CSI node plugin",
		"labels": ["ebs-csi-node", "efs-csi-node", "csi-driver-nfs", "secrets-store-csi-driver", "csi-node-driver"],
		"images": ["sig-storage/csi-node-driver-registrar"],
		"needs": _needs(false, true, true, ["/var/lib/kubelet", "/dev", "/run/csi"]),
	},
	{
		"name": "NVIDIA device plugin",
		"labels": ["nvidia-device-plugin", "nvidia-device-plugin-ds"],
		"images": ["nvidia/k8s-device-plugin"],
		"needs": _needs(false, true, false, ["/var/lib/kubelet/device-plugins"]),
	},
]

# Every agent in the catalogue runs on every node (blanket tolerations) and is node-critical.
_needs(host_namespaces, root, privileged, writable_host_paths) := {
	"host_namespaces": host_namespaces,
	"root": root,
	"privileged": privileged,
	"blanket_tolerations": true,
	"node_critical": true,
	"writable_host_paths": writable_host_paths,
}
