{{/*
dsgate-common.imageRef: registry/repository[:tag][@digest] for an image block; with a digest the tag stays (readable)
and the kubelet pulls by the digest; global.imageRegistry replaces the block's registry.
Call with (dict "image" <image block> "global" .Values.global "defaultTag" "v1.2.3").
*/}}
{{- define "dsgate-common.imageRef" -}}
{{- $registry := .global.imageRegistry | default .image.registry }}
{{- $repo := ternary (printf "%s/%s" $registry .image.repository) .image.repository (ne $registry "") }}
{{- $repo }}{{ with .image.tag | default .defaultTag }}:{{ . }}{{ end }}{{ with .image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
dsgate-common.imagePullSecrets: an `imagePullSecrets:` block of global plus chart pull secrets (global entries
may be plain names), or nothing when there are none.
*/}}
{{- define "dsgate-common.imagePullSecrets" -}}
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
