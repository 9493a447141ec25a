#!/bin/bash
# Runs inside the Debian stage of Containerfile: copies to $1 the part of the root filesystem that
# node needs at run time and nothing else — the dynamic loader and glibc, libstdc++ and libgcc_s, the
# CA bundle, the packages' copyright files and dpkg records (status.d/, read by image scanners), the
# os-release file, nsswitch.conf, and passwd/group with the jit user. No shell, no coreutils, no dpkg.
set -euo pipefail
out=$1 uid=$2
KEEP=(libc6 libgcc-s1 libstdc++6 ca-certificates)

mkdir -p "$out/usr/lib/x86_64-linux-gnu" "$out/usr/lib64" "$out/etc/ssl/certs" "$out/var/lib/dpkg/status.d" "$out/usr/share/doc"
# merged /usr: /lib and /lib64 are links, and the loader named in every ELF file is /lib64/ld-linux-x86-64.so.2
cp -a /lib /lib64 "$out/"
for pkg in "${KEEP[@]}"; do
  list=/var/lib/dpkg/info/$pkg:amd64.list
  [ -f "$list" ] || list=/var/lib/dpkg/info/$pkg.list
  # shared objects directly in the library directories (not gconv/, audit/: node uses neither)
  { grep -E '^(/usr)?/lib(64)?(/x86_64-linux-gnu)?/[^/]+\.so(\.[0-9.]+)?$' "$list" || true; } | while read -r f; do
    cp -a --parents "$f" "$out/"
  done
  mkdir -p "$out/usr/share/doc/$pkg"
  cp -a "/usr/share/doc/$pkg/copyright" "$out/usr/share/doc/$pkg/"
  # the package's dpkg record, as distroless images keep them, so scanners know what is inside
  awk -v p="Package: $pkg" 'BEGIN { RS = ""; ORS = "\n\n" } { n = split($0, l, "\n"); for (i = 1; i <= n; i++) if (l[i] == p) { print; next } }' \
    /var/lib/dpkg/status >"$out/var/lib/dpkg/status.d/$pkg"
  [ -s "$out/var/lib/dpkg/status.d/$pkg" ] || { echo "slim-root: $pkg is not installed" >&2; exit 1; }
done
cp -aL /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
cp -aL /etc/os-release "$out/etc/os-release"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$out/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/sbin/nologin\njit:x:%s:%s:jit:/tmp:/sbin/nologin\n' "$uid" "$uid" >"$out/etc/passwd"
printf 'root:x:0:\njit:x:%s:\n' "$uid" >"$out/etc/group"
install -d -m 1777 "$out/tmp"
install -d -m 0700 -o "$uid" -g "$uid" "$out/var/lib/jit"
install -d -m 0755 "$out/app" "$out/usr/local/bin"
