#!/usr/bin/env bash
# Stops every service start.sh started (SIGTERM, then SIGKILL after a grace period), removes
# their temporary data directories and the env file. Safe to run when nothing is running.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${JIT_SERVICES_DIR:-.cache/services}
[ -d "$DIR" ] || exit 0
exec 9>"$DIR/.lock"
flock 9

pids=()
for pidfile in "$DIR"/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(tr -dc '0-9' <"$pidfile")
  # only signal what start.sh started: a stale pid file may name an unrelated process
  if [ -n "$pid" ] && [ "$pid" -gt 1 ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq 'kafka\.Kafka|bao|moto_server|serve-postgres'; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
done

# wait for all of them together (Kafka's controlled shutdown takes a few seconds)
deadline=$((SECONDS + 60))
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop: pid $pid ignored SIGTERM for 60 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
done

for dirfile in "$DIR"/*.dir; do
  [ -e "$dirfile" ] || continue
  d=$(cat "$dirfile")
  # only ever delete what the harness created
  case "$d" in "${TMPDIR:-/tmp}"/jit-*|/tmp/jit-*) rm -rf -- "$d" ;; esac
done
rm -f "$DIR"/*.pid "$DIR"/*.dir "$DIR"/postgres.url "$DIR"/env
echo "stop: services stopped"
