#!/usr/bin/env node
// source-faker `read` of the users stream (fixed seed) piped straight into destination-dev-null
// `write`, which parses every line and checks its envelope. The pipe joins the two processes
// directly (this script does not copy the data). Usage:
//   npm run bench -- faker-devnull-pipe [--records N] [--runs K] [--no-build]
// Prints each run to stderr, then the median run as JSON lines.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const records = opt('records', 1_000_000);
const runs = opt('runs', 3);

const sourceDir = join(root, 'connectors', 'source-faker');
const destDir = join(root, 'connectors', 'destination-dev-null');
if (!args.includes('--no-build')) {
  for (const dir of [sourceDir, destDir])
    execFileSync('npx', ['tsup', '--silent'], { cwd: dir, stdio: 'inherit' });
}

const work = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const files = {
  sourceConfig: join(work, 'source.json'),
  destConfig: join(work, 'dest.json'),
  catalog: join(work, 'catalog.json'),
};
writeFileSync(files.sourceConfig, JSON.stringify({ count: records, seed: 42, records_per_slice: 1000 }));
writeFileSync(files.destConfig, JSON.stringify({}));
writeFileSync(
  files.catalog,
  JSON.stringify({
    streams: [
      {
        stream: { name: 'users', json_schema: {}, supported_sync_modes: ['full_refresh', 'incremental'] },
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
      },
    ],
  }),
);

function exited(child, name) {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${name} exited with ${signal ?? code}`)),
    );
  });
}

async function runOnce() {
  const started = process.hrtime.bigint();
  const source = spawn(
    process.execPath,
    [join(sourceDir, 'dist', 'index.js'), 'read', '--config', files.sourceConfig, '--catalog', files.catalog],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const dest = spawn(
    process.execPath,
    [join(destDir, 'dist', 'index.js'), 'write', '--config', files.destConfig, '--catalog', files.catalog],
    { stdio: [source.stdout, 'pipe', 'inherit'] },
  );
  // The destination holds its own copy of the pipe; keeping the read end here would keep the
  // source alive should the destination die.
  source.stdout.destroy();
  let out = '';
  dest.stdout.setEncoding('utf8');
  dest.stdout.on('data', (d) => {
    out += d;
  });
  await Promise.all([exited(source, 'source-faker'), exited(dest, 'destination-dev-null')]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const states = lines.filter((m) => m.type === 'STATE').length;
  const summary = lines.find((m) => m.type === 'LOG' && m.log.message.startsWith('write finished'));
  const match = summary && /^write finished: (\d+) records, (\d+) bytes/.exec(summary.log.message);
  if (!match) throw new Error(`destination-dev-null printed no summary:\n${out.slice(-2000)}`);
  const received = Number(match[1]);
  const bytes = Number(match[2]);
  if (received !== records)
    throw new Error(`expected ${records} records, the destination counted ${received}`);
  if (states !== Math.ceil(records / 1000))
    throw new Error(`expected ${Math.ceil(records / 1000)} state echoes, got ${states}`);
  return { seconds, bytes, recordsPerS: records / seconds, mbPerS: bytes / 1e6 / seconds };
}

try {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await runOnce();
    results.push(r);
    console.error(
      `run ${i + 1}/${runs}: ${records} records, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s ` +
        `= ${Math.round(r.recordsPerS)} records/s, ${r.mbPerS.toFixed(1)} MB/s`,
    );
  }
  results.sort((a, b) => a.seconds - b.seconds);
  const median = results[Math.floor(results.length / 2)];
  const bench = 'faker-devnull-pipe';
  console.log(
    JSON.stringify({
      bench,
      metric: 'records_per_s',
      value: Math.round(median.recordsPerS),
      unit: 'records/s',
    }),
  );
  console.log(
    JSON.stringify({ bench, metric: 'mb_per_s', value: Number(median.mbPerS.toFixed(1)), unit: 'MB/s' }),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
