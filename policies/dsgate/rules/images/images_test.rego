package dsgate.rules.images_test

import data.dsgate.lib.fixtures_test as fx
import data.dsgate.rules.images

_with_image(image) := fx.render([fx.ds_with([fx.put("/spec/template/spec/containers/0/image", image)])])

test_pinned_image_with_digest_allowed if {
	count(images.findings) == 0 with input as fx.render([fx.daemonset])
}

test_latest_tag_denied if {
	fx.results(images.findings) == {
		[
			"DS-IMG-001", "deny",
			"DaemonSet <monitoring/agent> container <exporter> image \"quay.io/prometheus/node-exporter:latest\" uses the tag latest",
		],
		[
			"DS-IMG-002", "warn",
			"DaemonSet <monitoring/agent> container <exporter> image \"quay.io/prometheus/node-exporter:latest\" has no digest",
		],
	} with input as _with_image("quay.io/prometheus/node-exporter:latest")
}

test_missing_tag_denied if {
	{[f.rule, f.severity] | some f in images.findings} == {["DS-IMG-001", "deny"], ["DS-IMG-002", "warn"]} with input as _with_image("quay.io/prometheus/node-exporter")
	{f.message | some f in images.findings; f.rule == "DS-IMG-001"} == {
		"DaemonSet <monitoring/agent> container <exporter> image \"quay.io/prometheus/node-exporter\" has no tag",
	} with input as _with_image("quay.io/prometheus/node-exporter")
}

test_digest_without_tag_allowed if {
	count(images.findings) == 0 with input as _with_image("quay.io/prometheus/node-exporter@sha256:0000")
}

test_tag_without_digest_warned if {
	{[f.rule, f.severity] | some f in images.findings} == {["DS-IMG-002", "warn"]} with input as _with_image("quay.io/prometheus/node-exporter:v1.12.1")
}

test_tag_without_digest_denied_when_required if {
	fx.results(images.findings) == {[
		"DS-IMG-003", "deny",
		"DaemonSet <monitoring/agent> container <exporter> image \"quay.io/a/b:v1\" has no digest and require_digest is true",
	]} with input as _with_image("quay.io/a/b:v1")
		with data.dsgate.parameters as {"require_digest": true}
}

test_image_without_registry_host_is_docker_hub_allowed if {
	count(images.findings) == 0 with input as _with_image("prom/node-exporter:v1.12.1@sha256:0000")
	count(images.findings) == 0 with input as _with_image("node-exporter:v1.12.1@sha256:0000")
}

test_unlisted_registry_denied if {
	fx.results(images.findings) == {[
		"DS-IMG-004", "deny",
		"DaemonSet <monitoring/agent> container <exporter> image \"evil.example/agent:v1@sha256:0000\" comes from registry \"evil.example\", not one of [\"quay.io\", \"docker.io\", \"registry.k8s.io\", \"ghcr.io\"]",
	]} with input as _with_image("evil.example/agent:v1@sha256:0000")
}

test_registry_with_port_or_localhost_denied if {
	{f.message | some f in images.findings} == {
		"DaemonSet <monitoring/agent> container <exporter> image \"registry:5000/agent:v1@sha256:0000\" comes from registry \"registry:5000\", not one of [\"quay.io\", \"docker.io\", \"registry.k8s.io\", \"ghcr.io\"]",
	} with input as _with_image("registry:5000/agent:v1@sha256:0000")
	{f.rule | some f in images.findings} == {"DS-IMG-004"} with input as _with_image("localhost/agent:v1@sha256:0000")
}
