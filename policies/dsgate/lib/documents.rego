# METADATA
# title: dsgate library - input, parameters and exemptions
# description: >-
#   The input is the shape `conftest test --combine` produces: an array of
#   `{"path": <string>, "contents": <object or array of objects>}`. Everything a rule needs
#   about that input (documents, DaemonSets, parameters, exemptions) is derived here once.
package dsgate.lib

# METADATA
# title: Parameters with their defaults and descriptions
# description: >-
#   The single source of every parameter: its default and what it means. The catalogue in
#   policies/README.md is generated from this object. Override any key in
#   `data.dsgate.parameters`; objects are merged key by key, lists and scalars are replaced.
parameter_docs := {
	"agent_limit_budget": {
		"default": {"cpu": "1", "memory": "1Gi"},
		"description": "Upper bound of one agent pod's effective cpu and memory limits.",
	},
	"allowed_capabilities": {
		"default": [],
		"description": "Linux capabilities a container may add after dropping ALL.",
	},
	"allowed_priority_classes": {
		"default": ["system-node-critical"],
		"description": "priorityClassName values a DaemonSet may use.",
	},
	"allowed_registries": {
		"default": ["quay.io", "docker.io", "registry.k8s.io", "ghcr.io"],
		"description": "Registry hosts images may come from; an image without a host is docker.io.",
	},
	"blanket_toleration_agents": {
		"default": ["node-exporter", "fluentd"],
		"description": "Agents (app.kubernetes.io/name) allowed a key-less `operator: Exists` toleration.",
	},
	"cluster_nodes": {
		"default": 0,
		"description": "Number of nodes of the target cluster; 0 means unknown.",
	},
	"host_namespace_agents": {
		"default": [],
		"description": concat(" ", [
			"Agents allowed hostNetwork, hostPID and hostIPC (all three); the catalogue grants a well-known",
			"agent only the host namespaces it uses.",
		]),
	},
	"large_cluster_threshold": {
		"default": 100,
		"description": "Above this many cluster_nodes, maxUnavailable must be a percentage.",
	},
	"max_unavailable_ceiling": {
		"default": "25%",
		"description": "Largest rolling-update maxUnavailable (an integer or a percentage).",
	},
	"node_critical_agents": {
		"default": ["node-exporter", "fluentd"],
		"description": "Agents treated as node-critical even without priorityClassName system-node-critical.",
	},
	"node_request_budget": {
		"default": {"cpu": "1", "memory": "2Gi"},
		"description": "Upper bound of the sum of all DaemonSets' effective requests on one node.",
	},
	"privileged_agents": {
		"default": [],
		"description": "Agents allowed privileged containers.",
	},
	"require_digest": {
		"default": false,
		"description": "When true an image without a digest is denied (DS-IMG-003) instead of warned (DS-IMG-002).",
	},
	"rollout_pod_ready_seconds": {
		"default": 10,
		"description": concat(" ", [
			"Seconds from deleting a daemon pod to its replacement being Ready",
			"(termination, image pull, start, readiness), before minReadySeconds.",
		]),
	},
	"rollout_time_budget": {
		"default": "30m",
		"description": "Longest acceptable estimated rollout (a Go duration) when cluster_nodes is known (DS-ROL-007).",
	},
	"root_agents": {
		"default": ["fluentd"],
		"description": "Agents allowed to run as root (no runAsNonRoot).",
	},
	"well_known_agents": {
		"default": true,
		"description": concat(" ", [
			"Use the catalogue of well-known node agents (policies/dsgate/agents/agents.rego), matched on",
			"a name label and an image, for what each agent legitimately needs, and the helper sidecar",
			"images that need no probes; a need's parameter given explicitly (host_namespace_agents,",
			"root_agents, privileged_agents, allowed_capabilities, blanket_toleration_agents,",
			"node_critical_agents, writable_host_paths) overrides the catalogue for that need.",
		]),
	},
	"writable_host_paths": {
		"default": ["/var/lib/fluentd"],
		"description": "hostPath prefixes that may be mounted read-write.",
	},
}

# METADATA
# title: Effective parameters
# description: The defaults of parameter_docs merged with data.dsgate.parameters.
parameters := object.union({name: doc["default"] | some name, doc in parameter_docs}, _given_parameters)

default _given_parameters := {}

_given_parameters := data.dsgate.parameters if is_object(data.dsgate.parameters)

default _given_exemptions := []

_given_exemptions := data.dsgate.exemptions if is_array(data.dsgate.exemptions)

# METADATA
# title: Every Kubernetes object of the input, as [path, object]
# description: >-
#   An input entry's contents is one document (conftest 0.71 --combine, the dsgate gate) or an
#   array of documents. Null or empty documents and anything without a string kind are ignored.
entries := array.concat(
	[[object.get(entry, "path", ""), entry.contents] |
		some entry in input
		is_string(entry.contents.kind)
	],
	[[object.get(entry, "path", ""), obj] |
		some entry in input
		is_array(entry.contents)
		some obj in entry.contents
		is_string(obj.kind)
	],
)

# METADATA
# title: One object with the path it came from and its Kind/namespace/name
document(path, obj) := {
	"path": path,
	"object": obj,
	"kind": obj.kind,
	"namespace": namespace,
	"name": name,
	"ref": concat("/", [obj.kind, namespace, name]),
	"labels": object.get(obj, ["metadata", "labels"], {}),
} if {
	namespace := string_or_empty(object.get(obj, ["metadata", "namespace"], ""))
	name := string_or_empty(object.get(obj, ["metadata", "name"], ""))
}

# METADATA
# title: Every object of the input as a document
# description: Rules read of_kind instead, which builds documents only for the kinds they need.
documents := [document(path, obj) | some [path, obj] in entries]

# METADATA
# title: The documents of one kind among entries
of_kind(objects, kind) := [document(path, obj) | some [path, obj] in objects; obj.kind == kind]

# METADATA
# title: Every DaemonSet of the input, with its pod template pulled out
# description: >-
#   Everything several rules need (containers, host ports, effective requests and limits,
#   node-criticality) is computed here once per DaemonSet.
daemonsets := [object.union(doc, {
	"spec": object_or_empty(object.get(doc.object, "spec", {})),
	"pod": pod,
	"template_labels": template_labels,
	"agent": agent,
	"containers": pod_containers,
	"host_ports": host_ports(pod, pod_containers),
	"well_known": known,
	"allowed": allowed,
	"writable_host_paths": writable_host_paths(known, parameters, object.keys(_given_parameters)),
	"node_critical": count({true | node_critical(pod, allowed)}) > 0,
	"windows": count({true | windows_pod(pod)}) > 0,
	"user_namespace": object.get(pod, "hostUsers", true) == false,
	"requests": {r: effective_amount(pod, pod_containers, "requests", r) | some r in ["cpu", "memory"]},
	"limits": {r: effective_amount(pod, pod_containers, "limits", r) | some r in ["cpu", "memory"]},
}) |
	some doc in of_kind(entries, "DaemonSet")
	pod := object.get(doc.object, ["spec", "template", "spec"], {})
	template_labels := object.get(doc.object, ["spec", "template", "metadata", "labels"], {})
	agent := agent_name(doc.labels, template_labels)
	pod_containers := containers(pod)
	known := well_known_agent(name_labels(doc.labels, template_labels, name_label_keys), pod_containers, _catalogue)
	allowed := allowed_needs(agent, known, parameters, object.keys(_given_parameters))
]

# METADATA
# title: The label keys whose values name an agent for the catalogue
# description: >-
#   app.kubernetes.io/name first; upstream CNI, CSI and maintenance agents often carry only
#   k8s-app (calico-node, cilium, aws-node, kube-proxy), app (flannel, csi drivers) or name (weave-net).
name_label_keys := ["app.kubernetes.io/name", "k8s-app", "app", "name"]

# METADATA
# title: The non-empty values of the name label keys on the pod template, else on the DaemonSet
name_labels(labels, template_labels, keys) := names if {
	names := _name_values(template_labels, keys)
	count(names) > 0
} else := _name_values(labels, keys)

_name_values(labels, keys) := {value |
	some key in keys
	value := object.get(labels, key, "")
	is_string(value)
	value != ""
}

# METADATA
# title: The CATALOGUE entry of a well-known agent, matched on a name label AND an image; {} if none
# description: The entry is returned with every need filled in (complete_agent).
well_known_agent(names, pod_containers, catalogue) := array.concat(
	[complete_agent(entry) |
		some entry in catalogue
		some name in entry.labels
		name in names
		some c in pod_containers
		_image_matches(image_path(object.get(c.spec, "image", "")), entry.images)
	],
	[{}],
)[0]

# METADATA
# title: A catalogue ENTRY (data.dsgate.agents.entries) with every need filled in
# description: >-
#   What `needs` leaves out is not needed; every agent in the catalogue runs on every node (blanket
#   tolerations) and is node-critical.
complete_agent(entry) := object.union(entry, {"needs": object.union(
	{
		"host_namespaces": [],
		"root": false,
		"privileged": false,
		"capabilities": [],
		"seccomp_unconfined": false,
		"writable_host_paths": [],
		"network": entry.kind == "network",
		"blanket_tolerations": true,
		"node_critical": true,
	},
	entry.needs,
)})

# An image repository path is the catalogue's, or a mirror's path that ends with it.
_image_matches(path, images) if path in images

_image_matches(path, images) if {
	some image in images
	endswith(path, concat("", ["/", image]))
}

# METADATA
# title: A container whose image is one of HELPERS (helper_images), mirrored or not
helper_container(container, helpers) if {
	_image_matches(image_path(object.get(container.spec, "image", "")), helpers)
}

# METADATA
# scope: document
# title: The helper sidecar images (data.dsgate.agents.helpers) while the catalogue is on
default helper_images := set()

helper_images := data.dsgate.agents.helpers if parameters.well_known_agents == true

default _catalogue := []

# The entries as written (a constant): well_known_agent completes the one it matches.
_catalogue := data.dsgate.agents.entries if parameters.well_known_agents == true

# METADATA
# title: What an agent may do, by parameter or, unless that parameter is GIVEN, by the catalogue
# description: >-
#   root, privileged, blanket_tolerations and node_critical are booleans; host_namespaces is the
#   set of pod fields (hostNetwork, hostPID, hostIPC) the agent may set; capabilities the Linux
#   capabilities it may add; seccomp_unconfined and network come from the catalogue only. An agent
#   named "" (no app.kubernetes.io/name) is never allowed anything by a parameter.
allowed_needs(agent, known, params, given) := object.union(
	{need: allowed |
		# need -> the parameter listing the agents allowed it
		some need, parameter in {
			"root": "root_agents",
			"privileged": "privileged_agents",
			"blanket_tolerations": "blanket_toleration_agents",
			"node_critical": "node_critical_agents",
		}
		allowed := count({true | _allowed(need, parameter, agent, known, params, given)}) > 0
	},
	{
		"host_namespaces": _host_namespaces(agent, known, params, given),
		"capabilities": _capabilities(known, params, given),
		"seccomp_unconfined": object.get(known, ["needs", "seccomp_unconfined"], false),
		"network": object.get(known, ["needs", "network"], false),
	},
)

_allowed(_, parameter, agent, _, params, _) if _listed(agent, params[parameter])

_allowed(need, parameter, _, known, _, given) if {
	not parameter in given
	known.needs[need] == true
}

_listed(agent, names) if {
	agent != ""
	is_array(names)
	agent in names
}

_host_namespaces(agent, known, params, given) := {"hostNetwork", "hostPID", "hostIPC"} if {
	_listed(agent, params.host_namespace_agents)
} else := {field | some field in object.get(known, ["needs", "host_namespaces"], [])} if {
	not "host_namespace_agents" in given
} else := set()

_capabilities(known, params, given) := {capability(name) | some name in _strings(params.allowed_capabilities)} if {
	"allowed_capabilities" in given
} else := {capability(name) |
	some name in array.concat(_strings(params.allowed_capabilities), object.get(known, ["needs", "capabilities"], []))
}

_strings(value) := [item | some item in value; is_string(item)] if {
	is_array(value)
} else := []

# METADATA
# title: The host path prefixes an agent may write, by parameter plus, unless it is GIVEN, the catalogue's
writable_host_paths(known, params, given) := _strings(params.writable_host_paths) if {
	"writable_host_paths" in given
} else := array.concat(_strings(params.writable_host_paths), object.get(known, ["needs", "writable_host_paths"], []))

# METADATA
# title: A Linux capability name, upper case without the CAP_ prefix
capability(name) := trim_prefix(upper(name), "CAP_")

# METADATA
# title: Exemptions declared in annotations and in data.dsgate.exemptions
# description: >-
#   Every declared exemption, valid or not. Annotation `dsgate.io/exempt.<rule-id>: "<reason>"`
#   exempts the annotated resource; a data entry `{rule, resource, selector, reason, expires}`
#   exempts the resource `Kind/namespace/name`, or every resource its selector matches (see
#   selector_applies), until the end of the day `expires` (YYYY-MM-DD, UTC).
# scope: document
exemptions contains exemption if {
	some [path, obj] in entries
	some key, reason in object.get(obj, ["metadata", "annotations"], {})
	startswith(key, annotation_prefix)
	doc := document(path, obj)
	exemption := {
		"source": "annotation",
		"rule": substring(key, count(annotation_prefix), -1),
		"resource": doc.ref,
		"path": path,
		"reason": trim_space(sprintf("%v", [reason])),
		"expires": "",
		"selector": null,
	}
}

exemptions contains exemption if {
	some i, entry in _given_exemptions
	exemption := {
		"source": "data",
		"rule": sprintf("%v", [object.get(entry, "rule", "")]),
		"resource": _exempted_resource(entry),
		"path": sprintf("data.dsgate.exemptions[%d]", [i]),
		"reason": trim_space(sprintf("%v", [object.get(entry, "reason", "")])),
		"expires": sprintf("%v", [object.get(entry, "expires", "")]),
		"selector": object.get(entry, "selector", null),
	}
}

# The resource a data exemption names; for a selector alone, the selector (in messages).
_exempted_resource(entry) := sprintf("%v", [entry.resource]) if {
	entry.resource != ""
} else := sprintf("selector %s", [json.marshal(entry.selector)]) if {
	is_object(entry.selector)
} else := ""

# METADATA
# title: An exemption applies to a finding
# description: >-
#   Same rule id, and: the same resource, for an exemption without a selector; for one with a
#   selector, the finding's resource is a document of the input that the selector matches (and is
#   the exemption's resource, when it names one too). DOCS: the input's documents.
# scope: document
exemption_applies(exemption, finding, _) if {
	exemption.rule == finding.rule
	exemption.selector == null
	exemption.resource == finding.resource
}

exemption_applies(exemption, finding, docs) if {
	exemption.rule == finding.rule
	is_object(exemption.selector)
	_selected_resource(exemption, finding.resource)
	some doc in docs
	doc.ref == finding.resource
	selector_applies(exemption.selector, doc)
}

_selected_resource(exemption, _) if startswith(exemption.resource, "selector ")

_selected_resource(exemption, resource) if exemption.resource == resource

# METADATA
# title: A document matches an exemption selector
# description: >-
#   Every key given matches: `namespace` and `name` are globs (`*` any characters, `?` one),
#   `labels` a label selector (matchLabels, matchExpressions) of the resource's labels, `image` a
#   glob that one of its pod template's container images matches. Any other key matches nothing.
selector_applies(selector, doc) if {
	every key, value in selector {
		_selector_key_matches(key, value, doc)
	}
}

_selector_key_matches("namespace", value, doc) if glob.match(value, null, doc.namespace)

_selector_key_matches("name", value, doc) if glob.match(value, null, doc.name)

_selector_key_matches("labels", value, doc) if selector_matches(value, doc.labels)

_selector_key_matches("image", value, doc) if {
	some c in containers(_pod_spec(doc.object))
	glob.match(value, null, object.get(c.spec, "image", ""))
}

_pod_spec(obj) := obj.spec if obj.kind == "Pod"

_pod_spec(obj) := object.get(obj, ["spec", "template", "spec"], {}) if obj.kind != "Pod"

# METADATA
# title: The annotation key prefix of exemptions
annotation_prefix := "dsgate.io/exempt."

# METADATA
# title: Today's date in UTC, YYYY-MM-DD
today := time.format([time.now_ns(), "UTC", "2006-01-02"])

# METADATA
# title: Problems of one exemption (no reason, no valid expiry, expired)
exemption_problems(exemption, day) := union({
	{"no_reason" | exemption.reason == ""},
	{"invalid_expiry" | _invalid_expiry(exemption)},
	{"expired" | _expired(exemption, day)},
})

_invalid_expiry(exemption) if {
	exemption.source == "data"
	not valid_date(exemption.expires)
}

_expired(exemption, day) if {
	exemption.source == "data"
	valid_date(exemption.expires)
	exemption.expires < day
}

# METADATA
# title: Exemptions that suppress findings (a reason, and not expired)
active_exemptions contains exemption if {
	some exemption in exemptions
	count(exemption_problems(exemption, today)) == 0
}

# METADATA
# title: A YYYY-MM-DD date that exists in the calendar
# description: >-
#   time.parse_ns only reaches the years 1678-2262, so the date is checked on the year in
#   1700-2099 with the same place in the 400-year leap cycle.
valid_date(value) if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, value)
	year := 1700 + ((to_number(substring(value, 0, 4)) + 300) % 400)
	time.parse_ns("2006-01-02", sprintf("%d%s", [year, substring(value, 4, -1)]))
}
