# METADATA
# title: dsgate policy library entrypoint
# description: >-
#   Evaluates every rule over the whole set of documents (cross-document rules need all of them)
#   and applies exemptions. `findings` is the structured result for the dsgate gate; `deny` and
#   `warn` are the same non-exempted findings in the form `conftest test --combine` reads.
package main

import data.dsgate.lib

# METADATA
# title: Every finding of every rule
# description: >-
#   `{rule, category, severity, resource, path, message, remediation, exempted, exemption,
#   exempted_by}`. A finding matched by an active exemption (see lib.exemption_applies) is still
#   reported, with exempted true, the exemption reasons joined by "; " and the paths of the
#   exemptions that matched (`data.dsgate.exemptions[i]`, or the annotated document's path).
# entrypoint: true
findings contains object.union(finding, {
	"exempted": count(matched) > 0,
	"exemption": concat("; ", {exemption.reason | some exemption in matched}),
	"exempted_by": sort({exemption.path | some exemption in matched}),
}) if {
	some finding in _violations
	matched := {exemption |
		some exemption in lib.active_exemptions
		lib.exemption_applies(exemption, finding, lib.documents)
	}
}

# METADATA
# title: Non-exempted deny findings, conftest style
# entrypoint: true
deny contains _conftest_result(finding) if {
	some finding in findings
	finding.severity == "deny"
	not finding.exempted
}

# METADATA
# title: Non-exempted warn findings, conftest style
# entrypoint: true
warn contains _conftest_result(finding) if {
	some finding in findings
	finding.severity == "warn"
	not finding.exempted
}

# Every package under dsgate.rules (one per category folder) contributes its `findings`: a new
# category is a new folder, nothing here changes (as Regal's own main collects data.regal.rules).
_violations contains finding if {
	some finding in data.dsgate.rules[_].findings
}

_conftest_result(finding) := {
	"msg": sprintf("%s %s: %s", [finding.rule, finding.resource, finding.message]),
	"rule": finding.rule,
	"resource": finding.resource,
}

# METADATA
# title: The findings of several renders in one query
# description: >-
#   Input `{"renders": [R, ...]}`, each R the input `findings` takes (one render's documents); the
#   answer lists each render's findings, in order. Renders are evaluated independently: a
#   cross-document rule sees only the documents of its own render.
# entrypoint: true
batch := [render_findings |
	some render in input.renders

	# regal ignore:comprehension-term-assignment
	render_findings := findings with input as render # a `with` modifier cannot stand in a term
]

# METADATA
# title: The parameters in force
# description: >-
#   The defaults of data.dsgate.lib.parameter_docs merged with data.dsgate.parameters, as every rule
#   sees them: `dsgate audit` reads the rollout model's rollout_pod_ready_seconds here.
# entrypoint: true
parameters := lib.parameters
