# METADATA
# title: Rollout
# description: How fast an update may take the agent down across the fleet, and how soon a bad one is noticed.
package dsgate.rules.rollout

import data.dsgate.lib

# METADATA
# title: RollingUpdate sets maxUnavailable
# description: The rollout budget is an explicit decision, not Kubernetes' default of one node at a time.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
#     description: Perform a Rolling Update on a DaemonSet (maxUnavailable defaults to 1)
# scope: rule
# custom:
#   id: DS-ROL-001
#   category: rollout
#   severity: warn
#   profile: strict
#   admission: ci-only
#   admission_reason: >-
#     Needs the raw manifest before defaulting: the API server sets
#     updateStrategy.rollingUpdate.maxUnavailable to 1 when it is absent, before admission runs, so the
#     absence this rule reports never reaches admission.
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: []
#   rationale: >-
#     The API default, 1, is the most careful budget there is: nothing breaks because it is left out.
#     What it costs is time: on N nodes a rollout takes N steps (DS-ROL-003 reports that once
#     cluster_nodes is known). A strict-profile warning that the rollout speed was not chosen.
#   remediation: >-
#     Set spec.updateStrategy.rollingUpdate.maxUnavailable (a percentage such as 10% scales with the
#     cluster; at most max_unavailable_ceiling).
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	object.get(ds.spec, ["updateStrategy", "rollingUpdate", "maxUnavailable"], null) == null
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s rolls out without maxUnavailable (Kubernetes defaults it to 1)",
		[lib.display(ds)],
	))
}

# METADATA
# title: maxUnavailable stays within the ceiling
# description: >-
#   maxUnavailable may not exceed max_unavailable_ceiling. An integer and a percentage are only
#   compared when cluster_nodes is known; percentages round up as in the DaemonSet controller.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
#     description: Perform a Rolling Update on a DaemonSet (maxUnavailable)
# scope: rule
# custom:
#   id: DS-ROL-002
#   category: rollout
#   severity: deny
#   profile: baseline
#   admission: vap
#   admission_reason: >-
#     Decided on the defaulted object: an absent maxUnavailable arrives as 1, which exceeds only an
#     integer ceiling of 0 or a percentage ceiling that scales to 0.
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: [max_unavailable_ceiling, cluster_nodes]
#   rationale: >-
#     maxUnavailable is how many nodes lose the agent at once during an update, and how many a bad
#     release reaches before the rollout can stop. With 100% every node restarts its CNI, log or
#     metrics agent at the same moment: a cluster-wide gap in networking or telemetry, and a broken
#     image lands everywhere.
#   remediation: >-
#     Lower spec.updateStrategy.rollingUpdate.maxUnavailable to at most max_unavailable_ceiling.
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	value := ds.spec.updateStrategy.rollingUpdate.maxUnavailable
	_exceeds(value, lib.parameters.max_unavailable_ceiling, lib.parameters.cluster_nodes)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has maxUnavailable %v, above max_unavailable_ceiling %v",
		[lib.display(ds), value, lib.parameters.max_unavailable_ceiling],
	))
}

# METADATA
# title: Large clusters use a percentage maxUnavailable
# description: >-
#   When cluster_nodes is above large_cluster_threshold, a fixed integer maxUnavailable makes the
#   rollout take as many steps as there are nodes divided by that integer; a percentage scales.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
#     description: Perform a Rolling Update on a DaemonSet
# scope: rule
# custom:
#   id: DS-ROL-003
#   category: rollout
#   severity: warn
#   profile: strict
#   admission: vap
#   admission_reason: >-
#     Decided on the defaulted object: an absent maxUnavailable arrives as 1, a fixed number, so admission
#     also reports it on a large cluster where the gate on the raw manifest says nothing.
#   rationale: >-
#     With maxUnavailable 1 on 1,000 nodes a rollout takes 1,000 sequential steps, each waiting for a
#     pod to become available (and minReadySeconds): a security fix takes hours or days to reach the
#     fleet. Slow, not broken, so a warning.
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: [cluster_nodes, large_cluster_threshold]
#   remediation: >-
#     Express spec.updateStrategy.rollingUpdate.maxUnavailable as a percentage, e.g. "10%".
findings contains finding if {
	lib.parameters.cluster_nodes > lib.parameters.large_cluster_threshold
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	value := ds.spec.updateStrategy.rollingUpdate.maxUnavailable
	not lib.percent(value)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has maxUnavailable %v, a fixed number, on a cluster of %v nodes (above large_cluster_threshold %v)",
		[lib.display(ds), value, lib.parameters.cluster_nodes, lib.parameters.large_cluster_threshold],
	))
}

# METADATA
# title: OnDelete updates need a manual step on every node
# description: With OnDelete a new version only reaches a node when someone deletes the old pod there.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/#daemonset-update-strategy
#     description: DaemonSet update strategy, OnDelete
# scope: rule
# custom:
#   id: DS-ROL-004
#   category: rollout
#   severity: warn
#   profile: strict
#   admission: vap
#   rationale: >-
#     With OnDelete a changed template (a security fix, a new configuration) reaches a node only when
#     its pod is deleted by hand or the node is replaced: the fleet runs mixed versions indefinitely.
#     Some agents choose it on purpose (node-by-node upgrades), so a strict-profile warning.
#   field: spec.updateStrategy.type
#   parameters: []
#   remediation: >-
#     Use `updateStrategy.type: RollingUpdate` unless a manual, node-by-node rollout is intended.
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "OnDelete"
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s uses updateStrategy OnDelete; updates reach a node only when its pod is deleted",
		[lib.display(ds)],
	))
}

# METADATA
# title: minReadySeconds is greater than 0
# description: A new pod must stay ready for a while before the rollout moves on, so a crashing version stops early.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/daemon-set-v1/#DaemonSetSpec
#     description: minReadySeconds, the time a new pod must be ready before it counts as available
# scope: rule
# custom:
#   id: DS-ROL-005
#   category: rollout
#   severity: warn
#   profile: baseline
#   admission: vap
#   rationale: >-
#     Without minReadySeconds a new pod counts as available the moment it is ready, so a release that
#     crashes a few seconds after start (a bad config read late, a panic on the first scrape) keeps
#     the rollout moving and reaches the whole fleet; the behaviour experiment shows it. Most charts
#     leave it at 0 and their readiness probe catches the common failures, so it is a warning.
#   field: spec.minReadySeconds
#   parameters: []
#   remediation: >-
#     Set spec.minReadySeconds, e.g. 10, so a crash-looping version halts the rollout.
findings contains finding if {
	some ds in lib.daemonsets
	seconds := object.get(ds.spec, "minReadySeconds", 0)
	seconds <= 0
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has minReadySeconds %v",
		[lib.display(ds), seconds],
	))
}

# METADATA
# title: No maxSurge together with host ports
# description: >-
#   A surge pod starts on a node while the old pod still runs there; with a hostPort (or
#   hostNetwork, where every port the agent listens on is a host port, declared or not) it can
#   never bind its port.
# related_resources:
#   - ref: https://github.com/kubernetes/enhancements/tree/master/keps/sig-apps/1591-daemonset-surge
#     description: KEP-1591 DaemonSet surge (old and new pod run side by side on a node)
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
#     description: Perform a Rolling Update on a DaemonSet (maxSurge)
# scope: rule
# custom:
#   id: DS-ROL-006
#   category: rollout
#   severity: deny
#   profile: minimal
#   admission: vap
#   rationale: >-
#     With maxSurge the new pod is created next to the old one on the same node. A declared hostPort
#     is already taken there, so the scheduler never places the surge pod and the rollout stalls on the
#     first node (the behaviour experiment shows it). With hostNetwork and undeclared ports the surge
#     pod is placed, then fails to bind and crash-loops, or two versions of a CNI agent run on one node.
#   field: spec.updateStrategy.rollingUpdate.maxSurge
#   parameters: []
#   remediation: >-
#     Set spec.updateStrategy.rollingUpdate.maxSurge to 0 (and use maxUnavailable) for agents that bind host ports.
findings contains finding if {
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	surge := ds.spec.updateStrategy.rollingUpdate.maxSurge
	_positive(surge)
	problem := _host_binding(ds)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s has maxSurge %v but %s; the surge pod cannot bind them next to the old one",
		[lib.display(ds), surge, problem],
	))
}

# METADATA
# title: The rollout finishes within the rollout-time budget
# description: >-
#   With the fleet size known (cluster_nodes), the rolling update is estimated as waves x (pod
#   replacement until Ready + minReadySeconds + the controllers' overhead per wave), with
#   ceil(nodes / per-wave budget) waves; percentages round up as in the DaemonSet controller. The
#   controller overhead is the calibrated model in dsgate/model/rollout.json. Without cluster_nodes
#   the rule assumes nothing and stays silent; it counts every node of the cluster, an upper bound
#   for a DaemonSet that a selector narrows.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/
#     description: maxUnavailable and minReadySeconds pace a DaemonSet rolling update
# scope: rule
# custom:
#   id: DS-ROL-007
#   category: rollout
#   severity: warn
#   profile: minimal
#   admission: vap
#   field: spec.updateStrategy.rollingUpdate.maxUnavailable
#   parameters: [cluster_nodes, rollout_time_budget, rollout_pod_ready_seconds]
#   rationale: >-
#     A node agent's rollout at maxUnavailable 1 and minReadySeconds 10 on 1,000 nodes takes hours
#     (a 250-node report took 2.5 h at 1 and 20 min at 10%); a fix or a security update reaches
#     the last nodes that much later, and an operator who gives up mid-way leaves a mixed fleet.
#   remediation: >-
#     Raise spec.updateStrategy.rollingUpdate.maxUnavailable (a percentage scales with the fleet)
#     or shorten minReadySeconds until the estimate fits rollout_time_budget.
findings contains finding if {
	nodes := lib.parameters.cluster_nodes
	nodes > 0
	some ds in lib.daemonsets
	_strategy(ds) == "RollingUpdate"
	per_wave := _per_wave(ds, nodes)
	per_wave > 0
	model := {
		"ready": lib.parameters.rollout_pod_ready_seconds + object.get(ds.spec, "minReadySeconds", 0),
		"overhead": data.dsgate.model.rollout.wave_overhead,
	}
	estimate := _rollout_seconds(model, nodes, per_wave)
	limit := time.parse_duration_ns(lib.parameters.rollout_time_budget) / 1000000000
	estimate > limit
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s rolls out over %v nodes in about %s (%v waves, %v pods each), over rollout_time_budget %s; %s",
		[
			lib.display(ds), nodes, _duration(estimate), ceil(nodes / per_wave), per_wave,
			lib.parameters.rollout_time_budget, _fitting_budget(model, nodes, per_wave, limit),
		],
	))
}

_strategy(ds) := object.get(ds.spec, ["updateStrategy", "type"], "RollingUpdate")

_exceeds(value, ceiling, _) if lib.percent(value) > lib.percent(ceiling)

_exceeds(value, ceiling, _) if {
	is_number(value)
	is_number(ceiling)
	value > ceiling
}

_exceeds(value, ceiling, nodes) if {
	nodes > 0
	lib.scaled(value, nodes) > lib.scaled(ceiling, nodes)
}

_positive(value) if {
	is_number(value)
	value > 0
}

_positive(value) if lib.percent(value) > 0

_rolling(ds, key, fallback) := object.get(ds.spec, ["updateStrategy", "rollingUpdate", key], fallback)

# The pods one wave replaces: the larger of the scaled maxUnavailable (1 when neither is set) and maxSurge.
_per_wave(ds, nodes) := min([nodes, max([unavailable, surge])]) if {
	surge := lib.scaled(_rolling(ds, "maxSurge", 0), nodes)
	unavailable := lib.scaled(_rolling(ds, "maxUnavailable", _default_unavailable(surge)), nodes)
}

_default_unavailable(0) := 1

_default_unavailable(surge) := 0 if surge > 0

# A wave: the pod's replacement until Ready plus minReadySeconds (MODEL.ready), then the controllers' overhead.
_rollout_seconds(model, nodes, per_wave) := ceil(nodes / per_wave) * sum([
	model.ready,
	model.overhead.base_seconds,
	model.overhead.per_pod_seconds * per_wave,
])

_fitting_budget(model, nodes, per_wave, limit) := msg if {
	k := min([k | some k in numbers.range(per_wave, nodes); _rollout_seconds(model, nodes, k) <= limit])
	msg := sprintf(
		"maxUnavailable %v (%v%%) would take about %s",
		[k, ceil((k * 100) / nodes), _duration(_rollout_seconds(model, nodes, k))],
	)
}

_fitting_budget(model, nodes, _, limit) := msg if {
	_rollout_seconds(model, nodes, nodes) > limit
	msg := sprintf(
		"even every node at once takes about %s: shorten minReadySeconds or raise rollout_time_budget",
		[_duration(_rollout_seconds(model, nodes, nodes))],
	)
}

_duration(seconds) := sprintf("%v s", [round(seconds)]) if seconds < 60

_duration(seconds) := sprintf("%v min", [round(seconds / 60)]) if {
	seconds >= 60
	seconds < 3600
}

_duration(seconds) := sprintf("%v h %v min", [hours, round((seconds - (hours * 3600)) / 60)]) if {
	seconds >= 3600
	hours := floor(seconds / 3600)
}

_host_binding(ds) := "uses hostNetwork (every port it listens on is a host port)" if {
	ds.pod.hostNetwork == true
} else := sprintf("binds host ports %s", [concat(", ", ds.host_ports)]) if {
	count(ds.host_ports) > 0
}
