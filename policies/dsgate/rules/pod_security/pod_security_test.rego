package dsgate.rules.pod_security_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.pod_security

_reason := "would violate PodSecurity \"baseline:latest\": hostPath volumes (volume \"proc\")"

_verdict(subject, check) := {
	"apiVersion": "dsgate.io/v1",
	"kind": "ServerCheckVerdict",
	"metadata": {"name": "agent"},
	"check": check,
	"subject": subject,
	"namespace": "monitoring",
	"level": "baseline",
	"reason": _reason,
}

_agent := {"kind": "DaemonSet", "namespace": "monitoring", "name": "agent"}

test_no_verdict_no_finding if {
	count(pod_security.findings) == 0 with input as fx.render([fx.daemonset])
}

test_pod_security_verdict_denied if {
	fx.results(pod_security.findings) == {[
		"DS-PSA-001", "deny",
		concat("", [
			"DaemonSet <monitoring/agent>: namespace <monitoring> is at Pod Security level \"baseline\", which refuses its pods: ",
			_reason,
		]),
	]} with input as fx.render([fx.daemonset, _verdict(_agent, "PodSecurity")])
}

test_finding_names_the_workload if {
	{[f.resource, f.field] | some f in pod_security.findings} == {["DaemonSet/monitoring/agent", "spec.template.spec"]} with input as fx.render([fx.daemonset, _verdict(_agent, "PodSecurity")])
}

test_verdict_of_another_check_ignored if {
	count(pod_security.findings) == 0 with input as fx.render([fx.daemonset, _verdict(_agent, "Other")])
}

test_verdict_without_its_workload_ignored if {
	other := {"kind": "DaemonSet", "namespace": "monitoring", "name": "other"}
	count(pod_security.findings) == 0 with input as fx.render([fx.daemonset, _verdict(other, "PodSecurity")])
}

test_verdict_of_another_api_group_ignored if {
	foreign := object.union(_verdict(_agent, "PodSecurity"), {"apiVersion": "example.com/v1"})
	count(pod_security.findings) == 0 with input as fx.render([fx.daemonset, foreign])
}
