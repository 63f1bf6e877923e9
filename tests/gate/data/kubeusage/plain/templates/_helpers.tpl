{{/* The top-level object handed on whole and inside a dict: fields only, never dumped. */}}
{{- define "plain.name" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end }}
{{- define "plain.labels" -}}
{{- $root := .root }}
app: {{ include "plain.name" $root }}
tier: {{ .tier }}
{{- with .root.Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
