#!/bin/sh
# Prints the directory of a Node.js >= 22.22 binary, installing Node 24 from the npm registry
# package `node@24` into .tools/node when the machine's Node is older (Debian 12 ships 20).
# Usage: PATH="$(sh scripts/ensure-node.sh):$PATH"
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/node"

if command -v node >/dev/null 2>&1 &&
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=22)?0:1)'; then
  dirname "$(command -v node)"
  exit 0
fi
if [ ! -x "$tools/node_modules/node/bin/node" ]; then
  echo "switchyard: Node $(node --version 2>/dev/null || echo '(none)') is older than 22.22; installing Node 24 into .tools/node (once)…" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@24 >&2
fi
echo "$tools/node_modules/node/bin"
