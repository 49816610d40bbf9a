#!/usr/bin/env node
// schedule-lateness: 1,000 connections on a one-minute cron with a no-op workload service;
// lateness = the job row's creation time minus the cron instant it was due. Prints p50_ms and
// p99_ms (goal: p99 ≤ 2,000 ms), plus max_ms, jobs and missed. Takes about three minutes.
// Needs Postgres and Redis (as the tests). Options: --connections=N --ticks=N --processes=N
// --concurrency=N --redis=URL. The benchmark itself lives in apps/worker/bench and runs on the
// workspaces' TypeScript sources (through tsx), so nothing needs building first.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const child = spawn(
  process.execPath,
  [
    '--conditions=sluice-source',
    '--import',
    'tsx',
    join(here, '../apps/worker/bench/schedule-lateness.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', cwd: join(here, '../apps/worker') },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
