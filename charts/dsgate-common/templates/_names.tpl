{{/*
Names of a chart's objects. Every helper here takes the including chart's root context (`.`), so
.Chart is that chart, not this library.
*/}}

{{/*
dsgate-common.name: the chart name, or nameOverride; value of app.kubernetes.io/name.
*/}}
{{- define "dsgate-common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
dsgate-common.fullname: the base name of every object, truncated to 63 characters (DNS label limit) without
leading or trailing dashes.
*/}}
{{- define "dsgate-common.fullname" -}}
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
dsgate-common.namespace: the namespace of every namespaced object.
*/}}
{{- define "dsgate-common.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
dsgate-common.chart: chart name and version, for the helm.sh/chart label (metadata only).
*/}}
{{- define "dsgate-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
dsgate-common.serviceAccountName: the ServiceAccount the pods run as.
*/}}
{{- define "dsgate-common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dsgate-common.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
