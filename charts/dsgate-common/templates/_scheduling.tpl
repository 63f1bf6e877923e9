{{/*
Where the pods run: toleration presets and the node affinity with the virtual-node exclusion. Both take the
chart's root context and read .Values.tolerationPreset, .Values.tolerations, .Values.affinity and
.Values.excludeVirtualNodes.
*/}}

{{/*
dsgate-common.tolerationPresets: the tolerations each .Values.tolerationPreset adds, as YAML.
  all:          every taint (control plane, NoExecute, cordons): the agent runs on every node and no taint evicts it.
  controlPlane: the control-plane taint node-role.kubernetes.io/control-plane:NoSchedule, with its effect only,
                so a NoExecute taint an operator puts on a control-plane node still evicts the pod.
  none:         nothing (use .Values.tolerations).
*/}}
{{- define "dsgate-common.tolerationPresets" -}}
all:
  - operator: Exists
controlPlane:
  - key: node-role.kubernetes.io/control-plane
    operator: Exists
    effect: NoSchedule
none: []
{{- end }}

{{/*
dsgate-common.tolerations: a `tolerations:` block of the preset's tolerations followed by .Values.tolerations,
or nothing when both are empty.
*/}}
{{- define "dsgate-common.tolerations" -}}
{{- $presets := include "dsgate-common.tolerationPresets" . | fromYaml }}
{{- if not (hasKey $presets .Values.tolerationPreset) }}
{{- fail (printf "tolerationPreset=%v is not a preset: use one of %s." .Values.tolerationPreset (keys $presets | sortAlpha | join ", ")) }}
{{- end }}
{{- with concat (get $presets .Values.tolerationPreset) (.Values.tolerations | default list) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
dsgate-common.affinity: an `affinity:` block of .Values.affinity with the virtual-node exclusions
(.Values.excludeVirtualNodes.matchExpressions) added to every required node selector term, or nothing.
Terms are ORed and the expressions of a term ANDed, so each term gets the exclusions. A null or empty term
matches no node and is kept as it is: adding the exclusions would make it match every non-virtual node.
With no required terms at all, the exclusions become the only term.
*/}}
{{- define "dsgate-common.affinity" -}}
{{- $affinity := deepCopy (.Values.affinity | default dict) }}
{{- $exclusions := .Values.excludeVirtualNodes.matchExpressions | default list }}
{{- if and .Values.excludeVirtualNodes.enabled $exclusions }}
{{- $nodeAffinity := get $affinity "nodeAffinity" | default dict }}
{{- $required := get $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution" | default dict }}
{{- $merged := list }}
{{- range get $required "nodeSelectorTerms" | default list }}
{{- $term := . | default dict }}
{{- if or (get $term "matchExpressions") (get $term "matchFields") }}
{{- $exprs := concat (get $term "matchExpressions" | default list) $exclusions }}
{{- $merged = append $merged (merge (dict "matchExpressions" $exprs) $term) }}
{{- else }}
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
