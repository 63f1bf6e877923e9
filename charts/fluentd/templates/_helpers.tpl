{{/*
fluentd.component: the app.kubernetes.io/component of every object of this chart.
*/}}
{{- define "fluentd.component" -}}
log-collector
{{- end }}

{{/*
The helpers between the SHARED markers are the same in charts/node-exporter and charts/fluentd but for
the chart prefix (tests/charts/test_shared_helpers.py checks it, and renders both for the same input).
*/}}
{{- /* BEGIN SHARED HELPERS */}}

{{/*
fluentd.yamlGuard: fails when a value holds a character YAML cannot carry (DEL, the C1 controls but NEL,
U+FFFE, U+FFFF). helm's toYaml renders nothing, silently, for such a string: the chart's own strings
exclude them in the schema, the pass-through Kubernetes types cannot, so every top-level value is
checked here, once, instead of being dropped where it is used.
*/}}
{{- define "fluentd.yamlGuard" -}}
{{- range $key, $value := .Values }}
{{- if and $value (not (toYaml $value)) }}
{{- fail (printf "%s holds a character YAML cannot carry (U+007F-U+0084, U+0086-U+009F, U+FFFE or U+FFFF), so helm would silently drop the whole value: remove it." $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
fluentd.name: the chart name, or nameOverride; value of app.kubernetes.io/name.
*/}}
{{- define "fluentd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
fluentd.fullname: the base name of every object, truncated to 63 characters (DNS label limit) without
leading or trailing dashes.
*/}}
{{- define "fluentd.fullname" -}}
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
fluentd.namespace: the namespace of every namespaced object.
*/}}
{{- define "fluentd.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
fluentd.chart: chart name and version, for the helm.sh/chart label (metadata only).
*/}}
{{- define "fluentd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
fluentd.selectorLabels: the immutable selector (name + instance only, never the version).
*/}}
{{- define "fluentd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fluentd.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/*
fluentd.labels: standard labels for object metadata plus commonLabels (templated; standard keys win).
*/}}
{{- define "fluentd.labels" -}}
{{- $std := include "fluentd.selectorLabels" . | fromYaml }}
{{- $_ := set $std "helm.sh/chart" (include "fluentd.chart" .) }}
{{- $_ = set $std "app.kubernetes.io/version" .Chart.AppVersion }}
{{- $_ = set $std "app.kubernetes.io/managed-by" .Release.Service }}
{{- $_ = set $std "app.kubernetes.io/component" (include "fluentd.component" .) }}
{{- $_ = set $std "app.kubernetes.io/part-of" (include "fluentd.name" .) }}
{{- with .Values.commonLabels }}{{/* tpl copies every template of the chart: only when there is something to template */}}
{{- $std = merge $std (tpl (toYaml .) $ | fromYaml) }}
{{- end }}
{{- toYaml $std }}
{{- end }}

{{/*
fluentd.podLabels: pod template labels: the standard labels plus podLabels (templated; standard keys win).
*/}}
{{- define "fluentd.podLabels" -}}
{{- $labels := include "fluentd.labels" . | fromYaml }}
{{- with .Values.podLabels }}
{{- $labels = merge $labels (tpl (toYaml .) $ | fromYaml) }}
{{- end }}
{{- toYaml $labels }}
{{- end }}

{{/*
fluentd.serviceAccountName: the ServiceAccount the pods run as.
*/}}
{{- define "fluentd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fluentd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
fluentd.imageRef: registry/repository[:tag][@digest] for an image block; with a digest the tag stays (readable)
and the kubelet pulls by the digest. Call with (dict "image" <image block> "global" .Values.global "defaultTag" "v1.2.3").
*/}}
{{- define "fluentd.imageRef" -}}
{{- $registry := .global.imageRegistry | default .image.registry }}
{{- $repo := ternary (printf "%s/%s" $registry .image.repository) .image.repository (ne $registry "") }}
{{- $repo }}{{ with .image.tag | default .defaultTag }}:{{ . }}{{ end }}{{ with .image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
fluentd.imagePullSecrets: global plus chart pull secrets; global entries may be plain names.
*/}}
{{- define "fluentd.imagePullSecrets" -}}
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
fluentd.variant: the image variant: image.variant, else the one whose plugins include the output.
*/}}
{{- define "fluentd.variant" -}}
{{- $byOutput := dict "elasticsearch" "elasticsearch8" "opensearch" "opensearch" }}
{{- .Values.image.variant | default (get $byOutput .Values.output.type) | default "forward" }}
{{- end }}

{{/*
fluentd.image: the Fluentd image reference; the tag defaults to v<appVersion>-debian-<variant>-1.0.
*/}}
{{- define "fluentd.image" -}}
{{- include "fluentd.imageRef" (dict "image" .Values.image "global" .Values.global "defaultTag" (printf "v%s-debian-%s-1.0" .Chart.AppVersion (include "fluentd.variant" .))) }}
{{- end }}

{{/*
fluentd.configMapName: the ConfigMap mounted at /fluentd/etc (generated, or existingConfigMap).
*/}}
{{- define "fluentd.configMapName" -}}
{{- .Values.existingConfigMap | default (include "fluentd.fullname" .) }}
{{- end }}

{{/*
fluentd.cri: "true" when the runtime writes CRI-format logs (containerd, cri-o), else "".
*/}}
{{- define "fluentd.cri" -}}
{{- if has .Values.runtime (list "containerd" "cri-o") }}true{{ end }}
{{- end }}

{{/*
fluentd.runtimeUnit: the container runtime's systemd unit.
*/}}
{{- define "fluentd.runtimeUnit" -}}
{{- get (dict "containerd" "containerd.service" "cri-o" "crio.service" "docker" "docker.service") .Values.runtime }}
{{- end }}

{{/*
fluentd.dockerContainersPath: where docker keeps container logs (runtime docker).
*/}}
{{- define "fluentd.dockerContainersPath" -}}
{{- printf "%s/containers" (.Values.logs.containers.dockerDataRoot | trimSuffix "/") }}
{{- end }}

{{/*
fluentd.journalMounted: "true" when the journal needs its own mount (enabled and not under /var/log).
*/}}
{{- define "fluentd.journalMounted" -}}
{{- $p := .Values.logs.journal.path | trimSuffix "/" }}
{{- if and .Values.logs.journal.enabled (ne $p "/var/log") (not (hasPrefix "/var/log/" $p)) }}true{{ end }}
{{- end }}

{{/*
fluentd.secretEnv: the env variables that carry output credentials, as a list of
{name, ref} dicts (ref = {name, key}), for the selected output only.
*/}}
{{- define "fluentd.secretEnv" -}}
{{- $out := .Values.output }}
{{- $env := list }}
{{- if and (eq $out.type "forward") $out.forward.sharedKey.secretKeyRef }}
{{- $env = append $env (dict "name" "FLUENT_FORWARD_SHARED_KEY" "ref" $out.forward.sharedKey.secretKeyRef) }}
{{- end }}
{{- if and (eq $out.type "elasticsearch") $out.elasticsearch.password.secretKeyRef }}
{{- $env = append $env (dict "name" "FLUENT_ELASTICSEARCH_PASSWORD" "ref" $out.elasticsearch.password.secretKeyRef) }}
{{- end }}
{{- if and (eq $out.type "opensearch") $out.opensearch.password.secretKeyRef }}
{{- $env = append $env (dict "name" "FLUENT_OPENSEARCH_PASSWORD" "ref" $out.opensearch.password.secretKeyRef) }}
{{- end }}
{{- if and (eq $out.type "http") $out.http.password.secretKeyRef }}
{{- $env = append $env (dict "name" "FLUENT_HTTP_PASSWORD" "ref" $out.http.password.secretKeyRef) }}
{{- end }}
{{- toYaml (dict "env" $env) }}
{{- end }}

{{/*
fluentd.validate: cross-field rules the schema cannot express; fails once with every message and its fix.
*/}}
{{- define "fluentd.validate" -}}
{{- include "fluentd.yamlGuard" . }}
{{- $msgs := list }}
{{- $ru := .Values.updateStrategy.rollingUpdate }}
{{- if and (eq .Values.updateStrategy.type "RollingUpdate") (not (has (toString $ru.maxSurge) (list "0" "0%"))) }}
{{- $msgs = append $msgs (printf "updateStrategy.rollingUpdate.maxSurge is %v: it must be 0. A surge pod would run beside the old one on the same node, tail the same files with the same position database (%s) and ship every line twice. Roll with maxUnavailable instead." $ru.maxSurge .Values.positionDb.hostPath) }}
{{- end }}
{{- if and (eq .Values.updateStrategy.type "RollingUpdate") (has (toString $ru.maxUnavailable) (list "0" "0%")) }}
{{- $msgs = append $msgs "updateStrategy.rollingUpdate.maxUnavailable is 0: with maxSurge 0 the rollout could never replace a pod. Use 1 or a percentage such as 10%." }}
{{- end }}
{{- if hasKey .Values.podDisruptionBudget "maxUnavailable" }}
{{- $msgs = append $msgs "podDisruptionBudget.maxUnavailable is not supported: the disruption controller cannot compute the expected pod count of a DaemonSet (no scale subresource) and would block every eviction. Remove it and set podDisruptionBudget.minAvailable to an integer." }}
{{- end }}
{{- if kindIs "string" .Values.podDisruptionBudget.minAvailable }}
{{- $msgs = append $msgs (printf "podDisruptionBudget.minAvailable is %q: a percentage does not work for DaemonSet pods (the disruption controller cannot compute their expected count and blocks every eviction). Set an integer such as 1." .Values.podDisruptionBudget.minAvailable) }}
{{- end }}
{{- if and .Values.preStop.enabled (ge (int .Values.preStop.sleepSeconds) (int .Values.terminationGracePeriodSeconds)) }}
{{- $msgs = append $msgs (printf "preStop.sleepSeconds (%v) must be less than terminationGracePeriodSeconds (%v): Fluentd needs the rest of the grace period to flush its buffers after SIGTERM." .Values.preStop.sleepSeconds .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.service.enabled) }}
{{- $msgs = append $msgs "serviceMonitor.enabled needs service.enabled: the ServiceMonitor scrapes the pods through the Service's endpoints. Enable the Service." }}
{{- end }}
{{- $req := .Values.resources.requests | default dict }}
{{- $lim := .Values.resources.limits | default dict }}
{{- if ne (toString ($req.memory | default "")) (toString ($lim.memory | default "")) }}
{{- $msgs = append $msgs (printf "resources.requests.memory (%v) must equal resources.limits.memory (%v), written the same way: a node agent whose usage grows past its request is the first pod the kubelet evicts under memory pressure, and the log pipeline stops on that node." ($req.memory | default "unset") ($lim.memory | default "unset")) }}
{{- end }}
{{- $r := .Values.readinessProbe }}
{{- $l := .Values.livenessProbe }}
{{- if and (eq (int $r.initialDelaySeconds) (int $l.initialDelaySeconds)) (eq (int $r.periodSeconds) (int $l.periodSeconds)) (eq (int $r.timeoutSeconds) (int $l.timeoutSeconds)) (eq (int $r.failureThreshold) (int $l.failureThreshold)) }}
{{- $msgs = append $msgs "livenessProbe must differ from readinessProbe: a liveness probe as eager as readiness restarts Fluentd whenever it is briefly busy (e.g. flushing a large buffer) and re-reads its positions. Make it slower or more tolerant (periodSeconds, failureThreshold)." }}
{{- end }}
{{- range $name, $_ := .Values.config.extraFiles }}
{{- if has $name (list "fluent.conf" "sources.conf" "filters.conf" "outputs.conf") }}
{{- $msgs = append $msgs (printf "config.extraFiles.%s would replace the generated %s; pick another name." $name $name) }}
{{- end }}
{{- end }}
{{- range $path, $ref := dict "output.forward.sharedKey" .Values.output.forward.sharedKey "output.elasticsearch.password" .Values.output.elasticsearch.password "output.opensearch.password" .Values.output.opensearch.password "output.http.password" .Values.output.http.password }}
{{- with $ref.secretKeyRef }}
{{- if or (not .name) (not .key) }}
{{- $msgs = append $msgs (printf "%s.secretKeyRef needs both name and key (got name %q, key %q): name the Secret and the key inside it that holds the credential." $path (.name | default "") (.key | default "")) }}
{{- end }}
{{- end }}
{{- end }}
{{- with $msgs }}
{{- fail (printf "\n\nfluentd chart: invalid values:\n- %s" (join "\n- " .)) }}
{{- end }}
{{- end }}
