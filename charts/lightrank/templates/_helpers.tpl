{{/* Names, labels and image references shared by the templates. */}}

{{- define "lightrank.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name when it already contains the chart name. */}}
{{- define "lightrank.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "lightrank.operatorName" -}}
{{- printf "%s-operator" (include "lightrank.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Kubernetes recommended labels (app.kubernetes.io/*) on every object. */}}
{{- define "lightrank.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lightrank.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: lightrank
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The stable subset used in selectors (never changes across upgrades). */}}
{{- define "lightrank.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lightrank.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "lightrank.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lightrank.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lightrank.leaseName" -}}
{{- default (printf "%s-leader" (include "lightrank.fullname" .)) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/*
An image reference from { repository, tag, digest }: the digest wins, the tag defaults to the
chart's appVersion. Call with (dict "image" .Values.image "root" $).
*/}}
{{- define "lightrank.image" -}}
{{- $img := .image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}
