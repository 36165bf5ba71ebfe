#!/usr/bin/env bash
# Builds the Switchyard Kafka test cluster (librdkafka mock cluster + harness)
# into ~/.cache/switchyard/kafka-mock/ (override with KAFKA_MOCK_DIR). Skips work already
# done: re-running is a no-op unless the patch, harness or versions changed.
#
#   bash scripts/kafka-mock/build.sh [--force]
#
# Steps: npm pack @confluentinc/kafka-javascript (which bundles the librdkafka
# source under deps/librdkafka) -> extract pristine librdkafka -> apply
# librdkafka-mock.patch -> configure + build static librdkafka -> compile
# harness.c -> ~/.cache/switchyard/kafka-mock/bin/kafka-mock
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# Outside the checkout, so every clone on this machine shares one build (stamps keep it current).
OUT="${KAFKA_MOCK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/kafka-mock}"

# @confluentinc/kafka-javascript 1.10.1 ships librdkafka 2.15.1 sources.
NPM_PKG="@confluentinc/kafka-javascript"
NPM_VERSION="1.10.1"
RDK_VERSION="2.15.1"
RDK_VERSION_HEX="0x020f01ff"
CONFIGURE_FLAGS=(--disable-ssl --disable-gssapi --disable-curl --enable-zlib
                 --enable-zstd --disable-lz4-ext --enable-static
                 --disable-debug-symbols)

PATCH="$HERE/librdkafka-mock.patch"
HARNESS="$HERE/harness.c"

log() { echo "kafka-mock build: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

hash_of() { cat "$@" | sha256sum | cut -c1-16; }
LIB_STAMP="$( { echo "$NPM_PKG@$NPM_VERSION $RDK_VERSION ${CONFIGURE_FLAGS[*]}"; cat "$PATCH"; } | sha256sum | cut -c1-16)"
BIN_STAMP="$( { echo "$LIB_STAMP"; cat "$HARNESS"; } | sha256sum | cut -c1-16)"

if [[ $FORCE == 0 && -x "$OUT/bin/kafka-mock" && "$(cat "$OUT/.bin-stamp" 2>/dev/null)" == "$BIN_STAMP" ]]; then
  log "up to date ($OUT/bin/kafka-mock)"
  exit 0
fi

# --- build dependencies ----------------------------------------------------
need_pkgs=()
command -v gcc   >/dev/null || need_pkgs+=(gcc)
command -v make  >/dev/null || need_pkgs+=(make)
command -v patch >/dev/null || need_pkgs+=(patch)
command -v python3 >/dev/null || need_pkgs+=(python3)   # used by configure/lds-gen
[[ -f /usr/include/zlib.h ]] || need_pkgs+=(zlib1g-dev)
[[ -f /usr/include/zstd.h ]] || need_pkgs+=(libzstd-dev)
command -v npm >/dev/null || die "npm is required to download the librdkafka source"
if ((${#need_pkgs[@]})); then
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
  command -v apt-get >/dev/null || die "missing build dependencies: ${need_pkgs[*]} (no apt-get to install them)"
  log "installing build dependencies: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

mkdir -p "$OUT/src" "$OUT/bin" "$OUT/lib" "$OUT/include/librdkafka"
START=$(date +%s)

# --- librdkafka (patched) --------------------------------------------------
if [[ $FORCE == 1 || ! -f "$OUT/lib/librdkafka.a" || "$(cat "$OUT/.lib-stamp" 2>/dev/null)" != "$LIB_STAMP" ]]; then
  TGZ="$OUT/src/confluentinc-kafka-javascript-$NPM_VERSION.tgz"
  if [[ ! -s "$TGZ" ]]; then
    log "downloading $NPM_PKG@$NPM_VERSION via npm pack"
    (cd "$OUT/src" && npm pack --silent "$NPM_PKG@$NPM_VERSION" >/dev/null) ||
      die "npm pack $NPM_PKG@$NPM_VERSION failed (registry reachable?)"
    [[ -s "$TGZ" ]] || die "npm pack did not produce $TGZ"
  fi

  SRC="$OUT/src/librdkafka-$RDK_VERSION"
  rm -rf "$SRC" "$OUT/src/package"
  log "extracting pristine librdkafka $RDK_VERSION"
  tar -xzf "$TGZ" -C "$OUT/src" package/deps/librdkafka
  mv "$OUT/src/package/deps/librdkafka" "$SRC"
  rm -rf "$OUT/src/package"
  grep -q "define RD_KAFKA_VERSION $RDK_VERSION_HEX" "$SRC/src/rdkafka.h" ||
    die "unexpected librdkafka version in $TGZ (want $RDK_VERSION)"

  log "applying $(basename "$PATCH")"
  (cd "$SRC" && patch -p1 --forward --quiet < "$PATCH") || die "patch did not apply"

  log "configuring + building librdkafka (takes about a minute)"
  (cd "$SRC" && ./configure "${CONFIGURE_FLAGS[@]}" > "$OUT/src/configure.log" 2>&1) ||
    die "configure failed, see $OUT/src/configure.log"
  (cd "$SRC" && make -j"$(nproc)" -C src librdkafka.a > "$OUT/src/make.log" 2>&1) ||
    die "make failed, see $OUT/src/make.log"

  cp "$SRC/src/librdkafka.a" "$OUT/lib/"
  cp "$SRC/src/rdkafka.h" "$SRC/src/rdkafka_mock.h" "$OUT/include/librdkafka/"
  # Link flags found by configure (zlib/zstd etc.)
  sed -n 's/^LIBS+=[[:space:]]*//p' "$SRC/Makefile.config" | tr '\n' ' ' > "$OUT/lib/libs.txt"
  echo "$LIB_STAMP" > "$OUT/.lib-stamp"
  rm -f "$OUT/.bin-stamp"
else
  log "librdkafka up to date"
fi

# --- harness ---------------------------------------------------------------
log "compiling harness"
# shellcheck disable=SC2046
gcc -O2 -Wall -Wno-ignored-qualifiers -o "$OUT/bin/kafka-mock.tmp" "$HARNESS" \
  -I"$OUT/include" "$OUT/lib/librdkafka.a" $(cat "$OUT/lib/libs.txt") -lpthread ||
  die "compiling harness.c failed"
mv -f "$OUT/bin/kafka-mock.tmp" "$OUT/bin/kafka-mock"
echo "$BIN_STAMP" > "$OUT/.bin-stamp"

log "done in $(( $(date +%s) - START ))s: $OUT/bin/kafka-mock"
