#!/usr/bin/env bash
# The README's test command (`npm test`): provisions the real services the suites need
# (virtualenv with OpenBao + moto, Kafka jars), starts them on 127.0.0.1, runs lint,
# typecheck, unit, integration and end-to-end suites, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_NO_CLOUD=true NX_DAEMON=false
[ -d node_modules ] || npm ci --no-audit --no-fund

bash scripts/services/setup.sh

cleanup() { bash scripts/services/stop.sh || true; }
trap cleanup EXIT

npx nx run-many -t lint typecheck --parallel=2
npx nx run-many -t test --parallel=2

bash scripts/services/start.sh all
# shellcheck disable=SC1091
set -a; . .cache/services/env; set +a
npx nx run-many -t test:integration --parallel=1
if ls test/**/*.e2e.test.ts test/*.e2e.test.ts >/dev/null 2>&1; then
  npx vitest run --config vitest.e2e.config.ts
fi
echo "all suites passed"
