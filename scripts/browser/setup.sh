#!/usr/bin/env bash
# Installs Debian's chromium, the browser the dashboard's tests drive with playwright-core
# (apps/jit/src/dashboard.int.test.ts), when it is missing (idempotent: does nothing, and needs no
# network, when it is there). No browser is downloaded by npm and nothing is cached in the clone.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "browser tests: installing chromium from Debian packages" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
