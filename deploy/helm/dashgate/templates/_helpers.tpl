{{/* Names and labels, the way `helm create` makes them. */}}
{{- define "dashgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dashgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dashgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dashgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dashgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dashgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dashgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dashgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
dashgate.yaml: the values' config, with what the chart decides itself (the app, where data
lives, metrics, the *_env names of the secrets). database.url and redis.url come from the
environment (DASHGATE_DATABASE__URL, DASHGATE_REDIS__URL) because they may hold passwords.
*/}}
{{- define "dashgate.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "upstream" .Values.upstream }}
{{- if .Values.metrics.enabled }}
{{- $metrics := dict "listen" (printf "0.0.0.0:%d" (int .Values.metrics.port)) }}
{{- if .Values.metrics.token.existingSecret }}
{{- $_ := set $metrics "token_env" "DASHGATE_METRICS_TOKEN" }}
{{- end }}
{{- $_ := set $config "metrics" $metrics }}
{{- end }}
{{- if .Values.secrets.appSecret.existingSecret }}
{{- $jwt := default dict $config.identity_jwt }}
{{- $_ := set $jwt "app_secret_env" "DASHGATE_APP_SECRET" }}
{{- $_ := set $config "identity_jwt" $jwt }}
{{- end }}
{{- if .Values.secrets.smtp.existingSecret }}
{{- $mail := default dict $config.mail }}
{{- $smtp := required "secrets.smtp.existingSecret is set: configure config.mail.smtp (host, user) too" $mail.smtp }}
{{- $_ := set $smtp "password_env" "SMTP_PASSWORD" }}
{{- end }}
{{- if .Values.secrets.ssoClients }}
{{- $sso := required "secrets.ssoClients is set: configure config.sso.providers too" $config.sso }}
{{- range $client := .Values.secrets.ssoClients }}
{{- $found := false }}
{{- range $provider := $sso.providers }}
{{- if eq $provider.id $client.provider }}
{{- $_ := set $provider "client_secret_env" (include "dashgate.ssoSecretEnv" $client.provider) }}
{{- $found = true }}
{{- end }}
{{- end }}
{{- if not $found }}
{{- fail (printf "secrets.ssoClients names provider %q, which is not in config.sso.providers" $client.provider) }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* SSO_CORP_CLIENT_SECRET for provider "corp" (ids are lower-case letters, digits and "-"). */}}
{{- define "dashgate.ssoSecretEnv" -}}
{{- printf "SSO_%s_CLIENT_SECRET" (. | upper | replace "-" "_") }}
{{- end }}

{{- define "dashgate.checks" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) }}
{{- fail "replicaCount > 1 needs PostgreSQL: set database.existingSecret (SQLite is one process's file)" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.database.existingSecret) }}
{{- fail "autoscaling needs PostgreSQL: set database.existingSecret" }}
{{- end }}
{{- if and .Values.persistence.enabled .Values.database.existingSecret }}
{{- fail "persistence is for SQLite only: with database.existingSecret the data lives in PostgreSQL" }}
{{- end }}
{{- $drain := 10 }}
{{- with .Values.config.server }}{{- with .drain_timeout }}{{- $drain = int (trimSuffix "s" (toString .)) }}{{- end }}{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) $drain) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above preStopSleepSeconds + server.drain_timeout (%d s)" (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) $drain)) }}
{{- end }}
{{- end }}
