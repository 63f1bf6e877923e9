{{/* agent.probe: a whole DaemonSet written by a helper, as library charts do */}}
{{- define "agent.probe" -}}
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-probe
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: probe
  template:
    metadata:
      labels:
        app.kubernetes.io/name: probe
    spec:
      containers:
        - name: probe
          image: registry.example/probe:1.0.0
          env:
          {{- with .Values.probeEnv }}
            {{- toYaml . | nindent 10 }}
          {{- end }}
          - name: NODE_NAME
            valueFrom:
              fieldRef:
                fieldPath: spec.nodeName
{{- end }}
