"""Bad values fail `helm template` with a message naming the key: one row per schema rule and per
cross-field `fail` in the templates. Rows run under helm v4 and v3."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from dsgate import yamlc
from dsgate.gate.render import RenderError

from .support import CHART

pytestmark = pytest.mark.render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())

REJECT = [
    # --- unknown keys
    pytest.param({"bogus": 1}, ["'bogus' not allowed"], id="unknown-top-level-key"),
    pytest.param({"image": {"bogus": 1}}, ["/image", "'bogus' not allowed"], id="unknown-image-key"),
    pytest.param({"service": {"type": "LoadBalancer"}}, ["/service", "'type' not allowed"], id="unknown-service-key"),
    pytest.param(
        {"podDisruptionBudget": {"maxUnavialable": 1}},
        ["/podDisruptionBudget", "'maxUnavialable' not allowed"],
        id="misspelled-pdb-key",
    ),
    pytest.param(
        {"readinessProbe": {"httpGet": {"path": "/x"}}},
        ["/readinessProbe", "'httpGet' not allowed"],
        id="probe-handler-not-overridable",
    ),
    pytest.param(
        {"livenessProbe": {"successThreshold": 2}},
        ["/livenessProbe", "'successThreshold' not allowed"],
        id="liveness-successThreshold",
    ),
    # --- wrong types
    pytest.param({"hostNetwork": "yes"}, ["/hostNetwork", "want boolean"], id="hostNetwork-type"),
    pytest.param({"hostPID": 1}, ["/hostPID", "want boolean"], id="hostPID-type"),
    pytest.param({"port": "9100"}, ["/port", "want integer"], id="port-type"),
    pytest.param({"extraArgs": "--collector.systemd"}, ["/extraArgs", "want array"], id="extraArgs-type"),
    pytest.param({"nodeSelector": {"gpu": True}}, ["/nodeSelector/gpu", "want string"], id="nodeSelector-value-type"),
    pytest.param({"commonLabels": {"team": 1}}, ["/commonLabels/team", "want string"], id="commonLabels-value-type"),
    pytest.param({"podAnnotations": []}, ["/podAnnotations", "want object"], id="podAnnotations-type"),
    pytest.param({"tolerations": {"operator": "Exists"}}, ["/tolerations", "want array"], id="tolerations-type"),
    pytest.param({"affinity": []}, ["/affinity", "got array"], id="affinity-type"),
    pytest.param({"minReadySeconds": 1.5}, ["/minReadySeconds", "want integer"], id="minReadySeconds-type"),
    pytest.param(
        {"extraManifests": [1]}, ["/extraManifests/0", "want string or object"], id="extraManifests-item-type"
    ),
    pytest.param(
        {"global": {"imagePullSecrets": [1]}},
        ["/global/imagePullSecrets/0", "want string or object"],
        id="global-pull-secret-type",
    ),
    pytest.param(
        {"extraContainers": [{"image": "busybox"}]},
        ["/extraContainers/0", "missing property 'name'"],
        id="extraContainers-name",
    ),
    pytest.param({"extraEnv": [{"value": "1"}]}, ["/extraEnv/0", "missing property 'name'"], id="extraEnv-name"),
    pytest.param(
        {"imagePullSecrets": ["regcred"]}, ["/imagePullSecrets/0", "want object"], id="imagePullSecrets-item-type"
    ),
    # --- null list entries (the API server would turn each into an empty object)
    pytest.param(
        {"serviceMonitor": {"relabelings": [None]}},
        ["/serviceMonitor/relabelings/0", "got null, want object"],
        id="null-relabeling",
    ),
    pytest.param(
        {"extraContainers": [{"name": "x", "image": "y", "resources": {}, "ports": [None]}]},
        ["/extraContainers/0/ports/0", "'not' failed"],
        id="null-container-port",
    ),
    pytest.param({"extraArgs": [None]}, ["/extraArgs/0", "got null, want string"], id="null-extra-arg"),
    # the VPA CRD takes int-or-string quantities: a fractional number renders an object the API server refuses
    pytest.param(
        {"verticalPodAutoscaler": {"maxAllowed": {"cpu": 1.5}}},
        ["/verticalPodAutoscaler/maxAllowed/cpu", "got number, want integer or string"],
        id="vpa-fractional-cpu",
    ),
    pytest.param(
        {
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [None]}}
            }
        },
        ["/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0", "'not' failed"],
        id="null-node-selector-term",
    ),
    # --- enums
    pytest.param(
        {"updateStrategy": {"type": "Foo"}},
        ["/updateStrategy/type", "'RollingUpdate', 'OnDelete'"],
        id="updateStrategy-Foo",
    ),
    pytest.param({"image": {"pullPolicy": "Sometimes"}}, ["/image/pullPolicy", "must be one of"], id="pullPolicy"),
    pytest.param(
        {"kubeRBACProxy": {"image": {"pullPolicy": "Sometimes"}}},
        ["/kubeRBACProxy/image/pullPolicy", "must be one of"],
        id="proxy-pullPolicy",
    ),
    pytest.param({"tolerationPreset": "everything"}, ["/tolerationPreset", "must be one of"], id="tolerationPreset"),
    pytest.param(
        {"tolerations": [{"operator": "Maybe"}]},
        ["/tolerations/0/operator", "must be one of"],
        id="toleration-operator",
    ),
    pytest.param(
        {"tolerations": [{"operator": "Exists", "effect": "NoRun"}]},
        ["/tolerations/0/effect", "must be one of"],
        id="toleration-effect",
    ),
    pytest.param({"dnsPolicy": "Host"}, ["/dnsPolicy", "must be one of"], id="dnsPolicy"),
    pytest.param(
        {"hostRootFsMount": {"mountPropagation": "Bidirectional"}},
        ["/hostRootFsMount/mountPropagation", "must be one of"],
        id="rootfs-Bidirectional",
    ),
    pytest.param(
        {"service": {"internalTrafficPolicy": "Node"}},
        ["/service/internalTrafficPolicy", "must be one of"],
        id="internalTrafficPolicy",
    ),
    pytest.param(
        {"service": {"ipFamilyPolicy": "Dual"}}, ["/service/ipFamilyPolicy", "must be one of"], id="ipFamilyPolicy"
    ),
    pytest.param({"service": {"ipFamilies": ["IPv5"]}}, ["/service/ipFamilies/0", "must be one of"], id="ipFamilies"),
    pytest.param(
        {"service": {"ipFamilies": ["IPv4", "IPv6", "IPv4"]}},
        ["/service/ipFamilies", "maxItems: got 3, want 2"],
        id="ipFamilies-count",
    ),
    pytest.param(
        {"serviceMonitor": {"scheme": "ftp"}}, ["/serviceMonitor/scheme", "must be one of"], id="serviceMonitor-scheme"
    ),
    pytest.param({"podMonitor": {"scheme": "ftp"}}, ["/podMonitor/scheme", "must be one of"], id="podMonitor-scheme"),
    pytest.param(
        {"podDisruptionBudget": {"unhealthyPodEvictionPolicy": "Never"}},
        ["/podDisruptionBudget/unhealthyPodEvictionPolicy", "must be one of"],
        id="unhealthyPodEvictionPolicy",
    ),
    pytest.param(
        {"verticalPodAutoscaler": {"updateMode": "Sometimes"}},
        ["/verticalPodAutoscaler/updateMode", "must be one of"],
        id="vpa-updateMode",
    ),
    pytest.param(
        {"verticalPodAutoscaler": {"controlledValues": "LimitsOnly"}},
        ["/verticalPodAutoscaler/controlledValues", "must be one of"],
        id="vpa-controlledValues",
    ),
    pytest.param(
        {"verticalPodAutoscaler": {"controlledResources": ["gpu"]}},
        ["/verticalPodAutoscaler/controlledResources/0", "must be one of"],
        id="vpa-controlledResources",
    ),
    pytest.param(
        {"podSecurityContext": {"seccompProfile": {"type": 1}}},
        ["/podSecurityContext/seccompProfile/type", "got number"],
        id="seccomp-type",
    ),
    pytest.param(
        {"excludeVirtualNodes": {"matchExpressions": [{"key": "a", "operator": "Is"}]}},
        ["/excludeVirtualNodes/matchExpressions/0/operator", "must be one of"],
        id="exclusion-operator",
    ),
    pytest.param(
        {"excludeVirtualNodes": {"matchExpressions": [{"operator": "Exists"}]}},
        ["/excludeVirtualNodes/matchExpressions/0", "missing property 'key'"],
        id="exclusion-key",
    ),
    # --- quantities, ranges, formats
    pytest.param(
        {"resources": {"requests": {"cpu": "lots"}}},
        ["/resources/requests/cpu", "does not match pattern"],
        id="cpu-quantity",
    ),
    pytest.param(
        {"resources": {"limits": {"memory": "64MB"}}},
        ["/resources/limits/memory", "does not match pattern"],
        id="memory-quantity",
    ),
    pytest.param(
        {"resources": {"limits": {"gpu": "1"}}}, ["/resources/limits", "'gpu' not allowed"], id="resources-unknown"
    ),
    pytest.param(
        {"kubeRBACProxy": {"resources": {"requests": {"memory": "lots"}}}},
        ["/kubeRBACProxy/resources/requests/memory", "does not match pattern"],
        id="proxy-quantity",
    ),
    pytest.param(
        {"verticalPodAutoscaler": {"maxAllowed": {"cpu": "x"}}},
        ["/verticalPodAutoscaler/maxAllowed/cpu", "does not match pattern"],
        id="vpa-quantity",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
        ["/updateStrategy/rollingUpdate/maxUnavailable", "does not match pattern"],
        id="maxUnavailable-150%",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": -1}}},
        ["/updateStrategy/rollingUpdate/maxUnavailable", "minimum"],
        id="maxUnavailable-negative",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": True}}},
        ["/updateStrategy/rollingUpdate/maxUnavailable", "got boolean"],
        id="maxUnavailable-type",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxSurge": "1.5%"}}},
        ["/updateStrategy/rollingUpdate/maxSurge", "does not match pattern"],
        id="maxSurge-format",
    ),
    pytest.param({"minReadySeconds": 0}, ["/minReadySeconds", "minimum"], id="minReadySeconds-0"),
    pytest.param({"revisionHistoryLimit": -1}, ["/revisionHistoryLimit", "minimum"], id="revisionHistoryLimit"),
    pytest.param(
        {"terminationGracePeriodSeconds": -5},
        ["/terminationGracePeriodSeconds", "minimum"],
        id="terminationGracePeriodSeconds",
    ),
    pytest.param({"port": 70000}, ["/port", "maximum"], id="port-range"),
    pytest.param({"service": {"port": 0}}, ["/service/port", "minimum"], id="service-port-range"),
    pytest.param(
        {"kubeRBACProxy": {"upstreamPort": 0}}, ["/kubeRBACProxy/upstreamPort", "minimum"], id="proxy-port-range"
    ),
    pytest.param(
        {"readinessProbe": {"periodSeconds": 0}}, ["/readinessProbe/periodSeconds", "minimum"], id="probe-period"
    ),
    pytest.param(
        {"startupProbe": {"failureThreshold": 0}}, ["/startupProbe/failureThreshold", "minimum"], id="startup-threshold"
    ),
    pytest.param({"serviceMonitor": {"sampleLimit": -1}}, ["/serviceMonitor/sampleLimit", "minimum"], id="sampleLimit"),
    pytest.param(
        {"podSecurityContext": {"runAsUser": "root"}}, ["/podSecurityContext/runAsUser", "got string"], id="runAsUser"
    ),
    pytest.param(
        {"securityContext": {"readOnlyRootFilesystem": "true"}},
        ["/securityContext/readOnlyRootFilesystem", "got string"],
        id="readOnlyRootFilesystem-type",
    ),
    pytest.param({"image": {"tag": "latest"}}, ["image.tag=latest is not a pinned version"], id="tag-latest"),
    pytest.param(
        {"kubeRBACProxy": {"image": {"tag": "latest"}}},
        ["kubeRBACProxy.image.tag=latest is not a pinned version"],
        id="proxy-tag-latest",
    ),
    pytest.param({"image": {"tag": "v1 2"}}, ["/image/tag", "does not match pattern"], id="tag-format"),
    pytest.param({"image": {"digest": "sha256:abc"}}, ["/image/digest", "does not match pattern"], id="digest-format"),
    pytest.param(
        {"image": {"repository": "Prometheus/Node"}},
        ["/image/repository", "does not match pattern"],
        id="repository-format",
    ),
    pytest.param(
        {"image": {"registry": "https://quay.io"}}, ["/image/registry", "does not match pattern"], id="registry-format"
    ),
    pytest.param(
        {"global": {"imageRegistry": "https://mirror"}},
        ["/global/imageRegistry", "does not match pattern"],
        id="global-registry-format",
    ),
    pytest.param(
        {"kubeRBACProxy": {"image": {"tag": ""}}}, ["/kubeRBACProxy/image/tag", "minLength"], id="proxy-tag-required"
    ),
    pytest.param(
        {"extraArgs": ["collector.systemd"]}, ["/extraArgs/0", "does not match pattern"], id="extraArgs-flag-format"
    ),
    pytest.param(
        {"collectors": {"enabled": ["Sys Temd"]}},
        ["/collectors/enabled/0", "does not match pattern"],
        id="collector-name",
    ),
    pytest.param(
        {"collectors": {"disabled": ["wifi", "wifi"]}},
        ["/collectors/disabled", "items at 0 and 1 are equal"],
        id="collector-unique",
    ),
    pytest.param(
        {"listenAddress": "0.0.0.0:9100"}, ["/listenAddress", "does not match pattern"], id="listenAddress-with-port"
    ),
    pytest.param(
        {"serviceMonitor": {"interval": "30 seconds"}},
        ["/serviceMonitor/interval", "does not match pattern"],
        id="interval-duration",
    ),
    pytest.param(
        {"podMonitor": {"scrapeTimeout": "10"}},
        ["/podMonitor/scrapeTimeout", "does not match pattern"],
        id="scrapeTimeout-duration",
    ),
    pytest.param({"nameOverride": "Node_Exporter"}, ["/nameOverride", "does not match pattern"], id="nameOverride-dns"),
    pytest.param({"fullnameOverride": "x" * 64}, ["/fullnameOverride", "maxLength"], id="fullnameOverride-length"),
    pytest.param(
        {"namespaceOverride": "Mon"}, ["/namespaceOverride", "does not match pattern"], id="namespaceOverride-dns"
    ),
    pytest.param(
        {"priorityClassName": "System Critical"},
        ["/priorityClassName", "does not match pattern"],
        id="priorityClassName-dns",
    ),
    pytest.param(
        {"serviceAccount": {"name": "SA"}}, ["/serviceAccount/name", "does not match pattern"], id="serviceAccount-name"
    ),
    pytest.param(
        {"kubeRBACProxy": {"tls": {"secretName": "TLS"}}},
        ["/kubeRBACProxy/tls/secretName", "does not match pattern"],
        id="tls-secret-name",
    ),
    pytest.param(
        {"extraHostVolumeMounts": [{"name": "tf", "hostPath": "/x", "mountPath": "/tf"}]},
        ["/extraHostVolumeMounts/0", "missing property 'type'"],
        id="hostPath-type-required",
    ),
    pytest.param(
        {"extraHostVolumeMounts": [{"name": "tf", "hostPath": "x", "mountPath": "/tf", "type": "Directory"}]},
        ["/extraHostVolumeMounts/0/hostPath", "does not match pattern"],
        id="hostPath-absolute",
    ),
    pytest.param(
        {"extraHostVolumeMounts": [{"name": "tf", "hostPath": "/x", "mountPath": "/tf", "type": ""}]},
        ["/extraHostVolumeMounts/0/type", "must be one of"],
        id="hostPath-type-empty",
    ),
    pytest.param(
        {
            "extraHostVolumeMounts": [
                {"name": "tf", "hostPath": "/x", "mountPath": "/tf", "type": "Directory", "readOnly": False}
            ]
        },
        ["/extraHostVolumeMounts/0", "'readOnly' not allowed"],
        id="hostPath-always-readOnly",
    ),
    # --- Kubernetes syntax for free-form strings (property-based tests found these; ASCII classes, as helm's Go regexps)
    pytest.param(
        {"commonLabels": {"team": "a b"}},
        ["/commonLabels/team", "does not match pattern"],
        id="commonLabels-label-value",
    ),
    pytest.param(
        {"podLabels": {"pool": "{{ .Values.nameOverride }}"}},
        ["/podLabels/pool", "does not match pattern"],
        id="podLabels-template-outside-release-chart",
    ),
    pytest.param(
        {"service": {"labels": {"a": "-x"}}}, ["/service/labels/a", "does not match pattern"], id="service-label-value"
    ),
    pytest.param({"nodeSelector": {"bad key!": "x"}}, ["invalid propertyName 'bad key!'"], id="nodeSelector-label-key"),
    pytest.param(
        {"podAnnotations": {"a": "x\u0090"}},
        ["/podAnnotations/a", "does not match pattern"],
        id="annotation-C1-control",
    ),
    pytest.param(
        {"tolerations": [{"key": "a b", "operator": "Exists"}]},
        ["/tolerations/0/key", "does not match pattern"],
        id="toleration-key",
    ),
    pytest.param(
        {"tolerations": [{"key": "a", "operator": "Equal", "value": "x y"}]},
        ["/tolerations/0/value", "does not match pattern"],
        id="toleration-value",
    ),
    pytest.param(
        {"tolerations": [{"operator": "Exists", "tolerationSeconds": 2147483648}]},
        ["/tolerations/0/tolerationSeconds", "maximum"],
        id="tolerationSeconds-range",
    ),
    pytest.param(
        {"excludeVirtualNodes": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x y"]}]}},
        ["/excludeVirtualNodes/matchExpressions/0/values/0", "does not match pattern"],
        id="exclusion-value",
    ),
    pytest.param(
        {"serviceMonitor": {"jobLabel": "job label"}},
        ["/serviceMonitor/jobLabel", "does not match pattern"],
        id="jobLabel-label-key",
    ),
    pytest.param(
        {"serviceMonitor": {"bearerTokenFile": "token"}},
        ["/serviceMonitor/bearerTokenFile", "does not match pattern"],
        id="bearerTokenFile-absolute",
    ),
    pytest.param(
        {"kubeRBACProxy": {"tls": {"certKey": "tls crt"}}},
        ["/kubeRBACProxy/tls/certKey", "does not match pattern"],
        id="tls-certKey-secret-key",
    ),
    pytest.param(
        {"imagePullSecrets": [{"name": "Reg Cred"}]},
        ["/imagePullSecrets/0/name", "does not match pattern"],
        id="imagePullSecret-name",
    ),
    pytest.param(
        {"global": {"imagePullSecrets": [{"name": "a", "extra": 1}]}},
        ["/global/imagePullSecrets/0", "'extra' not allowed"],
        id="global-pull-secret-unknown-key",
    ),
    pytest.param(
        {"extraHostVolumeMounts": [{"name": "proc", "hostPath": "/x", "mountPath": "/y", "type": "Directory"}]},
        ["/extraHostVolumeMounts/0/name", "'not' failed"],
        id="hostVolume-name-clashes-with-chart-volume",
    ),
    pytest.param(
        {"extraContainers": [{"name": "side", "image": "busybox:1.37"}]},
        ["/extraContainers/0", "missing property 'resources'"],
        id="extraContainer-resources-required",
    ),
    pytest.param(
        {
            "extraContainers": [
                {
                    "name": "side",
                    "image": "busybox:1.37",
                    "resources": {"requests": {"cpu": "1m"}, "limits": {"cpu": "1m", "memory": "1Mi"}},
                }
            ]
        },
        ["/extraContainers/0/resources/requests", "missing property 'memory'"],
        id="extraContainer-memory-request-required",
    ),
    pytest.param(
        {"resources": {"requests": {"cpu": "\u0661"}}},
        ["/resources/requests/cpu", "does not match pattern"],
        id="quantity-ascii-digits-only",
    ),
    pytest.param({"minReadySeconds": 2147483648}, ["/minReadySeconds", "maximum"], id="minReadySeconds-int32"),
    pytest.param(
        {"podDisruptionBudget": {"minAvailable": 2147483648}},
        ["/podDisruptionBudget/minAvailable", "maximum"],
        id="pdb-minAvailable-int32",
    ),
    # helm's toYaml silently returns "" for these characters; the chart refuses instead of dropping the value
    pytest.param(
        {
            "affinity": {
                "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "zone\u0090"}]}
            }
        },
        ["affinity holds a character YAML cannot carry"],
        id="pass-through-C1-control",
    ),
    pytest.param(
        {"serviceMonitor": {"enabled": True, "tlsConfig": {"serverName": "a\u0099"}}},
        ["serviceMonitor holds a character YAML cannot carry"],
        id="tlsConfig-C1-control",
    ),
    pytest.param(
        {"podMonitor": {"tlsConfig": {"caFile": "/etc/ca.crt"}}},
        ["/podMonitor/tlsConfig", "invalid propertyName 'caFile'"],
        id="podMonitor-SafeTLSConfig",
    ),
    pytest.param({"extraContainers": [None]}, ["/extraContainers/0", "want object"], id="extraContainers-null-item"),
    pytest.param({"extraEnv": [None]}, ["/extraEnv/0", "want object"], id="extraEnv-null-item"),
    pytest.param({"nameOverride": "\n"}, ["/nameOverride", "does not match pattern"], id="nameOverride-newline"),
    # --- the PDB in its broken forms (schema lets them through so the chart can say why)
    pytest.param(
        {"podDisruptionBudget": {"maxUnavailable": 1}},
        ["podDisruptionBudget.maxUnavailable", "no scale subresource", "integer podDisruptionBudget.minAvailable"],
        id="pdb-maxUnavailable",
    ),
    pytest.param(
        {"podDisruptionBudget": {"maxUnavailable": "10%"}},
        ["podDisruptionBudget.maxUnavailable", "no scale subresource"],
        id="pdb-maxUnavailable-percent",
    ),
    pytest.param(
        {"podDisruptionBudget": {"minAvailable": "50%"}},
        ['podDisruptionBudget.minAvailable is "50%": it must be an integer', "no scale subresource"],
        id="pdb-minAvailable-percent",
    ),
    pytest.param(
        {"podDisruptionBudget": {"minAvailable": -1}},
        ["/podDisruptionBudget/minAvailable", "minimum"],
        id="pdb-minAvailable-negative",
    ),
    pytest.param(
        {"podDisruptionBudget": {"minAvailable": True}},
        ["/podDisruptionBudget/minAvailable", "got boolean"],
        id="pdb-minAvailable-type",
    ),
    # --- cross-field rules (templates `fail`)
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxSurge": 1}}},
        ["updateStrategy.rollingUpdate.maxSurge=1", "hostPort 9100", "can never bind"],
        id="maxSurge-with-hostPort",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}, "port": 9200},
        ["maxSurge=25%", "hostPort 9200"],
        id="maxSurge-percent-with-hostPort",
    ),
    pytest.param(
        {"hostNetwork": False, "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}},
        ["maxUnavailable and maxSurge are both 0"],
        id="rollout-both-zero",
    ),
    pytest.param(
        {"dnsPolicy": "ClusterFirst"},
        ["dnsPolicy=ClusterFirst with hostNetwork", "ClusterFirstWithHostNet"],
        id="dnsPolicy-with-hostNetwork",
    ),
    pytest.param(
        {"kubeRBACProxy": {"enabled": True, "upstreamPort": 9100}},
        ["kubeRBACProxy.upstreamPort", "must all differ"],
        id="proxy-port-clash",
    ),
    pytest.param(
        {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}},
        ["serviceMonitor.enabled requires service.enabled"],
        id="serviceMonitor-without-service",
    ),
]


@pytest.mark.parametrize("helm", ["v4", "v3"])
@pytest.mark.parametrize(("values", "expected_fragments"), REJECT)
def test_bad_values_rejected(render: Any, values: dict[str, Any], expected_fragments: list[str], helm: str) -> None:
    with pytest.raises(RenderError) as info:
        render(CHART, values, helm=helm)
    message = str(info.value)
    for fragment in expected_fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_schema_is_draft07_and_values_yaml_conforms() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(yamlc.safe_load((CHART / "values.yaml").read_text()))


def _schema_paths(schema: dict[str, Any], prefix: str = "", depth: int = 0) -> set[str]:
    """Dotted paths the schema declares, following `#/definitions/` references (Kubernetes types)."""
    if "$ref" in schema and depth < 6:
        schema = SCHEMA["definitions"][schema["$ref"].removeprefix("#/definitions/")]
    out: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out.add(path)
        out |= _schema_paths(sub, path, depth + 1)
    return out


def _value_paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        out.add(path)
        if isinstance(value, dict):
            out |= _value_paths(value, path)
    return out


# Free-form maps whose keys are data, not chart settings.
DATA_MAPS = ("nodeSelector.",)


def test_schema_covers_every_value() -> None:
    values = yamlc.safe_load((CHART / "values.yaml").read_text())
    missing = {p for p in _value_paths(values) if not p.startswith(DATA_MAPS)} - _schema_paths(SCHEMA)
    assert sorted(missing) == []


def test_objects_with_fixed_keys_reject_unknown_keys() -> None:
    """Every schema object with declared properties is closed, except the pass-through k8s structs."""
    open_ok = {"global", "podSecurityContext", "securityContext"}
    opened: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        closed = node.get("type") != "object" or "properties" not in node or node.get("additionalProperties") is False
        if not closed and path not in open_ok and not path.endswith("]"):
            opened.append(path)
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{key}" if path else key)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]")

    walk(SCHEMA, "")
    assert opened == []
