#!/bin/sh
# Runs a command with Node.js >= 22.22 first on PATH (see ensure-node.sh) and the project's
# dependencies installed (npm ci on first use, or when package-lock.json changed since).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
PATH="$(sh "$root/scripts/ensure-node.sh"):$PATH"
export PATH

if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "switchyard: installing dependencies (npm ci)…" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

PATH="$root/node_modules/.bin:$PATH"
export PATH
exec "$@"
