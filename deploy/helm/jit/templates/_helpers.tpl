{{/* Names and labels. */}}
{{- define "jit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jit.fullname" -}}
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

{{/* The resource name of a component: `<fullname>-<component>`, or `<fullname>` for the all-in-one. */}}
{{- define "jit.componentName" -}}
{{- $root := index . 0 }}{{- $c := index . 1 -}}
{{- if eq $c.name "all-in-one" }}{{ include "jit.fullname" $root }}{{ else }}{{ printf "%s-%s" (include "jit.fullname" $root | trunc 45 | trimSuffix "-") $c.name }}{{ end }}
{{- end }}

{{- define "jit.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "jit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jit
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "jit.selectorLabels" -}}
{{- $root := index . 0 }}{{- $c := index . 1 -}}
app.kubernetes.io/name: {{ include "jit.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $c.name }}
{{- end }}

{{- define "jit.componentLabels" -}}
{{ include "jit.labels" (index . 0) }}
app.kubernetes.io/component: {{ (index . 1).name }}
{{- end }}

{{- define "jit.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}{{ default (include "jit.fullname" .) .Values.serviceAccount.name }}{{ else }}{{ default "default" .Values.serviceAccount.name }}{{ end }}
{{- end }}

{{- define "jit.image" -}}
{{- if .Values.image.digest }}{{ printf "%s@%s" .Values.image.repository .Values.image.digest }}{{ else }}{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}{{ end }}
{{- end }}

{{/*
The processes of the chosen mode and what each needs. Ports and settings are the apps' own
(the apps' config.ts; test/workspace/helm-chart.test.ts checks the defaults against them).
  key: its values section; serve: `jit serve <serve>`; public: the Ingress routes to it;
  kafka: required|optional; gitlab: required|optional|no; webhook: reads the webhook secrets;
  issues: issues or revokes on substrates; sign: the signing key it uses; data: JIT_DATA_DIR volume;
  url: takes JIT_PUBLIC_URL (MR comments, the OpenAPI document, links in notifications);
  notify: posts notifications and runs the HTTP sink (JIT_NOTIFY_CHANNELS_FILE, JIT_SINK_*_FILE,
  egress to the receivers) when
  `notifier.enabled`. A component without `port` in its values section (the notifier) serves
  only the ops port: no public Service, no PORT/HOST.
*/}}
{{- define "jit.components" -}}
{{- if eq .Values.mode "distributed" }}
- { name: webhook-ingest, key: webhookIngest, serve: webhook-ingest, public: true, kafka: required, gitlab: "no", webhook: true, issues: false, sign: "", data: emptyDir, consumes: false, pin: false, url: false, notify: false }
- { name: approval-gate, key: approvalGate, serve: approval-gate, public: true, kafka: required, gitlab: required, webhook: false, issues: false, sign: gate, data: "", consumes: true, pin: true, url: false, notify: false }
- { name: issuer, key: issuer, serve: issuer, public: true, kafka: required, gitlab: required, webhook: false, issues: true, sign: issuer, data: "", consumes: true, pin: false, url: true, notify: false, ui: true }
- { name: revoker, key: revoker, serve: revoker, public: false, kafka: required, gitlab: optional, webhook: false, issues: true, sign: revoker, data: "", consumes: true, pin: false, url: false, notify: false }
{{- if .Values.notifier.enabled }}
- { name: notifier, key: notifier, serve: notifier, public: false, kafka: required, gitlab: required, webhook: false, issues: false, sign: "", data: "", consumes: true, pin: false, url: true, notify: true }
{{- end }}
{{- else }}
- { name: all-in-one, key: embedded, serve: all, public: true, kafka: optional, gitlab: optional, webhook: true, issues: true, sign: issuer, data: pvc, consumes: true, pin: true, url: true, notify: true, ui: true }
{{- end }}
{{- end }}

{{/* Where a Secret reference is mounted: /var/run/secrets/jit/<volume>/<key>. */}}
{{- define "jit.secretPath" -}}
{{- printf "/var/run/secrets/jit/%s/%s" (index . 0) (index . 1) }}
{{- end }}

{{/* Settings the chart refuses to render without, named as values. */}}
{{- define "jit.validate" -}}
{{- $v := .Values }}
{{- if and $v.ingress.enabled $v.httpRoute.enabled }}{{ fail "ingress.enabled and httpRoute.enabled: choose one" }}{{ end }}
{{- if eq $v.mode "distributed" }}
{{- if not $v.kafka.brokers }}{{ fail "kafka.brokers is required in distributed mode" }}{{ end }}
{{- if not (and $v.gitlab.url $v.gitlab.project $v.gitlab.token.existingSecret) }}{{ fail "gitlab.url, gitlab.project and gitlab.token.existingSecret are required in distributed mode" }}{{ end }}
{{- range $role := list "gate" "issuer" "revoker" }}
{{- $s := index $v.signing $role }}
{{- if not (and $s.existingSecret $s.publicKey) }}{{ fail (printf "signing.%s.existingSecret and signing.%s.publicKey are required in distributed mode (ADR 0004)" $role $role) }}{{ end }}
{{- end }}
{{- end }}
{{- if and $v.notifier.enabled (not (or $v.notifier.channels.existingSecret $v.notifier.sink.url.existingSecret)) }}{{ fail "notifier.enabled needs notifier.channels.existingSecret (the Secret holding JIT_NOTIFY_CHANNELS: channel name to webhook URL) and/or notifier.sink.url.existingSecret" }}{{ end }}
{{- if and $v.notifier.sink.url.existingSecret (not $v.notifier.sink.secret.existingSecret) }}{{ fail "notifier.sink.url needs notifier.sink.secret.existingSecret (every batch is signed, JIT_SINK_SECRET)" }}{{ end }}
{{- if $v.dashboard.enabled }}
{{- if not $v.dashboard.oauth.clientId }}{{ fail "dashboard.enabled needs dashboard.oauth.clientId (the GitLab application whose redirect URI is <publicUrl>/ui/auth/callback)" }}{{ end }}
{{- if not (or $v.publicUrl $v.ingress.host $v.httpRoute.hostnames) }}{{ fail "dashboard.enabled needs publicUrl (or an ingress.host / httpRoute.hostnames): GitLab sends users back to <publicUrl>/ui/auth/callback" }}{{ end }}
{{- end }}
{{- if $v.gitlab.url }}
{{- if not (and $v.gitlab.project $v.gitlab.token.existingSecret) }}{{ fail "gitlab.url needs gitlab.project and gitlab.token.existingSecret" }}{{ end }}
{{- if not (or $v.webhook.secret.existingSecret $v.webhook.signingSecret.existingSecret) }}{{ fail "with a real GitLab set webhook.secret.existingSecret and/or webhook.signingSecret.existingSecret" }}{{ end }}
{{- end }}
{{- if and $v.kafka.brokers $v.kafka.sasl.mechanism (not $v.kafka.tls.enabled) (not $v.kafka.sasl.allowPlaintext) }}{{ fail "kafka.sasl without kafka.tls.enabled would send the SASL secret in clear; enable TLS (or kafka.sasl.allowPlaintext in a test cluster)" }}{{ end }}
{{- if and $v.kafka.brokers $v.kafka.sasl.mechanism (ne $v.kafka.sasl.mechanism "oauthbearer") }}
{{- range $c := include "jit.components" . | fromYamlArray }}
{{- $user := include "jit.kafkaSaslUser" (list $ $c) | fromJson }}
{{- if not (and $user.username $user.secret) }}{{ fail (printf "kafka.sasl needs a user for %s: kafka.sasl.username and kafka.sasl.password.existingSecret, or %s.kafkaSasl" $c.name $c.key) }}{{ end }}
{{- end }}
{{- end }}
{{- if and $v.kafka.brokers (eq $v.kafka.sasl.mechanism "oauthbearer") (not $v.kafka.sasl.oauthbearerToken.existingSecret) }}{{ fail "kafka.sasl.mechanism oauthbearer needs kafka.sasl.oauthbearerToken.existingSecret" }}{{ end }}
{{- end }}

{{/* JIT_TRUSTED_<ROLE>_KEYS of a consumer: the producers' public keys plus the extra ones. */}}
{{- define "jit.trustedKeys" -}}
{{- $v := index . 0 }}{{- $role := index . 1 }}
{{- $keys := list }}
{{- with (index $v.signing $role).publicKey }}{{ $keys = append $keys . }}{{ end }}
{{- $keys = concat $keys (index $v.signing.extraTrustedKeys $role) }}
{{- join "," (uniq $keys) }}
{{- end }}

{{/* The environment of a component's container. */}}
{{- define "jit.env" -}}
{{- $root := index . 0 }}{{- $c := index . 1 }}{{- $v := $root.Values -}}
{{- $cv := index $v $c.key }}
{{- if eq $c.name "all-in-one" }}
- { name: JIT_HOST, value: {{ $v.listenHost | quote }} }
- { name: JIT_PORT, value: {{ $cv.port | quote }} }
- { name: JIT_LOG_LEVEL, value: {{ $v.logLevel | quote }} }
- { name: JIT_DATA_DIR, value: /var/lib/jit }
{{- else }}
{{- if hasKey $cv "port" }}
- { name: HOST, value: {{ $v.listenHost | quote }} }
- { name: PORT, value: {{ $cv.port | quote }} }
{{- end }}
- { name: LOG_LEVEL, value: {{ $v.logLevel | quote }} }
{{- if eq $c.data "emptyDir" }}
- { name: JIT_DATA_DIR, value: /var/lib/jit }
{{- end }}
{{- end }}
- { name: JIT_OPS_HOST, value: {{ $v.listenHost | quote }} }
- { name: JIT_OPS_PORT, value: {{ $v.opsPort | quote }} }
{{- if $v.kafka.brokers }}
- { name: KAFKA_BROKERS, value: {{ join "," $v.kafka.brokers | quote }} }
{{- if $v.kafka.tls.enabled }}
- { name: KAFKA_TLS, value: "true" }
{{- with $v.kafka.tls.serverName }}
- { name: KAFKA_TLS_SERVERNAME, value: {{ . | quote }} }
{{- end }}
{{- with $v.kafka.tls.ca.existingSecret }}
- { name: KAFKA_TLS_CA_FILE, value: {{ include "jit.secretPath" (list "kafka-ca" $v.kafka.tls.ca.key) }} }
{{- end }}
{{- with $v.kafka.tls.clientCert.existingSecret }}
- { name: KAFKA_TLS_CERT_FILE, value: {{ include "jit.secretPath" (list "kafka-client-cert" $v.kafka.tls.clientCert.certKey) }} }
- { name: KAFKA_TLS_KEY_FILE, value: {{ include "jit.secretPath" (list "kafka-client-cert" $v.kafka.tls.clientCert.keyKey) }} }
{{- end }}
{{- end }}
{{- with $v.kafka.sasl.mechanism }}
- { name: KAFKA_SASL_MECHANISM, value: {{ . | quote }} }
{{- if eq $v.kafka.sasl.mechanism "oauthbearer" }}
- { name: KAFKA_SASL_OAUTHBEARER_TOKEN_FILE, value: {{ include "jit.secretPath" (list "kafka-oauthbearer-token" $v.kafka.sasl.oauthbearerToken.key) }} }
{{- else }}
{{- $user := include "jit.kafkaSaslUser" (list $root $c) | fromJson }}
- { name: KAFKA_SASL_USERNAME, value: {{ $user.username | quote }} }
- { name: KAFKA_SASL_PASSWORD_FILE, value: {{ include "jit.secretPath" (list "kafka-sasl-password" $user.key) }} }
{{- end }}
{{- if $v.kafka.sasl.allowPlaintext }}
- { name: KAFKA_SASL_ALLOW_PLAINTEXT, value: "true" }
{{- end }}
{{- end }}
{{- end }}
{{- if and (ne $c.gitlab "no") $v.gitlab.url }}
- { name: GITLAB_URL, value: {{ $v.gitlab.url | quote }} }
- { name: GITLAB_TOKEN_FILE, value: {{ include "jit.secretPath" (list "gitlab-token" $v.gitlab.token.key) }} }
- { name: JIT_ELEVATIONS_PROJECT, value: {{ $v.gitlab.project | quote }} }
{{- if and $v.gitlab.botUsername $c.pin }}
- { name: JIT_BOT_USERNAME, value: {{ $v.gitlab.botUsername | quote }} }
{{- end }}
{{- end }}
{{- if $c.webhook }}
{{- with $v.webhook.secret.existingSecret }}
- { name: JIT_WEBHOOK_SECRET_FILE, value: {{ include "jit.secretPath" (list "webhook-secret" $v.webhook.secret.key) }} }
{{- end }}
{{- with $v.webhook.signingSecret.existingSecret }}
- { name: JIT_WEBHOOK_SIGNING_SECRET_FILE, value: {{ include "jit.secretPath" (list "webhook-signing-secret" $v.webhook.signingSecret.key) }} }
{{- end }}
{{- end }}
{{- if and $c.pin $v.policy.pin }}
- { name: JIT_POLICY_PIN, value: {{ $v.policy.pin | quote }} }
{{- end }}
{{- if and $c.url (or $v.publicUrl $v.ingress.host $v.httpRoute.hostnames) }}
- { name: JIT_PUBLIC_URL, value: {{ include "jit.publicUrl" $root | quote }} }
{{- end }}
{{- if and $c.ui $v.dashboard.enabled }}
- { name: JIT_UI_OAUTH_CLIENT_ID, value: {{ $v.dashboard.oauth.clientId | quote }} }
- { name: JIT_UI_SESSION_TTL_MS, value: {{ $v.dashboard.sessionTtlMs | int64 | toString | quote }} }
{{- with $v.dashboard.oauth.secret.existingSecret }}
- { name: JIT_UI_OAUTH_CLIENT_SECRET_FILE, value: {{ include "jit.secretPath" (list "ui-oauth-secret" $v.dashboard.oauth.secret.key) }} }
{{- end }}
- { name: JIT_UI_SESSION_KEY_FILE, value: {{ include "jit.secretPath" (list "ui-session-key" $v.dashboard.session.key.key) }} }
{{- end }}
{{- if and $c.issues $v.substrates }}
- { name: JIT_SUBSTRATES_FILE, value: /etc/jit/substrates.json }
{{- end }}
{{- if and $c.notify $v.notifier.enabled $v.notifier.channels.existingSecret }}
- { name: JIT_NOTIFY_CHANNELS_FILE, value: {{ include "jit.secretPath" (list "notify-channels" $v.notifier.channels.key) }} }
{{- end }}
{{- if and $c.notify $v.notifier.enabled $v.notifier.sink.url.existingSecret }}
- { name: JIT_SINK_URL_FILE, value: {{ include "jit.secretPath" (list "sink-url" $v.notifier.sink.url.key) }} }
- { name: JIT_SINK_SECRET_FILE, value: {{ include "jit.secretPath" (list "sink-secret" $v.notifier.sink.secret.key) }} }
{{- end }}
{{- if $c.sign }}
{{- $s := index $v.signing $c.sign }}
{{- if $s.existingSecret }}
- { name: JIT_SIGNING_KEY_FILE, value: {{ include "jit.secretPath" (list "signing-key" $s.key) }} }
{{- end }}
{{- end }}
{{- if $c.consumes }}
{{- range $role := list "gate" "issuer" "revoker" }}
{{- with include "jit.trustedKeys" (list $v $role) }}
- { name: {{ printf "JIT_TRUSTED_%s_KEYS" (upper $role) }}, value: {{ . | quote }} }
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := $cv.env }}
- { name: {{ $name }}, value: {{ $value | quote }} }
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "jit.publicUrl" -}}
{{- if .Values.publicUrl }}{{ .Values.publicUrl }}{{ else if .Values.ingress.host }}https://{{ .Values.ingress.host }}{{ else }}https://{{ first .Values.httpRoute.hostnames }}{{ end }}
{{- end }}

{{/*
Secret references a component mounts, as [volume name, Secret name, [keys]]: every secret reaches
the process as a file (`X_FILE`), never as an environment value or a ConfigMap entry.
*/}}
{{- define "jit.secretMounts" -}}
{{- $root := index . 0 }}{{- $c := index . 1 }}{{- $v := $root.Values -}}
{{- $m := list }}
{{- if $v.kafka.brokers }}
{{- if and $v.kafka.tls.enabled $v.kafka.tls.ca.existingSecret }}{{ $m = append $m (list "kafka-ca" $v.kafka.tls.ca.existingSecret (list $v.kafka.tls.ca.key)) }}{{ end }}
{{- if and $v.kafka.tls.enabled $v.kafka.tls.clientCert.existingSecret }}{{ $m = append $m (list "kafka-client-cert" $v.kafka.tls.clientCert.existingSecret (list $v.kafka.tls.clientCert.certKey $v.kafka.tls.clientCert.keyKey)) }}{{ end }}
{{- if eq $v.kafka.sasl.mechanism "oauthbearer" }}{{ $m = append $m (list "kafka-oauthbearer-token" $v.kafka.sasl.oauthbearerToken.existingSecret (list $v.kafka.sasl.oauthbearerToken.key)) }}
{{- else if $v.kafka.sasl.mechanism }}{{ $user := include "jit.kafkaSaslUser" (list $root $c) | fromJson }}{{ $m = append $m (list "kafka-sasl-password" $user.secret (list $user.key)) }}{{ end }}
{{- end }}
{{- if and (ne $c.gitlab "no") $v.gitlab.url }}{{ $m = append $m (list "gitlab-token" $v.gitlab.token.existingSecret (list $v.gitlab.token.key)) }}{{ end }}
{{- if $c.webhook }}
{{- with $v.webhook.secret.existingSecret }}{{ $m = append $m (list "webhook-secret" . (list $v.webhook.secret.key)) }}{{ end }}
{{- with $v.webhook.signingSecret.existingSecret }}{{ $m = append $m (list "webhook-signing-secret" . (list $v.webhook.signingSecret.key)) }}{{ end }}
{{- end }}
{{- if and $c.notify $v.notifier.enabled $v.notifier.channels.existingSecret }}{{ $m = append $m (list "notify-channels" $v.notifier.channels.existingSecret (list $v.notifier.channels.key)) }}{{ end }}
{{- if and $c.notify $v.notifier.enabled $v.notifier.sink.url.existingSecret }}{{ $m = append $m (list "sink-url" $v.notifier.sink.url.existingSecret (list $v.notifier.sink.url.key)) }}{{ $m = append $m (list "sink-secret" $v.notifier.sink.secret.existingSecret (list $v.notifier.sink.secret.key)) }}{{ end }}
{{- if and $c.ui $v.dashboard.enabled $v.dashboard.oauth.secret.existingSecret }}{{ $m = append $m (list "ui-oauth-secret" $v.dashboard.oauth.secret.existingSecret (list $v.dashboard.oauth.secret.key)) }}{{ end }}
{{- if and $c.ui $v.dashboard.enabled }}{{ $m = append $m (list "ui-session-key" (include "jit.uiSessionKeySecret" $root) (list $v.dashboard.session.key.key)) }}{{ end }}
{{- if $c.sign }}{{ $s := index $v.signing $c.sign }}{{ with $s.existingSecret }}{{ $m = append $m (list "signing-key" . (list $s.key)) }}{{ end }}{{ end }}
{{- toJson $m }}
{{- end }}

{{- define "jit.volumeMounts" -}}
{{- $root := index . 0 }}{{- $c := index . 1 }}{{- $v := $root.Values -}}
- { name: tmp, mountPath: /tmp }
{{- if $c.data }}
- { name: data, mountPath: /var/lib/jit }
{{- end }}
{{- range include "jit.secretMounts" . | fromJsonArray }}
- { name: {{ index . 0 }}, mountPath: /var/run/secrets/jit/{{ index . 0 }}, readOnly: true }
{{- end }}
{{- if $c.issues }}
{{- if $v.substrates }}
- { name: substrates, mountPath: /etc/jit, readOnly: true }
{{- end }}
{{- range $v.secretRefs }}
- { name: ref-{{ .name }}, mountPath: /var/run/secrets/jit/refs/{{ .name }}, readOnly: true }
{{- end }}
{{- range $v.projectedTokens }}
- { name: token-{{ .name }}, mountPath: /var/run/secrets/jit/tokens/{{ .name }}, readOnly: true }
{{- end }}
{{- end }}
{{- end }}

{{- define "jit.volumes" -}}
{{- $root := index . 0 }}{{- $c := index . 1 }}{{- $v := $root.Values -}}
- name: tmp
  emptyDir: { sizeLimit: 64Mi }
{{- if eq $c.data "emptyDir" }}
- name: data
  emptyDir: { sizeLimit: {{ (index $v $c.key).dedupeVolume.sizeLimit }} }
{{- else if eq $c.data "pvc" }}
- name: data
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-data" (include "jit.fullname" $root)) $v.embedded.persistence.existingClaim }}
{{- end }}
{{- range include "jit.secretMounts" . | fromJsonArray }}
- name: {{ index . 0 }}
  secret:
    secretName: {{ index . 1 }}
    defaultMode: 0440
    items:
    {{- range index . 2 }}
      - { key: {{ . | quote }}, path: {{ . | quote }} }
    {{- end }}
{{- end }}
{{- if $c.issues }}
{{- if $v.substrates }}
- name: substrates
  configMap:
    name: {{ include "jit.fullname" $root }}-substrates
{{- end }}
{{- range $v.secretRefs }}
- name: ref-{{ .name }}
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
    {{- with .items }}
    items: {{ toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- range $v.projectedTokens }}
- name: token-{{ .name }}
  projected:
    defaultMode: 0440
    sources:
      - serviceAccountToken:
          path: token
          audience: {{ .audience | quote }}
          expirationSeconds: {{ default 3600 .expirationSeconds }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Service (name, port) a route of files/routes.yaml goes to: its component, or the all-in-one. */}}
{{- define "jit.routeBackend" -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}
{{- $c := dict }}
{{- range include "jit.components" $root | fromYamlArray }}{{ if or (eq .name $component) (eq .name "all-in-one") }}{{ $c = . }}{{ end }}{{ end }}
{{- toJson (dict "name" (include "jit.componentName" (list $root $c)) "port" (index $root.Values $c.key).port) }}
{{- end }}

{{/* The SASL user (plain/scram) of a component: its own `kafkaSasl`, else the shared `kafka.sasl`. */}}
{{- define "jit.kafkaSaslUser" -}}
{{- $root := index . 0 }}{{- $c := index . 1 }}{{- $v := $root.Values }}
{{- $own := dig "kafkaSasl" (dict) (index $v $c.key) }}
{{- if dig "username" "" $own }}
{{- toJson (dict "username" $own.username "secret" $own.password.existingSecret "key" $own.password.key) }}
{{- else }}
{{- toJson (dict "username" $v.kafka.sasl.username "secret" $v.kafka.sasl.password.existingSecret "key" $v.kafka.sasl.password.key) }}
{{- end }}
{{- end }}

{{/* The Secret holding the dashboard's session keys: the operator's, or the one the chart generates. */}}
{{- define "jit.uiSessionKeySecret" -}}
{{- default (printf "%s-ui-session-key" (include "jit.fullname" .)) .Values.dashboard.session.key.existingSecret }}
{{- end }}
