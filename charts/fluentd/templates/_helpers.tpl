{{/*
The names, labels, image reference, pull secrets, toleration presets, affinity and the shared guards
come from the dsgate-common library chart (charts/dsgate-common, a dependency in Chart.yaml); this file
holds what only this chart needs.
*/}}

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
{{- include "dsgate-common.imageRef" (dict "image" .Values.image "global" .Values.global "defaultTag" (printf "v%s-debian-%s-1.0" .Chart.AppVersion (include "fluentd.variant" .))) }}
{{- end }}

{{/*
fluentd.configMapName: the ConfigMap mounted at /fluentd/etc (generated, or existingConfigMap).
*/}}
{{- define "fluentd.configMapName" -}}
{{- .Values.existingConfigMap | default (include "dsgate-common.fullname" .) }}
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
fluentd.validate: cross-field rules the schema cannot express (dsgate-common's shared guards and this
chart's own); fails once with every message and its fix.
*/}}
{{- define "fluentd.validate" -}}
{{- include "dsgate-common.yamlGuard" . }}
{{- $msgs := include "dsgate-common.guards" . | fromYamlArray }}
{{- $ru := .Values.updateStrategy.rollingUpdate }}
{{- if and (eq .Values.updateStrategy.type "RollingUpdate") (not (has (toString $ru.maxSurge) (list "0" "0%"))) }}
{{- $msgs = append $msgs (printf "updateStrategy.rollingUpdate.maxSurge is %v: it must be 0. A surge pod would run beside the old one on the same node, tail the same files with the same position database (%s) and ship every line twice. Roll with maxUnavailable instead." $ru.maxSurge .Values.positionDb.hostPath) }}
{{- end }}
{{- if and .Values.preStop.enabled (ge (int .Values.preStop.sleepSeconds) (int .Values.terminationGracePeriodSeconds)) }}
{{- $msgs = append $msgs (printf "preStop.sleepSeconds (%v) must be less than terminationGracePeriodSeconds (%v): Fluentd needs the rest of the grace period to flush its buffers after SIGTERM." .Values.preStop.sleepSeconds .Values.terminationGracePeriodSeconds) }}
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
{{- include "dsgate-common.fail" (dict "context" . "messages" $msgs) }}
{{- end }}
