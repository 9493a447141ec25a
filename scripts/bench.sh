#!/usr/bin/env bash
# `npm run bench`: the benchmarks under bench/ (measurements, not tests), with the real services
# they need started on 127.0.0.1 and stopped afterwards. `npm run bench -- bus ingest` runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_NO_CLOUD=true NX_DAEMON=false
bash scripts/services/setup.sh
trap 'bash scripts/services/stop.sh || true' EXIT
bash scripts/services/start.sh all
set -a; . .cache/services/env; set +a
export KAFKA_BROKERS="${KAFKA_BROKERS:-$JIT_TEST_KAFKA_BROKERS}"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(bus ingest issue revoke startup)
# startup compares the build with the sources
[[ " ${names[*]} " != *" startup "* ]] || npm run build --silent
for name in "${names[@]}"; do
  for f in bench/"$name"/*.bench.ts; do
    [ -f "$f" ] || continue
    echo "=== $f"
    npx tsx "$f"
  done
done
