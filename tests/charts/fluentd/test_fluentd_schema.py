"""Bad values make `helm template` fail, naming the key (and, for the chart's own rules, the fix).

- every rule of values.schema.json has a rejection row (a meta-test walks the schema and fails on a
  rule no row covers); rows batch violations at different keys, since helm reports them all at once;
- every value rejects a wrong type, and every closed object an unknown key (both generated);
- the cross-field rules the templates enforce with `fail` each have a row with their explanation.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from dsgate import yamlc
from dsgate.docs.chartdocs import parse_values
from dsgate.tools import tool_path

from .support import CHART, render, render_error

pytestmark = pytest.mark.render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
LONG = "a" * 254  # one past the 253-character limit of names and keys
BAD_REF = {"secretKeyRef": {"name": LONG}}  # name too long, key missing
BAD_REF_CHARS = {"secretKeyRef": {"name": "Bad_Name", "key": "bad key"}}
LONG_KEY_REF = {"secretKeyRef": {"name": "ok", "key": LONG}}


def outputs(ref: dict[str, Any]) -> dict[str, Any]:
    """The same secret reference on every output (different keys, so one render reports all four)."""
    return {
        "forward": {"sharedKey": ref},
        "elasticsearch": {"password": ref},
        "opensearch": {"password": ref},
        "http": {"password": ref},
    }


def ref_rules(suffix: str, rule: str, fragment: str) -> list[tuple[str, str, str]]:
    bases = [
        "/output/forward/sharedKey/secretKeyRef",
        "/output/elasticsearch/password/secretKeyRef",
        "/output/opensearch/password/secretKeyRef",
        "/output/http/password/secretKeyRef",
    ]
    return [(base + suffix, rule, fragment) for base in bases]


# (id, values, [(pointer helm names, schema rule covered, fragment on the same line)])
SCHEMA_ROWS: list[tuple[str, dict[str, Any], list[tuple[str, str, str]]]] = [
    (
        "names",
        {
            "nameOverride": "Bad_Name",
            "fullnameOverride": "x" * 64,
            "namespaceOverride": "-ns",
            "existingConfigMap": "Bad!",
            "serviceAccount": {"name": "Bad Name"},
        },
        [
            ("/nameOverride", "pattern", "does not match pattern"),
            ("/fullnameOverride", "maxLength", "maxLength: got 64, want 63"),
            ("/namespaceOverride", "pattern", "does not match pattern"),
            ("/existingConfigMap", "pattern", "does not match pattern"),
            ("/serviceAccount/name", "pattern", "does not match pattern"),
        ],
    ),
    (
        "name-lengths",
        {"nameOverride": "x" * 64, "fullnameOverride": "Bad", "namespaceOverride": "x" * 64, "existingConfigMap": LONG},
        [
            ("/nameOverride", "maxLength", "maxLength: got 64, want 63"),
            ("/fullnameOverride", "pattern", "does not match pattern"),
            ("/namespaceOverride", "maxLength", "maxLength: got 64"),
            ("/existingConfigMap", "maxLength", "maxLength: got 254, want 253"),
        ],
    ),
    (
        "image",
        {
            "global": {"imageRegistry": "Bad Registry", "imagePullSecrets": [1]},
            "image": {
                "registry": "UPPER",
                "repository": "Bad Repo",
                "variant": "alpine",
                "tag": "bad tag!",
                "digest": "md5:00",
                "pullPolicy": "Sometimes",
            },
            "imagePullSecrets": [{}],
        },
        [
            ("/global/imageRegistry", "pattern", "does not match pattern"),
            ("/global/imagePullSecrets/0", "oneOf", "'oneOf' failed"),
            ("/image/registry", "pattern", "does not match pattern"),
            ("/image/repository", "pattern", "does not match pattern"),
            (
                "/image/variant",
                "enum",
                "value must be one of '', 'forward', 'elasticsearch7', 'elasticsearch8', 'opensearch'",
            ),
            ("/image/tag", "pattern", "does not match pattern"),
            ("/image/digest", "pattern", "does not match pattern"),
            ("/image/pullPolicy", "enum", "value must be one of 'IfNotPresent', 'Always', 'Never'"),
            ("/imagePullSecrets/0", "required", "missing property 'name'"),
        ],
    ),
    (
        "image-latest",
        {"image": {"tag": "latest"}, "imagePullSecrets": [{"name": "Bad_Secret"}]},
        [("/image/tag", "not", "'not' failed"), ("/imagePullSecrets/0/name", "pattern", "does not match pattern")],
    ),
    (
        "runtime-and-logs",
        {
            "runtime": "podman",
            "logs": {
                "containers": {
                    "tag": "kubernetes",
                    "excludePaths": ["relative/*.log"],
                    "dockerDataRoot": "data/docker",
                },
                "journal": {"path": "journal", "units": ["kubelet"], "tag": "a b"},
            },
        },
        [
            ("/runtime", "enum", "value must be one of 'containerd', 'cri-o', 'docker'"),
            ("/logs/containers/tag", "pattern", "does not match pattern"),
            ("/logs/containers/excludePaths/0", "pattern", "does not match pattern"),
            ("/logs/containers/dockerDataRoot", "pattern", "does not match pattern"),
            ("/logs/journal/path", "pattern", "does not match pattern"),
            ("/logs/journal/units/0", "pattern", "does not match pattern"),
            ("/logs/journal/tag", "pattern", "does not match pattern"),
        ],
    ),
    (
        "state-paths",
        {
            "positionDb": {"hostPath": "/var/log/fluentd-pos"},
            "buffer": {
                "type": "memory",
                "hostPath": "/tmp/buffer",
                "sizeLimit": "1 GB",
                "chunkLimitSize": "8 megabytes",
                "totalLimitSize": "-1",
                "flushInterval": "soon",
                "flushThreadCount": 0,
                "retryMaxInterval": "1w",
                "overflowAction": "ignore",
            },
        },
        [
            ("/positionDb/hostPath", "pattern", "does not match pattern '^/var/lib/fluentd"),
            ("/buffer/type", "enum", "value must be one of 'emptyDir', 'hostPath'"),
            ("/buffer/hostPath", "pattern", "does not match pattern '^/var/lib/fluentd"),
            ("/buffer/sizeLimit", "pattern", "does not match pattern"),
            ("/buffer/chunkLimitSize", "pattern", "does not match pattern"),
            ("/buffer/totalLimitSize", "pattern", "does not match pattern"),
            ("/buffer/flushInterval", "pattern", "does not match pattern"),
            ("/buffer/flushThreadCount", "minimum", "minimum: got 0, want 1"),
            ("/buffer/retryMaxInterval", "pattern", "does not match pattern"),
            ("/buffer/overflowAction", "enum", "value must be one of 'block', 'drop_oldest_chunk', 'throw_exception'"),
        ],
    ),
    (
        "buffer-threads-max",
        {"buffer": {"flushThreadCount": 65}},
        [("/buffer/flushThreadCount", "maximum", "maximum: got 65, want 64")],
    ),
    (
        "config",
        {"config": {"logLevel": "verbose", "extraFiles": {"my file.conf": "x"}}},
        [
            ("/config/logLevel", "enum", "value must be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace'"),
            # helm (jsonschema v6) points a propertyNames failure at an unrelated key; the message names the bad file.
            ("/config/extraFiles", "propertyNames", "'my file.conf' does not match pattern"),
        ],
    ),
    (
        "output-type",
        {"output": {"type": "kafka"}},
        [("/output/type", "enum", "value must be one of 'stdout', 'forward', 'elasticsearch', 'opensearch', 'http'")],
    ),
    (
        "forward-needs-servers",
        {"output": {"type": "forward"}},
        [("/output/forward/servers", "then:minItems", "minItems: got 0, want 1")],
    ),
    (
        "elasticsearch-needs-host",
        {"output": {"type": "elasticsearch"}},
        [("/output/elasticsearch/host", "then:minLength", "minLength: got 0, want 1")],
    ),
    (
        "opensearch-needs-host",
        {"output": {"type": "opensearch"}},
        [("/output/opensearch/host", "then:minLength", "minLength: got 0, want 1")],
    ),
    (
        "http-needs-endpoint",
        {"output": {"type": "http"}},
        [("/output/http/endpoint", "then:minLength", "minLength: got 0, want 1")],
    ),
    (
        "password-needs-user",
        {
            "output": {
                "elasticsearch": {"password": {"secretKeyRef": {"name": "s", "key": "k"}}},
                "opensearch": {"password": {"secretKeyRef": {"name": "s", "key": "k"}}},
                "http": {"password": {"secretKeyRef": {"name": "s", "key": "k"}}},
            }
        },
        [
            ("/output/elasticsearch/user", "then:minLength", "minLength: got 0, want 1"),
            ("/output/opensearch/user", "then:minLength", "minLength: got 0, want 1"),
            ("/output/http/username", "then:minLength", "minLength: got 0, want 1"),
        ],
    ),
    (
        "secret-ref-without-key",
        {"output": outputs(BAD_REF)},
        ref_rules("", "required", "missing property 'key'")
        + ref_rules("/name", "maxLength", "maxLength: got 254, want 253"),
    ),
    (
        "secret-ref-bad-chars",
        {"output": outputs(BAD_REF_CHARS)},
        ref_rules("/name", "pattern", "does not match pattern")
        + ref_rules("/key", "pattern", "does not match pattern"),
    ),
    (
        "secret-ref-long-key",
        {"output": outputs(LONG_KEY_REF)},
        ref_rules("/key", "maxLength", "maxLength: got 254, want 253"),
    ),
    (
        "output-settings",
        {
            "output": {
                "tlsCA": {"secretName": "Bad_CA", "key": "a b"},
                "forward": {"servers": [{"port": 0}]},
                "elasticsearch": {"host": "-es", "port": 0, "scheme": "ftp", "user": "a b", "indexPrefix": "Logs"},
                "opensearch": {"host": "[::1]", "port": 70000, "scheme": "tcp", "user": "x#y", "indexPrefix": "_x"},
                "http": {"endpoint": "ftp://x", "headers": {"bad header": "v"}, "username": 'a"b'},
            }
        },
        [
            ("/output/tlsCA/secretName", "pattern", "does not match pattern"),
            ("/output/tlsCA/key", "pattern", "does not match pattern"),
            ("/output/forward/servers/0", "required", "missing property 'host'"),
            ("/output/forward/servers/0/port", "minimum", "minimum: got 0, want 1"),
            ("/output/elasticsearch/host", "pattern", "does not match pattern"),
            ("/output/elasticsearch/port", "minimum", "minimum: got 0, want 1"),
            ("/output/elasticsearch/scheme", "enum", "value must be one of 'https', 'http'"),
            ("/output/elasticsearch/user", "pattern", "does not match pattern"),
            ("/output/elasticsearch/indexPrefix", "pattern", "does not match pattern"),
            ("/output/opensearch/host", "pattern", "does not match pattern"),
            ("/output/opensearch/port", "maximum", "maximum: got 70,000, want 65,535"),
            ("/output/opensearch/scheme", "enum", "value must be one of 'https', 'http'"),
            ("/output/opensearch/user", "pattern", "does not match pattern"),
            ("/output/opensearch/indexPrefix", "pattern", "does not match pattern"),
            ("/output/http/endpoint", "pattern", "does not match pattern"),
            ("/output/http/headers", "propertyNames", "'bad header' does not match pattern"),
            ("/output/http/username", "pattern", "does not match pattern"),
        ],
    ),
    (
        "output-ranges",
        {
            "output": {
                "forward": {"servers": [{"host": "-bad", "port": 70000}]},
                "elasticsearch": {"port": 70000},
                "opensearch": {"port": 0},
            }
        },
        [
            ("/output/forward/servers/0/host", "pattern", "does not match pattern"),
            ("/output/forward/servers/0/port", "maximum", "maximum: got 70,000, want 65,535"),
            ("/output/elasticsearch/port", "maximum", "maximum: got 70,000"),
            ("/output/opensearch/port", "minimum", "minimum: got 0, want 1"),
        ],
    ),
    (
        "variant-must-ship-elasticsearch",
        {"output": {"type": "elasticsearch", "elasticsearch": {"host": "es"}}, "image": {"variant": "opensearch"}},
        [("/image/variant", "then:enum", "value must be one of '', 'elasticsearch7', 'elasticsearch8'")],
    ),
    (
        "variant-must-ship-opensearch",
        {"output": {"type": "opensearch", "opensearch": {"host": "os"}}, "image": {"variant": "forward"}},
        [("/image/variant", "then:enum", "value must be one of '', 'opensearch'")],
    ),
    (
        "metrics-service-monitor",
        {
            "metrics": {"port": 0, "bind": "localhost"},
            "service": {"port": 70000},
            "serviceMonitor": {"namespace": "Bad", "interval": "30", "scrapeTimeout": "10 s"},
        },
        [
            ("/metrics/port", "minimum", "minimum: got 0, want 1"),
            ("/metrics/bind", "pattern", "does not match pattern"),
            ("/service/port", "maximum", "maximum: got 70,000, want 65,535"),
            ("/serviceMonitor/namespace", "pattern", "does not match pattern"),
            ("/serviceMonitor/interval", "pattern", "does not match pattern"),
            ("/serviceMonitor/scrapeTimeout", "pattern", "does not match pattern"),
        ],
    ),
    (
        "ports-other-ends",
        {"metrics": {"port": 70000}, "service": {"port": 0}, "serviceMonitor": {"namespace": "x" * 64}},
        [
            ("/metrics/port", "maximum", "maximum: got 70,000"),
            ("/service/port", "minimum", "minimum: got 0, want 1"),
            ("/serviceMonitor/namespace", "maxLength", "maxLength: got 64, want 63"),
        ],
    ),
    (
        "scheduling",
        {
            "excludeVirtualNodes": {"matchExpressions": [{"key": "a", "operator": "Near"}, {"values": []}]},
            "tolerationPreset": "everything",
            "tolerations": [{"operator": "Maybe", "effect": "Sometimes", "tolerationSeconds": -1}],
        },
        [
            (
                "/excludeVirtualNodes/matchExpressions/0/operator",
                "enum",
                "value must be one of 'In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'",
            ),
            ("/excludeVirtualNodes/matchExpressions/1", "required", "missing properties 'key', 'operator'"),
            ("/tolerationPreset", "enum", "value must be one of 'all', 'controlPlane', 'none'"),
            ("/tolerations/0/operator", "enum", "value must be one of 'Exists', 'Equal'"),
            ("/tolerations/0/effect", "enum", "value must be one of '', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'"),
            ("/tolerations/0/tolerationSeconds", "minimum", "minimum: got -1, want 0"),
        ],
    ),
    (
        "rollout",
        {
            "updateStrategy": {"type": "Foo", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": -1}},
            "minReadySeconds": -1,
            "revisionHistoryLimit": -1,
            "terminationGracePeriodSeconds": 0,
            "preStop": {"sleepSeconds": -1},
        },
        [
            ("/updateStrategy/type", "enum", "value must be one of 'RollingUpdate', 'OnDelete'"),
            ("/updateStrategy/rollingUpdate/maxUnavailable", "oneOf", "'oneOf' failed"),
            ("/updateStrategy/rollingUpdate/maxSurge", "oneOf", "'oneOf' failed"),
            ("/minReadySeconds", "minimum", "minimum: got -1, want 0"),
            ("/revisionHistoryLimit", "minimum", "minimum: got -1, want 0"),
            ("/terminationGracePeriodSeconds", "minimum", "minimum: got 0, want 1"),
            ("/preStop/sleepSeconds", "minimum", "minimum: got -1, want 0"),
        ],
    ),
    (
        "prestop-max",
        {"preStop": {"sleepSeconds": 3601}},
        [("/preStop/sleepSeconds", "maximum", "maximum: got 3,601, want 3,600")],
    ),
    (
        "resources",
        {
            "resources": {
                "requests": {"cpu": "lots", "memory": "256MB", "ephemeral-storage": "1 Gi"},
                "limits": {"cpu": "1 core", "memory": "12XB", "ephemeral-storage": "big"},
            }
        },
        [
            (f"/resources/{side}/{r}", "pattern", "does not match pattern")
            for side in ("requests", "limits")
            for r in ("cpu", "memory", "ephemeral-storage")
        ],
    ),
    (
        "resources-required",
        {"resources": {"requests": {"cpu": None}, "limits": None}},
        [
            ("/resources", "required", "missing property 'limits'"),
            ("/resources/requests", "required", "missing property 'cpu'"),
        ],
    ),
    (
        "resources-required-limits",
        {"resources": {"requests": None, "limits": {"memory": None}}},
        [
            ("/resources", "required", "missing property 'requests'"),
            ("/resources/limits", "required", "missing property 'memory'"),
        ],
    ),
    (
        "probes",
        {
            "readinessProbe": {
                "initialDelaySeconds": -1,
                "periodSeconds": 0,
                "timeoutSeconds": 0,
                "failureThreshold": 0,
                "successThreshold": 0,
            },
            "livenessProbe": {
                "initialDelaySeconds": -1,
                "periodSeconds": 0,
                "timeoutSeconds": 0,
                "failureThreshold": 0,
            },
            "startupProbe": {"periodSeconds": 0, "timeoutSeconds": 0, "failureThreshold": 0},
        },
        [
            (f"/{probe}/{field}", "minimum", "minimum: got")
            for probe, fields in (
                (
                    "readinessProbe",
                    ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"),
                ),
                ("livenessProbe", ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")),
                ("startupProbe", ("periodSeconds", "timeoutSeconds", "failureThreshold")),
            )
            for field in fields
        ],
    ),
    (
        "pdb",
        {"podDisruptionBudget": {"minAvailable": "one", "unhealthyPodEvictionPolicy": "Never"}},
        [
            ("/podDisruptionBudget/minAvailable", "oneOf", "'oneOf' failed"),
            (
                "/podDisruptionBudget/unhealthyPodEvictionPolicy",
                "enum",
                "value must be one of 'IfHealthyBudget', 'AlwaysAllow'",
            ),
        ],
    ),
    (
        "security",
        {
            "podSecurityContext": {"seccompProfile": {"type": "Unconfined"}, "supplementalGroups": [-1], "fsGroup": -1},
            "securityContext": {
                "runAsUser": -1,
                "runAsGroup": -1,
                "readOnlyRootFilesystem": False,
                "allowPrivilegeEscalation": True,
                "capabilities": {"drop": ["net_raw"], "add": ["sys_admin"]},
                "seccompProfile": {"type": "Unconfined"},
            },
        },
        [
            ("/podSecurityContext/seccompProfile/type", "enum", "value must be one of 'RuntimeDefault', 'Localhost'"),
            ("/podSecurityContext/supplementalGroups/0", "minimum", "minimum: got -1, want 0"),
            ("/podSecurityContext/fsGroup", "minimum", "minimum: got -1, want 0"),
            ("/securityContext/runAsUser", "minimum", "minimum: got -1, want 0"),
            ("/securityContext/runAsGroup", "minimum", "minimum: got -1, want 0"),
            ("/securityContext/readOnlyRootFilesystem", "const", "value must be true"),
            ("/securityContext/allowPrivilegeEscalation", "const", "value must be false"),
            ("/securityContext/capabilities/drop", "contains", "no items match contains schema"),
            ("/securityContext/capabilities/drop/0", "pattern", "does not match pattern"),
            ("/securityContext/capabilities/add/0", "pattern", "does not match pattern"),
            ("/securityContext/seccompProfile/type", "enum", "value must be one of 'RuntimeDefault', 'Localhost'"),
        ],
    ),
    (
        "seccomp-required",
        {
            "podSecurityContext": {"seccompProfile": {"type": None}},
            "securityContext": {"seccompProfile": {"type": None}},
        },
        [
            ("/podSecurityContext/seccompProfile", "required", "missing property 'type'"),
            ("/securityContext/seccompProfile", "required", "missing property 'type'"),
        ],
    ),
    (
        "root-must-say-so",
        {"securityContext": {"runAsNonRoot": True}},
        [("/securityContext/runAsNonRoot", "then:const", "value must be false")],
    ),
    (
        "vpa",
        {
            "verticalPodAutoscaler": {
                "updateMode": "Sometimes",
                "controlledResources": ["cpu", "gpu"],
                "controlledValues": "All",
                "minAllowed": {"cpu": "x", "memory": "y"},
                "maxAllowed": {"cpu": "x", "memory": "y"},
            }
        },
        [
            (
                "/verticalPodAutoscaler/updateMode",
                "enum",
                "value must be one of 'Off', 'Initial', 'Recreate', 'InPlaceOrRecreate', 'Auto'",
            ),
            ("/verticalPodAutoscaler/controlledResources/1", "enum", "value must be one of 'cpu', 'memory'"),
            (
                "/verticalPodAutoscaler/controlledValues",
                "enum",
                "value must be one of 'RequestsAndLimits', 'RequestsOnly'",
            ),
            ("/verticalPodAutoscaler/minAllowed/cpu", "pattern", "does not match pattern"),
            ("/verticalPodAutoscaler/minAllowed/memory", "pattern", "does not match pattern"),
            ("/verticalPodAutoscaler/maxAllowed/cpu", "pattern", "does not match pattern"),
            ("/verticalPodAutoscaler/maxAllowed/memory", "pattern", "does not match pattern"),
        ],
    ),
    (
        "vpa-lists",
        {"verticalPodAutoscaler": {"controlledResources": ["cpu", "cpu"]}},
        [("/verticalPodAutoscaler/controlledResources", "uniqueItems", "items at 0 and 1 are equal")],
    ),
    (
        "vpa-empty",
        {"verticalPodAutoscaler": {"controlledResources": []}},
        [("/verticalPodAutoscaler/controlledResources", "minItems", "minItems: got 0, want 1")],
    ),
    # Output sections and their required settings: helm merges the defaults first, so only a null (which
    # deletes the default) leaves a section or setting missing; the schema still requires them so a value
    # set checked on its own (without the defaults) reads the same.
    (
        "output-section-missing",
        {"output": {"type": "forward", "forward": None}},
        [("/output", "then:required", "missing property 'forward'")],
    ),
    (
        "output-settings-missing",
        {
            "output": {
                "type": "elasticsearch",
                "elasticsearch": {"host": None, "user": None, "password": {"secretKeyRef": {"name": "s", "key": "k"}}},
            }
        },
        [
            ("/output/elasticsearch", "then:required", "missing property 'user'"),
            ("/output/elasticsearch", "then:required", "missing property 'host'"),
        ],
    ),
    (
        "forward-servers-missing",
        {"output": {"type": "forward", "forward": {"servers": None}}},
        [("/output/forward", "then:required", "missing property 'servers'")],
    ),
    (
        "opensearch-settings-missing",
        {"output": {"type": "opensearch", "opensearch": {"host": None}}},
        [("/output/opensearch", "then:required", "missing property 'host'")],
    ),
    (
        "http-settings-missing",
        {"output": {"type": "http", "http": {"endpoint": None}}},
        [("/output/http", "then:required", "missing property 'endpoint'")],
    ),
    # label and annotation maps: keys are qualified names, label values Kubernetes label values
    (
        "label-and-annotation-keys",
        {
            "annotations": {"bad key a": "x"},
            "podAnnotations": {"bad key b": "x"},
            "commonLabels": {"bad key c": "x"},
            "podLabels": {"bad key d": "x"},
            "nodeSelector": {"bad key e": "x"},
            "service": {"annotations": {"bad key f": "x"}, "labels": {"bad key g": "x"}},
            "serviceAccount": {"annotations": {"bad key h": "x"}},
            "serviceMonitor": {"labels": {"bad key i": "x"}},
        },
        [
            ("/annotations", "propertyNames", "'bad key a' does not match pattern"),
            ("/podAnnotations", "propertyNames", "'bad key b' does not match pattern"),
            ("/commonLabels", "propertyNames", "'bad key c' does not match pattern"),
            ("/podLabels", "propertyNames", "'bad key d' does not match pattern"),
            ("/nodeSelector", "propertyNames", "'bad key e' does not match pattern"),
            ("/service/annotations", "propertyNames", "'bad key f' does not match pattern"),
            ("/service/labels", "propertyNames", "'bad key g' does not match pattern"),
            ("/serviceAccount/annotations", "propertyNames", "'bad key h' does not match pattern"),
            ("/serviceMonitor/labels", "propertyNames", "'bad key i' does not match pattern"),
        ],
    ),
    # label values: 63 characters of [-A-Za-z0-9_.], alphanumeric at both ends; commonLabels/podLabels may also use
    # {{ .Release.Name }}-style references; annotation values and raw config text exclude what toYaml cannot emit
    (
        "label-values",
        {
            "commonLabels": {"a": "{{ .Values.x }}"},
            "podLabels": {"a": "-x"},
            "nodeSelector": {"a": "x" * 64},
            "service": {"labels": {"a": "a b"}},
            "serviceMonitor": {"labels": {"a": "x."}},
            "annotations": {"a": "x\u0087"},
            "config": {"extraSources": "x\u007f", "extraFilters": "x\ufffe", "extraFiles": {"a.conf": "x\u0090"}},
            "output": {"http": {"headers": {"X-A": "\u0099"}}},
        },
        [
            ("/commonLabels/a", "pattern", "does not match pattern"),
            ("/podLabels/a", "pattern", "does not match pattern"),
            ("/nodeSelector/a", "pattern", "does not match pattern"),
            ("/service/labels/a", "pattern", "does not match pattern"),
            ("/serviceMonitor/labels/a", "pattern", "does not match pattern"),
            ("/annotations/a", "pattern", "does not match pattern"),
            ("/config/extraSources", "pattern", "does not match pattern"),
            ("/config/extraFilters", "pattern", "does not match pattern"),
            ("/config/extraFiles/a.conf", "pattern", "does not match pattern"),
            ("/output/http/headers/X-A", "pattern", "does not match pattern"),
        ],
    ),
    (
        "priority-and-names",
        {
            "priorityClassName": "High_Priority",
            "serviceAccount": {"name": LONG},
            "imagePullSecrets": [{"name": LONG}],
            "output": {"tlsCA": {"secretName": LONG, "key": LONG}},
        },
        [
            ("/priorityClassName", "pattern", "does not match pattern"),
            ("/serviceAccount/name", "maxLength", "maxLength: got 254, want 253"),
            ("/imagePullSecrets/0/name", "maxLength", "maxLength: got 254, want 253"),
            ("/output/tlsCA/secretName", "maxLength", "maxLength: got 254, want 253"),
            ("/output/tlsCA/key", "maxLength", "maxLength: got 254, want 253"),
        ],
    ),
    (
        "priority-length",
        {"priorityClassName": LONG},
        [("/priorityClassName", "maxLength", "maxLength: got 254, want 253")],
    ),
    # integers stay within int32, so helm renders them as integers (not floats) and the API takes them;
    # helm prints the bound in its own scientific notation (2.147483648 times ten to the ninth)
    (
        "int32",
        {
            "minReadySeconds": 2**31,
            "revisionHistoryLimit": 2**31,
            "terminationGracePeriodSeconds": 2**31,
            "readinessProbe": dict.fromkeys(
                ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"),
                2**31,
            ),
            "livenessProbe": dict.fromkeys(
                ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"), 2**31
            ),
            "startupProbe": dict.fromkeys(("periodSeconds", "timeoutSeconds", "failureThreshold"), 2**31),
            "podSecurityContext": {"fsGroup": 2**31, "supplementalGroups": [2**31]},
            "securityContext": {"runAsUser": 2**31, "runAsGroup": 2**31},
            "tolerations": [{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2**31}],
        },
        [
            (ptr, "maximum", "maximum: got 2.147483648")
            for ptr in (
                "/minReadySeconds",
                "/revisionHistoryLimit",
                "/terminationGracePeriodSeconds",
                "/readinessProbe/initialDelaySeconds",
                "/readinessProbe/periodSeconds",
                "/readinessProbe/timeoutSeconds",
                "/readinessProbe/failureThreshold",
                "/readinessProbe/successThreshold",
                "/livenessProbe/initialDelaySeconds",
                "/livenessProbe/periodSeconds",
                "/livenessProbe/timeoutSeconds",
                "/livenessProbe/failureThreshold",
                "/startupProbe/periodSeconds",
                "/startupProbe/timeoutSeconds",
                "/startupProbe/failureThreshold",
                "/podSecurityContext/fsGroup",
                "/podSecurityContext/supplementalGroups/0",
                "/securityContext/runAsUser",
                "/securityContext/runAsGroup",
                "/tolerations/0/tolerationSeconds",
            )
        ],
    ),
    # seccomp: localhostProfile if and only if type Localhost
    (
        "seccomp-localhost",
        {
            "podSecurityContext": {"seccompProfile": {"type": "Localhost"}},
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "bad profile"}},
        },
        [
            ("/podSecurityContext/seccompProfile", "then:required", "missing property 'localhostProfile'"),
            ("/securityContext/seccompProfile/localhostProfile", "pattern", "does not match pattern"),
        ],
    ),
    (
        "seccomp-localhost-container",
        {
            "securityContext": {"seccompProfile": {"type": "Localhost"}},
            "podSecurityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "bad profile"}},
        },
        [
            ("/securityContext/seccompProfile", "then:required", "missing property 'localhostProfile'"),
            ("/podSecurityContext/seccompProfile/localhostProfile", "pattern", "does not match pattern"),
        ],
    ),
    (
        "seccomp-profile-length",
        {
            "podSecurityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p" * 4097}},
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p" * 4097}},
        },
        [
            ("/podSecurityContext/seccompProfile/localhostProfile", "maxLength", "maxLength: got 4,097, want 4,096"),
            ("/securityContext/seccompProfile/localhostProfile", "maxLength", "maxLength: got 4,097, want 4,096"),
        ],
    ),
    (
        "seccomp-profile-only-localhost",
        {
            "podSecurityContext": {"seccompProfile": {"localhostProfile": "p"}},
            "securityContext": {"seccompProfile": {"localhostProfile": "p"}},
        },
        [
            ("/podSecurityContext/seccompProfile", "not", "'not' failed"),
            ("/securityContext/seccompProfile", "not", "'not' failed"),
        ],
    ),
    # tolerations: the API server's rules (key syntax; empty key needs Exists; Exists takes no value;
    # tolerationSeconds only with NoExecute)
    (
        "toleration-syntax",
        {
            "tolerations": [
                {"key": "bad key", "value": "-v", "operator": "Equal"},
                {"key": "k" * 318, "operator": "Exists"},
            ]
        },
        [
            ("/tolerations/0/key", "pattern", "does not match pattern"),
            ("/tolerations/0/value", "pattern", "does not match pattern"),
            ("/tolerations/1/key", "maxLength", "maxLength: got 318, want 317"),
        ],
    ),
    (
        "toleration-empty-key",
        {"tolerations": [{"key": "", "operator": "Equal"}, {"value": "v"}]},
        [
            ("/tolerations/0/operator", "then:const", "value must be 'Exists'"),
            ("/tolerations/1", "then:required", "missing property 'operator'"),
        ],
    ),
    (
        "toleration-exists-value",
        {
            "tolerations": [
                {"operator": "Exists", "value": "v"},
                {"operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 10},
            ]
        },
        [
            ("/tolerations/0/value", "then:const", "value must be ''"),
            ("/tolerations/1/effect", "then:const", "value must be 'NoExecute'"),
        ],
    ),
    (
        "toleration-seconds-effect",
        {"tolerations": [{"operator": "Exists", "tolerationSeconds": 10}]},
        [("/tolerations/0", "then:required", "missing property 'effect'")],
    ),
    # node-selector requirements: key syntax, values per operator
    (
        "virtual-node-requirements",
        {
            "excludeVirtualNodes": {
                "matchExpressions": [
                    {"key": "bad key", "operator": "In"},
                    {"key": "k" * 318, "operator": "NotIn", "values": []},
                ]
            }
        },
        [
            ("/excludeVirtualNodes/matchExpressions/0/key", "pattern", "does not match pattern"),
            ("/excludeVirtualNodes/matchExpressions/0", "then:required", "missing property 'values'"),
            ("/excludeVirtualNodes/matchExpressions/1/key", "maxLength", "maxLength: got 318, want 317"),
            ("/excludeVirtualNodes/matchExpressions/1/values", "then:minItems", "minItems: got 0, want 1"),
        ],
    ),
    (
        "virtual-node-values",
        {
            "excludeVirtualNodes": {
                "matchExpressions": [
                    {"key": "a", "operator": "In", "values": ["-x"]},
                    {"key": "a", "operator": "Gt", "values": ["x"]},
                ]
            }
        },
        [
            ("/excludeVirtualNodes/matchExpressions/0/values/0", "pattern", "does not match pattern"),
            ("/excludeVirtualNodes/matchExpressions/1/values/0", "then:pattern", "does not match pattern '^-?[0-9]+$'"),
        ],
    ),
    (
        "virtual-node-exists",
        {"excludeVirtualNodes": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}},
        [("/excludeVirtualNodes/matchExpressions/0/values", "then:maxItems", "maxItems: got 1, want 0")],
    ),
    # extra containers carry cpu and memory requests and limits, like Fluentd's own
    (
        "extra-container-resources",
        {
            "extraContainers": [
                {"name": "a", "image": "x"},
                {"name": "b", "image": "x", "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1"}}},
            ]
        },
        [
            ("/extraContainers/0", "required", "missing property 'resources'"),
            ("/extraContainers/1/resources/requests", "required", "missing property 'memory'"),
            ("/extraContainers/1/resources/limits", "required", "missing property 'cpu'"),
        ],
    ),
    # extra* items are the published Kubernetes types (values.schema.json definitions, from dsgate.docs.chartschema)
    (
        "extras",
        {
            "extraEnv": [{}],
            "extraVolumes": [{}],
            "extraVolumeMounts": [{"name": "x"}],
            "extraContainers": [{"image": "x"}],
            "extraInitContainers": [{"image": "x"}],
        },
        [
            ("/extraEnv/0", "required", "missing property 'name'"),
            ("/extraVolumes/0", "required", "missing property 'name'"),
            ("/extraVolumeMounts/0", "required", "missing property 'mountPath'"),
            ("/extraContainers/0", "required", "missing property 'name'"),
            ("/extraInitContainers/0", "required", "missing property 'name'"),
        ],
    ),
    # container names are DNS-1123 labels, as the gate's validator checks them
    (
        "extras-empty-names",
        {"extraContainers": [{"name": "", "image": "x"}], "extraInitContainers": [{"name": "Bad_Name", "image": "x"}]},
        [
            ("/extraContainers/0/name", "pattern", "does not match pattern"),
            ("/extraInitContainers/0/name", "pattern", "does not match pattern"),
        ],
    ),
]

# The bad input the issue names, each on its own: helm names the key.
ISSUE_ROWS = [
    pytest.param(
        {"runtime": "rkt"}, "/runtime", "value must be one of 'containerd', 'cri-o', 'docker'", id="unknown-runtime"
    ),
    pytest.param({"output": {"type": "kafka"}}, "/output/type", "value must be one of", id="unknown-output"),
    pytest.param(
        {"output": {"type": "elasticsearch"}},
        "/output/elasticsearch/host",
        "minLength: got 0, want 1",
        id="elasticsearch-without-host",
    ),
    pytest.param(
        {
            "output": {
                "type": "http",
                "http": {"endpoint": "https://x", "username": "u", "password": {"secretKeyRef": {"name": "s"}}},
            }
        },
        "/output/http/password/secretKeyRef",
        "missing property 'key'",
        id="secret-ref-without-key",
    ),
    pytest.param(
        {"buffer": {"flushThreadCount": "two"}}, "/buffer/flushThreadCount", "got string, want integer", id="wrong-type"
    ),
    pytest.param(
        {"output": {"elasticsearch": {"hots": "es"}}},
        "/output/elasticsearch",
        "additional properties 'hots' not allowed",
        id="unknown-key",
    ),
    pytest.param(
        {"updateStrategy": {"type": "Foo"}},
        "/updateStrategy/type",
        "value must be one of 'RollingUpdate', 'OnDelete'",
        id="strategy-foo",
    ),
    pytest.param(
        {"resources": {"limits": {"memory": "lots"}}},
        "/resources/limits/memory",
        "does not match pattern",
        id="invalid-quantity",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
        "/updateStrategy/rollingUpdate/maxUnavailable",
        "'150%' does not match pattern",
        id="max-unavailable-150",
    ),
    # a null list entry renders as `- null`, which the API server turns into an empty object
    pytest.param(
        {"extraInitContainers": [{"name": "x", "image": "y", "ports": [None]}]},
        "/extraInitContainers/0/ports/0",
        "'not' failed",
        id="null-container-port",
    ),
]

# Rules the templates enforce (cross-field, or with an explanation the schema cannot carry).
TEMPLATE_ROWS = [
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxSurge": 1}}},
        "updateStrategy.rollingUpdate.maxSurge is 1: it must be 0. A surge pod would run beside the old one on the same node, tail the same files with the same position database (/var/lib/fluentd/pos) and ship every line twice",
        id="max-surge",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxSurge": "25%"}}},
        "maxSurge is 25%: it must be 0",
        id="max-surge-percent",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0}}},
        "updateStrategy.rollingUpdate.maxUnavailable and maxSurge are both 0: the rollout could never replace a pod",
        id="max-unavailable-zero",
    ),
    pytest.param(
        {"podDisruptionBudget": {"maxUnavailable": 1}},
        "podDisruptionBudget.maxUnavailable is not supported: the disruption controller cannot compute the expected pod count of a DaemonSet (no scale subresource) and would block every eviction",
        id="pdb-max-unavailable",
    ),
    pytest.param(
        {"podDisruptionBudget": {"minAvailable": "50%"}},
        'podDisruptionBudget.minAvailable is "50%": it must be an integer; a percentage does not work for DaemonSet pods',
        id="pdb-percentage",
    ),
    pytest.param(
        {"preStop": {"sleepSeconds": 60}},
        "preStop.sleepSeconds (60) must be less than terminationGracePeriodSeconds (60)",
        id="prestop-too-long",
    ),
    pytest.param(
        {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}},
        "serviceMonitor.enabled requires service.enabled",
        id="servicemonitor-without-service",
    ),
    pytest.param(
        {"config": {"extraFiles": {"outputs.conf": "x"}}},
        "config.extraFiles.outputs.conf would replace the generated outputs.conf",
        id="extra-file-shadows",
    ),
    pytest.param(
        {"resources": {"limits": {"memory": "512Mi"}}},
        "resources.requests.memory (256Mi) must equal resources.limits.memory (512Mi)",
        id="memory-request-not-limit",
    ),
    pytest.param(
        {"livenessProbe": {"initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}},
        "livenessProbe must differ from readinessProbe",
        id="identical-probes",
    ),
]


def _rule_set(node: dict[str, Any], ptr: str = "", prefix: str = "") -> set[tuple[str, str]]:
    """(pointer, rule) for every constraint in the schema; `then:` marks conditional rules."""
    keys = (
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "const",
        "not",
        "oneOf",
        "minItems",
        "contains",
        "uniqueItems",
        "propertyNames",
        "required",
        "minLength",
        "maxLength",
    )
    out = {(ptr, prefix + k) for k in keys if k in node}
    if "oneOf" in node:
        return out
    for name, child in (node.get("properties") or {}).items():
        out |= _rule_set(child, f"{ptr}/{name}", prefix)
    if isinstance(node.get("items"), dict):
        out |= _rule_set(node["items"], f"{ptr}/0", prefix)
    for sub in node.get("allOf") or []:
        if "then" in sub:
            out |= _rule_set(sub["then"], ptr, "then:")
    return out


def _line_for(error: str, pointer: str, fragment: str) -> bool:
    """Some line of helm's error names POINTER and carries FRAGMENT (propertyNames: the fragment alone)."""
    return any(
        fragment in line and (f"at '{pointer}'" in line or "invalid propertyName" in error)
        for line in error.splitlines()
    )


def test_every_schema_rule_has_a_rejection_row() -> None:
    covered = {(ptr, rule) for _, _, expected in SCHEMA_ROWS for ptr, rule, _ in expected}
    covered |= {(p.values[1], "required") for p in ISSUE_ROWS if "missing property" in p.values[2]}
    # list items: a row may target any index of the array (rules are recorded at index 0)
    normalised = {
        (ptr.replace("/1", "/0") if ptr.endswith("/1") or "/1/" in ptr else ptr, rule) for ptr, rule in covered
    }
    missing = sorted(_rule_set(SCHEMA) - normalised)
    assert missing == [], "schema rules without a rejection row"


@pytest.mark.parametrize(("values", "expected"), [pytest.param(v, e, id=i) for i, v, e in SCHEMA_ROWS])
def test_schema_rules_reject(values: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    error = render_error(values)
    assert "values don't meet the specifications of the schema" in error
    missing = [(ptr, frag) for ptr, _, frag in expected if not _line_for(error, ptr, frag)]
    assert missing == [], error


@pytest.mark.parametrize("helm", ["v4", "v3"])  # helm v3 validates the same schema with the same messages
@pytest.mark.parametrize(("values", "expected_at", "expected_fragment"), ISSUE_ROWS)
def test_issue_bad_input_names_the_key(
    values: dict[str, Any], expected_at: str, expected_fragment: str, helm: str
) -> None:
    error = render_error(values, helm=helm)
    assert _line_for(error, expected_at, expected_fragment), error


@pytest.mark.parametrize("helm", ["v4", "v3"])
@pytest.mark.parametrize(("values", "expected_message"), TEMPLATE_ROWS)
def test_template_rules_fail_with_the_fix(values: dict[str, Any], expected_message: str, helm: str) -> None:
    error = render_error(values, helm=helm)
    assert "fluentd chart: invalid values:" in error
    assert expected_message in error


def test_template_rules_are_reported_together() -> None:
    error = render_error(
        {"updateStrategy": {"rollingUpdate": {"maxSurge": 1}}, "podDisruptionBudget": {"minAvailable": "50%"}}
    )
    assert "maxSurge is 1" in error and 'minAvailable is "50%"' in error


@pytest.mark.parametrize("helm", ["v4", "v3"])
@pytest.mark.parametrize(
    ("values", "expected_key"),
    [
        # pass-through Kubernetes types: their generated schemas cannot exclude what helm's toYaml drops silently
        pytest.param({"extraEnv": [{"name": "A", "value": "x\u0087"}]}, "extraEnv", id="extra-env"),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n\u009f"]}]}
                            ]
                        }
                    }
                }
            },
            "affinity",
            id="affinity",
        ),
        pytest.param(
            {
                "serviceMonitor": {
                    "enabled": True,
                    "relabelings": [{"action": "replace", "targetLabel": "x", "replacement": "\ufffe"}],
                }
            },
            "serviceMonitor",
            id="relabelings",
        ),
    ],
)
def test_unyamlable_character_fails_instead_of_dropping_the_value(
    values: dict[str, Any], expected_key: str, helm: str
) -> None:
    error = render_error(values, helm=helm)
    assert "execution error at" in error
    assert f"{expected_key} holds a character YAML cannot carry" in error


@pytest.mark.parametrize("tool", ["helm", "helm3"])
def test_secret_ref_without_key_fails_even_without_the_schema(tool: str) -> None:
    """With --skip-schema-validation the template's own guard still names the key and the fix."""
    values = {
        "output": {
            "type": "http",
            "http": {"endpoint": "https://x", "username": "u", "password": {"secretKeyRef": {"name": "s"}}},
        }
    }
    proc = subprocess.run(
        [str(tool_path(tool)), "template", "t", str(CHART), "--skip-schema-validation", "--values", "-"],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert (
        'output.http.password.secretKeyRef needs both name and key (got name "s", key ""): name the Secret and the key inside it'
        in proc.stderr
    )


# ----------------------------------------------------------------------------- generated: types and unknown keys


def _leaves() -> dict[str, Any]:
    """Every documented leaf value of values.yaml with its default."""
    defaults = yamlc.safe_load((CHART / "values.yaml").read_text())
    keys = [r.key for r in parse_values(CHART / "values.yaml")]
    out = {}
    for key in keys:
        if any(o.startswith(key + ".") for o in keys):
            continue
        node: Any = defaults
        for part in key.split("."):
            node = node[part]
        out[key] = node
    return out


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "1x"
    if isinstance(value, str) and re.fullmatch(r"\d+%", value):
        return ["a", "list"]  # an int-or-percent (maxUnavailable: 10%) takes a number as well
    if isinstance(value, str):
        return 12
    if isinstance(value, list):
        return "a-string"
    return ["a", "list"]  # maps


def _set(values: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        values = values.setdefault(part, {})
    values[parts[-1]] = value


def test_every_value_rejects_a_wrong_type() -> None:
    values: dict[str, Any] = {}
    leaves = _leaves()
    for key, default in leaves.items():
        _set(values, key, _wrong(default))
    error = render_error(values)
    unnamed = [key for key in leaves if f"at '/{key.replace('.', '/')}'" not in error]
    assert unnamed == [], error


def _closed_objects(node: dict[str, Any], ptr: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [ptr] if node.get("additionalProperties") is False and "properties" in node else []
    for name, child in (node.get("properties") or {}).items():
        out += _closed_objects(child, (*ptr, name))
    return out


def test_every_closed_object_rejects_an_unknown_key() -> None:
    values: dict[str, Any] = {"bogus": 1}
    objects = _closed_objects(SCHEMA)
    for ptr in objects[1:]:
        _set(values, ".".join((*ptr, "bogus")), 1)
    error = render_error(values)
    unnamed = [
        "/" + "/".join(p)
        for p in objects
        if f"at '{'/' + '/'.join(p) if p else ''}': additional properties 'bogus' not allowed" not in error
    ]
    assert len(objects) > 40
    assert unnamed == [], error


def test_default_values_pass_the_schema() -> None:
    assert render()  # helm validates the defaults against the schema on every render
