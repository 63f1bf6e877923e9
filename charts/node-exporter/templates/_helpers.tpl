{{/*
The names, labels, image reference, pull secrets, toleration presets, affinity and the shared guards
come from the dsgate-common library chart (charts/dsgate-common, a dependency in Chart.yaml); this file
holds what only this chart needs.
*/}}

{{/*
node-exporter.image: the node_exporter image reference (tag defaults to v + appVersion).
*/}}
{{- define "node-exporter.image" -}}
{{- include "dsgate-common.imageRef" (dict "image" .Values.image "global" .Values.global "defaultTag" (printf "v%s" .Chart.AppVersion)) }}
{{- end }}

{{/*
node-exporter.proxyImage: the kube-rbac-proxy image reference.
*/}}
{{- define "node-exporter.proxyImage" -}}
{{- include "dsgate-common.imageRef" (dict "image" .Values.kubeRBACProxy.image "global" .Values.global "defaultTag" "") }}
{{- end }}

{{/*
node-exporter.listenAddress: host:port node_exporter binds (loopback behind kube-rbac-proxy).
*/}}
{{- define "node-exporter.listenAddress" -}}
{{- if .Values.kubeRBACProxy.enabled }}
{{- printf "127.0.0.1:%d" (int .Values.kubeRBACProxy.upstreamPort) }}
{{- else if hasPrefix "[" .Values.listenAddress }}
{{- printf "%s:%d" .Values.listenAddress (int .Values.port) }}
{{- else if contains ":" .Values.listenAddress }}
{{- printf "[%s]:%d" .Values.listenAddress (int .Values.port) }}
{{- else }}
{{- printf "%s:%d" .Values.listenAddress (int .Values.port) }}
{{- end }}
{{- end }}

{{/*
node-exporter.probeHandler: how the kubelet probes node_exporter. Directly on the metrics port; behind
kube-rbac-proxy node_exporter listens on loopback only, which the kubelet reaches as 127.0.0.1 on the host
network, and otherwise only from inside the pod (exec wget, the image is busybox-based).
*/}}
{{- define "node-exporter.probeHandler" -}}
{{- if not .Values.kubeRBACProxy.enabled }}
httpGet:
  path: /
  port: metrics
  scheme: HTTP
{{- else if .Values.hostNetwork }}
httpGet:
  host: 127.0.0.1
  path: /
  port: {{ .Values.kubeRBACProxy.upstreamPort | int64 }}
  scheme: HTTP
{{- else }}
exec:
  command: ["wget", "-q", "-O", "/dev/null", "-T", "5", {{ printf "http://127.0.0.1:%d/" (int64 .Values.kubeRBACProxy.upstreamPort) | quote }}]
{{- end }}
{{- end }}

{{/*
node-exporter.quotedMap: a string map (annotations) as `"key": "value"` lines. `quote` escapes every
character; toYaml would emit some values (a lone "=") plain, which not every YAML reader takes as a string.
*/}}
{{- define "node-exporter.quotedMap" -}}
{{- range $key, $value := . }}
{{ quote $key }}: {{ quote $value }}
{{- end }}
{{- end }}

{{/*
node-exporter.intOrString: an int-or-string value as YAML: a quoted string, or an integer (never a float such
as 1e+06, which is how helm prints large numbers it read as float64).
*/}}
{{- define "node-exporter.intOrString" -}}
{{- if kindIs "string" . }}{{ quote . }}{{ else }}{{ int64 . }}{{ end }}
{{- end }}

{{/*
node-exporter.scheme: scrape scheme for monitors (https behind kube-rbac-proxy).
*/}}
{{- define "node-exporter.scheme" -}}
{{- .scheme | default (ternary "https" "http" .proxy) }}
{{- end }}

{{/*
node-exporter.validate: cross-field rules the schema cannot express (dsgate-common's shared guards and this
chart's own); fails once with every message and its fix.
*/}}
{{- define "node-exporter.validate" -}}
{{- include "dsgate-common.yamlGuard" . }}
{{- $v := .Values }}
{{- $msgs := include "dsgate-common.guards" . | fromYamlArray }}
{{- range $key, $image := dict "image" $v.image "kubeRBACProxy.image" $v.kubeRBACProxy.image }}
{{- if and (eq $image.tag "latest") (not $image.digest) }}
{{- $msgs = append $msgs (printf "%s.tag=latest is not a pinned version: every node could run a different build and a rollout cannot be reproduced or rolled back. Set %s.tag to a release (e.g. v1.2.3) or set %s.digest." $key $key $key) }}
{{- end }}
{{- end }}
{{- $ru := $v.updateStrategy.rollingUpdate }}
{{- $surge := toString $ru.maxSurge }}
{{- if and (eq $v.updateStrategy.type "RollingUpdate") (ne $surge "0") (ne $surge "0%") $v.hostNetwork }}
{{- $msgs = append $msgs (printf "updateStrategy.rollingUpdate.maxSurge=%s cannot be used with hostNetwork (hostPort %d): the surge pod starts on the same node while the old pod still holds the port, so it can never bind and the rollout stalls. Set maxSurge to 0, or hostNetwork to false." $surge (int $v.port)) }}
{{- end }}
{{- if and $v.hostNetwork $v.dnsPolicy (ne $v.dnsPolicy "ClusterFirstWithHostNet") }}
{{- $msgs = append $msgs (printf "dnsPolicy=%s with hostNetwork: pods on the host network must use ClusterFirstWithHostNet to resolve cluster names. Leave dnsPolicy empty or set hostNetwork to false." $v.dnsPolicy) }}
{{- end }}
{{- if and $v.kubeRBACProxy.enabled (or (eq (int $v.kubeRBACProxy.upstreamPort) (int $v.port)) (eq (int $v.kubeRBACProxy.healthPort) (int $v.port)) (eq (int $v.kubeRBACProxy.upstreamPort) (int $v.kubeRBACProxy.healthPort))) }}
{{- $msgs = append $msgs "kubeRBACProxy.upstreamPort, kubeRBACProxy.healthPort and port must all differ: the containers share one network namespace." }}
{{- end }}
{{- include "dsgate-common.fail" (dict "context" . "messages" $msgs) }}
{{- end }}
