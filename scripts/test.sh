#!/usr/bin/env bash
# The README's test command (`npm test`): provisions the real services the suites need
# (virtualenv with OpenBao + moto, Kafka jars), starts them on 127.0.0.1, runs lint,
# typecheck, unit, the Helm chart's checks, integration and end-to-end suites, and stops what it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_NO_CLOUD=true NX_DAEMON=false
[ -d node_modules ] || npm ci --no-audit --no-fund

bash scripts/services/setup.sh

rm -rf tmp/vitest-results
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    # a failed run shows why the services misbehaved, if they did
    for log in "${JIT_SERVICES_DIR:-.cache/services}"/*.log; do
      [ -s "$log" ] || continue
      echo "---- last lines of $log ----" >&2
      tail -n 25 "$log" >&2 || true
    done
  fi
  bash scripts/services/stop.sh || true
  # the closing line CI reads: every vitest run of this invocation, summed
  node scripts/test-summary.mjs tmp/vitest-results --exit-status "$status" || true
  exit "$status"
}
trap cleanup EXIT

npx nx run-many -t lint typecheck --parallel=2
# one format for the code (prettier; .prettierrc.json): `npm run format` rewrites, this only checks
npm run --silent format:check
# test/, bench/ and scripts/ are not Nx projects: the root tsconfig typechecks them
npx tsc -p tsconfig.json --noEmit
npx nx run-many -t test --parallel=2
# the Helm chart: lint, render + kubeconform, helm-unittest, generated README (tools cached in ~/.cache/jit)
bash scripts/helm/test.sh

bash scripts/services/start.sh all
# shellcheck disable=SC1091
set -a; . "${JIT_SERVICES_DIR:-.cache/services}/env"; set +a
npx nx run-many -t test:integration --parallel=1
if [ -d test ] && find test -name '*.e2e.test.ts' -not -path '*/node_modules/*' | grep -q .; then
  npx vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json --outputFile.json=tmp/vitest-results/e2e.json
fi
# the chaos suite, short (issue 17; test/chaos/README.md): distributed mode on a private broker
# under random faults; exits 1 on any loss, duplicate, wrong grant or credential alive after expiry
CHAOS_FAULTS="${CHAOS_FAULTS:-kill9,kill9-pair,broker-term,broker-kill,pause,substrate-down}" CHAOS_SPARE="${CHAOS_SPARE:-}" CHAOS_N="${CHAOS_N:-6}" CHAOS_FAULT_EVERY_MS="${CHAOS_FAULT_EVERY_MS:-10000}" CHAOS_TTL_S="${CHAOS_TTL_S:-20}" CHAOS_REVOKE_BOUND_MS="${CHAOS_REVOKE_BOUND_MS:-45000}" npx tsx test/chaos/run.ts
echo "all suites passed"
