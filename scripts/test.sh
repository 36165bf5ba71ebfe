#!/bin/sh
# `npm test`: make sure the brokers and databases run (idempotent; skip with
# SWITCHYARD_SKIP_SERVICES=1 when you point the tests at your own), then run every test.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${SWITCHYARD_SKIP_SERVICES:-}" != "1" ]; then bash "$root/scripts/services.sh"; fi
exec vitest run "$@"
