{{/* agent.labels: the labels of every object */}}
{{- define "agent.labels" -}}
app.kubernetes.io/name: agent
{{- end }}

{{/* agent.initContainers: the installer that copies the plugin onto the node */}}
{{- define "agent.initContainers" -}}
- name: install-plugin
  image: "{{ .Values.installer.repository }}:{{ .Values.installer.tag }}"
  securityContext:
    privileged: true
  volumeMounts:
    - name: plugin-dir
      mountPath: /host/opt/plugin
{{- end }}

{{/* agent.securityContext: the main container's securityContext, from values */}}
{{- define "agent.securityContext" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}
