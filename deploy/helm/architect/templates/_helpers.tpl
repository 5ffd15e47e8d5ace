{{/* Release-wide name: the release name when it already says "architect", else "<release>-architect". */}}
{{- define "architect.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one component; call with (dict "root" $ "name" "scheduler"). */}}
{{- define "architect.componentName" -}}
{{- printf "%s-%s" (include "architect.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "architect.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "architect.labels" -}}
{{ include "architect.selectorLabels" . }}
app.kubernetes.io/part-of: architect
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Image of one component: [<registry>/]<prefix><name>:<tag or appVersion>. */}}
{{- define "architect.image" -}}
{{- $image := .root.Values.image -}}
{{- $registry := ternary "" (printf "%s/" $image.registry) (empty $image.registry) -}}
{{- printf "%s%s%s:%s" $registry $image.prefix .name (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{- define "architect.configName" -}}
{{- printf "%s-config" (include "architect.fullname" .) -}}
{{- end -}}

{{- define "architect.secretName" -}}
{{- default (printf "%s-secrets" (include "architect.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "architect.jaegerName" -}}
{{- printf "%s-jaeger" (include "architect.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "architect.jaegerSelectorLabels" -}}
app.kubernetes.io/name: jaeger
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: tracing
{{- end -}}

{{- define "architect.jaegerLabels" -}}
{{ include "architect.jaegerSelectorLabels" . }}
app.kubernetes.io/part-of: architect
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* OTEL_EXPORTER_OTLP_ENDPOINT: otel.endpoint, else the chart's Jaeger (OTLP/HTTP) when jaeger.enabled, else none. */}}
{{- define "architect.otlpEndpoint" -}}
{{- if .Values.otel.endpoint -}}
{{- .Values.otel.endpoint -}}
{{- else if .Values.jaeger.enabled -}}
{{- printf "http://%s:4318" (include "architect.jaegerName" .) -}}
{{- end -}}
{{- end -}}

{{/* Settings every service and the topic job read (ConfigMap data; the job gets them inline). */}}
{{- define "architect.settings" -}}
ARCHITECT_KAFKA_BOOTSTRAP_SERVERS: {{ .Values.kafka.bootstrapServers | quote }}
ARCHITECT_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- with .Values.kafka.sasl.mechanism }}
ARCHITECT_KAFKA_SASL_MECHANISM: {{ . | quote }}
{{- end }}
{{- if not .Values.kafka.sasl.perServiceUsers }}
{{- with .Values.kafka.sasl.username }}
ARCHITECT_KAFKA_SASL_USERNAME: {{ . | quote }}
{{- end }}
{{- end }}
{{- if .Values.kafka.tls.secretName }}
ARCHITECT_KAFKA_SSL_CA_LOCATION: /etc/architect/kafka-tls/ca.crt
{{- if .Values.kafka.tls.clientCertificate }}
ARCHITECT_KAFKA_SSL_CERTIFICATE_LOCATION: /etc/architect/kafka-tls/tls.crt
ARCHITECT_KAFKA_SSL_KEY_LOCATION: /etc/architect/kafka-tls/tls.key
{{- end }}
{{- end }}
ARCHITECT_TOPIC_PARTITIONS: {{ .Values.topics.partitions | quote }}
ARCHITECT_TOPIC_REPLICATION_FACTOR: {{ .Values.topics.replicationFactor | quote }}
ARCHITECT_METRICS_PORT: {{ .Values.metricsPort | quote }}
ARCHITECT_LOG_LEVEL: {{ .Values.logLevel | quote }}
ARCHITECT_DATA_DIR: /var/lib/architect/data
{{- with include "architect.otlpEndpoint" . }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The Kafka SASL password from the Secret; optional, so plaintext brokers need no key. With
kafka.sasl.perServiceUsers, each component's own user and password (required). Call with (dict "root" $ "name" <component>). */}}
{{- define "architect.saslPasswordEnv" -}}
{{- $sasl := .root.Values.kafka.sasl -}}
{{- if $sasl.perServiceUsers -}}
{{- if not $sasl.mechanism -}}
{{- fail "kafka.sasl.perServiceUsers needs kafka.sasl.mechanism (e.g. SCRAM-SHA-512)" -}}
{{- end -}}
- name: ARCHITECT_KAFKA_SASL_USERNAME
  value: {{ printf "%s%s" $sasl.userPrefix .name | quote }}
- name: ARCHITECT_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "architect.secretName" .root }}
      key: {{ printf "ARCHITECT_KAFKA_SASL_PASSWORD_%s" (.name | replace "-" "_" | upper) }}
{{- else -}}
- name: ARCHITECT_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "architect.secretName" .root }}
      key: ARCHITECT_KAFKA_SASL_PASSWORD
      optional: true
{{- end -}}
{{- end -}}

{{/* One optional key of the Secret as an env var; call with (dict "root" $ "key" "ARCHITECT_..."). */}}
{{- define "architect.optionalSecretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "architect.secretName" .root }}
      key: {{ .key }}
      optional: true
{{- end -}}

{{/* Per-agent identity: the assigner verifies with the secret; the agent runtime signs with the secret or with
its agents' tokens (agentIdentity.runtimeCredential). Call with (dict "root" $ "name" <service>). */}}
{{- define "architect.agentIdentityEnv" -}}
{{- $credential := .root.Values.agentIdentity.runtimeCredential -}}
{{- if not (has $credential (list "secret" "tokens")) -}}
{{- fail (printf "agentIdentity.runtimeCredential must be secret or tokens, not %q" $credential) -}}
{{- end -}}
{{- if or (eq .name "assigner") (and (eq .name "agent-runtime") (eq $credential "secret")) -}}
{{ include "architect.optionalSecretEnv" (dict "root" .root "key" "ARCHITECT_AGENT_IDENTITY_SECRET") }}
{{- else if eq .name "agent-runtime" -}}
{{ include "architect.optionalSecretEnv" (dict "root" .root "key" "ARCHITECT_AGENT_TOKENS") }}
{{- end -}}
{{- end -}}

{{/* Writable scratch space on a read-only root filesystem: /tmp and the working directory (faust's data). */}}
{{- define "architect.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/architect
{{- if .Values.kafka.tls.secretName }}
- name: kafka-tls
  mountPath: /etc/architect/kafka-tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "architect.scratchVolumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
{{- with .Values.kafka.tls.secretName }}
- name: kafka-tls
  secret:
    secretName: {{ . }}
    # 0440: readable by the pod's fsGroup only (the key among them).
    defaultMode: 288
{{- end }}
{{- end -}}
