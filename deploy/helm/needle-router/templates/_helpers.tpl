{{- define "needle-router.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "needle-router.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "needle-router.selectorLabels" -}}
app.kubernetes.io/name: {{ include "needle-router.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "needle-router.labels" -}}
{{ include "needle-router.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The toolsets ConfigMap: the chart's own (from .Values.toolsets) or an existing one. */}}
{{- define "needle-router.toolsetsConfigMap" -}}
{{- if .Values.toolsetsConfigMap -}}
{{- .Values.toolsetsConfigMap -}}
{{- else if .Values.toolsets -}}
{{- printf "%s-toolsets" (include "needle-router.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* A config value as the router reads it: YAML numbers come to templates as float64, so
whole numbers are printed without an exponent (67108864, not 6.7108864e+07). */}}
{{- define "needle-router.value" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
