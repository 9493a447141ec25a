#!/usr/bin/env bash
# Installs the image build tools from Debian packages when they are missing (idempotent: does
# nothing, and needs no network, when both are there): mmdebstrap builds the base root filesystem,
# buildah builds the image (vfs storage, chroot isolation: no daemon, no registry).
set -euo pipefail
need=()
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
[ "${#need[@]}" -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "image tools: installing ${need[*]} from Debian packages" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
