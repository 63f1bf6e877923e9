# METADATA
# title: Test fixtures shared by every _test package
# description: >-
#   A DaemonSet and PodDisruptionBudget that pass every rule with the default parameters; tests
#   derive failing variants from them with JSON patches, so each test states only what it changes.
package dsgate.lib.fixtures_test

# METADATA
# title: A node-exporter-like DaemonSet that passes every rule
daemonset := {
	"apiVersion": "apps/v1",
	"kind": "DaemonSet",
	"metadata": {"name": "agent", "namespace": "monitoring", "labels": {"app.kubernetes.io/name": "node-exporter"}},
	"spec": {
		"selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}},
		"minReadySeconds": 10,
		"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}},
		"template": {
			"metadata": {"labels": {"app.kubernetes.io/name": "node-exporter", "app.kubernetes.io/instance": "a"}},
			"spec": {
				"priorityClassName": "system-node-critical",
				"automountServiceAccountToken": false,
				"securityContext": {
					"runAsNonRoot": true,
					"runAsUser": 65534,
					"seccompProfile": {"type": "RuntimeDefault"},
				},
				"tolerations": [
					{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
					{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
				],
				"containers": [{
					"name": "exporter",
					"image": "quay.io/prometheus/node-exporter:v1.12.1@sha256:0000",
					"resources": {
						"requests": {"cpu": "100m", "memory": "64Mi"},
						"limits": {"cpu": "200m", "memory": "64Mi"},
					},
					"readinessProbe": {"httpGet": {"path": "/", "port": 9100}},
					"livenessProbe": {"httpGet": {"path": "/", "port": 9100}, "failureThreshold": 5},
					"securityContext": {
						"allowPrivilegeEscalation": false,
						"readOnlyRootFilesystem": true,
						"capabilities": {"drop": ["ALL"]},
					},
					"ports": [{"name": "metrics", "containerPort": 9100}],
					"volumeMounts": [{"name": "proc", "mountPath": "/host/proc", "readOnly": true}],
				}],
				"volumes": [{"name": "proc", "hostPath": {"path": "/proc", "type": "Directory"}}],
			},
		},
	},
}

# METADATA
# title: The PodDisruptionBudget that selects the fixture DaemonSet's pods
pdb := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "agent", "namespace": "monitoring"},
	"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}}},
}

# METADATA
# title: The conftest --combine input for one file holding the objects
render(objects) := [{"path": "render.yaml", "contents": objects}]

# METADATA
# title: The fixture DaemonSet with JSON patch operations applied
ds_with(operations) := json.patch(daemonset, operations)

# METADATA
# title: A JSON patch operation that sets a value (the pod spec is /spec/template/spec)
put(path, value) := {"op": "add", "path": path, "value": value}

# METADATA
# title: A JSON patch operation that replaces an existing value (an array element, say)
replace_at(path, value) := {"op": "replace", "path": path, "value": value}

# METADATA
# title: A JSON patch operation that removes a value
remove(path) := {"op": "remove", "path": path}

# METADATA
# title: A rule's findings as [rule, severity, message] triples, for exact comparisons
results(findings) := {[f.rule, f.severity, f.message] | some f in findings}

# METADATA
# title: A JSON patch operation that gives the fixture's container an image no catalogue entry knows
# description: >-
#   With another name label, the fixture is then an agent the well-known agents catalogue does not
#   recognise (it recognises node-exporter by its image too).
unknown_image := replace_at("/spec/template/spec/containers/0/image", "quay.io/example/debug-agent:1.0@sha256:0000")
