#!/usr/bin/env node
// Full-refresh read throughput of the built connector (dist/) on a 16-column table.
//   node bench/throughput.mjs [--rows N] [--sockets K] [--readers R] [--keep]
// Needs Postgres at 127.0.0.1:5432 (user postgres, trust). Creates database
// sluice_bench_source_pg (kept with --keep, so a second run skips loading).
// Prints JSON lines {"bench","metric","value","unit"} last.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'bin', 'source-postgres.js');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rows = opt('rows', 1_000_000);
const sockets = opt('sockets', 0);
const readers = opt('readers', 0);
const keep = args.includes('--keep');
const DB = 'sluice_bench_source_pg';

const admin = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' });
await admin.connect();
const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB])).rowCount > 0;
if (!exists) await admin.query(`CREATE DATABASE ${DB}`);
await admin.end();
const db = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: DB });
await db.connect();
const have = await db.query(
  "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'wide16'",
);
let loaded = 0;
if (have.rows[0].n > 0) loaded = (await db.query('SELECT count(*)::int AS n FROM wide16')).rows[0].n;
if (loaded !== rows) {
  const t0 = Date.now();
  await db.query('DROP TABLE IF EXISTS wide16');
  await db.query(`CREATE TABLE wide16 (
    id bigint PRIMARY KEY, user_id integer, amount numeric(12,2), score double precision,
    active boolean, name text, email varchar(200), city text, country char(2),
    created_at timestamptz, updated_at timestamp, birthday date, token uuid,
    tags text, note text, counter bigint)`);
  await db.query(`INSERT INTO wide16 SELECT g, g % 100000, (g % 100000) / 100.0, g * 0.001,
      g % 2 = 0, 'user ' || g, 'user' || g || '@example.com', 'City ' || (g % 500), 'FR',
      '2024-01-01'::timestamptz + g * interval '1 second', '2024-01-01'::timestamp + g * interval '1 minute',
      '1990-01-01'::date + (g % 10000), md5(g::text)::uuid, 'a,b,c', 'note number ' || g, g * 7
    FROM generate_series(1, ${rows}) g`);
  await db.query('ANALYZE wide16');
  console.error(`loaded ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
await db.end();

const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-bench-'));
const config = join(dir, 'config.json');
const catalog = join(dir, 'catalog.json');
writeFileSync(
  config,
  JSON.stringify({
    host: '127.0.0.1',
    port: 5432,
    database: DB,
    username: 'postgres',
    ssl_mode: { mode: 'disable' },
    parallel_readers: readers,
  }),
);
writeFileSync(
  catalog,
  JSON.stringify({
    streams: [
      {
        stream: {
          name: 'wide16',
          namespace: 'public',
          json_schema: {},
          supported_sync_modes: ['full_refresh'],
        },
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
      },
    ],
  }),
);

const env = { PATH: process.env.PATH ?? '' };
const paths = [];
if (sockets > 0) {
  for (let i = 0; i < sockets; i++) paths.push(join(dir, `s${i}.sock`));
  Object.assign(env, {
    DATA_CHANNEL_MEDIUM: 'SOCKET',
    DATA_CHANNEL_FORMAT: 'JSONL',
    DATA_CHANNEL_SOCKET_PATHS: paths.join(','),
  });
}

/** Counts newline bytes in a stream (records plus states, close enough at this scale). */
const countLines = (stream) =>
  new Promise((resolve, reject) => {
    let lines = 0;
    let bytes = 0;
    stream.on('data', (b) => {
      bytes += b.length;
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
    });
    stream.on('end', () => resolve({ lines, bytes }));
    stream.on('error', reject);
  });

const started = process.hrtime.bigint();
// bash's `times` reports the connector's own CPU time: a figure that holds on a busy machine,
// where wall-clock rates mostly measure the neighbours.
const child = spawn(
  'bash',
  ['-c', 'node "$0" "$@"; s=$?; times >&2; exit $s', bin, 'read', '--config', config, '--catalog', catalog],
  { stdio: ['ignore', 'pipe', 'pipe'], env },
);
let stderr = '';
child.stderr.on('data', (d) => {
  stderr += d;
});
const counts = [countLines(child.stdout)];
if (sockets > 0) {
  for (const p of paths) {
    counts.push(
      (async () => {
        for (;;) {
          try {
            const s = await new Promise((resolve, reject) => {
              const c = createConnection(p);
              c.once('connect', () => resolve(c));
              c.once('error', reject);
            });
            return await countLines(s);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      })(),
    );
  }
}
const code = await new Promise((resolve) => child.on('exit', resolve));
const results = await Promise.all(counts);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
if (!keep) {
  const a = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' });
  await a.connect();
  await a.query(`DROP DATABASE IF EXISTS ${DB}`);
  await a.end();
}
rmSync(dir, { recursive: true, force: true });
if (code !== 0) {
  console.error(`connector exited with ${code}: ${stderr}`);
  process.exit(1);
}
const bytes = results.reduce((s, r) => s + r.bytes, 0);
// `times` prints the shell's line, then its children's: "0m1.234s 0m0.123s".
const toSeconds = (t) => {
  const m = /(\d+)m([\d.]+)s/.exec(t);
  return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
};
const childTimes = stderr.trim().split('\n').pop().split(/\s+/);
const cpu = toSeconds(childTimes[0]) + toSeconds(childTimes[1]);
const mode = sockets > 0 ? `socket${sockets}` : 'stdio';
const name = 'source-postgres-read';
console.log(
  JSON.stringify({
    bench: name,
    metric: `${mode}_rows_per_s`,
    value: Math.round(rows / seconds),
    unit: 'rows/s',
  }),
);
console.log(
  JSON.stringify({
    bench: name,
    metric: `${mode}_mb_per_s`,
    value: +(bytes / seconds / 1e6).toFixed(1),
    unit: 'MB/s',
  }),
);
console.log(
  JSON.stringify({ bench: name, metric: `${mode}_seconds`, value: +seconds.toFixed(2), unit: 's' }),
);
console.log(
  JSON.stringify({
    bench: name,
    metric: `${mode}_connector_cpu_us_per_row`,
    value: +((cpu / rows) * 1e6).toFixed(2),
    unit: 'us/row',
  }),
);
console.log(
  JSON.stringify({
    bench: name,
    metric: `${mode}_rows_per_connector_cpu_second`,
    value: Math.round(rows / cpu),
    unit: 'rows/s',
  }),
);
