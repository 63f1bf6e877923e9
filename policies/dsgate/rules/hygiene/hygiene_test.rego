package dsgate.rules.hygiene_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.hygiene

_now := time.parse_rfc3339_ns("2026-06-01T12:00:00Z")

_annotated(key, value) := fx.ds_with([fx.put("/metadata/annotations", {key: value})])

test_matching_selector_and_name_label_allowed if {
	count(hygiene.findings) == 0 with input as fx.render([fx.daemonset])
}

test_missing_selector_denied if {
	ds := fx.ds_with([fx.remove("/spec/selector")])
	fx.results(hygiene.findings) == {["DS-HYG-001", "deny", "DaemonSet <monitoring/agent> has no selector"]} with input as fx.render([ds])
}

test_empty_selector_denied if {
	ds := fx.ds_with([fx.put("/spec/selector", {"matchLabels": {}})])
	fx.results(hygiene.findings) == {["DS-HYG-001", "deny", "DaemonSet <monitoring/agent> has no selector"]} with input as fx.render([ds])
}

test_selector_not_matching_template_denied if {
	ds := fx.ds_with([fx.put("/spec/selector/matchLabels/app.kubernetes.io~1instance", "b")])
	fx.results(hygiene.findings) == {[
		"DS-HYG-001", "deny",
		`DaemonSet <monitoring/agent> has selector {"matchLabels": {"app.kubernetes.io/instance": "b", "app.kubernetes.io/name": "node-exporter"}}, which does not select its pod template labels {"app.kubernetes.io/instance": "a", "app.kubernetes.io/name": "node-exporter"}`,
	]} with input as fx.render([ds])
}

test_selector_with_expressions_allowed if {
	ds := fx.ds_with([fx.put("/spec/selector", {"matchExpressions": [
		{"key": "app.kubernetes.io/name", "operator": "In", "values": ["node-exporter"]},
	]})])
	count(hygiene.findings) == 0 with input as fx.render([ds])
}

test_missing_name_label_on_daemonset_denied if {
	ds := fx.ds_with([fx.remove("/metadata/labels")])
	fx.results(hygiene.findings) == {[
		"DS-HYG-002", "warn",
		"DaemonSet <monitoring/agent> has no app.kubernetes.io/name in metadata.labels",
	]} with input as fx.render([ds])
}

test_null_labels_denied if {
	ds := fx.ds_with([fx.put("/metadata/labels", null)])
	{f.rule | some f in hygiene.findings} == {"DS-HYG-002"} with input as fx.render([ds])
}

test_missing_name_label_on_template_denied if {
	ds := fx.ds_with([
		fx.remove("/spec/template/metadata/labels/app.kubernetes.io~1name"),
		fx.put("/spec/selector", {"matchLabels": {"app.kubernetes.io/instance": "a"}}),
	])
	fx.results(hygiene.findings) == {[
		"DS-HYG-002", "warn",
		"DaemonSet <monitoring/agent> has no app.kubernetes.io/name in spec.template.metadata.labels",
	]} with input as fx.render([ds])
}

test_annotation_exemption_with_reason_allowed if {
	count(hygiene.findings) == 0 with input as fx.render([_annotated("dsgate.io/exempt.DS-PRI-001", "pending class")])
}

test_annotation_exemption_without_reason_denied if {
	fx.results(hygiene.findings) == {[
		"DS-HYG-003", "deny",
		"Exemption of DaemonSet/monitoring/agent from DS-PRI-001 (annotation dsgate.io/exempt.DS-PRI-001) has no reason",
	]} with input as fx.render([_annotated("dsgate.io/exempt.DS-PRI-001", "  ")])
}

test_other_annotations_ignored if {
	count(hygiene.findings) == 0 with input as fx.render([_annotated("example.com/exempt", "")])
}

test_data_exemption_valid_allowed if {
	count(hygiene.findings) == 0 with input as fx.render([fx.daemonset])
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "reason": "r", "expires": "2026-06-01"}]
		with time.now_ns as _now
}

test_data_exemption_without_reason_denied if {
	fx.results(hygiene.findings) == {[
		"DS-HYG-003", "deny",
		"Exemption of DaemonSet/monitoring/agent from DS-PRI-001 (data.dsgate.exemptions[0]) has no reason",
	]} with input as fx.render([fx.daemonset])
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "expires": "2026-12-31"}]
		with time.now_ns as _now
}

test_expired_data_exemption_denied if {
	findings := hygiene.findings with input as fx.render([fx.daemonset])
		with data.dsgate.exemptions as [{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "reason": "r", "expires": "2026-05-31"}]
		with time.now_ns as _now
	fx.results(findings) == {[
		"DS-HYG-004", "deny",
		"Exemption of DaemonSet/monitoring/agent from DS-PRI-001 (data.dsgate.exemptions[0]) expired on 2026-05-31",
	]}
	{[f.resource, f.path] | some f in findings} == {["DaemonSet/monitoring/agent", "data.dsgate.exemptions[0]"]}
}

test_data_exemption_with_invalid_expiry_denied if {
	fx.results(hygiene.findings) == {
		[
			"DS-HYG-005", "deny",
			"Exemption of DaemonSet/monitoring/agent from DS-PRI-001 (data.dsgate.exemptions[0]) has expires \"2026-02-30\", not a YYYY-MM-DD date",
		],
		[
			"DS-HYG-005", "deny",
			"Exemption of DaemonSet/monitoring/agent from DS-PRI-001 (data.dsgate.exemptions[1]) has expires \"\", not a YYYY-MM-DD date",
		],
	} with input as fx.render([fx.daemonset])
		with data.dsgate.exemptions as [
			{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "reason": "r", "expires": "2026-02-30"},
			{"rule": "DS-PRI-001", "resource": "DaemonSet/monitoring/agent", "reason": "r"},
		]
		with time.now_ns as _now
}

test_well_formed_parameters_allowed if {
	count(hygiene.findings) == 0 with input as fx.render([fx.daemonset]) with data.dsgate.parameters as {
		"host_namespace_agents": ["node-exporter"],
		"writable_host_paths": ["/var/lib/agent"],
		"agent_limit_budget": {"cpu": "1.5", "memory": "1Gi"},
		"cluster_nodes": 500,
		"max_unavailable_ceiling": 2,
		"well_known_agents": true,
	}
}

test_malformed_parameters_denied if {
	fx.results(hygiene.findings) == {
		["DS-HYG-006", "deny", "Parameter host_namespace_agents item 0 is \"\", not a non-empty string"],
		["DS-HYG-006", "deny", "Parameter root_agents has type string, not array like its default [\"fluentd\"]"],
		["DS-HYG-006", "deny", "Parameter writable_host_paths holds \"/\", which makes every host path writable"],
		["DS-HYG-006", "deny", "Parameter writable_host_paths item \"var/log\" is not an absolute path"],
		["DS-HYG-006", "deny", "Parameter agent_limit_budget has key \"gpu\", not cpu or memory"],
		["DS-HYG-006", "deny", "Parameter node_request_budget memory is lots, not a quantity such as 500m or 1Gi"],
		["DS-HYG-006", "deny", "Parameter cluster_nodes is -3, not a non-negative integer"],
		["DS-HYG-006", "deny", "Parameter max_unavailable_ceiling is 25, not an integer or a percentage such as \"25%\""],
		["DS-HYG-006", "deny", "Parameter host_namspace_agents is not a known parameter (policies/README.md lists them)"],
	} with input as fx.render([fx.daemonset]) with data.dsgate.parameters as {
		"host_namespace_agents": [""],
		"root_agents": "fluentd",
		"writable_host_paths": ["/", "var/log"],
		"agent_limit_budget": {"gpu": "1"},
		"node_request_budget": {"memory": "lots"},
		"cluster_nodes": -3,
		"max_unavailable_ceiling": "25",
		"host_namspace_agents": ["node-exporter"],
	}
}
