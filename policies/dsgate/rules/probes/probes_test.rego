package dsgate.rules.probes_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.probes

_container := "/spec/template/spec/containers/0"

test_distinct_readiness_and_liveness_allowed if {
	count(probes.findings) == 0 with input as fx.render([fx.daemonset])
}

test_missing_readiness_probe_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_container, "readinessProbe"]))])
	fx.results(probes.findings) == {[
		"DS-PRB-001", "deny",
		"DaemonSet <monitoring/agent> container <exporter> has no readinessProbe",
	]} with input as fx.render([ds])
}

test_missing_liveness_probe_denied if {
	ds := fx.ds_with([fx.remove(concat("/", [_container, "livenessProbe"]))])
	fx.results(probes.findings) == {[
		"DS-PRB-002", "deny",
		"DaemonSet <monitoring/agent> container <exporter> has no livenessProbe",
	]} with input as fx.render([ds])
}

test_identical_probes_warned if {
	ds := fx.ds_with([fx.put(concat("/", [_container, "livenessProbe"]), {"httpGet": {"path": "/", "port": 9100}})])
	fx.results(probes.findings) == {[
		"DS-PRB-003", "warn",
		"DaemonSet <monitoring/agent> container <exporter> has a livenessProbe identical to its readinessProbe",
	]} with input as fx.render([ds])
}

test_init_container_without_probes_allowed if {
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [{"name": "setup", "image": "quay.io/a/b:v1"}])])
	count(probes.findings) == 0 with input as fx.render([ds])
}

_sidecar(name, image, probes) := object.union({"name": name, "image": image, "restartPolicy": "Always"}, probes)

# A native sidecar (init container with restartPolicy Always) runs for the pod's lifetime: probed.
test_native_sidecar_without_probes_denied if {
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [_sidecar("shipper", "quay.io/a/shipper:v1", {})])])
	fx.results(probes.findings) == {
		["DS-PRB-001", "deny", "DaemonSet <monitoring/agent> init container <shipper> has no readinessProbe"],
		["DS-PRB-002", "deny", "DaemonSet <monitoring/agent> init container <shipper> has no livenessProbe"],
	} with input as fx.render([ds])
}

test_native_sidecar_with_probes_allowed if {
	probed := {"readinessProbe": {"tcpSocket": {"port": 1}}, "livenessProbe": {"tcpSocket": {"port": 1}, "failureThreshold": 5}}
	ds := fx.ds_with([fx.put("/spec/template/spec/initContainers", [_sidecar("shipper", "quay.io/a/shipper:v1", probed)])])
	count(probes.findings) == 0 with input as fx.render([ds])
}

# The CSI node plugin pattern: registrar and livenessprobe sidecars have no probes of their own.
test_csi_helper_sidecars_allowed if {
	ds := fx.ds_with([
		fx.put("/spec/template/spec/containers/1", {"name": "node-driver-registrar", "image": "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0"}),
		fx.put("/spec/template/spec/containers/2", {"name": "liveness-probe", "image": "registry.k8s.io/sig-storage/livenessprobe:v2.15.0"}),
		fx.put("/spec/template/spec/initContainers", [_sidecar("rbac", "quay.io/brancz/kube-rbac-proxy:v0.19.0", {})]),
	])
	count(probes.findings) == 0 with input as fx.render([ds])
}

# With the catalogue off, helpers are containers like any other.
test_helper_sidecar_with_catalogue_off_denied if {
	ds := fx.ds_with([fx.put("/spec/template/spec/containers/1", {"name": "reloader", "image": "ghcr.io/jimmidyson/configmap-reload:v0.14.0"})])
	fx.results(probes.findings) == {
		["DS-PRB-001", "deny", "DaemonSet <monitoring/agent> container <reloader> has no readinessProbe"],
		["DS-PRB-002", "deny", "DaemonSet <monitoring/agent> container <reloader> has no livenessProbe"],
	} with input as fx.render([ds]) with data.dsgate.parameters as {"well_known_agents": false}
}
