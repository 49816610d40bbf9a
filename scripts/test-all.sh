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
