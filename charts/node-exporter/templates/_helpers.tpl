{{/*
node-exporter.component: the app.kubernetes.io/component of every object of this chart.
*/}}
{{- define "node-exporter.component" -}}
metrics
{{- end }}

{{/*
The helpers between the SHARED markers are the same in charts/node-exporter and charts/fluentd but for
the chart prefix (tests/charts/test_shared_helpers.py checks it, and renders both for the same input).
*/}}
{{- /* BEGIN SHARED HELPERS */}}

{{/*
node-exporter.yamlGuard: fails when a value holds a character YAML cannot carry (DEL, the C1 controls but NEL,
U+FFFE, U+FFFF). helm's toYaml renders nothing, silently, for such a string: the chart's own strings
exclude them in the schema, the pass-through Kubernetes types cannot, so every top-level value is
checked here, once, instead of being dropped where it is used.
*/}}
{{- define "node-exporter.yamlGuard" -}}
{{- range $key, $value := .Values }}
{{- if and $value (not (toYaml $value)) }}
{{- fail (printf "%s holds a character YAML cannot carry (U+007F-U+0084, U+0086-U+009F, U+FFFE or U+FFFF), so helm would silently drop the whole value: remove it." $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
node-exporter.name: the chart name, or nameOverride; value of app.kubernetes.io/name.
*/}}
{{- define "node-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
node-exporter.fullname: the base name of every object, truncated to 63 characters (DNS label limit) without
leading or trailing dashes.
*/}}
{{- define "node-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimAll "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimAll "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimAll "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
node-exporter.namespace: the namespace of every namespaced object.
*/}}
{{- define "node-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
node-exporter.chart: chart name and version, for the helm.sh/chart label (metadata only).
*/}}
{{- define "node-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
node-exporter.selectorLabels: the immutable selector (name + instance only, never the version).
*/}}
{{- define "node-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "node-exporter.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/*
node-exporter.labels: standard labels for object metadata plus commonLabels (templated; standard keys win).
*/}}
{{- define "node-exporter.labels" -}}
{{- $std := include "node-exporter.selectorLabels" . | fromYaml }}
{{- $_ := set $std "helm.sh/chart" (include "node-exporter.chart" .) }}
{{- $_ = set $std "app.kubernetes.io/version" .Chart.AppVersion }}
{{- $_ = set $std "app.kubernetes.io/managed-by" .Release.Service }}
{{- $_ = set $std "app.kubernetes.io/component" (include "node-exporter.component" .) }}
{{- $_ = set $std "app.kubernetes.io/part-of" (include "node-exporter.name" .) }}
{{- with .Values.commonLabels }}{{/* tpl copies every template of the chart: only when there is something to template */}}
{{- $std = merge $std (tpl (toYaml .) $ | fromYaml) }}
{{- end }}
{{- toYaml $std }}
{{- end }}

{{/*
node-exporter.podLabels: pod template labels: the standard labels plus podLabels (templated; standard keys win).
*/}}
{{- define "node-exporter.podLabels" -}}
{{- $labels := include "node-exporter.labels" . | fromYaml }}
{{- with .Values.podLabels }}
{{- $labels = merge $labels (tpl (toYaml .) $ | fromYaml) }}
{{- end }}
{{- toYaml $labels }}
{{- end }}

{{/*
node-exporter.serviceAccountName: the ServiceAccount the pods run as.
*/}}
{{- define "node-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "node-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
node-exporter.imageRef: registry/repository[:tag][@digest] for an image block; with a digest the tag stays (readable)
and the kubelet pulls by the digest. Call with (dict "image" <image block> "global" .Values.global "defaultTag" "v1.2.3").
*/}}
{{- define "node-exporter.imageRef" -}}
{{- $registry := .global.imageRegistry | default .image.registry }}
{{- $repo := ternary (printf "%s/%s" $registry .image.repository) .image.repository (ne $registry "") }}
{{- $repo }}{{ with .image.tag | default .defaultTag }}:{{ . }}{{ end }}{{ with .image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
node-exporter.imagePullSecrets: global plus chart pull secrets; global entries may be plain names.
*/}}
{{- define "node-exporter.imagePullSecrets" -}}
{{- $secrets := list }}
{{- range .Values.global.imagePullSecrets }}
{{- $secrets = append $secrets (ternary (dict "name" .) . (kindIs "string" .)) }}
{{- end }}
{{- range .Values.imagePullSecrets }}
{{- $secrets = append $secrets . }}
{{- end }}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- /* END SHARED HELPERS */}}

{{/*
node-exporter.image: the node_exporter image reference (tag defaults to v + appVersion).
*/}}
{{- define "node-exporter.image" -}}
{{- include "node-exporter.imageRef" (dict "image" .Values.image "global" .Values.global "defaultTag" (printf "v%s" .Chart.AppVersion)) }}
{{- end }}

{{/*
node-exporter.proxyImage: the kube-rbac-proxy image reference.
*/}}
{{- define "node-exporter.proxyImage" -}}
{{- include "node-exporter.imageRef" (dict "image" .Values.kubeRBACProxy.image "global" .Values.global "defaultTag" "") }}
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
node-exporter.tolerations: the preset tolerations followed by .Values.tolerations.
*/}}
{{- define "node-exporter.tolerations" -}}
{{- $preset := list }}
{{- if eq .Values.tolerationPreset "all" }}
{{- $preset = list (dict "operator" "Exists") }}
{{- else if eq .Values.tolerationPreset "controlPlane" }}
{{- $preset = list (dict "key" "node-role.kubernetes.io/control-plane" "operator" "Exists") }}
{{- end }}
{{- $all := concat $preset .Values.tolerations }}
{{- with $all }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
node-exporter.affinity: .Values.affinity with the virtual-node exclusion added to every required node term.
*/}}
{{- define "node-exporter.affinity" -}}
{{- $affinity := deepCopy (.Values.affinity | default dict) }}
{{- if and .Values.excludeVirtualNodes.enabled .Values.excludeVirtualNodes.matchExpressions }}
{{- $nodeAffinity := get $affinity "nodeAffinity" | default dict }}
{{- $required := get $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution" | default dict }}
{{- $exclusions := .Values.excludeVirtualNodes.matchExpressions | default list }}
{{- $merged := list }}
{{- range get $required "nodeSelectorTerms" | default list }}
{{- $term := . | default dict }}
{{- if or (get $term "matchExpressions") (get $term "matchFields") }}
{{- $exprs := concat (get $term "matchExpressions" | default list) $exclusions }}
{{- $merged = append $merged (merge (dict "matchExpressions" $exprs) $term) }}
{{- else }}
{{- /* a null or empty term matches no node; adding the exclusions would make it match */}}
{{- $merged = append $merged $term }}
{{- end }}
{{- end }}
{{- if not $merged }}
{{- $merged = list (dict "matchExpressions" $exclusions) }}
{{- end }}
{{- $_ := set $required "nodeSelectorTerms" $merged }}
{{- $_ = set $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution" $required }}
{{- $_ = set $affinity "nodeAffinity" $nodeAffinity }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
node-exporter.validate: cross-field rules the schema cannot express; fails with the reason and the fix.
*/}}
{{- define "node-exporter.validate" -}}
{{- include "node-exporter.yamlGuard" . }}
{{- $v := .Values }}
{{- range $key, $image := dict "image" $v.image "kubeRBACProxy.image" $v.kubeRBACProxy.image }}
{{- if and (eq $image.tag "latest") (not $image.digest) }}
{{- fail (printf "%s.tag=latest is not a pinned version: every node could run a different build and a rollout cannot be reproduced or rolled back. Set %s.tag to a release (e.g. v1.2.3) or set %s.digest." $key $key $key) }}
{{- end }}
{{- end }}
{{- $pdb := $v.podDisruptionBudget }}
{{- if hasKey $pdb "maxUnavailable" }}
{{- fail "podDisruptionBudget.maxUnavailable is not supported: the disruption controller cannot compute the expected pod count of a DaemonSet (it has no scale subresource), so a PDB with maxUnavailable blocks every eviction. Use an integer podDisruptionBudget.minAvailable." }}
{{- end }}
{{- if kindIs "string" $pdb.minAvailable }}
{{- fail (printf "podDisruptionBudget.minAvailable must be an integer, got %q: the disruption controller cannot compute the expected pod count of a DaemonSet (it has no scale subresource), so a percentage blocks every eviction." $pdb.minAvailable) }}
{{- end }}
{{- $ru := $v.updateStrategy.rollingUpdate }}
{{- if eq $v.updateStrategy.type "RollingUpdate" }}
{{- $surge := toString $ru.maxSurge }}
{{- if and (ne $surge "0") (ne $surge "0%") $v.hostNetwork }}
{{- fail (printf "updateStrategy.rollingUpdate.maxSurge=%s cannot be used with hostNetwork (hostPort %d): the surge pod starts on the same node while the old pod still holds the port, so it can never bind and the rollout stalls. Set maxSurge to 0, or hostNetwork to false." $surge (int $v.port)) }}
{{- end }}
{{- $unavailable := toString $ru.maxUnavailable }}
{{- if and (or (eq $surge "0") (eq $surge "0%")) (or (eq $unavailable "0") (eq $unavailable "0%")) }}
{{- fail "updateStrategy.rollingUpdate.maxUnavailable and maxSurge are both 0: the rollout could never replace a pod. Set maxUnavailable to at least 1." }}
{{- end }}
{{- end }}
{{- if and $v.hostNetwork $v.dnsPolicy (ne $v.dnsPolicy "ClusterFirstWithHostNet") }}
{{- fail (printf "dnsPolicy=%s with hostNetwork: pods on the host network must use ClusterFirstWithHostNet to resolve cluster names. Leave dnsPolicy empty or set hostNetwork to false." $v.dnsPolicy) }}
{{- end }}
{{- if and $v.kubeRBACProxy.enabled (or (eq (int $v.kubeRBACProxy.upstreamPort) (int $v.port)) (eq (int $v.kubeRBACProxy.healthPort) (int $v.port)) (eq (int $v.kubeRBACProxy.upstreamPort) (int $v.kubeRBACProxy.healthPort))) }}
{{- fail "kubeRBACProxy.upstreamPort, kubeRBACProxy.healthPort and port must all differ: the containers share one network namespace." }}
{{- end }}
{{- if and $v.serviceMonitor.enabled (not $v.service.enabled) }}
{{- fail "serviceMonitor.enabled requires service.enabled: a ServiceMonitor discovers targets through the Service. Enable the Service or use podMonitor." }}
{{- end }}
{{- end }}
