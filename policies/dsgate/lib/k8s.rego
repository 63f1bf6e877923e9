# dsgate library - Kubernetes semantics.
#   Pure functions (they read only their arguments) that model how Kubernetes itself
#   interprets label selectors, tolerations, quantities, effective pod resources, host ports
#   and image references.
package dsgate.lib

# METADATA
# title: A value if it is an object, else {}
object_or_empty(value) := value if {
	is_object(value)
} else := {}

# METADATA
# title: A value if it is a string, else ""
string_or_empty(value) := value if {
	is_string(value)
} else := ""

# METADATA
# title: The one finding object every rule returns
# description: >-
#   Identity, category, severity, remediation and `field` (the dotted path of the offending field,
#   `[*]` for any list item, "" when the resource as a whole is at fault) come from the calling
#   rule's METADATA.
finding(metadata, subject, message) := {
	"rule": metadata.custom.id,
	"category": metadata.custom.category,
	"severity": metadata.custom.severity,
	"resource": subject.ref,
	"path": subject.path,
	"message": message,
	"remediation": trim_space(metadata.custom.remediation),
	"field": object.get(metadata.custom, "field", ""),
}

# METADATA
# title: The finding object, at a field the finding itself names
# description: >-
#   For a rule whose offending field depends on the finding (DS-HST-005: hostNetwork, hostPID or
#   hostIPC); its METADATA's `field` names the usual one. Reports point at FIELD's line.
finding_at(metadata, subject, message, field) := object.union(finding(metadata, subject, message), {"field": field})

# METADATA
# title: How a document is named in messages, e.g. DaemonSet <monitoring/node-exporter>
display(doc) := sprintf("%s <%s>", [doc.kind, doc.name]) if {
	doc.namespace == ""
} else := sprintf("%s <%s/%s>", [doc.kind, doc.namespace, doc.name])

# METADATA
# title: How a container is named in messages, e.g. DaemonSet <ns/name> container <c>
display_container(ds, container) := sprintf("%s %s <%s>", [display(ds), container.type, container.name])

# METADATA
# title: The agent's app.kubernetes.io/name, from the pod template, else from the object
agent_name(labels, template_labels) := name if {
	name := template_labels["app.kubernetes.io/name"]
} else := name if {
	name := labels["app.kubernetes.io/name"]
} else := ""

# METADATA
# title: Every init container and container of a pod spec, init containers first
# description: >-
#   `long_running` is true for regular containers and for sidecars (init containers with
#   restartPolicy Always): they run for the pod's lifetime, so their resources add up and they are
#   probed like containers. `privileged` is securityContext.privileged true. `amounts`
#   holds the requests and limits as integers (cpu in millicores, memory in bytes) under keys like
#   "limits.cpu"; an absent quantity is 0 and an unparsable one is left out.
containers(pod) := array.concat(
	[{
		"type": "init container",
		"index": i,
		"name": object.get(spec, "name", ""),
		"spec": spec,
		"sidecar": sidecar,
		"long_running": sidecar,
		"privileged": object.get(spec, ["securityContext", "privileged"], false) == true,
		"amounts": _amounts(spec),
		"image": image_reference(object.get(spec, "image", "")),
	} |
		some i, spec in object.get(pod, "initContainers", [])
		sidecar := object.get(spec, "restartPolicy", "") == "Always"
	],
	[{
		"type": "container",
		"index": i,
		"name": object.get(spec, "name", ""),
		"spec": spec,
		"sidecar": false,
		"long_running": true,
		"privileged": object.get(spec, ["securityContext", "privileged"], false) == true,
		"amounts": _amounts(spec),
		"image": image_reference(object.get(spec, "image", "")),
	} |
		some i, spec in object.get(pod, "containers", [])
	],
)

_amounts(spec) := {key: round(units.parse(sprintf("%v", [object.get(spec, path, 0)])) * scale) |
	some key, [path, scale] in {
		"requests.cpu": [["resources", "requests", "cpu"], 1000],
		"requests.memory": [["resources", "requests", "memory"], 1],
		"limits.cpu": [["resources", "limits", "cpu"], 1000],
		"limits.memory": [["resources", "limits", "memory"], 1],
	}
}

# METADATA
# title: A label selector (matchLabels AND matchExpressions) selects the labels
# description: A null selector selects nothing; an empty one selects everything (policy/v1 semantics).
selector_matches(selector, labels) if {
	is_object(selector)
	every key, value in object.get(selector, "matchLabels", {}) {
		labels[key] == value
	}
	every expression in object.get(selector, "matchExpressions", []) {
		_expression_matches(expression, labels)
	}
}

_expression_matches(expression, labels) if {
	expression.operator == "In"
	labels[expression.key] in expression.values
}

# NotIn also matches when the label is absent (Kubernetes label selector semantics).
_expression_matches(expression, labels) if {
	expression.operator == "NotIn"
	not _label_in(labels, expression.key, expression.values)
}

_expression_matches(expression, labels) if {
	expression.operator == "Exists"
	expression.key in object.keys(labels)
}

_expression_matches(expression, labels) if {
	expression.operator == "DoesNotExist"
	not expression.key in object.keys(labels)
}

_label_in(labels, key, values) if labels[key] in values

# METADATA
# title: A selector that constrains something (matchLabels or matchExpressions not empty)
non_empty_selector(selector) if {
	constraints := array.concat(
		[key | some key, _ in object.get(object_or_empty(selector), "matchLabels", {})],
		object.get(object_or_empty(selector), "matchExpressions", []),
	)
	count(constraints) > 0
}

# METADATA
# title: A pod may be placed on a node with these labels (nodeSelector and required node affinity)
# description: >-
#   Every nodeSelector label matches, and the required node affinity (if any) has a
#   nodeSelectorTerm that matches (terms are ORed, a term's expressions ANDed; an empty term or a
#   term with matchFields, which name particular nodes, matches no node of a model). NotIn and
#   DoesNotExist match an absent label; Gt and Lt match nothing here (a model node has no numeric
#   labels).
selects_node(pod, node_labels) if {
	every key, value in object_or_empty(object.get(pod, "nodeSelector", {})) {
		node_labels[key] == value
	}
	required := object.get(pod, ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], null)
	_required_affinity_selects(required, node_labels)
}

_required_affinity_selects(null, _) := true

_required_affinity_selects(required, node_labels) if {
	some term in object.get(object_or_empty(required), "nodeSelectorTerms", [])
	expressions := object.get(term, "matchExpressions", [])
	count(expressions) > 0
	count(object.get(term, "matchFields", [])) == 0
	every expression in expressions {
		_expression_matches(expression, node_labels)
	}
}

# METADATA
# title: A toleration tolerates a taint, as the kubelet and scheduler decide it
# description: >-
#   An empty effect matches every effect; an empty key matches every key; Exists ignores the
#   value; Equal (the default operator) compares it.
tolerates(toleration, taint) if {
	object.get(toleration, "effect", "") in {"", taint.effect}
	object.get(toleration, "key", "") in {"", taint.key}
	_operator_matches(object.get(toleration, "operator", "Equal"), toleration, taint)
}

_operator_matches("Exists", _, _) := true

_operator_matches("Equal", toleration, taint) if {
	object.get(toleration, "value", "") == object.get(taint, "value", "")
}

_operator_matches("", toleration, taint) if {
	object.get(toleration, "value", "") == object.get(taint, "value", "")
}

# METADATA
# title: A toleration with operator Exists and no key, which tolerates every taint
blanket_toleration(toleration) if {
	toleration.operator == "Exists"
	object.get(toleration, "key", "") == ""
}

# METADATA
# scope: document
# title: A DaemonSet is node-critical by priority class, by agent allowlist or by the catalogue
node_critical(pod, _) if pod.priorityClassName == "system-node-critical"

node_critical(_, allowed) if allowed.node_critical

# METADATA
# scope: document
# title: A Kubernetes quantity (number or string like 100m, 1Gi, 1e3) as an integer
# description: cpu in millicores, memory in bytes.
amount("cpu", value) := round(units.parse(sprintf("%v", [value])) * 1000)

amount("memory", value) := round(units.parse(sprintf("%v", [value])))

# METADATA
# scope: document
# title: An amount for messages, cpu in millicores and memory in Mi
format_amount("cpu", value) := sprintf("%dm", [value])

format_amount("memory", value) := sprintf("%vMi", [round((value * 10) / 1048576) / 10])

# METADATA
# title: A pod's effective requests or limits, as the scheduler computes them
# description: >-
#   max(sum of long-running containers, max over init containers of (init container + the
#   sidecars started before it)). KIND is requests or limits.
pod_amount(containers, kind, resource) := max([steady, peak]) if {
	key := sprintf("%s.%s", [kind, resource])
	steady := sum([object.get(c.amounts, key, 0) | some c in containers; c.long_running])
	inits := [_init_amount(containers, c, key) | some c in containers; not c.long_running]
	peak := max(array.concat([0], inits))
}

_init_amount(containers, init, key) := object.get(init.amounts, key, 0) + _sidecars_before(containers, init.index, key)

_sidecars_before(containers, index, key) := sum([object.get(c.amounts, key, 0) |
	some c in containers
	c.sidecar
	c.index < index
])

# METADATA
# title: A pod's effective requests or limits, honouring pod-level resources (spec.resources)
# description: >-
#   With pod-level resources (Kubernetes 1.34+, beta and on by default) the pod's own
#   requests or limits of a resource take precedence over the sum of its containers'.
effective_amount(pod, containers, kind, resource) := amount(resource, pod.resources[kind][resource]) if {
	pod.resources[kind][resource] != null
} else := pod_amount(containers, kind, resource)

# METADATA
# scope: document
# title: A pod that runs Windows containers
# description: >-
#   spec.os.name windows, a kubernetes.io/os windows nodeSelector or required node affinity, or
#   windowsOptions in the pod's or a container's securityContext.
windows_pod(pod) if object.get(pod, ["os", "name"], "") == "windows"

windows_pod(pod) if object.get(pod, ["nodeSelector", "kubernetes.io/os"], "") == "windows"

windows_pod(pod) if is_object(object.get(pod, ["securityContext", "windowsOptions"], null))

windows_pod(pod) if {
	some kind in ["initContainers", "containers"]
	some spec in object.get(pod, kind, [])
	is_object(object.get(spec, ["securityContext", "windowsOptions"], null))
}

windows_pod(pod) if {
	terms := object.get(
		pod,
		["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"],
		[],
	)
	count(terms) > 0
	every term in terms {
		some expression in object.get(term, "matchExpressions", [])
		expression.key == "kubernetes.io/os"
		expression.operator == "In"
		expression.values == ["windows"]
	}
}

# METADATA
# title: A Windows HostProcess container (windowsOptions.hostProcess, the container's else the pod's)
host_process(pod, container) if {
	object.get(
		container.spec,
		["securityContext", "windowsOptions", "hostProcess"],
		object.get(pod, ["securityContext", "windowsOptions", "hostProcess"], false),
	) == true
}

# METADATA
# title: The host ports a pod binds, as "port/PROTOCOL"
# description: With hostNetwork every containerPort is a host port (hostPort defaults to it).
host_ports(pod, containers) := {port |
	host_network := object.get(pod, "hostNetwork", false) == true
	some c in containers
	some declared in object.get(c.spec, "ports", [])
	port := _host_port(declared, host_network)
}

_host_port(declared, true) := sprintf("%v/%s", [declared.containerPort, object.get(declared, "protocol", "TCP")])

_host_port(declared, false) := sprintf("%v/%s", [declared.hostPort, object.get(declared, "protocol", "TCP")]) if {
	declared.hostPort > 0
}

# METADATA
# scope: document
# title: A path equal to or below a prefix directory
path_under(path, prefix) if trim_suffix(path, "/") == trim_suffix(prefix, "/")

path_under(path, prefix) if startswith(path, concat("", [trim_suffix(prefix, "/"), "/"]))

# METADATA
# title: The numeric part of a percentage string like "25%"
percent(value) := to_number(trim_suffix(value, "%")) if {
	is_string(value)
	endswith(value, "%")
}

# METADATA
# scope: document
# title: An int-or-percent resolved against a total, rounding up (as the DaemonSet controller does)
scaled(value, _) := value if is_number(value)

scaled(value, total) := ceil((percent(value) * total) / 100)

# METADATA
# title: The repository path of an image, without registry host, tag and digest ("" for a non-string)
image_path(image) := concat("/", array.concat(array.slice(parts, skip, last), [name])) if {
	parts := split(split(image, "@")[0], "/")
	skip := count([true | count(parts) > 1; regex.match(`[.:]|^localhost$`, parts[0])])
	last := count(parts) - 1
	name := split(parts[last], ":")[0]
} else := ""

# METADATA
# title: An image reference split into registry, tag and digest
# description: >-
#   The first path component is a registry host when it has a dot or a colon or is localhost;
#   otherwise the image is on docker.io. A non-string image has no registry, tag or digest.
image_reference(image) := {"registry": registry, "tag": tag, "digest": digest} if {
	name_and_digest := split(image, "@")
	digest := array.concat(array.slice(name_and_digest, 1, 2), [""])[0]
	parts := split(name_and_digest[0], "/")
	hosts := [parts[0] | count(parts) > 1; regex.match(`[.:]|^localhost$`, parts[0])]
	registry := array.concat(hosts, ["docker.io"])[0]
	tag := array.concat(array.slice(split(parts[count(parts) - 1], ":"), 1, 2), [""])[0]
} else := {"registry": "", "tag": "", "digest": ""}
