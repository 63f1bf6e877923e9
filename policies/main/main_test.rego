package main_test

import data.dsgate.lib.fixtures_test as fx
import data.main

_now := time.parse_rfc3339_ns("2026-06-01T12:00:00Z")

_no_priority := fx.ds_with([fx.remove("/spec/template/spec/priorityClassName")])

_exempt(reason) := json.patch(_no_priority, [fx.put("/metadata/annotations", {"dsgate.io/exempt.DS-PRI-001": reason})])

_priority_message := "DaemonSet <monitoring/agent> has no priorityClassName (priority 0: on a full node its pod cannot preempt and stays Pending), not one of [\"system-node-critical\"]"

test_compliant_set_has_no_findings if {
	count(main.findings) == 0 with input as fx.render([fx.daemonset, fx.pdb])
	count(main.deny) == 0 with input as fx.render([fx.daemonset, fx.pdb])
	count(main.warn) == 0 with input as fx.render([fx.daemonset, fx.pdb])
}

test_finding_has_the_contract_shape if {
	main.findings == {{
		"rule": "DS-PRI-001",
		"category": "priority",
		"severity": "deny",
		"resource": "DaemonSet/monitoring/agent",
		"path": "render.yaml",
		"message": _priority_message,
		"remediation": "Set spec.template.spec.priorityClassName to system-node-critical (or a class listed in the allowed_priority_classes parameter).",
		"field": "spec.template.spec.priorityClassName",
		"exempted": false,
		"exemption": "",
		"exempted_by": [],
	}} with input as fx.render([_no_priority, fx.pdb])
}

test_denied_finding_is_a_conftest_deny if {
	main.deny == {{
		"msg": concat("", ["DS-PRI-001 DaemonSet/monitoring/agent: ", _priority_message]),
		"rule": "DS-PRI-001",
		"resource": "DaemonSet/monitoring/agent",
	}} with input as fx.render([_no_priority, fx.pdb])
}

test_warn_finding_is_a_conftest_warn if {
	ds := fx.ds_with([fx.put("/spec/updateStrategy", {"type": "OnDelete"})])
	{r.rule | some r in main.warn} == {"DS-ROL-004"} with input as fx.render([ds, fx.pdb])
	count(main.deny) == 0 with input as fx.render([ds, fx.pdb])
}

test_annotation_exemption_reported_as_exempted if {
	{[f.rule, f.exempted, f.exemption] | some f in main.findings} == {["DS-PRI-001", true, "class rolls out next week"]} with input as fx.render([_exempt("class rolls out next week"), fx.pdb])
	count(main.deny) == 0 with input as fx.render([_exempt("class rolls out next week"), fx.pdb])
}

test_exemption_reasons_are_joined if {
	{[f.rule, f.exemption] | some f in main.findings} == {["DS-PRI-001", "a annotation; b data"]} with input as fx.render([_exempt("a annotation"), fx.pdb])
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "reason": "b data", "expires": "2026-06-01"}]
		with time.now_ns as _now
}

test_exemption_of_other_resource_does_not_apply if {
	{[f.rule, f.exempted] | some f in main.findings} == {["DS-PRI-001", false]} with input as fx.render([_no_priority, fx.pdb])
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "resource": "DaemonSet/other/agent", "reason": "r", "expires": "2026-06-01"}]
		with time.now_ns as _now
}

test_exemption_without_reason_does_not_exempt if {
	{[f.rule, f.exempted] | some f in main.findings} == {["DS-PRI-001", false], ["DS-HYG-003", false]} with input as fx.render([_exempt(""), fx.pdb])
}

test_expired_exemption_does_not_exempt if {
	{[f.rule, f.exempted] | some f in main.findings} == {["DS-PRI-001", false], ["DS-HYG-004", false]} with input as fx.render([_no_priority, fx.pdb])
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "reason": "r", "expires": "2026-05-31"}]
		with time.now_ns as _now
}

test_single_document_contents_and_missing_path_accepted if {
	{[f.rule, f.path] | some f in main.findings} == {["DS-PRI-001", ""]} with input as [{"contents": _no_priority}, {"path": "pdb.yaml", "contents": fx.pdb}]
}

test_null_and_kindless_documents_ignored if {
	count(main.findings) == 0 with input as [
		{"path": "a.yaml", "contents": [null, fx.daemonset, {"apiVersion": "v1"}, "text"]},
		{"path": "b.yaml", "contents": null},
		{"path": "c.yaml", "contents": [fx.pdb]},
	]
}

test_batch_answers_each_render_in_order if {
	compliant := fx.render([fx.daemonset, fx.pdb])
	denied := fx.render([_no_priority, fx.pdb])
	expected := main.findings with input as denied
	{f.rule | some f in expected} == {"DS-PRI-001"}
	main.batch == [set(), expected, set()] with input as {"renders": [compliant, denied, compliant]}
}

test_batch_keeps_renders_apart if {
	# The PDB in the second render must not cover the first render's DaemonSet.
	alone := fx.render([fx.daemonset])
	expected := {f.rule | some f in main.findings} with input as alone
	count(expected) > 0
	[{f.rule | some f in r} | some r in main.batch] == [expected, set()] with input as {"renders": [alone, fx.render([fx.daemonset, fx.pdb])]}
}

_selector_exemption(selector) := [{"rule": "DS-PRI-001", "selector": selector, "reason": "vendor agent", "expires": "2026-06-01"}]

# Each row: a selector and whether it exempts the fixture DaemonSet (monitoring/agent, labelled
# node-exporter, image quay.io/prometheus/node-exporter) from DS-PRI-001.
_selector_cases := [
	[{"namespace": "monitoring"}, true], # namespace, exact
	[{"namespace": "kube-*"}, false], # namespace glob that does not match
	[{"name": "ag*"}, true], # name glob
	[{"namespace": "monitoring", "name": "other"}, false], # every key must match
	[{"labels": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}}}, true], # label selector
	[{"labels": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["cilium"]}]}}, false], # label selector, no match
	[{"image": "quay.io/prometheus/*"}, true], # image glob, `*` spans slashes and tags
	[{"image": "docker.io/*"}, false], # image of another registry
	[{"kind": "DaemonSet"}, false], # an unknown key matches nothing
]

test_selector_exemptions if {
	every case in _selector_cases {
		[selector, expected] := case
		{[f.rule, f.exempted, f.exempted_by] | some f in main.findings} == {["DS-PRI-001", expected, _by(expected)]} with input as fx.render([_no_priority, fx.pdb])
			with data.dsgate.exemptions as _selector_exemption(selector)
			with time.now_ns as _now
	}
}

_by(true) := ["data.dsgate.exemptions[0]"]

_by(false) := []

test_selector_with_resource_must_match_both if {
	exemptions := [
		{"rule": "DS-PRI-001", "resource": "DaemonSet/other/agent", "selector": {"name": "agent"}, "reason": "r", "expires": "2026-06-01"},
		{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "selector": {"name": "agent"}, "reason": "r", "expires": "2026-06-01"},
	]
	{[f.rule, f.exempted_by] | some f in main.findings} == {["DS-PRI-001", ["data.dsgate.exemptions[1]"]]} with input as fx.render([_no_priority, fx.pdb])
		with data.dsgate.exemptions as exemptions
		with time.now_ns as _now
}

test_selector_of_other_rule_does_not_apply if {
	{[f.rule, f.exempted] | some f in main.findings} == {["DS-PRI-001", false]} with input as fx.render([_no_priority, fx.pdb])
		with data.dsgate.exemptions as [{"rule": "DS-RES-001", "selector": {"namespace": "*"}, "reason": "r", "expires": "2026-06-01"}]
		with time.now_ns as _now
}

test_parameters_are_the_defaults_merged_with_the_given_ones if {
	main.parameters.rollout_pod_ready_seconds == 10 with data.dsgate.parameters as {}
	main.parameters.rollout_pod_ready_seconds == 25 with data.dsgate.parameters as {"rollout_pod_ready_seconds": 25}
}
