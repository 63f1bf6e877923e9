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
		"DaemonSet <monitoring/agent> container <exporter> image \"quay.io/a/b:v1.0.0\" has no digest and require_digest is true",
	]} with input as _with_image("quay.io/a/b:v1.0.0")
		with data.dsgate.parameters as {"require_digest": true}
}

test_image_without_registry_host_is_docker_hub_allowed if {
	count(images.findings) == 0 with input as _with_image("prom/node-exporter:v1.12.1@sha256:0000")
	count(images.findings) == 0 with input as _with_image("node-exporter:v1.12.1@sha256:0000")
}

test_unlisted_registry_denied if {
	fx.results(images.findings) == {[
		"DS-IMG-004", "warn",
		"DaemonSet <monitoring/agent> container <exporter> image \"evil.example/agent:v1@sha256:0000\" comes from registry \"evil.example\", not one of [\"quay.io\", \"docker.io\", \"registry.k8s.io\", \"ghcr.io\"]",
	]} with input as _with_image("evil.example/agent:v1@sha256:0000")
}

test_registry_with_port_or_localhost_denied if {
	{f.message | some f in images.findings} == {
		"DaemonSet <monitoring/agent> container <exporter> image \"registry:5000/agent:v1@sha256:0000\" comes from registry \"registry:5000\", not one of [\"quay.io\", \"docker.io\", \"registry.k8s.io\", \"ghcr.io\"]",
	} with input as _with_image("registry:5000/agent:v1@sha256:0000")
	{f.rule | some f in images.findings} == {"DS-IMG-004"} with input as _with_image("localhost/agent:v1@sha256:0000")
}

test_moving_tags_denied if {
	# [image, the end of DS-IMG-001's message]
	cases := [
		["quay.io/a/agent:main", "uses the moving tag \"main\" (a branch or channel name, not a release)"],
		["quay.io/a/agent:master", "uses the moving tag \"master\" (a branch or channel name, not a release)"],
		["quay.io/a/agent:stable-alpine", "uses the moving tag \"stable-alpine\" (a branch or channel name, not a release)"],
		["quay.io/a/agent:Edge", "uses the moving tag \"Edge\" (a branch or channel name, not a release)"],
		["quay.io/a/agent:latest-debug", "uses the moving tag \"latest-debug\" (a branch or channel name, not a release)"],
		["quay.io/a/agent:1.5", "uses the moving tag \"1.5\" (a partial version: it moves to every new release)"],
		["quay.io/a/agent:v2", "uses the moving tag \"v2\" (a partial version: it moves to every new release)"],
		["quay.io/a/agent:1.5-alpine", "uses the moving tag \"1.5-alpine\" (a partial version: it moves to every new release)"],
	]
	every case in cases {
		{f.message | some f in images.findings; f.rule == "DS-IMG-001"} == {sprintf(
			"DaemonSet <monitoring/agent> container <exporter> image %q %s",
			[case[0], case[1]],
		)} with input as _with_image(case[0])
	}
}

test_fixed_tags_allowed if {
	fixed := [
		"quay.io/a/agent:v1.7.0", # a full version
		"quay.io/a/agent:1.7.0-debian-12-r3", # a full version with a build suffix
		"quay.io/a/agent:20240101", # a date
		"quay.io/a/agent:2.0-rc1", # a pre-release
		"quay.io/a/agent:main-20240101-abc1234", # a branch build with a date and commit
		"quay.io/a/agent:sha-abc1234", # a commit
		"quay.io/a/agent:main@sha256:0000", # a digest pins a moving tag
		"quay.io/a/agent:latest@sha256:0000", # even latest
	]
	every image in fixed {
		{f.rule | some f in images.findings; f.rule == "DS-IMG-001"} == set() with input as _with_image(image)
	}
}
