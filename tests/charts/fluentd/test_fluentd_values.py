"""Every value of the fluentd chart has a row here asserting its effect on the rendered objects or on
the parsed fluent.conf (real helm; one cached render per row). A meta-test fails when a value in
values.yaml has no row, or a row names a value that does not exist."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from dsgate.docs.chartdocs import parse_values, update_readme

from .support import CHART, MISSING, image_variant, lookup, render

pytestmark = pytest.mark.render

IMAGE = "docker.io/fluent/fluentd-kubernetes-daemonset"
TAG = "v1.19.2-debian-forward-1.0"
SPEC = "DaemonSet:spec.template.spec"
SECRET = {"secretKeyRef": {"name": "creds", "key": "pw"}}
ES = {"type": "elasticsearch", "elasticsearch": {"host": "es.local"}}
OS = {"type": "opensearch", "opensearch": {"host": "os.local"}}
HTTP = {"type": "http", "http": {"endpoint": "https://logs.example.com/in"}}
FWD = {"type": "forward", "forward": {"servers": [{"host": "agg.local"}]}}


@dataclass(frozen=True)
class Has:
    """The actual value (list or string) contains ITEM."""

    item: Any


@dataclass(frozen=True)
class Json:
    """The actual value is a JSON string equal to VALUE (Fluentd array/hash parameters)."""

    value: Any


@dataclass(frozen=True)
class Variant:
    """The rendered image's variant."""

    name: str


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def row(rid: str, covers: str, values: dict[str, Any], checks: dict[str, Any]) -> Any:
    return pytest.param(tuple(covers.split()), values, checks, id=rid)


ROWS = [
    # --- names, labels, images
    row(
        "global-registry",
        "global.imageRegistry",
        {"global": {"imageRegistry": "mirror.example.com"}},
        {
            "container:image": f"mirror.example.com/fluent/fluentd-kubernetes-daemonset:{TAG}",
            "Pod:spec.containers[0].image": f"mirror.example.com/fluent/fluentd-kubernetes-daemonset:{TAG}",
        },
    ),
    row(
        "pull-secrets",
        "global.imagePullSecrets imagePullSecrets",
        {"global": {"imagePullSecrets": ["a", {"name": "b"}]}, "imagePullSecrets": [{"name": "c"}]},
        {
            f"{SPEC}.imagePullSecrets": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "Pod:spec.imagePullSecrets": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        },
    ),
    row(
        "name-override",
        "nameOverride",
        {"nameOverride": "logs"},
        {
            "DaemonSet:metadata.name": "dsgate-logs",
            'DaemonSet:spec.selector.matchLabels."app.kubernetes.io/name"': "logs",
        },
    ),
    row(
        "fullname-override",
        "fullnameOverride",
        {"fullnameOverride": "collector"},
        {
            "DaemonSet:metadata.name": "collector",
            "ConfigMap:metadata.name": "collector",
            "conf:source[@type=tail]:exclude_path": Json(
                ["/var/log/containers/collector-*_dsgate-system_fluentd-*.log"]
            ),
        },
    ),
    row(
        "namespace-override",
        "namespaceOverride",
        {"namespaceOverride": "logging"},
        {
            "DaemonSet:metadata.namespace": "logging",
            "ClusterRoleBinding:subjects[0].namespace": "logging",
            "conf:source[@type=tail]:exclude_path": Json(
                ["/var/log/containers/dsgate-fluentd-*_logging_fluentd-*.log"]
            ),
        },
    ),
    row(
        "common-labels",
        "commonLabels",
        {"commonLabels": {"team": "obs"}},
        {
            "DaemonSet:metadata.labels.team": "obs",
            "ClusterRole:metadata.labels.team": "obs",
            "DaemonSet:spec.selector.matchLabels.team": MISSING,
        },
    ),
    row(
        "image-registry",
        "image.registry",
        {"image": {"registry": "quay.io"}},
        {"container:image": f"quay.io/fluent/fluentd-kubernetes-daemonset:{TAG}"},
    ),
    row(
        "image-repository",
        "image.repository",
        {"image": {"repository": "acme/fluentd"}},
        {"container:image": f"docker.io/acme/fluentd:{TAG}"},
    ),
    row(
        "image-variant",
        "image.variant",
        {"image": {"variant": "elasticsearch8"}},
        {"container:image": f"{IMAGE}:v1.19.2-debian-elasticsearch8-1.0"},
    ),
    row(
        "image-tag",
        "image.tag",
        {"image": {"tag": "v1.19.2-debian-forward-1.1"}},
        {"container:image": f"{IMAGE}:v1.19.2-debian-forward-1.1"},
    ),
    row(
        "image-digest",
        "image.digest",
        {"image": {"digest": "sha256:" + "a" * 64}},
        {"container:image": f"{IMAGE}:{TAG}@sha256:{'a' * 64}"},
    ),
    row(
        "image-pull-policy",
        "image.pullPolicy",
        {"image": {"pullPolicy": "Always"}},
        {"container:imagePullPolicy": "Always"},
    ),
    # --- runtime and log sources
    row(
        "runtime-containerd",
        "runtime",
        {},
        {"conf:source[@type=tail]/parse:@type": "cri", f"{SPEC}.volumes[name=dockercontainers]": MISSING},
    ),
    row(
        "runtime-docker",
        "runtime",
        {"runtime": "docker"},
        {
            "conf:source[@type=tail]/parse:@type": "json",
            "conf:source[@type=tail]/parse:time_format": "%Y-%m-%dT%H:%M:%S.%NZ",
            f"{SPEC}.volumes[name=dockercontainers].hostPath": {
                "path": "/var/lib/docker/containers",
                "type": "Directory",
            },
            "container:volumeMounts[name=dockercontainers]": {
                "name": "dockercontainers",
                "mountPath": "/var/lib/docker/containers",
                "readOnly": True,
            },
            "conf:filter[@type=concat]": MISSING,
        },
    ),
    row(
        "runtime-cri-o",
        "runtime",
        {"runtime": "cri-o", "logs": {"journal": {"enabled": True}}},
        {
            "conf:source[@type=tail]/parse:@type": "cri",
            "conf:source[@type=systemd]:matches": Json(
                [{"_SYSTEMD_UNIT": "kubelet.service"}, {"_SYSTEMD_UNIT": "crio.service"}]
            ),
        },
    ),
    row(
        "containers-disabled",
        "logs.containers.enabled",
        {"logs": {"containers": {"enabled": False}}},
        {
            "conf:source[@type=tail]": MISSING,
            "conf:filter[@type=kubernetes_metadata]": MISSING,
            "conf:filter[@type=concat]": MISSING,
        },
    ),
    row(
        "containers-tag",
        "logs.containers.tag",
        {"logs": {"containers": {"tag": "k8s.*"}}},
        {
            "conf:source[@type=tail]:tag": "k8s.*",
            "conf:filter[k8s.**]": "<filter k8s.**>",
            "conf:filter[kubernetes.**]": MISSING,
        },
    ),
    row(
        "containers-exclude",
        "logs.containers.excludePaths",
        {"logs": {"containers": {"excludePaths": ["/var/log/containers/noisy-*.log"]}}},
        {
            "conf:source[@type=tail]:exclude_path": Json(
                ["/var/log/containers/dsgate-fluentd-*_dsgate-system_fluentd-*.log", "/var/log/containers/noisy-*.log"]
            )
        },
    ),
    row(
        "containers-read-from-head",
        "logs.containers.readFromHead",
        {"logs": {"containers": {"readFromHead": False}}},
        {"conf:source[@type=tail]:read_from_head": "false"},
    ),
    row(
        "containers-no-partial-merge",
        "logs.containers.mergePartialLines",
        {"logs": {"containers": {"mergePartialLines": False}}},
        {"conf:filter[@type=concat]": MISSING, "conf:filter[@type=kubernetes_metadata]": "<filter kubernetes.**>"},
    ),
    row(
        "docker-data-root",
        "logs.containers.dockerDataRoot",
        {"runtime": "docker", "logs": {"containers": {"dockerDataRoot": "/data/docker/"}}},
        {
            f"{SPEC}.volumes[name=dockercontainers].hostPath.path": "/data/docker/containers",
            "container:volumeMounts[name=dockercontainers].mountPath": "/data/docker/containers",
        },
    ),
    row(
        "journal-enabled",
        "logs.journal.enabled",
        {"logs": {"journal": {"enabled": True}}},
        {
            "conf:source[@type=systemd]:path": "/var/log/journal",
            "conf:source[@type=systemd]/storage:path": "/var/lib/fluentd/pos/journal.json",
            f"{SPEC}.volumes[name=journal]": MISSING,
        },
    ),  # under /var/log: already mounted
    row(
        "journal-path",
        "logs.journal.path",
        {"logs": {"journal": {"enabled": True, "path": "/run/log/journal"}}},
        {
            "conf:source[@type=systemd]:path": "/run/log/journal",
            f"{SPEC}.volumes[name=journal].hostPath": {"path": "/run/log/journal", "type": "Directory"},
            "container:volumeMounts[name=journal].readOnly": True,
        },
    ),
    row(
        "journal-units",
        "logs.journal.units",
        {"logs": {"journal": {"enabled": True, "units": ["kubelet.service", "sshd.service"]}}},
        {
            "conf:source[@type=systemd]:matches": Json(
                [{"_SYSTEMD_UNIT": u} for u in ("kubelet.service", "sshd.service", "containerd.service")]
            )
        },
    ),
    row(
        "journal-tag",
        "logs.journal.tag",
        {"logs": {"journal": {"enabled": True, "tag": "node"}}},
        {"conf:source[@type=systemd]:tag": "node"},
    ),
    # --- positions and buffers
    row(
        "position-hostpath",
        "positionDb.hostPath",
        {"positionDb": {"hostPath": "/var/lib/fluentd/positions"}},
        {
            f"{SPEC}.volumes[name=positions].hostPath": {
                "path": "/var/lib/fluentd/positions",
                "type": "DirectoryOrCreate",
            },
            "container:volumeMounts[name=positions].mountPath": "/var/lib/fluentd/pos",
            "conf:source[@type=tail]:pos_file": "/var/lib/fluentd/pos/containers.log.pos",
        },
    ),
    row(
        "buffer-hostpath-type",
        "buffer.type",
        {"buffer": {"type": "hostPath"}},
        {
            f"{SPEC}.volumes[name=buffer]": {
                "name": "buffer",
                "hostPath": {"path": "/var/lib/fluentd/buffer", "type": "DirectoryOrCreate"},
            }
        },
    ),
    row(
        "buffer-hostpath",
        "buffer.hostPath",
        {"buffer": {"type": "hostPath", "hostPath": "/var/lib/fluentd/buf2"}},
        {f"{SPEC}.volumes[name=buffer].hostPath.path": "/var/lib/fluentd/buf2"},
    ),
    row(
        "buffer-size-limit",
        "buffer.sizeLimit",
        {"buffer": {"sizeLimit": "2Gi"}},
        {f"{SPEC}.volumes[name=buffer].emptyDir": {"sizeLimit": "2Gi"}},
    ),
    row(
        "buffer-chunk-limit",
        "buffer.chunkLimitSize",
        {"output": HTTP, "buffer": {"chunkLimitSize": "16MB"}},
        {
            "conf:match[**]/buffer:chunk_limit_size": "16MB",
            "conf:match[**]/buffer:path": "/var/lib/fluentd/buffer/out_http",
        },
    ),
    row(
        "buffer-total-limit",
        "buffer.totalLimitSize",
        {"output": HTTP, "buffer": {"totalLimitSize": "2GB"}},
        {"conf:match[**]/buffer:total_limit_size": "2GB"},
    ),
    row(
        "buffer-flush-interval",
        "buffer.flushInterval",
        {"output": HTTP, "buffer": {"flushInterval": "1s"}},
        {"conf:match[**]/buffer:flush_interval": "1s"},
    ),
    row(
        "buffer-flush-threads",
        "buffer.flushThreadCount",
        {"output": HTTP, "buffer": {"flushThreadCount": 8}},
        {"conf:match[**]/buffer:flush_thread_count": "8"},
    ),
    row(
        "buffer-retry-max",
        "buffer.retryMaxInterval",
        {"output": HTTP, "buffer": {"retryMaxInterval": "5m"}},
        {
            "conf:match[**]/buffer:retry_max_interval": "5m",
            "conf:match[**]/buffer:retry_forever": "true",
            "conf:match[**]/buffer:flush_at_shutdown": "true",
        },
    ),
    row(
        "buffer-overflow",
        "buffer.overflowAction",
        {"output": HTTP, "buffer": {"overflowAction": "drop_oldest_chunk"}},
        {"conf:match[**]/buffer:overflow_action": "drop_oldest_chunk"},
    ),
    # --- config assembly
    row("log-level", "config.logLevel", {"config": {"logLevel": "debug"}}, {"conf:system:log_level": "debug"}),
    row(
        "metadata-off",
        "config.kubernetesMetadata.enabled",
        {"config": {"kubernetesMetadata": {"enabled": False}}},
        {
            "conf:filter[@type=kubernetes_metadata]": MISSING,
            "ClusterRole": MISSING,
            "ClusterRoleBinding": MISSING,
            f"{SPEC}.automountServiceAccountToken": False,
        },
    ),
    row(
        "metadata-on",
        "config.kubernetesMetadata.enabled",
        {},
        {
            "conf:filter[@type=kubernetes_metadata]:watch": "true",
            "ClusterRole:rules": [
                {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]}
            ],
            f"{SPEC}.automountServiceAccountToken": True,
            "ServiceAccount:automountServiceAccountToken": False,
            "container:env[name=K8S_NODE_NAME].valueFrom.fieldRef.fieldPath": "spec.nodeName",
        },
    ),
    row(
        "metadata-skip-labels",
        "config.kubernetesMetadata.skipLabels",
        {"config": {"kubernetesMetadata": {"skipLabels": True}}},
        {"conf:filter[@type=kubernetes_metadata]:skip_labels": "true"},
    ),
    row(
        "metadata-skip-container",
        "config.kubernetesMetadata.skipContainerMetadata",
        {"config": {"kubernetesMetadata": {"skipContainerMetadata": True}}},
        {"conf:filter[@type=kubernetes_metadata]:skip_container_metadata": "true"},
    ),
    row(
        "metadata-skip-namespace",
        "config.kubernetesMetadata.skipNamespaceMetadata",
        {"config": {"kubernetesMetadata": {"skipNamespaceMetadata": True}}},
        {"conf:filter[@type=kubernetes_metadata]:skip_namespace_metadata": "true"},
    ),
    row(
        "extra-sources",
        "config.extraSources",
        {"config": {"extraSources": "<source>\n  @type sample\n  tag sample\n</source>\n"}},
        {"conf:source[@type=sample]:tag": "sample"},
    ),
    row(
        "extra-filters",
        "config.extraFilters",
        {
            "config": {
                "extraFilters": "<filter kubernetes.**>\n  @type grep\n  <exclude>\n    key message\n    pattern /healthz/\n  </exclude>\n</filter>\n"
            }
        },
        {"conf:filter[@type=grep]/exclude:pattern": "/healthz/"},
    ),
    row(
        "extra-files",
        "config.extraFiles",
        {
            "config": {
                "extraFiles": {
                    "enrich.conf": "<filter **>\n  @type record_transformer\n  <record>\n    cluster prod\n  </record>\n</filter>\n"
                }
            }
        },
        {
            "conf:filter[@type=record_transformer]/record:cluster": "prod",
            'ConfigMap:data."fluent.conf"': Has("@include enrich.conf\n@include outputs.conf"),
        },
    ),
    row(
        "existing-configmap",
        "existingConfigMap",
        {"existingConfigMap": "mine"},
        {"ConfigMap": MISSING, f"{SPEC}.volumes[name=config].configMap.name": "mine"},
    ),
    # --- outputs
    row(
        "output-stdout",
        "output.type",
        {},
        {"conf:match[**]:@type": "stdout", "conf:match[**]/buffer": MISSING, "image": Variant("forward")},
    ),
    row(
        "output-type-http",
        "output.type",
        {"output": HTTP},
        {"conf:match[**]:@type": "http", "image": Variant("forward")},
    ),
    row(
        "tls-ca-secret",
        "output.tlsCA.secretName",
        {"output": {**HTTP, "tlsCA": {"secretName": "ca"}}},
        {
            f"{SPEC}.volumes[name=tls-ca].secret": {"secretName": "ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]},
            "container:volumeMounts[name=tls-ca]": {"name": "tls-ca", "mountPath": "/fluentd/tls", "readOnly": True},
            "conf:match[**]:tls_ca_cert_path": "/fluentd/tls/ca.crt",
        },
    ),
    row(
        "tls-ca-key",
        "output.tlsCA.key",
        {"output": {**ES, "tlsCA": {"secretName": "ca", "key": "root.pem"}}},
        {
            f"{SPEC}.volumes[name=tls-ca].secret.items": [{"key": "root.pem", "path": "root.pem"}],
            "conf:match[**]:ca_file": "/fluentd/tls/root.pem",
        },
    ),
    row(
        "forward-servers",
        "output.forward.servers",
        {
            "output": {
                "type": "forward",
                "forward": {"servers": [{"host": "a.local", "port": 24225}, {"host": "b.local"}]},
            }
        },
        {
            "conf:match[**]:@type": "forward",
            "confall:match[**]/server:host": ["a.local", "b.local"],
            "confall:match[**]/server:port": ["24225", "24224"],
            "conf:match[**]/buffer:path": "/var/lib/fluentd/buffer/out_forward",
            "conf:match[**]:transport": MISSING,
        },
    ),
    row(
        "forward-tls",
        "output.forward.tls",
        {"output": deep_merge(FWD, {"forward": {"tls": True}})},
        {"conf:match[**]:transport": "tls", "conf:match[**]:tls_verify_hostname": "true"},
    ),
    row(
        "forward-tls-verify",
        "output.forward.tlsVerifyHostname",
        {"output": deep_merge(FWD, {"forward": {"tls": True, "tlsVerifyHostname": False}})},
        {"conf:match[**]:tls_verify_hostname": "false"},
    ),
    row(
        "forward-shared-key",
        "output.forward.sharedKey",
        {"output": deep_merge(FWD, {"forward": {"sharedKey": SECRET}})},
        {
            "container:env[name=FLUENT_FORWARD_SHARED_KEY].valueFrom.secretKeyRef": {"name": "creds", "key": "pw"},
            "conf:match[**]/security:shared_key": "#{ENV['FLUENT_FORWARD_SHARED_KEY']}",
            "conf:match[**]/security:self_hostname": "#{ENV['K8S_NODE_NAME']}",
        },
    ),
    row(
        "es-host",
        "output.elasticsearch.host",
        {"output": ES},
        {
            "conf:match[**]:@type": "elasticsearch",
            "conf:match[**]:host": "es.local",
            "conf:match[**]:suppress_type_name": "true",
            "image": Variant("elasticsearch8"),
        },
    ),
    row(
        "es-port",
        "output.elasticsearch.port",
        {"output": deep_merge(ES, {"elasticsearch": {"port": 9243}})},
        {"conf:match[**]:port": "9243"},
    ),
    row(
        "es-scheme",
        "output.elasticsearch.scheme",
        {"output": deep_merge(ES, {"elasticsearch": {"scheme": "http"}})},
        {"conf:match[**]:scheme": "http"},
    ),
    row(
        "es-ssl-verify",
        "output.elasticsearch.sslVerify",
        {"output": deep_merge(ES, {"elasticsearch": {"sslVerify": False}})},
        {"conf:match[**]:ssl_verify": "false"},
    ),
    row(
        "es-user",
        "output.elasticsearch.user",
        {"output": deep_merge(ES, {"elasticsearch": {"user": "fluentd"}})},
        {"conf:match[**]:user": "fluentd", "conf:match[**]:password": MISSING},
    ),
    row(
        "es-password",
        "output.elasticsearch.password",
        {"output": deep_merge(ES, {"elasticsearch": {"user": "fluentd", "password": SECRET}})},
        {
            "container:env[name=FLUENT_ELASTICSEARCH_PASSWORD].valueFrom.secretKeyRef": {"name": "creds", "key": "pw"},
            "conf:match[**]:password": "#{ENV['FLUENT_ELASTICSEARCH_PASSWORD']}",
        },
    ),
    row(
        "es-index-prefix",
        "output.elasticsearch.indexPrefix",
        {"output": deep_merge(ES, {"elasticsearch": {"indexPrefix": "k8s"}})},
        {"conf:match[**]:logstash_prefix": "k8s"},
    ),
    row(
        "os-host",
        "output.opensearch.host",
        {"output": OS},
        {"conf:match[**]:@type": "opensearch", "conf:match[**]:host": "os.local", "image": Variant("opensearch")},
    ),
    row(
        "os-port",
        "output.opensearch.port",
        {"output": deep_merge(OS, {"opensearch": {"port": 443}})},
        {"conf:match[**]:port": "443"},
    ),
    row(
        "os-scheme",
        "output.opensearch.scheme",
        {"output": deep_merge(OS, {"opensearch": {"scheme": "http"}})},
        {"conf:match[**]:scheme": "http"},
    ),
    row(
        "os-ssl-verify",
        "output.opensearch.sslVerify",
        {"output": deep_merge(OS, {"opensearch": {"sslVerify": False}})},
        {"conf:match[**]:ssl_verify": "false"},
    ),
    row(
        "os-user",
        "output.opensearch.user",
        {"output": deep_merge(OS, {"opensearch": {"user": "admin"}})},
        {"conf:match[**]:user": "admin"},
    ),
    row(
        "os-password",
        "output.opensearch.password",
        {"output": deep_merge(OS, {"opensearch": {"user": "admin", "password": SECRET}})},
        {
            "container:env[name=FLUENT_OPENSEARCH_PASSWORD].valueFrom.secretKeyRef": {"name": "creds", "key": "pw"},
            "conf:match[**]:password": "#{ENV['FLUENT_OPENSEARCH_PASSWORD']}",
        },
    ),
    row(
        "os-index-prefix",
        "output.opensearch.indexPrefix",
        {"output": deep_merge(OS, {"opensearch": {"indexPrefix": "k8s"}})},
        {"conf:match[**]:logstash_prefix": "k8s"},
    ),
    row(
        "http-endpoint",
        "output.http.endpoint",
        {"output": HTTP},
        {
            "conf:match[**]:endpoint": "https://logs.example.com/in",
            "conf:match[**]:json_array": "true",
            "conf:match[**]/format:@type": "json",
            "conf:match[**]/auth": MISSING,
        },
    ),
    row(
        "http-tls-verify",
        "output.http.tlsVerify",
        {"output": deep_merge(HTTP, {"http": {"tlsVerify": False}})},
        {"conf:match[**]:tls_verify_mode": "none"},
    ),
    row(
        "http-headers",
        "output.http.headers",
        {"output": deep_merge(HTTP, {"http": {"headers": {"X-Source": "k8s", "X-Env": "prod <eu>"}}})},
        {"conf:match[**]:headers": Json({"X-Env": "prod <eu>", "X-Source": "k8s"})},
    ),
    row(
        "http-username",
        "output.http.username",
        {"output": deep_merge(HTTP, {"http": {"username": "u", "password": SECRET}})},
        {"conf:match[**]/auth:username": "u", "conf:match[**]/auth:method": "basic"},
    ),
    row(
        "http-password",
        "output.http.password",
        {"output": deep_merge(HTTP, {"http": {"username": "u", "password": SECRET}})},
        {
            "container:env[name=FLUENT_HTTP_PASSWORD].valueFrom.secretKeyRef": {"name": "creds", "key": "pw"},
            "conf:match[**]/auth:password": "#{ENV['FLUENT_HTTP_PASSWORD']}",
        },
    ),
    # --- metrics, service, monitoring
    row(
        "metrics-port",
        "metrics.port",
        {"metrics": {"port": 24300}},
        {
            "container:ports[name=metrics].containerPort": 24300,
            "conf:source[@type=prometheus]:port": "24300",
            "container:readinessProbe.httpGet.port": "metrics",
        },
    ),
    row("metrics-bind", "metrics.bind", {"metrics": {"bind": "::"}}, {"conf:source[@type=prometheus]:bind": "::"}),
    row("service-disabled", "service.enabled", {"service": {"enabled": False}}, {"Service": MISSING, "Pod": MISSING}),
    row(
        "service-port",
        "service.port",
        {"service": {"port": 8080}},
        {
            "Service:spec.ports[0]": {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"},
            "Pod:spec.containers[0].command[4]": "http://dsgate-fluentd.dsgate-system.svc:8080/metrics",
        },
    ),
    row(
        "service-annotations",
        "service.annotations",
        {"service": {"annotations": {"a": "b"}}},
        {"Service:metadata.annotations": {"a": "b"}},
    ),
    row(
        "service-labels",
        "service.labels",
        {"service": {"labels": {"x": "y"}}},
        {"Service:metadata.labels.x": "y", "Service:spec.selector.x": MISSING},
    ),
    row(
        "servicemonitor",
        "serviceMonitor.enabled",
        {"serviceMonitor": {"enabled": True}},
        {
            "ServiceMonitor:spec.endpoints": [{"port": "metrics", "path": "/metrics"}],
            'ServiceMonitor:spec.selector.matchLabels."app.kubernetes.io/name"': "fluentd",
            "ServiceMonitor:spec.namespaceSelector.matchNames": ["dsgate-system"],
        },
    ),
    row(
        "servicemonitor-namespace",
        "serviceMonitor.namespace",
        {"serviceMonitor": {"enabled": True, "namespace": "monitoring"}},
        {"ServiceMonitor:metadata.namespace": "monitoring"},
    ),
    row(
        "servicemonitor-labels",
        "serviceMonitor.labels",
        {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}},
        {"ServiceMonitor:metadata.labels.release": "kps"},
    ),
    row(
        "servicemonitor-interval",
        "serviceMonitor.interval",
        {"serviceMonitor": {"enabled": True, "interval": "15s"}},
        {"ServiceMonitor:spec.endpoints[0].interval": "15s"},
    ),
    row(
        "servicemonitor-timeout",
        "serviceMonitor.scrapeTimeout",
        {"serviceMonitor": {"enabled": True, "scrapeTimeout": "5s"}},
        {"ServiceMonitor:spec.endpoints[0].scrapeTimeout": "5s"},
    ),
    row(
        "servicemonitor-relabelings",
        "serviceMonitor.relabelings",
        {"serviceMonitor": {"enabled": True, "relabelings": [{"targetLabel": "cluster", "replacement": "a"}]}},
        {"ServiceMonitor:spec.endpoints[0].relabelings": [{"targetLabel": "cluster", "replacement": "a"}]},
    ),
    row(
        "servicemonitor-metric-relabelings",
        "serviceMonitor.metricRelabelings",
        {"serviceMonitor": {"enabled": True, "metricRelabelings": [{"action": "drop", "regex": "x"}]}},
        {"ServiceMonitor:spec.endpoints[0].metricRelabelings": [{"action": "drop", "regex": "x"}]},
    ),
    # --- scheduling
    row(
        "node-selector",
        "nodeSelector",
        {"nodeSelector": {"role": "logs"}},
        {f"{SPEC}.nodeSelector": {"kubernetes.io/os": "linux", "role": "logs"}},
    ),
    row(
        "affinity-merged",
        "affinity",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                        ]
                    }
                }
            }
        },
        {
            f"{SPEC}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]": {
                "key": "zone",
                "operator": "In",
                "values": ["a"],
            },
            f"{SPEC}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].key": "eks.amazonaws.com/compute-type",
        },
    ),
    row(
        "virtual-nodes-off",
        "excludeVirtualNodes.enabled",
        {"excludeVirtualNodes": {"enabled": False}},
        {f"{SPEC}.affinity": MISSING},
    ),
    row(
        "virtual-nodes-exprs",
        "excludeVirtualNodes.matchExpressions",
        {"excludeVirtualNodes": {"matchExpressions": [{"key": "virtual", "operator": "DoesNotExist"}]}},
        {
            f"{SPEC}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": [
                {"matchExpressions": [{"key": "virtual", "operator": "DoesNotExist"}]}
            ]
        },
    ),
    row("tolerations-all", "tolerationPreset", {}, {f"{SPEC}.tolerations": [{"operator": "Exists"}]}),
    row(
        "tolerations-control-plane",
        "tolerationPreset",
        {"tolerationPreset": "controlPlane"},
        {
            f"{SPEC}.tolerations": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
            ]
        },
    ),
    row("tolerations-none", "tolerationPreset", {"tolerationPreset": "none"}, {f"{SPEC}.tolerations": MISSING}),
    row(
        "tolerations-extra",
        "tolerations",
        {"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]},
        {f"{SPEC}.tolerations": [{"operator": "Exists"}, {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]},
    ),
    row("priority-default", "priorityClassName", {}, {f"{SPEC}.priorityClassName": "system-node-critical"}),
    row("priority-off", "priorityClassName", {"priorityClassName": ""}, {f"{SPEC}.priorityClassName": MISSING}),
    # --- rollout and shutdown
    # the default budget: 10% of the nodes, rounded up (1 on up to 10 nodes, 100 on 1,000), with minReadySeconds 10
    row(
        "rollout-defaults",
        "updateStrategy.rollingUpdate.maxUnavailable",
        {},
        {
            "DaemonSet:spec.updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0},
            },
            "DaemonSet:spec.minReadySeconds": 10,
        },
    ),
    row(
        "on-delete",
        "updateStrategy.type",
        {"updateStrategy": {"type": "OnDelete"}},
        {"DaemonSet:spec.updateStrategy": {"type": "OnDelete"}},
    ),
    row(
        "max-unavailable",
        "updateStrategy.rollingUpdate.maxUnavailable",
        {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1}}},
        {
            "DaemonSet:spec.updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            }
        },
    ),
    row(
        "max-surge-zero-percent",
        "updateStrategy.rollingUpdate.maxSurge",
        {"updateStrategy": {"rollingUpdate": {"maxSurge": "0%"}}},
        {"DaemonSet:spec.updateStrategy.rollingUpdate.maxSurge": "0%"},
    ),
    row("min-ready", "minReadySeconds", {"minReadySeconds": 30}, {"DaemonSet:spec.minReadySeconds": 30}),
    row(
        "revision-history",
        "revisionHistoryLimit",
        {"revisionHistoryLimit": 3},
        {"DaemonSet:spec.revisionHistoryLimit": 3},
    ),
    row(
        "grace-period",
        "terminationGracePeriodSeconds",
        {"terminationGracePeriodSeconds": 120},
        {f"{SPEC}.terminationGracePeriodSeconds": 120},
    ),
    row("prestop-off", "preStop.enabled", {"preStop": {"enabled": False}}, {"container:lifecycle": MISSING}),
    row(
        "prestop-sleep",
        "preStop.sleepSeconds",
        {"preStop": {"sleepSeconds": 20}},
        {"container:lifecycle.preStop.exec.command": ["/bin/sh", "-c", "kill -USR1 1; sleep 20"]},
    ),
    # --- resources and probes
    row(
        "cpu-request",
        "resources.requests.cpu",
        {"resources": {"requests": {"cpu": "250m"}}},
        {"container:resources.requests.cpu": "250m"},
    ),
    row(
        "memory-request",
        "resources.requests.memory resources.limits.memory",
        {"resources": {"requests": {"memory": "512Mi"}, "limits": {"memory": "512Mi"}}},
        {"container:resources.requests.memory": "512Mi", "container:resources.limits.memory": "512Mi"},
    ),
    row(
        "cpu-limit",
        "resources.limits.cpu",
        {"resources": {"limits": {"cpu": "2"}}},
        {"container:resources.limits.cpu": "2"},
    ),
    row(
        "readiness",
        "readinessProbe.initialDelaySeconds readinessProbe.periodSeconds readinessProbe.timeoutSeconds readinessProbe.failureThreshold readinessProbe.successThreshold",
        {
            "readinessProbe": {
                "initialDelaySeconds": 1,
                "periodSeconds": 7,
                "timeoutSeconds": 3,
                "failureThreshold": 4,
                "successThreshold": 2,
            }
        },
        {
            "container:readinessProbe": {
                "httpGet": {"path": "/metrics", "port": "metrics"},
                "initialDelaySeconds": 1,
                "periodSeconds": 7,
                "timeoutSeconds": 3,
                "failureThreshold": 4,
                "successThreshold": 2,
            }
        },
    ),
    row(
        "liveness",
        "livenessProbe.initialDelaySeconds livenessProbe.periodSeconds livenessProbe.timeoutSeconds livenessProbe.failureThreshold",
        {"livenessProbe": {"initialDelaySeconds": 60, "periodSeconds": 45, "timeoutSeconds": 9, "failureThreshold": 6}},
        {
            "container:livenessProbe": {
                "httpGet": {"path": "/metrics", "port": "metrics"},
                "initialDelaySeconds": 60,
                "periodSeconds": 45,
                "timeoutSeconds": 9,
                "failureThreshold": 6,
            }
        },
    ),
    row("startup-off", "startupProbe.enabled", {}, {"container:startupProbe": MISSING}),
    row(
        "startup",
        "startupProbe.enabled startupProbe.periodSeconds startupProbe.timeoutSeconds startupProbe.failureThreshold",
        {"startupProbe": {"enabled": True, "periodSeconds": 3, "timeoutSeconds": 1, "failureThreshold": 100}},
        {
            "container:startupProbe": {
                "httpGet": {"path": "/metrics", "port": "metrics"},
                "periodSeconds": 3,
                "timeoutSeconds": 1,
                "failureThreshold": 100,
            }
        },
    ),
    # --- PDB
    row(
        "pdb-off",
        "podDisruptionBudget.enabled",
        {"podDisruptionBudget": {"enabled": False}},
        {"PodDisruptionBudget": MISSING},
    ),
    row(
        "pdb-min-available",
        "podDisruptionBudget.minAvailable",
        {"podDisruptionBudget": {"minAvailable": 2}},
        {"PodDisruptionBudget:spec.minAvailable": 2, "PodDisruptionBudget:spec.maxUnavailable": MISSING},
    ),
    row(
        "pdb-eviction-policy",
        "podDisruptionBudget.unhealthyPodEvictionPolicy",
        {"podDisruptionBudget": {"unhealthyPodEvictionPolicy": "IfHealthyBudget"}},
        {"PodDisruptionBudget:spec.unhealthyPodEvictionPolicy": "IfHealthyBudget"},
    ),
    # --- security
    row(
        "pod-seccomp",
        "podSecurityContext.seccompProfile.type",
        {"podSecurityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "fluentd.json"}}},
        {f"{SPEC}.securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "fluentd.json"}}},
    ),
    row(
        "root-by-default",
        "securityContext.runAsUser securityContext.runAsGroup securityContext.runAsNonRoot securityContext.readOnlyRootFilesystem securityContext.allowPrivilegeEscalation securityContext.capabilities.drop securityContext.seccompProfile.type",
        {},
        {
            "container:securityContext": {
                "runAsUser": 0,
                "runAsGroup": 0,
                "runAsNonRoot": False,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"], "add": []},
                "seccompProfile": {"type": "RuntimeDefault"},
            }
        },
    ),
    row(
        "non-root",
        "securityContext.runAsUser securityContext.runAsGroup securityContext.runAsNonRoot",
        {"securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True}},
        {
            "container:securityContext.runAsUser": 1000,
            "container:securityContext.runAsGroup": 1000,
            "container:securityContext.runAsNonRoot": True,
        },
    ),
    row(
        "capabilities",
        "securityContext.capabilities.add securityContext.capabilities.drop",
        {"securityContext": {"capabilities": {"drop": ["ALL", "NET_RAW"], "add": ["DAC_READ_SEARCH"]}}},
        {"container:securityContext.capabilities": {"drop": ["ALL", "NET_RAW"], "add": ["DAC_READ_SEARCH"]}},
    ),
    row(
        "container-seccomp",
        "securityContext.seccompProfile.type",
        {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}},
        {"container:securityContext.seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
    ),
    row(
        "sa-not-created",
        "serviceAccount.create",
        {"serviceAccount": {"create": False}},
        {
            "ServiceAccount": MISSING,
            f"{SPEC}.serviceAccountName": "default",
            "ClusterRoleBinding:subjects[0].name": "default",
        },
    ),
    row(
        "sa-name",
        "serviceAccount.name",
        {"serviceAccount": {"name": "logs-sa"}},
        {
            "ServiceAccount:metadata.name": "logs-sa",
            f"{SPEC}.serviceAccountName": "logs-sa",
            "ClusterRoleBinding:subjects[0].name": "logs-sa",
        },
    ),
    row(
        "sa-annotations",
        "serviceAccount.annotations",
        {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:x"}}},
        {'ServiceAccount:metadata.annotations."eks.amazonaws.com/role-arn"': "arn:x"},
    ),
    row(
        "rbac-off",
        "rbac.create",
        {"rbac": {"create": False}},
        {"ClusterRole": MISSING, "ClusterRoleBinding": MISSING, f"{SPEC}.automountServiceAccountToken": True},
    ),
    # --- optional objects
    row(
        "vpa",
        "verticalPodAutoscaler.enabled verticalPodAutoscaler.updateMode verticalPodAutoscaler.controlledResources verticalPodAutoscaler.controlledValues",
        {"verticalPodAutoscaler": {"enabled": True}},
        {
            "VerticalPodAutoscaler:spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "dsgate-fluentd"},
                "updatePolicy": {"updateMode": "Off"},
                "resourcePolicy": {
                    "containerPolicies": [
                        {
                            "containerName": "fluentd",
                            "controlledResources": ["cpu", "memory"],
                            "controlledValues": "RequestsAndLimits",
                        }
                    ]
                },
            }
        },
    ),
    row(
        "vpa-tuned",
        "verticalPodAutoscaler.updateMode verticalPodAutoscaler.controlledResources verticalPodAutoscaler.controlledValues verticalPodAutoscaler.minAllowed verticalPodAutoscaler.maxAllowed",
        {
            "verticalPodAutoscaler": {
                "enabled": True,
                "updateMode": "Recreate",
                "controlledResources": ["memory"],
                "controlledValues": "RequestsOnly",
                "minAllowed": {"memory": "128Mi"},
                "maxAllowed": {"memory": "1Gi"},
            }
        },
        {
            "VerticalPodAutoscaler:spec.updatePolicy.updateMode": "Recreate",
            "VerticalPodAutoscaler:spec.resourcePolicy.containerPolicies[0]": {
                "containerName": "fluentd",
                "controlledResources": ["memory"],
                "controlledValues": "RequestsOnly",
                "minAllowed": {"memory": "128Mi"},
                "maxAllowed": {"memory": "1Gi"},
            },
        },
    ),
    row("vpa-off", "verticalPodAutoscaler.enabled", {}, {"VerticalPodAutoscaler": MISSING}),
    row(
        "netpol",
        "networkPolicy.enabled",
        {"networkPolicy": {"enabled": True}},
        {
            "NetworkPolicy:spec.policyTypes": ["Ingress"],
            "NetworkPolicy:spec.ingress": [{"ports": [{"port": "metrics", "protocol": "TCP"}]}],
            "NetworkPolicy:spec.egress": MISSING,
        },
    ),
    row(
        "netpol-from",
        "networkPolicy.metricsFrom",
        {"networkPolicy": {"enabled": True, "metricsFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]}},
        {"NetworkPolicy:spec.ingress[0].from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]},
    ),
    row(
        "netpol-egress",
        "networkPolicy.egress",
        {"networkPolicy": {"enabled": True, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}},
        {
            "NetworkPolicy:spec.policyTypes": ["Ingress", "Egress"],
            "NetworkPolicy:spec.egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}],
        },
    ),
    row(
        "helm-test",
        "helmTest.enabled",
        {},
        {
            'Pod:metadata.annotations."helm.sh/hook"': "test",
            'Pod:metadata.labels."app.kubernetes.io/name"': "fluentd-test",
        },
    ),
    row("helm-test-off", "helmTest.enabled", {"helmTest": {"enabled": False}}, {"Pod": MISSING}),
    row("ds-annotations", "annotations", {"annotations": {"a": "b"}}, {"DaemonSet:metadata.annotations": {"a": "b"}}),
    row(
        "pod-annotations",
        "podAnnotations",
        {"podAnnotations": {"a": "b"}},
        {"DaemonSet:spec.template.metadata.annotations.a": "b"},
    ),
    row(
        "pod-labels",
        "podLabels",
        {"podLabels": {"tier": "logging", "x": "{{ .Release.Name }}"}},
        {
            "DaemonSet:spec.template.metadata.labels.tier": "logging",
            "DaemonSet:spec.template.metadata.labels.x": "dsgate",
            "DaemonSet:spec.selector.matchLabels.tier": MISSING,
        },
    ),
    row("extra-env", "extraEnv", {"extraEnv": [{"name": "X", "value": "1"}]}, {"container:env[name=X].value": "1"}),
    row(
        "extra-volumes",
        "extraVolumes extraVolumeMounts",
        {
            "extraVolumes": [{"name": "extra", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "extra", "mountPath": "/extra"}],
        },
        {
            f"{SPEC}.volumes[name=extra]": {"name": "extra", "emptyDir": {}},
            "container:volumeMounts[name=extra].mountPath": "/extra",
        },
    ),
    # every container carries cpu and memory requests and limits (the schema requires them of sidecars too)
    row(
        "extra-containers",
        "extraContainers",
        {
            "extraContainers": [
                {
                    "name": "sidecar",
                    "image": "busybox:1.37",
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "50m", "memory": "16Mi"},
                    },
                }
            ]
        },
        {
            f"{SPEC}.containers[name=sidecar].image": "busybox:1.37",
            f"{SPEC}.containers[name=sidecar].resources.limits.memory": "16Mi",
        },
    ),
    row(
        "extra-init-containers",
        "extraInitContainers",
        {"extraInitContainers": [{"name": "init", "image": "busybox:1.37"}]},
        {f"{SPEC}.initContainers[name=init].image": "busybox:1.37"},
    ),
    # regressions the property tests found: numeric-looking strings stay strings, a null affinity still gets the
    # virtual-node rules, no rules leaves the affinity alone, extra files keep their leading whitespace
    row(
        "numeric-looking-strings",
        "priorityClassName nameOverride",
        {"priorityClassName": "0", "nameOverride": "1e3"},
        {
            f"{SPEC}.priorityClassName": "0",
            'DaemonSet:spec.selector.matchLabels."app.kubernetes.io/name"': "1e3",
            "Service:metadata.name": "dsgate-1e3",
        },
    ),
    row(
        "affinity-null",
        "affinity",
        {"affinity": None},
        {
            f"{SPEC}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key": "eks.amazonaws.com/compute-type"
        },
    ),
    row(
        "no-virtual-node-rules",
        "excludeVirtualNodes.matchExpressions",
        {"excludeVirtualNodes": {"matchExpressions": []}},
        {f"{SPEC}.affinity": MISSING},
    ),
    row(
        "extra-file-verbatim",
        "config.extraFiles",
        {"config": {"extraFiles": {"raw.conf": "  indented first line\r\n\tlast"}}},
        {'ConfigMap:data."raw.conf"': "  indented first line\r\n\tlast"},
    ),
    row(
        "extra-manifests",
        "extraManifests",
        {
            "extraManifests": [
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "{{ .Release.Name }}-extra"}},
                "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: lr\n",
            ]
        },
        {"Secret:metadata.name": "dsgate-extra", "LimitRange:metadata.name": "lr"},
    ),
]


def _matches(actual: Any, expected: Any, objs: list[dict[str, Any]]) -> bool:
    if isinstance(expected, Has):
        return actual is not MISSING and expected.item in actual
    if isinstance(expected, Json):
        return actual is not MISSING and json.loads(actual) == expected.value
    if isinstance(expected, Variant):
        return image_variant(objs) == expected.name
    return actual == expected


@pytest.mark.parametrize(("covers", "values", "checks"), ROWS)
def test_value_effect(covers: tuple[str, ...], values: dict[str, Any], checks: dict[str, Any]) -> None:
    objs = render(values)
    wrong = {}
    for target, expected in checks.items():
        actual = None if isinstance(expected, Variant) else lookup(objs, target)
        if not _matches(actual, expected, objs):
            wrong[target] = {
                "expected": expected,
                "actual": actual if not isinstance(expected, Variant) else image_variant(objs),
            }
    assert wrong == {}


def test_every_value_has_a_row() -> None:
    rows = parse_values(CHART / "values.yaml")
    keys = [r.key for r in rows]
    leaves = {k for k in keys if not any(o.startswith(k + ".") for o in keys)}
    covered = {key for param in ROWS for key in param.values[0]}
    assert sorted(leaves - covered) == [], "values without a row"
    assert sorted(covered - leaves) == [], "rows naming values that do not exist"


def test_readme_values_table_is_current() -> None:
    """The README table is what `python -m dsgate.docs.chartdocs charts/fluentd` generates (every key documented)."""
    assert update_readme(CHART, check=True) is False, (
        "README is stale: run 'python -m dsgate.docs.chartdocs charts/fluentd'"
    )
    readme = (CHART / "README.md").read_text()
    rows = parse_values(CHART / "values.yaml")
    assert all(f"| {r.key} |" in readme for r in rows)
