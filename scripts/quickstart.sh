#!/usr/bin/env bash
# `npm run quickstart`: installs, builds, starts the platform (web + API, worker, launcher) on
# the local PostgreSQL and Redis, runs a demo sync (faker → Postgres) through it, and prints the
# dashboard's URL and a login. The platform keeps running until Ctrl-C.
#
#   QUICKSTART_DETACH=1   leave the platform running in the background and return
#   QUICKSTART_EXIT=1     stop the platform after the demo (what the quickstart test does)
#   SLUICE_PORT           dashboard/API port (default 3000)
#   DATABASE_URL, REDIS_URL   default to the local servers
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/.sluice"
LOGS="$STATE/logs"
mkdir -p "$LOGS"
chmod 700 "$STATE"

say() { printf '\033[1m[quickstart]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Stops what an earlier quickstart left running (each service is its own process group).
stop_all() {
  for name in launcher worker web; do
    pidfile="$STATE/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; fi
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}
if [ "${1:-}" = --stop ]; then stop_all; say stopped; exit 0; fi

node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node.js >= 20.19 is required (found $(node -v))"

# --- services -------------------------------------------------------------------------------
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/sluice}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
if ! node -e "require('net').connect({host:'127.0.0.1',port:5432}).on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then
    say 'starting PostgreSQL'
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  else
    die "PostgreSQL is not reachable at 127.0.0.1:5432 (set DATABASE_URL)"
  fi
fi
if ! node -e "require('net').connect({host:'127.0.0.1',port:6379}).on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
  if command -v redis-server >/dev/null; then
    say 'starting Redis'
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no --logfile "$LOGS/redis.log"
  else
    die "Redis is not reachable at 127.0.0.1:6379 (set REDIS_URL)"
  fi
fi

# --- install and build ----------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say 'installing dependencies (npm ci)'
  npm ci --no-audit --no-fund --loglevel=error
fi
say 'building (turbo; cached after the first run)'
npx turbo run build --output-logs=errors-only >"$LOGS/build.log" 2>&1 || { tail -40 "$LOGS/build.log"; die 'build failed'; }

# --- configuration: generated once, kept in .sluice/env (mode 0600) ---------------------------
if [ ! -f "$STATE/env" ]; then
  node -e '
    const c = require("crypto");
    const out = [
      "SLUICE_SECRET_KEY=" + c.randomBytes(32).toString("base64"),
      "SLUICE_DATAPLANE_TOKEN=sluice_dp_" + c.randomBytes(32).toString("base64url"),
      "SLUICE_ADMIN_EMAIL=admin@sluice.local",
      "SLUICE_ADMIN_PASSWORD=" + c.randomBytes(12).toString("base64url"),
    ];
    require("fs").writeFileSync(process.argv[1], out.join("\n") + "\n", { mode: 0o600 });
  ' "$STATE/env"
fi
set -a
# shellcheck disable=SC1091
. "$STATE/env"
set +a
export SLUICE_PORT="${SLUICE_PORT:-3000}"
export SLUICE_API_URL="http://127.0.0.1:$SLUICE_PORT/api/trpc"
export SLUICE_WORKLOADS_ROOT="$STATE/workloads"
export NEXT_TELEMETRY_DISABLED=1
export LOG_LEVEL="${LOG_LEVEL:-info}"

stop_all

# --- migrations, connector definitions ----------------------------------------------------------
say 'bootloader: migrations and connector definitions'
node packages/db/dist/cli.js >"$LOGS/bootloader.log" 2>&1 || { tail -20 "$LOGS/bootloader.log"; die 'bootloader failed'; }

# --- start the platform ---------------------------------------------------------------------
start() { # name, command…: own process group, so stop_all takes its children too
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name.pid"
}
say "starting web + API on :$SLUICE_PORT, worker, launcher (logs in .sluice/logs/)"
start web node node_modules/next/dist/bin/next start apps/web -p "$SLUICE_PORT" -H 0.0.0.0
start worker node apps/worker/dist/main.js
api_up() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$SLUICE_API_URL/health.check"; }
for _ in $(seq 1 120); do
  api_up && break
  kill -0 "$(cat "$STATE/web.pid")" 2>/dev/null || { tail -30 "$LOGS/web.log"; die 'the web server exited'; }
  sleep 0.5
done
api_up || { tail -30 "$LOGS/web.log"; die 'the API did not come up'; }
# The launcher checks its dataplane token against the API at start, so it starts last.
start launcher node apps/launcher/dist/main.js

# --- the demo sync --------------------------------------------------------------------------
say 'demo: faker → Postgres through the platform'
export SLUICE_DEMO_COUNT="${SLUICE_DEMO_COUNT:-10000}"
if node scripts/demo.mjs; then demo=ok; else demo=failed; fi

cat >&2 <<MSG

  Sluice is running.
    Dashboard   http://localhost:$SLUICE_PORT
    Login       $SLUICE_ADMIN_EMAIL / $SLUICE_ADMIN_PASSWORD
    CLI         npx sluice jobs          (already logged in)
    Logs        .sluice/logs/{web,worker,launcher}.log
MSG

if [ "${QUICKSTART_EXIT:-}" = 1 ]; then
  stop_all
  [ "$demo" = ok ] || exit 1
  exit 0
fi
[ "$demo" = ok ] || say 'the demo sync failed: see above and .sluice/logs/'
if [ "${QUICKSTART_DETACH:-}" = 1 ]; then
  say 'left running in the background; stop it with: npm run quickstart:stop'
  exit 0
fi
say 'Ctrl-C stops the platform'
trap 'stop_all; exit 0' INT TERM
while kill -0 "$(cat "$STATE/web.pid")" 2>/dev/null; do sleep 2; done
stop_all
