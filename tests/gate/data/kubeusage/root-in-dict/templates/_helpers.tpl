{{- define "root-in-dict.kube" -}}
{{- range $key, $value := .ctx }}
{{- if eq $key (printf "Capa%s" "bilities") }}{{ $value.KubeVersion.Version }}{{ end }}
{{- end }}
{{- end }}
