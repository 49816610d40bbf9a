#!/usr/bin/env bash
# The README's test command: installs everything from a fresh clone, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
npm ci --no-audit --no-fund
npm run lint
npm run build
npm run typecheck
npm test

# The README's other command, end to end: the platform up, the demo sync through it, then down.
# Its own database, queue prefix, ports and HOME, so it touches nothing a developer runs here.
for db in sluice_quickstart_smoke sluice_quickstart_smoke_demo; do
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
smoke_home=$(mktemp -d)
trap 'rm -rf "$smoke_home"' EXIT
HOME="$smoke_home" QUICKSTART_EXIT=1 SLUICE_PORT=3917 SLUICE_QUEUE_PREFIX="sluice-smoke-$$" \
  SLUICE_WORKER_METRICS_PORT=0 SLUICE_METRICS_PORT=0 \
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/sluice_quickstart_smoke \
  SLUICE_DEMO_DATABASE=sluice_quickstart_smoke_demo \
  bash scripts/quickstart.sh
