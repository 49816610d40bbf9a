#!/usr/bin/env node
// `npm run bench -- pg-to-pg [--rows N] [--sockets N] [--modes stdio,socket,raw]
//   [--path platform|direct] [--keep] [--no-build]`
// A 3M-row, 16-column table synced Postgres → Postgres (source-postgres → destination-postgres,
// full refresh overwrite) through the platform's middleware in stdio and socket mode, against a
// raw psql COPY pipe in the same run; every target checked equal to the source. The benchmark
// lives with the destination (connectors/destination-postgres/bench/pg-to-pg.ts) and runs on the
// workspace packages' TypeScript sources for the platform harness.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const child = spawn(
  process.execPath,
  [
    '--conditions=sluice-source',
    '--import',
    'tsx',
    join(root, 'connectors/destination-postgres/bench/pg-to-pg.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
