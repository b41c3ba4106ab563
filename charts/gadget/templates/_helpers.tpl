{{- /*
SPDX-License-Identifier: Apache-2.0

Names and labels shared by the templates.  Object names are fixed (gadget,
gadget-config): kubectl gadget and the agent find each other by them, so one
release per cluster.  The labels are those of deploy/ plus Helm's own, which
tests/integration/test_deploy.py ignores when comparing the two.
*/ -}}

{{- define "gadget.namespace" -}}
{{- required "namespace.name is required" .Values.namespace.name -}}
{{- end -}}

{{- define "gadget.selectorLabels" -}}
k8s-app: gadget
{{- end -}}

{{- define "gadget.labels" -}}
app.kubernetes.io/name: gadget
{{ include "gadget.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "gadget.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository -}}
{{- $tag := toString (.Values.image.tag | default .Chart.AppVersion) -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{- /* the agent's config.yaml, with gadgetNamespace filled in */ -}}
{{- define "gadget.config" -}}
{{- $cfg := merge (deepCopy .Values.config) (dict "gadgetNamespace" (include "gadget.namespace" .)) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- /* the port of config.health.address, which the probes and Prometheus use */ -}}
{{- define "gadget.healthPort" -}}
{{- $addr := required "config.health.address is required" .Values.config.health.address -}}
{{- $port := regexFind "[0-9]+$" $addr -}}
{{- if not $port -}}
{{- fail (printf "config.health.address %q has no port" $addr) -}}
{{- end -}}
{{- $port -}}
{{- end -}}

{{- /* the port of config.otel-metrics-listen-address, the gadget metrics */ -}}
{{- define "gadget.metricsPort" -}}
{{- $addr := index .Values.config "otel-metrics-listen-address" | default "0.0.0.0:2224" -}}
{{- $parts := splitList ":" $addr -}}
{{- last $parts -}}
{{- end -}}

{{- define "gadget.hostRoot" -}}
{{- required "config.hostRoot is required" .Values.config.hostRoot | trimSuffix "/" -}}
{{- end -}}
