# METADATA
# title: Hygiene
# description: >-
#   Labels and selectors that tools and people rely on, well-formed exemptions, and well-formed
#   parameters (a gate must not pass because its configuration silently matched nothing, or
#   everything).
package dsgate.rules.hygiene

import data.dsgate.lib

# METADATA
# title: The selector matches the pod template labels
# description: >-
#   spec.selector is a non-empty label selector (matchLabels and matchExpressions) that selects
#   the pod template's labels; otherwise the DaemonSet cannot own its pods.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#pod-selector
#     description: DaemonSet pod selector (must match the template labels; immutable)
# scope: rule
# custom:
#   id: DS-HYG-001
#   category: hygiene
#   severity: deny
#   profile: minimal
#   rationale: >-
#     The API server rejects a DaemonSet whose selector does not match its template labels, and a
#     selector cannot be changed after creation: a wrong or over-broad selector means no agent at
#     all, or a delete-and-recreate of the agent on every node to fix it.
#   field: spec.selector
#   parameters: []
#   admission: vap
#   remediation: >-
#     Select the pods with a minimal, stable subset of the template labels (app.kubernetes.io/name and
#     app.kubernetes.io/instance), and never change it after the first install.
findings contains finding if {
	some ds in lib.daemonsets
	selector := object.get(ds.spec, "selector", null)
	problem := _selector_problem(selector, ds.template_labels)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf("%s %s", [lib.display(ds), problem]))
}

# METADATA
# title: The app.kubernetes.io/name label is present
# description: On the DaemonSet and on its pod template; agent allowlists match on it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
#     description: Recommended Labels
# scope: rule
# custom:
#   id: DS-HYG-002
#   category: hygiene
#   severity: warn
#   profile: strict
#   rationale: >-
#     Nothing breaks on the node without it, but the parameter allowlists (root_agents,
#     privileged_agents, ...) name agents by this label, so an unlabelled agent cannot be
#     allowlisted and dashboards and tools that group by it miss the agent. A warning.
#   field: spec.template.metadata.labels
#   parameters: []
#   admission: vap
#   remediation: >-
#     Label both metadata.labels and spec.template.metadata.labels with app.kubernetes.io/name.
findings contains finding if {
	some ds in lib.daemonsets
	some where, labels in {"metadata.labels": ds.labels, "spec.template.metadata.labels": ds.template_labels}
	not labels["app.kubernetes.io/name"]
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has no app.kubernetes.io/name in %s",
		[lib.display(ds), where],
	))
}

# METADATA
# title: An exemption gives a reason
# description: >-
#   An exemption (annotation dsgate.io/exempt.<rule-id>, or an entry of data.dsgate.exemptions)
#   with an empty reason suppresses nothing and is itself denied.
# related_resources:
#   - ref: https://kyverno.io/docs/exceptions/
#     description: Kyverno policy exceptions (scoped, reviewed, time-bound exceptions)
# scope: rule
# custom:
#   id: DS-HYG-003
#   category: hygiene
#   severity: deny
#   profile: minimal
#   rationale: >-
#     An exemption without a reason records an accepted risk nobody can review or revisit; it
#     exempts nothing and is itself reported, so the gate never passes on an unexplained exemption.
#   field: metadata.annotations
#   parameters: []
#   admission: vap
#   remediation: >-
#     Write why the rule does not apply as the exemption's reason (the annotation value, or `reason:`).
findings contains finding if {
	some exemption in lib.exemptions
	"no_reason" in lib.exemption_problems(exemption, lib.today)
	finding := lib.finding(rego.metadata.rule(), _subject(exemption), sprintf(
		"Exemption of %s from %s (%s) has no reason",
		[exemption.resource, exemption.rule, _origin(exemption)],
	))
}

# METADATA
# title: A data exemption has not expired
# description: >-
#   An entry of data.dsgate.exemptions whose `expires` date (YYYY-MM-DD, UTC) has passed suppresses
#   nothing and is itself denied.
# related_resources:
#   - ref: https://kyverno.io/docs/exceptions/
#     description: Kyverno policy exceptions (scoped, reviewed, time-bound exceptions)
# scope: rule
# custom:
#   id: DS-HYG-004
#   category: hygiene
#   severity: deny
#   profile: minimal
#   rationale: >-
#     An exemption is a temporary acceptance of a risk; once it has expired the finding it hid is
#     reported again, and the stale exemption is reported so that it is fixed or renewed on purpose.
#   parameters: []
#   admission: ci-only
#   admission_reason: >-
#     Needs a clock and data the cluster does not have: it checks the expiry date of the
#     exemptions in dsgate.yaml (data.dsgate.exemptions) against today; admission only has
#     annotation exemptions, which do not expire.
#   remediation: >-
#     Fix the finding and remove the exemption, or renew it with a new reason and date.
findings contains finding if {
	some exemption in lib.exemptions
	"expired" in lib.exemption_problems(exemption, lib.today)
	finding := lib.finding(rego.metadata.rule(), _subject(exemption), sprintf(
		"Exemption of %s from %s (%s) expired on %s",
		[exemption.resource, exemption.rule, _origin(exemption), exemption.expires],
	))
}

# METADATA
# title: A data exemption has a valid expiry date
# description: Every entry of data.dsgate.exemptions needs `expires` as an existing YYYY-MM-DD date.
# related_resources:
#   - ref: https://kyverno.io/docs/exceptions/
#     description: Kyverno policy exceptions (scoped, reviewed, time-bound exceptions)
# scope: rule
# custom:
#   id: DS-HYG-005
#   category: hygiene
#   severity: deny
#   profile: minimal
#   rationale: >-
#     An exemption whose expiry cannot be read would never expire; it exempts nothing and is
#     reported instead of silently hiding a finding for ever.
#   parameters: []
#   admission: ci-only
#   admission_reason: >-
#     Data admission does not have: it checks the exemptions of dsgate.yaml
#     (data.dsgate.exemptions); annotation exemptions, the only kind at admission, have no expiry.
#   remediation: >-
#     Set `expires:` to a date in the form YYYY-MM-DD (quoted in YAML).
findings contains finding if {
	some exemption in lib.exemptions
	"invalid_expiry" in lib.exemption_problems(exemption, lib.today)
	finding := lib.finding(rego.metadata.rule(), _subject(exemption), sprintf(
		"Exemption of %s from %s (%s) has expires %q, not a YYYY-MM-DD date",
		[exemption.resource, exemption.rule, _origin(exemption), exemption.expires],
	))
}

# METADATA
# title: Parameters are well-formed
# description: >-
#   Every key of data.dsgate.parameters is a known parameter with the type of its default; agent
#   lists, registries, classes and capabilities hold non-empty strings only (an empty string in
#   host_namespace_agents would name every DaemonSet without app.kubernetes.io/name); host path
#   prefixes are absolute and not "/"; budgets hold cpu and memory quantities; node counts are
#   non-negative integers; max_unavailable_ceiling is an integer or a percentage.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/
#     description: Pod Security Admission (exemptions are explicit, by exact name)
# scope: rule
# custom:
#   id: DS-HYG-006
#   category: hygiene
#   severity: deny
#   profile: minimal
#   rationale: >-
#     A mistyped or malformed parameter silently changes what the gate checks: an empty string in
#     an agent allowlist allowlists every unlabelled DaemonSet, "/" in writable_host_paths makes
#     every host path writable, a misspelt key is ignored. The gate must say so instead of passing.
#   parameters: []
#   admission: ci-only
#   admission_reason: >-
#     About dsgate's configuration, not a DaemonSet: it checks the parameters of dsgate.yaml. At
#     admission they are the DsgateParameters object, typed by its CRD's schema and written by
#     `dsgate admission render`, which refuses malformed parameters before anything is installed.
#   remediation: >-
#     Fix the parameter in data.dsgate.parameters (dsgate.yaml `parameters:`) as the message says;
#     the catalogue in policies/README.md lists every parameter with its default.
findings contains finding if {
	some [name, problem] in _parameter_problems
	finding := lib.finding(
		rego.metadata.rule(),
		{"ref": "parameters", "path": sprintf("data.dsgate.parameters.%s", [name])},
		sprintf("Parameter %s %s", [name, problem]),
	)
}

default _given := {}

_given := data.dsgate.parameters if is_object(data.dsgate.parameters)

_parameter_problems contains [name, "is not a known parameter (policies/README.md lists them)"] if {
	some name, _ in _given
	not lib.parameter_docs[name]
}

_parameter_problems contains [name, sprintf(
	"has type %s, not %s like its default %v",
	[type_name(value), type_name(doc["default"]), doc["default"]],
)] if {
	some name, value in _given
	doc := lib.parameter_docs[name]
	not name in _int_or_percent
	type_name(value) != type_name(doc["default"])
}

_parameter_problems contains [name, sprintf("item %d is %s, not a non-empty string", [i, json.marshal(item)])] if {
	some name, value in _given
	is_array(value)
	some i, item in value
	not _non_empty_string(item)
}

_parameter_problems contains ["writable_host_paths", sprintf("item %q is not an absolute path", [path])] if {
	some path in _given.writable_host_paths
	_non_empty_string(path)
	not startswith(path, "/")
}

_parameter_problems contains ["writable_host_paths", `holds "/", which makes every host path writable`] if {
	some path in _given.writable_host_paths
	path == "/"
}

_parameter_problems contains [name, sprintf("has key %q, not cpu or memory", [key])] if {
	some name in ["agent_limit_budget", "node_request_budget"]
	some key, _ in lib.object_or_empty(_given[name])
	not key in {"cpu", "memory"}
}

_parameter_problems contains [name, sprintf("%s is %v, not a quantity such as 500m or 1Gi", [key, value])] if {
	some name in ["agent_limit_budget", "node_request_budget"]
	some key in ["cpu", "memory"]
	value := lib.object_or_empty(_given[name])[key]
	not regex.match(`^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$`, sprintf("%v", [value]))
}

_parameter_problems contains [name, sprintf("is %v, not a non-negative integer", [value])] if {
	some name in ["cluster_nodes", "large_cluster_threshold"]
	value := _given[name]
	is_number(value)
	not _non_negative_integer(value)
}

_parameter_problems contains [name, sprintf("is %v, not an integer or a percentage such as \"25%%\"", [value])] if {
	some name in _int_or_percent
	value := _given[name]
	not _non_negative_integer(value)
	not regex.match(`^[0-9]+%$`, sprintf("%v", [value]))
}

_int_or_percent := {"max_unavailable_ceiling"}

_non_empty_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

_non_negative_integer(value) if {
	is_number(value)
	value >= 0
	value == round(value)
}

_selector_problem(selector, labels) := "has no selector" if {
	not lib.non_empty_selector(selector)
} else := sprintf("has selector %v, which does not select its pod template labels %v", [selector, labels]) if {
	not lib.selector_matches(selector, labels)
}

_subject(exemption) := {"ref": exemption.resource, "path": exemption.path}

_origin(exemption) := sprintf("annotation dsgate.io/exempt.%s", [exemption.rule]) if {
	exemption.source == "annotation"
} else := exemption.path
