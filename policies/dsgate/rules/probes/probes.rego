# METADATA
# title: Probes
# description: >-
#   A rollout can only stop on a bad version if readiness and liveness are probed. The rules apply
#   to every long-running container: regular containers and native sidecars (init containers with
#   restartPolicy Always, which run for the pod's lifetime and take part in its readiness).
#   Known helper sidecars (data.dsgate.agents.helpers: the CSI node-driver-registrar and
#   livenessprobe, config reloaders, kube-rbac-proxy) have no endpoint of their own worth
#   probing, and the livenessprobe sidecar is itself the prober, so they are not required to have
#   probes.
package dsgate.rules.probes

import data.dsgate.lib

# METADATA
# title: Every container has a readinessProbe
# description: >-
#   Without readiness, minReadySeconds and maxUnavailable count a broken pod as available.
#   Helper sidecars are exempt.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
#     description: Perform a Rolling Update on a DaemonSet (a pod counts once it is available)
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/
#     description: Sidecar containers (probes on init containers with restartPolicy Always)
# scope: rule
# custom:
#   id: DS-PRB-001
#   category: probes
#   severity: deny
#   profile: baseline
#   rationale: >-
#     A DaemonSet rolling update moves on as soon as the new pod is available; without a readiness
#     probe a pod is available when its process starts, so a version that starts but does not work
#     rolls out to every node before anyone notices.
#   field: spec.template.spec.containers[*].readinessProbe
#   parameters: [well_known_agents]
#   admission: vap
#   remediation: >-
#     Add a readinessProbe (e.g. an httpGet on the agent's metrics or health endpoint) to every
#     container and native sidecar.
findings contains finding if {
	some ds in lib.daemonsets
	some container in _probed(ds, lib.helper_images)
	object.get(container.spec, "readinessProbe", null) == null
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has no readinessProbe",
		[lib.display_container(ds, container)],
	))
}

# METADATA
# title: Every container has a livenessProbe
# description: Without liveness a hung agent stays on the node, silently. Helper sidecars are exempt.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
#     description: Liveness, Readiness, and Startup Probes (liveness catches a deadlock)
# scope: rule
# custom:
#   id: DS-PRB-002
#   category: probes
#   severity: deny
#   profile: strict
#   rationale: >-
#     A deadlocked agent keeps its process alive: the kubelet restarts it only if a liveness probe
#     fails. Without one the node's logs or metrics stop flowing until someone restarts the pod by
#     hand.
#   field: spec.template.spec.containers[*].livenessProbe
#   parameters: [well_known_agents]
#   admission: vap
#   remediation: >-
#     Add a livenessProbe to every container and native sidecar.
findings contains finding if {
	some ds in lib.daemonsets
	some container in _probed(ds, lib.helper_images)
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
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
#     description: Liveness, Readiness, and Startup Probes (liveness probes can cause cascading failures)
# scope: rule
# custom:
#   id: DS-PRB-003
#   category: probes
#   severity: warn
#   profile: strict
#   rationale: >-
#     When the agent is slow under load, an identical liveness probe fails with the readiness
#     probe and the kubelet restarts it, which adds load and turns a slow node into a crash loop.
#   field: spec.template.spec.containers[*].livenessProbe
#   parameters: [well_known_agents]
#   admission: vap
#   remediation: >-
#     Make the livenessProbe more tolerant than the readinessProbe (a higher failureThreshold or
#     periodSeconds), or probe a different endpoint.
findings contains finding if {
	some ds in lib.daemonsets
	some container in _probed(ds, lib.helper_images)
	container.spec.livenessProbe == container.spec.readinessProbe
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has a livenessProbe identical to its readinessProbe",
		[lib.display_container(ds, container)],
	))
}

# The long-running containers that should be probed: not run-to-completion init containers,
# not known helper sidecars.
_probed(ds, helpers) := [container |
	some container in ds.containers
	container.long_running
	not lib.helper_container(container, helpers)
]
