#!/usr/bin/env bash
# The chart's CI (scripts/test.sh runs it): helm lint; helm template of the default values and of
# each realistic values file (ci/*-values.yaml) validated with kubeconform against Kubernetes'
# published schemas (and the CRDs' for ServiceMonitor, PrometheusRule, HTTPRoute), offline; every
# environment variable of the rendered containers a setting its app reads (check-env-names.ts); the
# helm-unittest suites (tests/); README.md up to date with values.yaml (helm-docs).
# Tools come from scripts/helm/tools.sh (cached under ~/.cache/jit, keyed by their versions).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
tools="$(bash scripts/helm/tools.sh)"
# shellcheck disable=SC1091
. scripts/helm/versions.env
export PATH="$tools/bin:$PATH"
# helm keeps its caches and config out of $HOME and the clone
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export HELM_CACHE_HOME="$scratch/cache" HELM_CONFIG_HOME="$scratch/config" HELM_DATA_HOME="$scratch/data"
chart=deploy/helm/jit

echo "== helm lint"
helm lint --strict "$chart" >/dev/null
for values in "$chart"/ci/*-values.yaml; do helm lint --strict "$chart" -f "$values" >/dev/null; done

echo "== helm template + kubeconform (Kubernetes $KUBE_VERSIONS)"
render() { helm template jit "$chart" --namespace jit ${1:+-f "$1"}; }
for values in "" "$chart"/ci/*-values.yaml; do
  name="${values:+$(basename "$values" -values.yaml)}"
  out="$scratch/${name:-default}.yaml"
  render "$values" >"$out"
  for kube in $KUBE_VERSIONS; do
    kubeconform -strict -summary -output text -kubernetes-version "$kube" \
      -schema-location "$tools/schemas/{{ .NormalizedKubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
      -schema-location "$tools/schemas/crds/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json" \
      "$out" | sed "s|^|  ${name:-default} (k8s $kube): |"
  done
  # secrets travel only as references: the one Secret ever rendered is the dashboard's session key,
  # random bytes the chart generates (no value of values.yaml goes into it)
  for secret in $(awk '/^---/{k=0} /^kind: Secret$/{k=1} k && /^  name: /{print $2; k=0}' "$out"); do
    case "$secret" in *-ui-session-key) ;; *) echo "${name:-default}: renders the Secret $secret" >&2; exit 1 ;; esac
  done
done

echo "== every setting the chart passes is one the process reads"
node --import tsx scripts/helm/check-env-names.ts "$scratch"/*.yaml

echo "== helm-unittest"
helm-unittest --strict --color=false "$chart"

echo "== README.md generated from values.yaml (helm-docs)"
helm-docs --log-level warning --chart-search-root "$chart" --template-files README.md.gotmpl --dry-run >"$scratch/README.md"
if ! diff -u "$chart/README.md" "$scratch/README.md"; then
  echo "deploy/helm/jit/README.md is out of date: run scripts/helm/docs.sh" >&2
  exit 1
fi
echo "chart checks passed in $((SECONDS - started)) s"
