{{/*
Guards: bad values fail the render early, with the reason and the fix. The schema catches types and enums;
these catch what it cannot (a character YAML cannot carry, rules across fields). A chart collects the
messages of dsgate-common.guards and its own, and fails once with all of them (dsgate-common.fail).
*/}}

{{/*
dsgate-common.yamlGuard: fails when a value holds a character YAML cannot carry (DEL, the C1 controls but NEL,
U+FFFE, U+FFFF). helm's toYaml renders nothing, silently, for such a string: the chart's own strings
exclude them in the schema, the pass-through Kubernetes types cannot, so every top-level value is
checked here, once, instead of being dropped where it is used. It fails at once: the other guards would
read the same value.
*/}}
{{- define "dsgate-common.yamlGuard" -}}
{{- range $key, $value := .Values }}
{{- if and $value (not (toYaml $value)) }}
{{- fail (printf "%s holds a character YAML cannot carry (U+007F-U+0084, U+0086-U+009F, U+FFFE or U+FFFF), so helm would silently drop the whole value: remove it." $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
dsgate-common.guards: the messages (a YAML list) of the rules every node-agent chart shares: the
PodDisruptionBudget (DaemonSet pods need an integer minAvailable), the rollout budget (not both 0) and the
ServiceMonitor (needs the Service). Reads .Values.podDisruptionBudget, .Values.updateStrategy,
.Values.serviceMonitor and .Values.service.
*/}}
{{- define "dsgate-common.guards" -}}
{{- $msgs := list }}
{{- $pdb := .Values.podDisruptionBudget | default dict }}
{{- if hasKey $pdb "maxUnavailable" }}
{{- $msgs = append $msgs "podDisruptionBudget.maxUnavailable is not supported: the disruption controller cannot compute the expected pod count of a DaemonSet (no scale subresource) and would block every eviction. Remove it and set an integer podDisruptionBudget.minAvailable." }}
{{- end }}
{{- if kindIs "string" $pdb.minAvailable }}
{{- $msgs = append $msgs (printf "podDisruptionBudget.minAvailable is %q: it must be an integer; a percentage does not work for DaemonSet pods (the disruption controller cannot compute their expected count: no scale subresource) and blocks every eviction. Set an integer such as 1." $pdb.minAvailable) }}
{{- end }}
{{- $strategy := .Values.updateStrategy | default dict }}
{{- if eq $strategy.type "RollingUpdate" }}
{{- $ru := $strategy.rollingUpdate | default dict }}
{{- if and (has (toString $ru.maxSurge) (list "0" "0%")) (has (toString $ru.maxUnavailable) (list "0" "0%")) }}
{{- $msgs = append $msgs "updateStrategy.rollingUpdate.maxUnavailable and maxSurge are both 0: the rollout could never replace a pod. Set maxUnavailable to 1 or a percentage such as 10%." }}
{{- end }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.service.enabled) }}
{{- $msgs = append $msgs "serviceMonitor.enabled requires service.enabled: a ServiceMonitor finds its targets through the Service's endpoints. Enable the Service." }}
{{- end }}
{{- toYaml $msgs }}
{{- end }}

{{/*
dsgate-common.fail: fails once with every message when there is any.
Call with (dict "context" $ "messages" <list of strings>).
*/}}
{{- define "dsgate-common.fail" -}}
{{- with .messages }}
{{- fail (printf "\n\n%s chart: invalid values:\n- %s" $.context.Chart.Name (join "\n- " .)) }}
{{- end }}
{{- end }}
