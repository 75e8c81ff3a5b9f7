{{- define "picops.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "picops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "picops.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "picops.upstreamSecret" -}}
{{- if .Values.upstream.existingSecret -}}
{{ .Values.upstream.existingSecret }}
{{- else -}}
{{ include "picops.fullname" . }}-upstream
{{- end -}}
{{- end -}}

{{- define "picops.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret -}}
{{ .Values.credentials.existingSecret }}
{{- else -}}
{{ include "picops.fullname" . }}-credentials
{{- end -}}
{{- end -}}
