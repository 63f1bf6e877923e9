# METADATA
# title: Images
# description: What exactly runs on every node, and where it comes from.
package dsgate.rules.images

import data.dsgate.lib

# METADATA
# title: The image tag is pinned
# description: >-
#   No missing tag and no moving tag: `latest`, a branch or channel name (`main`, `master`, `stable`,
#   `edge`, `nightly`, ... alone or with a letters-only suffix such as `-alpine`), or a partial
#   version (`1`, `v1.5`, `1.5-alpine`) that moves to every new release. Full versions (`v1.7.0`,
#   `1.7.0-debian-12-r3`), dates (`20240101`) and other tags are fixed; an image with a digest is
#   pinned whatever its tag.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
#     description: Images, image names and tags (avoid latest in production; a digest pins the image)
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
#     description: Image pull policy (a node pulls a moving tag whenever it has no copy)
# scope: rule
# custom:
#   id: DS-IMG-001
#   category: images
#   severity: deny
#   profile: baseline
#   admission: vap
#   field: spec.template.spec.containers[*].image
#   parameters: []
#   rationale: >-
#     A DaemonSet pulls its image on every node, at different times: each new node, each node whose
#     image was garbage-collected. With a moving tag the nodes that pull later get whatever the tag
#     points to then, so the fleet drifts onto an untested build without any rollout (no
#     maxUnavailable, no minReadySeconds, no way to roll back to the old template), and two nodes
#     that look identical run different code.
#   remediation: >-
#     Pin the image to a full release tag (e.g. quay.io/prometheus/node-exporter:v1.12.1), ideally with its digest.
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
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
#     description: Images (a digest identifies one image and never moves)
# scope: rule
# custom:
#   id: DS-IMG-002
#   category: images
#   severity: warn
#   profile: strict
#   admission: vap
#   rationale: >-
#     Even a full release tag can be pushed again (a rebuilt image, a compromised registry account):
#     nodes that pull after the push run different bytes than the ones before. A digest rules that out.
#     Most charts ship tags only, so it is a strict-profile warning.
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
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
#     description: Images (a digest identifies one image and never moves)
# scope: rule
# custom:
#   id: DS-IMG-003
#   category: images
#   severity: deny
#   profile: baseline
#   admission: vap
#   rationale: >-
#     As DS-IMG-002, for installations that decided (require_digest) that every node must run the same
#     bytes; it reports nothing unless that parameter is set.
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
# related_resources:
#   - ref: https://docs.docker.com/docker-hub/usage/pulls/
#     description: Docker Hub pull rate limits (429 Too Many Requests)
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff
#     description: ImagePullBackOff
# scope: rule
# custom:
#   id: DS-IMG-004
#   category: images
#   severity: warn
#   profile: strict
#   admission: vap
#   rationale: >-
#     Every new node pulls the agent's image. From a registry the installation does not mirror or
#     control, a rate limit or an outage leaves new nodes in ImagePullBackOff without their agent (CNI
#     included, so without networking). Which registries are acceptable is the installation's decision,
#     so it is a strict-profile warning; set allowed_registries to your mirrors.
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
	reference.digest == ""
	reference.tag == "latest"
} else := "has no tag" if {
	reference.tag == ""
	reference.digest == ""
} else := sprintf("uses the moving tag %q (a branch or channel name, not a release)", [reference.tag]) if {
	reference.digest == ""
	_channel_tag(lower(reference.tag))
} else := sprintf("uses the moving tag %q (a partial version: it moves to every new release)", [reference.tag]) if {
	reference.digest == ""
	regex.match(`^v?[0-9]{1,3}(\.[0-9]+)?(-[a-z]+)*$`, lower(reference.tag))
}

# A branch or channel name, alone or with letters-only suffixes (stable-alpine, latest-debug).
_channel_tag(tag) if {
	parts := split(tag, "-")
	parts[0] in {
		"latest", "main", "master", "develop", "development", "dev", "devel", "trunk", "head",
		"stable", "edge", "nightly", "canary", "unstable", "testing", "next", "current", "release",
		"snapshot", "mainline", "rolling", "lts", "beta", "alpha", "preview", "experimental",
	}
	every part in array.slice(parts, 1, count(parts)) {
		regex.match(`^[a-z]+$`, part)
	}
}
