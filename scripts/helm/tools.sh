#!/usr/bin/env bash
# Installs the chart's pinned tools (versions.env) into ~/.cache/jit/helm-tools-<hash> — outside the
# clone, keyed by the versions, this script and the Go version — and prints that directory. A warm
# run only checks the stamp file. Layout:
#   bin/{helm,kubeconform,helm-unittest,helm-docs}
#   schemas/v<kube>-local-strict/*.json   Kubernetes' schemas (kubeconform -schema-location)
#   schemas/crds/<kind>-<api group>-<version>.json   ServiceMonitor, PrometheusRule, HTTPRoute
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC1091
. "$here/versions.env"
key="$( (cat "$here/versions.env" "$here/tools.sh"; go env GOVERSION GOARCH) | sha256sum | cut -c1-16)"
dir="${JIT_HELM_TOOLS_DIR:-$HOME/.cache/jit/helm-tools-$key}"
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi

log() { echo "helm-tools: $*" >&2; }
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/bin" "$dir.tmp/schemas/crds"
started=$SECONDS
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
moddir() { go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'; }
for mod in \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" \
  "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" \
  "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"; do
  log "go install $mod"
  GOBIN="$dir.tmp/bin" go install "$mod" >&2
done
# helm-unittest's go.mod has a replace directive, which `go install pkg@version` refuses: build it
# as the main module, from a copy of its (read-only) module directory
log "go build helm-unittest $HELM_UNITTEST_VERSION"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$(moddir "github.com/helm-unittest/helm-unittest@$HELM_UNITTEST_VERSION")" "$work/helm-unittest"
chmod -R u+w "$work/helm-unittest"
(cd "$work/helm-unittest" && go build -o "$dir.tmp/bin/helm-unittest" ./cmd/helm-unittest >&2)

log "Kubernetes schemas from kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
# Its schemas name their definitions by URL (`$id` https://kubernetes.io/api/…, `$ref`
# /api/_definitions.json#…); kubeconform loads files, so each schema loses its `$id` and refers to
# the _definitions.json beside it.
python3 - "$work"/kubernetes_validate-*.whl "$dir.tmp/schemas" $KUBE_VERSIONS <<'PY'
import json, sys, zipfile, os
whl, out, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(whl) as z:
    for v in versions:
        prefix = f"kubernetes_validate/kubernetes-json-schema/v{v}-local-strict/"
        names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            sys.exit(f"kubernetes-validate has no schemas for Kubernetes {v}")
        for n in names:
            target = os.path.join(out, f"v{v}-local-strict", n[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            schema = json.loads(z.read(n))
            schema.pop("$id", None)
            with open(target, "w") as f:
                f.write(json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#'))
PY

log "CRD schemas (prometheus-operator $PROMETHEUS_OPERATOR_VERSION, gateway-api $GATEWAY_API_VERSION)"
prom="$(moddir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
gw="$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
conv="$(moddir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")/scripts/openapi2jsonschema.py"
# kubeconform's own converter (needs PyYAML: the system's, or the project's .venv)
py=python3
python3 -c 'import yaml' 2>/dev/null || py="$here/../../.venv/bin/python"
(cd "$dir.tmp/schemas/crds" && FILENAME_FORMAT='{kind}-{fullgroup}-{version}' "$py" "$conv" \
  "$prom/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
  "$prom/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
  "$gw/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" >/dev/null)

"$dir.tmp/bin/helm" version --short >&2
touch "$dir.tmp/.complete"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
log "installed in $((SECONDS - started)) s: $dir"
echo "$dir"
