# METADATA
# title: Hygiene
# description: Labels and selectors that tools and people rely on, and well-formed exemptions.
package dsgate.rules.hygiene

import data.dsgate.lib

# METADATA
# title: The selector matches the pod template labels
# description: >-
#   spec.selector is a non-empty label selector (matchLabels and matchExpressions) that selects
#   the pod template's labels; otherwise the DaemonSet cannot own its pods.
# scope: rule
# custom:
#   id: DS-HYG-001
#   category: hygiene
#   severity: deny
#   field: spec.selector
#   parameters: []
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
# scope: rule
# custom:
#   id: DS-HYG-002
#   category: hygiene
#   severity: deny
#   field: spec.template.metadata.labels
#   parameters: []
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
# scope: rule
# custom:
#   id: DS-HYG-003
#   category: hygiene
#   severity: deny
#   profile: minimal
#   field: metadata.annotations
#   parameters: []
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
# scope: rule
# custom:
#   id: DS-HYG-004
#   category: hygiene
#   severity: deny
#   profile: minimal
#   parameters: []
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
# scope: rule
# custom:
#   id: DS-HYG-005
#   category: hygiene
#   severity: deny
#   profile: minimal
#   parameters: []
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

_selector_problem(selector, labels) := "has no selector" if {
	not lib.non_empty_selector(selector)
} else := sprintf("has selector %v, which does not select its pod template labels %v", [selector, labels]) if {
	not lib.selector_matches(selector, labels)
}

_subject(exemption) := {"ref": exemption.resource, "path": exemption.path}

_origin(exemption) := sprintf("annotation dsgate.io/exempt.%s", [exemption.rule]) if {
	exemption.source == "annotation"
} else := exemption.path
