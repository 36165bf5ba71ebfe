#!/bin/sh
# Runs a command with Node.js >= 22.22 first on PATH, and with dependencies installed.
# The machine's own Node may be older (Debian ships 20): then Node 24 is installed once from
# the npm registry package `node@24` into .tools/node (no download outside the registry).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/node"

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=22)?0:1)'
}

if ! node_ok; then
  if [ ! -x "$tools/node_modules/node/bin/node" ]; then
    echo "switchyard: Node $(node --version 2>/dev/null || echo none) is older than 22.22 — installing Node 24 into .tools/node (once)…" >&2
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@24 >&2
  fi
  PATH="$tools/node_modules/node/bin:$PATH"
  export PATH
fi

# Install dependencies on first use, or again when the lock file changed since.
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "switchyard: installing dependencies (npm ci)…" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

PATH="$root/node_modules/.bin:$PATH"
export PATH
exec "$@"
