{{/*
Labels. The selector is apart from the standard labels: a DaemonSet's spec.selector is immutable, so it
holds the two labels that never change (name and instance), never the version or anything a user sets.
*/}}

{{/*
dsgate-common.selectorLabels: the immutable selector (name + instance only, never the version).
*/}}
{{- define "dsgate-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dsgate-common.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/*
dsgate-common.component: the chart's app.kubernetes.io/component, from its Chart.yaml annotation
dsgate.io/component (one fact per chart, in the chart's metadata).
*/}}
{{- define "dsgate-common.component" -}}
{{- $component := "" }}
{{- with .Chart.Annotations }}{{ $component = index . "dsgate.io/component" }}{{ end }}
{{- if not $component }}
{{- fail (printf "chart %s uses dsgate-common's labels but its Chart.yaml has no annotation dsgate.io/component: add one (e.g. metrics, log-collector)." .Chart.Name) }}
{{- end }}
{{- $component }}
{{- end }}

{{/*
dsgate-common.labels: standard labels for object metadata plus commonLabels (templated; standard keys win).
*/}}
{{- define "dsgate-common.labels" -}}
{{- $std := include "dsgate-common.selectorLabels" . | fromYaml }}
{{- $_ := set $std "helm.sh/chart" (include "dsgate-common.chart" .) }}
{{- $_ = set $std "app.kubernetes.io/version" .Chart.AppVersion }}
{{- $_ = set $std "app.kubernetes.io/managed-by" .Release.Service }}
{{- $_ = set $std "app.kubernetes.io/component" (include "dsgate-common.component" .) }}
{{- $_ = set $std "app.kubernetes.io/part-of" (include "dsgate-common.name" .) }}
{{- with .Values.commonLabels }}{{/* tpl copies every template of the chart: only when there is something to template */}}
{{- $std = merge $std (tpl (toYaml .) $ | fromYaml) }}
{{- end }}
{{- toYaml $std }}
{{- end }}

{{/*
dsgate-common.podLabels: pod template labels: the standard labels plus podLabels (templated; standard keys win).
*/}}
{{- define "dsgate-common.podLabels" -}}
{{- $labels := include "dsgate-common.labels" . | fromYaml }}
{{- with .Values.podLabels }}
{{- $labels = merge $labels (tpl (toYaml .) $ | fromYaml) }}
{{- end }}
{{- toYaml $labels }}
{{- end }}
