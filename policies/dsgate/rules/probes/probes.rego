# METADATA
# title: Probes
# description: A rollout can only stop on a bad version if readiness and liveness are probed.
package dsgate.rules.probes

import data.dsgate.lib

# METADATA
# title: Every container has a readinessProbe
# description: Without readiness, minReadySeconds and maxUnavailable count a broken pod as available.
# scope: rule
# custom:
#   id: DS-PRB-001
#   category: probes
#   severity: deny
#   field: spec.template.spec.containers[*].readinessProbe
#   parameters: []
#   remediation: >-
#     Add a readinessProbe (e.g. an httpGet on the agent's metrics or health endpoint) to every container.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	container.type == "container"
	object.get(container.spec, "readinessProbe", null) == null
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has no readinessProbe",
		[lib.display_container(ds, container)],
	))
}

# METADATA
# title: Every container has a livenessProbe
# description: Without liveness a hung agent stays on the node, silently.
# scope: rule
# custom:
#   id: DS-PRB-002
#   category: probes
#   severity: deny
#   field: spec.template.spec.containers[*].livenessProbe
#   parameters: []
#   remediation: >-
#     Add a livenessProbe to every container.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	container.type == "container"
	object.get(container.spec, "livenessProbe", null) == null
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has no livenessProbe",
		[lib.display_container(ds, container)],
	))
}

# METADATA
# title: The livenessProbe differs from the readinessProbe
# description: >-
#   An identical liveness probe restarts the agent whenever it is merely not ready (for example
#   under load), turning a slow agent into a crash-looping one.
# scope: rule
# custom:
#   id: DS-PRB-003
#   category: probes
#   severity: warn
#   field: spec.template.spec.containers[*].livenessProbe
#   parameters: []
#   remediation: >-
#     Make the livenessProbe more tolerant than the readinessProbe (a higher failureThreshold or
#     periodSeconds), or probe a different endpoint.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	container.type == "container"
	container.spec.livenessProbe == container.spec.readinessProbe
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has a livenessProbe identical to its readinessProbe",
		[lib.display_container(ds, container)],
	))
}
