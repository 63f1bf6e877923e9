# METADATA
# title: Images
# description: What exactly runs on every node, and where it comes from.
package dsgate.rules.images

import data.dsgate.lib

# METADATA
# title: The image tag is pinned
# description: No `latest` and no missing tag (an image pinned by digest alone is pinned).
# scope: rule
# custom:
#   id: DS-IMG-001
#   category: images
#   severity: deny
#   field: spec.template.spec.containers[*].image
#   parameters: []
#   remediation: >-
#     Pin the image to a release tag (e.g. quay.io/prometheus/node-exporter:v1.12.1), ideally with its digest.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	image := object.get(container.spec, "image", "")
	problem := _tag_problem(container.image)
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s image %q %s",
		[lib.display_container(ds, container), image, problem],
	))
}

# METADATA
# title: The image has a digest (warning)
# description: A tag can be moved; a digest cannot. Reported as a warning while require_digest is false.
# scope: rule
# custom:
#   id: DS-IMG-002
#   category: images
#   severity: warn
#   field: spec.template.spec.containers[*].image
#   parameters: [require_digest]
#   remediation: >-
#     Append the image digest (image@sha256:...) so every node runs the same bytes.
findings contains finding if {
	not lib.parameters.require_digest
	some ds in lib.daemonsets
	some container in ds.containers
	container.image.digest == ""
	image := object.get(container.spec, "image", "")
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s image %q has no digest",
		[lib.display_container(ds, container), image],
	))
}

# METADATA
# title: The image has a digest (required)
# description: The same check as DS-IMG-002, denied when require_digest is true.
# scope: rule
# custom:
#   id: DS-IMG-003
#   category: images
#   severity: deny
#   field: spec.template.spec.containers[*].image
#   parameters: [require_digest]
#   remediation: >-
#     Append the image digest (image@sha256:...) so every node runs the same bytes.
findings contains finding if {
	lib.parameters.require_digest
	some ds in lib.daemonsets
	some container in ds.containers
	container.image.digest == ""
	image := object.get(container.spec, "image", "")
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s image %q has no digest and require_digest is true",
		[lib.display_container(ds, container), image],
	))
}

# METADATA
# title: The image comes from an allowed registry
# description: An image without a registry host comes from docker.io.
# scope: rule
# custom:
#   id: DS-IMG-004
#   category: images
#   severity: deny
#   field: spec.template.spec.containers[*].image
#   parameters: [allowed_registries]
#   remediation: >-
#     Pull the image from an allowed registry (mirror it there), or add the registry to allowed_registries.
findings contains finding if {
	some ds in lib.daemonsets
	some container in ds.containers
	registry := container.image.registry
	not registry in lib.parameters.allowed_registries
	image := object.get(container.spec, "image", "")
	finding := lib.finding(rego.metadata.rule(), ds, sprintf(
		"%s image %q comes from registry %q, not one of %v",
		[lib.display_container(ds, container), image, registry, lib.parameters.allowed_registries],
	))
}

_tag_problem(reference) := "uses the tag latest" if {
	reference.tag == "latest"
} else := "has no tag" if {
	reference.tag == ""
	reference.digest == ""
}
