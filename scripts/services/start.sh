#!/usr/bin/env bash
# Starts real services on 127.0.0.1, each on a free port, and waits until each is ready:
#   scripts/services/start.sh <kafka|openbao|moto|postgres|all ...>
# Writes .cache/services/env (JIT_TEST_* lines: `set -a; . .cache/services/env; set +a`),
# .cache/services/<name>.pid and <name>.log. Already-running healthy services are left alone.
# JIT_SERVICES_DIR=<dir> keeps all of that elsewhere (the harness's own tests use it).
# The work is done by libs/testing/src/cli.ts, the same code the tests use (@jit/testing).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || { echo "usage: $0 <kafka|openbao|moto|postgres|all ...>" >&2; exit 2; }
DIR=${JIT_SERVICES_DIR:-.cache/services}
mkdir -p "$DIR"
TSX=node_modules/.bin/tsx
[ -x "$TSX" ] || { echo "start: run npm ci first (no $TSX)" >&2; exit 1; }
for s in "$@"; do
  case "$s" in kafka|openbao|moto|all) bash scripts/services/setup.sh >/dev/null; break ;; esac
done
# one start at a time, so two callers never race on the env file
exec 9>"$DIR/.lock"
flock 9
"$TSX" libs/testing/src/cli.ts start "$@"
