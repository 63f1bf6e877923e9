"""Every value has a row asserting its effect on the rendered objects (one helm render per row).

A row is (values, expected): EXPECTED maps a path "Kind:field.path" (see support.dig) to the value
found there, or ABSENT. test_every_value_has_a_row checks the table covers every key of values.yaml.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsgate.docs.chartdocs import parse_values

from .support import ABSENT, CHART, dig

pytestmark = pytest.mark.render

DS = "DaemonSet:spec.template.spec"
NE = DS + ".containers[name=node-exporter]"
PROXY = DS + ".containers[name=kube-rbac-proxy]"
IMAGE = "quay.io/prometheus/node-exporter:v1.12.1"
DIGEST = "sha256:" + "a" * 64
ARG = NE + ".args"
SM = "ServiceMonitor:spec.endpoints[0]"
PM = "PodMonitor:spec.podMetricsEndpoints[0]"
VPA = "VerticalPodAutoscaler:spec.resourcePolicy.containerPolicies[0]"
EXCLUDE = [
    {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]},
    {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]},
]
PROBE_KEYS = {"initialDelaySeconds": 1, "periodSeconds": 7, "timeoutSeconds": 3, "failureThreshold": 4}
SC_POD = {
    "runAsUser": 1000,
    "runAsGroup": 1001,
    "runAsNonRoot": True,
    "fsGroup": 1002,
    "seccompProfile": {"type": "Localhost", "localhostProfile": "ne.json"},
}
SC_CTR = {
    "runAsUser": 1000,
    "runAsGroup": 1001,
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESOURCES = {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "1", "memory": "32Mi"}}
PROXY_ON = {"kubeRBACProxy": {"enabled": True}}


def _proxy(**kw: Any) -> dict[str, Any]:
    return {"kubeRBACProxy": {"enabled": True, **kw}}


SIDECAR_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "50m", "memory": "16Mi"}}

ROWS = [
    # --- naming and labels
    pytest.param(
        {"global": {"imageRegistry": "mirror.example.com"}},
        {NE + ".image": "mirror.example.com/prometheus/node-exporter:v1.12.1"},
        id="global.imageRegistry",
    ),
    pytest.param(
        {"global": {"imagePullSecrets": ["a", {"name": "b"}]}},
        {DS + ".imagePullSecrets": [{"name": "a"}, {"name": "b"}]},
        id="global.imagePullSecrets",
    ),
    pytest.param(
        {"nameOverride": "nx"},
        {"DaemonSet:metadata.name": "dsgate-nx", 'DaemonSet:spec.selector.matchLabels["app.kubernetes.io/name"]': "nx"},
        id="nameOverride",
    ),
    pytest.param(
        {"fullnameOverride": "custom"},
        {"DaemonSet:metadata.name": "custom", "Service:metadata.name": "custom"},
        id="fullnameOverride",
    ),
    pytest.param(
        {"namespaceOverride": "mon"},
        {"DaemonSet:metadata.namespace": "mon", "PodDisruptionBudget:metadata.namespace": "mon"},
        id="namespaceOverride",
    ),
    pytest.param(
        {"commonLabels": {"team": "{{ .Release.Name }}-obs"}},
        {
            "DaemonSet:metadata.labels.team": "dsgate-obs",
            "Service:metadata.labels.team": "dsgate-obs",
            "DaemonSet:spec.selector.matchLabels.team": ABSENT,
        },
        id="commonLabels",
    ),
    # --- image
    pytest.param(
        {"image": {"registry": "registry.example.com"}},
        {NE + ".image": "registry.example.com/prometheus/node-exporter:v1.12.1"},
        id="image.registry",
    ),
    pytest.param(
        {"image": {"repository": "mirror/node-exporter"}},
        {NE + ".image": "quay.io/mirror/node-exporter:v1.12.1"},
        id="image.repository",
    ),
    pytest.param(
        {"image": {"tag": "v1.12.0"}}, {NE + ".image": "quay.io/prometheus/node-exporter:v1.12.0"}, id="image.tag"
    ),
    pytest.param(
        {"image": {"digest": DIGEST}},
        {NE + ".image": "quay.io/prometheus/node-exporter:v1.12.1@" + DIGEST},
        id="image.digest",
    ),
    pytest.param({"image": {"pullPolicy": "Always"}}, {NE + ".imagePullPolicy": "Always"}, id="image.pullPolicy"),
    pytest.param(
        {"imagePullSecrets": [{"name": "regcred"}]},
        {DS + ".imagePullSecrets": [{"name": "regcred"}]},
        id="imagePullSecrets",
    ),
    # --- args
    pytest.param(
        {"extraArgs": ["--collector.textfile.directory=/textfile"]},
        {ARG + "[4]": "--collector.textfile.directory=/textfile"},
        id="extraArgs",
    ),
    pytest.param(
        {"collectors": {"disableDefaults": True}},
        {ARG + "[4]": "--collector.disable-defaults"},
        id="collectors.disableDefaults",
    ),
    pytest.param(
        {"collectors": {"enabled": ["systemd", "processes"]}},
        {ARG + "[4]": "--collector.systemd", ARG + "[5]": "--collector.processes"},
        id="collectors.enabled",
    ),
    pytest.param(
        {"collectors": {"disabled": ["wifi"]}}, {ARG + "[4]": "--no-collector.wifi"}, id="collectors.disabled"
    ),
    # --- host access
    pytest.param(
        {"hostNetwork": False},
        {DS + ".hostNetwork": False, DS + ".dnsPolicy": "ClusterFirst", NE + ".ports[0].hostPort": ABSENT},
        id="hostNetwork-off",
    ),
    pytest.param(
        {},
        {DS + ".hostNetwork": True, DS + ".dnsPolicy": "ClusterFirstWithHostNet", NE + ".ports[0].hostPort": 9100},
        id="hostNetwork-default",
    ),
    pytest.param({"hostPID": False}, {DS + ".hostPID": False}, id="hostPID"),
    pytest.param({"hostNetwork": False, "dnsPolicy": "Default"}, {DS + ".dnsPolicy": "Default"}, id="dnsPolicy"),
    pytest.param(
        {"dnsConfig": {"options": [{"name": "ndots", "value": "2"}]}},
        {DS + ".dnsConfig.options[0].name": "ndots"},
        id="dnsConfig",
    ),
    pytest.param(
        {"hostRootFsMount": {"enabled": False}},
        {
            DS + ".volumes[name=root]": ABSENT,
            NE + ".volumeMounts[name=root]": ABSENT,
            ARG + "[2]": "--web.listen-address=:9100",
        },
        id="hostRootFsMount.enabled",
    ),
    pytest.param(
        {"hostRootFsMount": {"mountPropagation": "None"}},
        {NE + ".volumeMounts[name=root].mountPropagation": "None"},
        id="hostRootFsMount.mountPropagation",
    ),
    pytest.param(
        {
            "extraHostVolumeMounts": [
                {
                    "name": "textfile",
                    "hostPath": "/var/lib/node-exporter",
                    "mountPath": "/textfile",
                    "type": "DirectoryOrCreate",
                    "mountPropagation": "HostToContainer",
                }
            ]
        },
        {
            DS + ".volumes[name=textfile].hostPath": {"path": "/var/lib/node-exporter", "type": "DirectoryOrCreate"},
            NE + ".volumeMounts[name=textfile]": {
                "name": "textfile",
                "mountPath": "/textfile",
                "mountPropagation": "HostToContainer",
                "readOnly": True,
            },
        },
        id="extraHostVolumeMounts",
    ),
    # --- ports
    pytest.param(
        {"port": 9200},
        {
            NE + ".ports[0]": {"name": "metrics", "containerPort": 9200, "hostPort": 9200, "protocol": "TCP"},
            ARG + "[3]": "--web.listen-address=:9200",
        },
        id="port",
    ),
    pytest.param(
        {"listenAddress": "10.0.0.1"}, {ARG + "[3]": "--web.listen-address=10.0.0.1:9100"}, id="listenAddress"
    ),
    pytest.param({"listenAddress": "::1"}, {ARG + "[3]": "--web.listen-address=[::1]:9100"}, id="listenAddress-ipv6"),
    # --- service
    pytest.param({"service": {"enabled": False}}, {"Service:kind": ABSENT}, id="service.enabled"),
    pytest.param({"service": {"headless": True}}, {"Service:spec.clusterIP": "None"}, id="service.headless"),
    pytest.param(
        {"service": {"port": 80}},
        {"Service:spec.ports[0]": {"name": "metrics", "port": 80, "targetPort": "metrics", "protocol": "TCP"}},
        id="service.port",
    ),
    pytest.param(
        {"service": {"internalTrafficPolicy": "Local"}},
        {"Service:spec.internalTrafficPolicy": "Local"},
        id="service.internalTrafficPolicy",
    ),
    pytest.param(
        {"service": {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"]}},
        {"Service:spec.ipFamilyPolicy": "PreferDualStack", "Service:spec.ipFamilies": ["IPv4", "IPv6"]},
        id="service.ipFamily",
    ),
    # Service labels are added, but cannot replace the standard ones the ServiceMonitor selects on.
    pytest.param(
        {"service": {"annotations": {"a": "b"}, "labels": {"x": "y", "app.kubernetes.io/name": "hijack"}}},
        {
            "Service:metadata.annotations": {"a": "b"},
            "Service:metadata.labels.x": "y",
            'Service:metadata.labels["app.kubernetes.io/name"]': "node-exporter",
        },
        id="service.annotations-labels",
    ),
    # --- ServiceMonitor
    pytest.param({}, {"ServiceMonitor:kind": ABSENT, "PodMonitor:kind": ABSENT}, id="monitors-off-by-default"),
    pytest.param(
        {
            "serviceMonitor": {
                "enabled": True,
                "namespace": "monitoring",
                "labels": {"release": "kps"},
                "jobLabel": "app",
                "interval": "30s",
                "scrapeTimeout": "10s",
                "scheme": "https",
                "tlsConfig": {"insecureSkipVerify": True},
                "bearerTokenFile": "/token",
                "honorLabels": False,
                "attachNodeMetadata": True,
                "relabelings": [{"targetLabel": "node", "sourceLabels": ["__meta_kubernetes_pod_node_name"]}],
                "metricRelabelings": [{"action": "drop", "regex": "go_.*", "sourceLabels": ["__name__"]}],
                "sampleLimit": 5000,
            }
        },
        {
            "ServiceMonitor:apiVersion": "monitoring.coreos.com/v1",
            "ServiceMonitor:metadata.namespace": "monitoring",
            "ServiceMonitor:metadata.labels.release": "kps",
            "ServiceMonitor:spec.jobLabel": "app",
            "ServiceMonitor:spec.attachMetadata": {"node": True},
            "ServiceMonitor:spec.sampleLimit": 5000,
            "ServiceMonitor:spec.namespaceSelector.matchNames": ["dsgate-system"],
            SM: {
                "port": "metrics",
                "path": "/metrics",
                "scheme": "https",
                "honorLabels": False,
                "interval": "30s",
                "scrapeTimeout": "10s",
                "tlsConfig": {"insecureSkipVerify": True},
                "bearerTokenFile": "/token",
                "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}],
                "metricRelabelings": [{"action": "drop", "regex": "go_.*", "sourceLabels": ["__name__"]}],
            },
        },
        id="serviceMonitor",
    ),
    pytest.param(
        {"serviceMonitor": {"enabled": True}, **PROXY_ON}, {SM + ".scheme": "https"}, id="serviceMonitor.scheme-proxy"
    ),
    # --- PodMonitor
    pytest.param(
        {
            "podMonitor": {
                "enabled": True,
                "namespace": "monitoring",
                "labels": {"release": "kps"},
                "jobLabel": "app",
                "interval": "1m",
                "scrapeTimeout": "20s",
                "scheme": "https",
                "tlsConfig": {"serverName": "ne"},
                "honorLabels": False,
                "attachNodeMetadata": True,
                "relabelings": [{"targetLabel": "node"}],
                "metricRelabelings": [{"action": "drop", "regex": "go_.*"}],
                "sampleLimit": 100,
            }
        },
        {
            "PodMonitor:apiVersion": "monitoring.coreos.com/v1",
            "PodMonitor:metadata.namespace": "monitoring",
            "PodMonitor:metadata.labels.release": "kps",
            "PodMonitor:spec.jobLabel": "app",
            "PodMonitor:spec.attachMetadata": {"node": True},
            "PodMonitor:spec.sampleLimit": 100,
            "PodMonitor:spec.selector.matchLabels": {
                "app.kubernetes.io/name": "node-exporter",
                "app.kubernetes.io/instance": "dsgate",
            },
            PM: {
                "port": "metrics",
                "path": "/metrics",
                "scheme": "https",
                "honorLabels": False,
                "interval": "1m",
                "scrapeTimeout": "20s",
                "tlsConfig": {"serverName": "ne"},
                "relabelings": [{"targetLabel": "node"}],
                "metricRelabelings": [{"action": "drop", "regex": "go_.*"}],
            },
        },
        id="podMonitor",
    ),
    pytest.param(
        {"podMonitor": {"enabled": True}},
        {PM + ".scheme": "http", "PodMonitor:spec.attachMetadata": ABSENT},
        id="podMonitor.defaults",
    ),
    # --- scheduling
    # helm merges maps with the defaults; null removes a default key.
    pytest.param(
        {"nodeSelector": {"nvidia.com/gpu.present": "true"}},
        {DS + ".nodeSelector": {"kubernetes.io/os": "linux", "nvidia.com/gpu.present": "true"}},
        id="nodeSelector",
    ),
    pytest.param(
        {"nodeSelector": {"kubernetes.io/os": None}},
        {DS + ".nodeSelector": ABSENT},
        id="nodeSelector-null-removes-default",
    ),
    pytest.param(
        {},
        {
            DS + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": [
                {"matchExpressions": EXCLUDE}
            ]
        },
        id="excludeVirtualNodes-default",
    ),
    pytest.param(
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]},
                            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
                        ]
                    }
                },
                "podAntiAffinity": {},
            }
        },
        {
            DS + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}, *EXCLUDE]},
                {
                    "matchExpressions": EXCLUDE,
                    "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
                },
            ],
            DS + ".affinity.podAntiAffinity": {},
        },
        id="affinity-merged-with-exclusion",
    ),
    # a null or empty term matches no node: it stays empty instead of gaining the exclusions (and no crash on null)
    pytest.param(
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{}, {"matchExpressions": [{"key": "pool", "operator": "Exists"}]}]
                    }
                }
            }
        },
        {
            DS + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": [
                {},
                {"matchExpressions": [{"key": "pool", "operator": "Exists"}, *EXCLUDE]},
            ]
        },
        id="affinity-empty-term-kept-empty",
    ),
    pytest.param(
        {"excludeVirtualNodes": {"matchExpressions": []}},
        {DS + ".affinity": ABSENT},
        id="excludeVirtualNodes-no-expressions",
    ),
    pytest.param(
        {"excludeVirtualNodes": {"enabled": False}}, {DS + ".affinity": ABSENT}, id="excludeVirtualNodes.enabled"
    ),
    pytest.param(
        {"excludeVirtualNodes": {"matchExpressions": [{"key": "virtual", "operator": "DoesNotExist"}]}},
        {
            DS + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": [
                {"matchExpressions": [{"key": "virtual", "operator": "DoesNotExist"}]}
            ]
        },
        id="excludeVirtualNodes.matchExpressions",
    ),
    pytest.param({}, {DS + ".tolerations": [{"operator": "Exists"}]}, id="tolerationPreset-all"),
    # The helm test pod is scheduled like the DaemonSet (here: onto tainted control-plane nodes).
    pytest.param(
        {"tolerationPreset": "controlPlane", "nodeSelector": {"node-role.kubernetes.io/control-plane": ""}},
        {
            DS + ".tolerations": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "Pod:spec.tolerations": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "Pod:spec.nodeSelector": {"kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""},
        },
        id="tolerationPreset-controlPlane",
    ),
    pytest.param({"tolerationPreset": "none"}, {DS + ".tolerations": ABSENT}, id="tolerationPreset-none"),
    pytest.param(
        {"tolerationPreset": "none", "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]},
        {DS + ".tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]},
        id="tolerations",
    ),
    pytest.param({}, {DS + ".priorityClassName": "system-node-critical"}, id="priorityClassName-default"),
    pytest.param({"priorityClassName": ""}, {DS + ".priorityClassName": ABSENT}, id="priorityClassName-off"),
    # --- rollout
    pytest.param(
        {},
        {
            # 10% of the nodes, rounded up: 1 on up to 10 nodes, 100 on 1,000 (issue 27: a fixed 1 took 3.3 h there)
            "DaemonSet:spec.updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0},
            },
            "DaemonSet:spec.minReadySeconds": 10,
            "DaemonSet:spec.revisionHistoryLimit": 10,
        },
        id="rollout-defaults",
    ),
    pytest.param(
        {"updateStrategy": {"type": "OnDelete"}},
        {"DaemonSet:spec.updateStrategy": {"type": "OnDelete"}},
        id="updateStrategy.type",
    ),
    pytest.param(
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1}}},
        {"DaemonSet:spec.updateStrategy.rollingUpdate.maxUnavailable": 1},
        id="updateStrategy.rollingUpdate.maxUnavailable",
    ),
    pytest.param(
        {"hostNetwork": False, "updateStrategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
        {"DaemonSet:spec.updateStrategy.rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        id="updateStrategy.rollingUpdate.maxSurge",
    ),
    pytest.param({"minReadySeconds": 30}, {"DaemonSet:spec.minReadySeconds": 30}, id="minReadySeconds"),
    pytest.param({"revisionHistoryLimit": 3}, {"DaemonSet:spec.revisionHistoryLimit": 3}, id="revisionHistoryLimit"),
    pytest.param(
        {"terminationGracePeriodSeconds": 5},
        {DS + ".terminationGracePeriodSeconds": 5},
        id="terminationGracePeriodSeconds",
    ),
    # --- resources and probes
    pytest.param({"resources": RESOURCES}, {NE + ".resources": RESOURCES}, id="resources"),
    pytest.param(
        {"readinessProbe": {**PROBE_KEYS, "successThreshold": 2}},
        {
            NE + ".readinessProbe": {
                "httpGet": {"path": "/", "port": "metrics", "scheme": "HTTP"},
                **PROBE_KEYS,
                "successThreshold": 2,
            }
        },
        id="readinessProbe",
    ),
    pytest.param(
        {"livenessProbe": PROBE_KEYS},
        {NE + ".livenessProbe": {"httpGet": {"path": "/", "port": "metrics", "scheme": "HTTP"}, **PROBE_KEYS}},
        id="livenessProbe",
    ),
    pytest.param({}, {NE + ".startupProbe": ABSENT}, id="startupProbe-off"),
    pytest.param(
        {"startupProbe": {"enabled": True, "periodSeconds": 3, "timeoutSeconds": 1, "failureThreshold": 60}},
        {
            NE + ".startupProbe": {
                "httpGet": {"path": "/", "port": "metrics", "scheme": "HTTP"},
                "periodSeconds": 3,
                "timeoutSeconds": 1,
                "failureThreshold": 60,
            }
        },
        id="startupProbe",
    ),
    # --- PodDisruptionBudget
    pytest.param(
        {},
        {
            "PodDisruptionBudget:apiVersion": "policy/v1",
            "PodDisruptionBudget:spec": {
                "minAvailable": 1,
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
                "selector": {
                    "matchLabels": {"app.kubernetes.io/name": "node-exporter", "app.kubernetes.io/instance": "dsgate"}
                },
            },
        },
        id="podDisruptionBudget-default",
    ),
    pytest.param(
        {"podDisruptionBudget": {"enabled": False}},
        {"PodDisruptionBudget:kind": ABSENT},
        id="podDisruptionBudget.enabled",
    ),
    pytest.param(
        {"podDisruptionBudget": {"minAvailable": 0}},
        {"PodDisruptionBudget:spec.minAvailable": 0},
        id="podDisruptionBudget.minAvailable",
    ),
    pytest.param(
        {"podDisruptionBudget": {"unhealthyPodEvictionPolicy": ""}},
        {"PodDisruptionBudget:spec.unhealthyPodEvictionPolicy": ABSENT},
        id="podDisruptionBudget.unhealthyPodEvictionPolicy",
    ),
    # --- security
    pytest.param({"podSecurityContext": SC_POD}, {DS + ".securityContext": SC_POD}, id="podSecurityContext"),
    pytest.param({"securityContext": SC_CTR}, {NE + ".securityContext": SC_CTR}, id="securityContext"),
    pytest.param(
        {},
        {
            DS + ".automountServiceAccountToken": False,
            "ServiceAccount:automountServiceAccountToken": False,
            "ClusterRole:kind": ABSENT,
        },
        id="no-token-by-default",
    ),
    pytest.param(
        {"serviceAccount": {"create": False}},
        {"ServiceAccount:kind": ABSENT, DS + ".serviceAccountName": "default"},
        id="serviceAccount.create",
    ),
    pytest.param(
        {"serviceAccount": {"name": "ne-sa", "annotations": {"a": "b"}}},
        {
            "ServiceAccount:metadata.name": "ne-sa",
            "ServiceAccount:metadata.annotations": {"a": "b"},
            DS + ".serviceAccountName": "ne-sa",
        },
        id="serviceAccount.name-annotations",
    ),
    # --- kube-rbac-proxy
    pytest.param(
        PROXY_ON,
        {
            DS + ".automountServiceAccountToken": True,
            ARG + "[3]": "--web.listen-address=127.0.0.1:8100",
            NE + ".ports": ABSENT,
            NE + ".readinessProbe.httpGet": {"host": "127.0.0.1", "path": "/", "port": 8100, "scheme": "HTTP"},
            PROXY + ".image": "quay.io/brancz/kube-rbac-proxy:v0.20.0",
            PROXY + ".args": [
                "--secure-listen-address=:9100",
                "--upstream=http://127.0.0.1:8100/",
                "--proxy-endpoints-port=8888",
            ],
            PROXY + ".ports[name=metrics].hostPort": 9100,
            PROXY + ".readinessProbe.httpGet": {"path": "/healthz", "port": "proxy-health", "scheme": "HTTPS"},
            "ClusterRole:rules": [
                {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
            ],
            "ClusterRoleBinding:subjects": [
                {"kind": "ServiceAccount", "name": "dsgate-node-exporter", "namespace": "dsgate-system"}
            ],
        },
        id="kubeRBACProxy.enabled",
    ),
    pytest.param(
        {**PROXY_ON, "hostNetwork": False},
        {NE + ".livenessProbe.exec.command": ["wget", "-q", "-O", "/dev/null", "-T", "5", "http://127.0.0.1:8100/"]},
        id="kubeRBACProxy-pod-network-probe",
    ),
    pytest.param(
        {**PROXY_ON, "rbac": {"create": False}},
        {"ClusterRole:kind": ABSENT, "ClusterRoleBinding:kind": ABSENT},
        id="rbac.create",
    ),
    pytest.param(
        _proxy(image={"registry": "r.example.com", "repository": "x/krp", "tag": "v0.19.0", "pullPolicy": "Always"}),
        {PROXY + ".image": "r.example.com/x/krp:v0.19.0", PROXY + ".imagePullPolicy": "Always"},
        id="kubeRBACProxy.image",
    ),
    pytest.param(
        _proxy(image={"digest": DIGEST}),
        {PROXY + ".image": "quay.io/brancz/kube-rbac-proxy:v0.20.0@" + DIGEST},
        id="kubeRBACProxy.image.digest",
    ),
    pytest.param(
        _proxy(upstreamPort=8101, healthPort=8889),
        {
            ARG + "[3]": "--web.listen-address=127.0.0.1:8101",
            PROXY + ".args[1]": "--upstream=http://127.0.0.1:8101/",
            PROXY + ".args[2]": "--proxy-endpoints-port=8889",
            PROXY + ".ports[name=proxy-health].containerPort": 8889,
        },
        id="kubeRBACProxy.ports",
    ),
    pytest.param(
        _proxy(
            tls={"secretName": "ne-tls", "certKey": "c.pem", "keyKey": "k.pem"},
            extraArgs=["--tls-min-version=VersionTLS13"],
        ),
        {
            PROXY + ".args[3]": "--tls-cert-file=/etc/kube-rbac-proxy/tls/c.pem",
            PROXY + ".args[4]": "--tls-private-key-file=/etc/kube-rbac-proxy/tls/k.pem",
            PROXY + ".args[5]": "--tls-min-version=VersionTLS13",
            DS + ".volumes[name=kube-rbac-proxy-tls].secret.secretName": "ne-tls",
            PROXY + ".volumeMounts[0].readOnly": True,
        },
        id="kubeRBACProxy.tls-extraArgs",
    ),
    pytest.param(_proxy(resources=RESOURCES), {PROXY + ".resources": RESOURCES}, id="kubeRBACProxy.resources"),
    # --- VPA, NetworkPolicy, helm test
    pytest.param(
        {
            "verticalPodAutoscaler": {
                "enabled": True,
                "updateMode": "Auto",
                "controlledResources": ["memory"],
                "controlledValues": "RequestsOnly",
                "minAllowed": {"cpu": "10m"},
                "maxAllowed": {"memory": "1Gi"},
            }
        },
        {
            "VerticalPodAutoscaler:apiVersion": "autoscaling.k8s.io/v1",
            "VerticalPodAutoscaler:spec.targetRef": {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": "dsgate-node-exporter",
            },
            "VerticalPodAutoscaler:spec.updatePolicy.updateMode": "Auto",
            VPA: {
                "containerName": "node-exporter",
                "controlledResources": ["memory"],
                "controlledValues": "RequestsOnly",
                "minAllowed": {"cpu": "10m"},
                "maxAllowed": {"memory": "1Gi"},
            },
        },
        id="verticalPodAutoscaler",
    ),
    pytest.param(
        {"networkPolicy": {"enabled": True}},
        {
            "NetworkPolicy:spec.ingress": [{"ports": [{"port": 9100, "protocol": "TCP"}]}],
            "NetworkPolicy:spec.policyTypes": ["Ingress"],
        },
        id="networkPolicy.enabled",
    ),
    pytest.param(
        {"networkPolicy": {"enabled": True, "from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]}},
        {"NetworkPolicy:spec.ingress[0].from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]},
        id="networkPolicy.from",
    ),
    pytest.param({"helmTest": {"enabled": False}}, {"Pod:kind": ABSENT}, id="helmTest.enabled"),
    pytest.param(
        {"hostNetwork": False}, {"Pod:spec.containers[0].env": ABSENT}, id="helmTest-uses-service-without-hostNetwork"
    ),
    # --- extras
    pytest.param({"annotations": {"a": "b"}}, {"DaemonSet:metadata.annotations": {"a": "b"}}, id="annotations"),
    pytest.param(
        {"podAnnotations": {"a": "b"}},
        {"DaemonSet:spec.template.metadata.annotations": {"a": "b"}},
        id="podAnnotations",
    ),
    # annotation values are quoted: a lone "=" stays a string for every YAML reader (PyYAML reads a plain = as a value tag)
    pytest.param(
        {"podAnnotations": {"a": "=", "b": "0"}, "service": {"annotations": {"c": "="}}},
        {
            "DaemonSet:spec.template.metadata.annotations": {"a": "=", "b": "0"},
            "Service:metadata.annotations": {"c": "="},
        },
        id="annotations-quoted",
    ),
    pytest.param(
        {"podLabels": {"pool": "{{ .Release.Namespace }}", "app.kubernetes.io/name": "hijack"}},
        {
            "DaemonSet:spec.template.metadata.labels.pool": "dsgate-system",
            'DaemonSet:spec.template.metadata.labels["app.kubernetes.io/name"]': "node-exporter",
        },
        id="podLabels",
    ),
    pytest.param(
        {"extraEnv": [{"name": "GOMAXPROCS", "value": "1"}]},
        {NE + ".env": [{"name": "GOMAXPROCS", "value": "1"}]},
        id="extraEnv",
    ),
    pytest.param(
        {"extraVolumes": [{"name": "tf", "emptyDir": {}}], "extraVolumeMounts": [{"name": "tf", "mountPath": "/tf"}]},
        {
            DS + ".volumes[name=tf]": {"name": "tf", "emptyDir": {}},
            NE + ".volumeMounts[name=tf]": {"name": "tf", "mountPath": "/tf"},
        },
        id="extraVolumes-extraVolumeMounts",
    ),
    # the schema requires cpu+memory requests and limits on every extra container (as the policy library does)
    pytest.param(
        {"extraContainers": [{"name": "side", "image": "busybox:1.37", "resources": SIDECAR_RESOURCES}]},
        {
            DS + ".containers[name=side].image": "busybox:1.37",
            DS + ".containers[name=side].resources": SIDECAR_RESOURCES,
        },
        id="extraContainers",
    ),
    pytest.param(
        {"extraInitContainers": [{"name": "init", "image": "busybox:1.37"}]},
        {DS + ".initContainers[name=init].image": "busybox:1.37"},
        id="extraInitContainers",
    ),
    pytest.param(
        {
            "extraManifests": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "{{ .Release.Name }}-extra"}},
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
            ]
        },
        {"ConfigMap:metadata.name": "dsgate-extra", "Secret:metadata.name": "s"},
        id="extraManifests",
    ),
]


@pytest.mark.parametrize(("values", "expected"), ROWS)
def test_value_effect(render: Any, values: dict[str, Any], expected: dict[str, Any]) -> None:
    objs = render(CHART, values or None)
    for path, want in expected.items():
        assert dig(objs, path) == want, path


def _flat_keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        out.add(path)
        if isinstance(value, dict):
            out |= _flat_keys(value, path)
    return out


def test_every_value_has_a_row() -> None:
    leaves = {d.key for d in parse_values(CHART / "values.yaml") if d.default != ""}
    covered: set[str] = set()
    for row in ROWS:
        covered |= _flat_keys(row.values[0])
    assert sorted(leaves - covered) == []
