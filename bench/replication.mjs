#!/usr/bin/env node
// `npm run bench -- replication [--records N] [--sockets N] [--slice N] [--modes stdio,socket]
//   [--destinations dev-null,local-jsonl] [--cpu-prof DIR] [--no-build]`
// source-faker → destination-dev-null and → destination-local-jsonl through the platform
// (middleware CLI + real connectors + a real Workload API on a test database), in stdio and socket
// mode. The benchmark lives with the middleware (packages/middleware/bench/replication.ts); it runs
// on the workspace packages' TypeScript sources, so nothing else needs building first.
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
    join(root, 'packages/middleware/bench/replication.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
