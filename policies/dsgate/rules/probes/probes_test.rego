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
