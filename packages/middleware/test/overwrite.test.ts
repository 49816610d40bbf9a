// Socket mode and overwrite safety: the destination learns which streams completed only from the
// source's stream statuses, which the middleware forwards on its stdin. A source that fails
// mid-sync must never get an overwrite swapped in. Real destination-postgres (bundled from its
// source with this workspace's SDK), real Postgres, the built middleware CLI, a real API.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfiguredAirbyteCatalog, StreamMappingFile } from '@sluice/protocol';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attemptLog,
  type MiddlewareHarness,
  node,
  outputOf,
  REPO_ROOT,
  runSync,
  startHarness,
} from './harness';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ADMIN = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const DB = `mw_overwrite_${process.pid}`;

let mh: MiddlewareHarness;
let client: pg.Client;
let source: string[];
let destination: string[];

async function bundle(entry: string, name: string): Promise<string[]> {
  const outfile = path.join(mh.root, 'bin', `${name}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['sluice-source'],
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
    },
  });
  return node(outfile);
}

beforeAll(async () => {
  mh = await startHarness();
  source = await bundle(path.join(HERE, 'fixtures/socket-source.ts'), 'socket-source');
  destination = await bundle(
    path.join(REPO_ROOT, 'connectors/destination-postgres/src/index.ts'),
    'destination-postgres',
  );
  const admin = new pg.Client(ADMIN);
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  client = new pg.Client({ ...ADMIN, database: DB });
  await client.connect();
}, 120_000);

afterAll(async () => {
  await client?.end();
  const admin = new pg.Client(ADMIN);
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.end();
  await mh?.close();
});

const destinationConfig = {
  host: '127.0.0.1',
  port: 5432,
  database: DB,
  username: 'postgres',
  schema: 'public',
  ssl_mode: { mode: 'disable' },
};

/** Source `people` → destination `p_people` (a prefix, so the statuses need mapping too). */
const mapping: StreamMappingFile = {
  streams: [{ source: { name: 'people' }, destination: { name: 'p_people' } }],
};

function catalog(generation: number): ConfiguredAirbyteCatalog {
  return {
    streams: [
      {
        stream: {
          name: 'people',
          json_schema: { type: 'object', properties: { id: { type: 'integer' }, tag: { type: 'string' } } },
          supported_sync_modes: ['full_refresh'],
        },
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
        generation_id: generation,
        minimum_generation_id: generation,
        sync_id: 100 + generation,
      } as ConfiguredAirbyteCatalog['streams'][number],
    ],
  };
}

let generation = 0;
const sync = (config: Record<string, unknown>, fixtures?: Awaited<ReturnType<typeof runSync>>['fixtures']) =>
  runSync(mh, {
    source: { command: source, config },
    destination: { command: destination, config: destinationConfig },
    catalog: catalog(++generation),
    mapping,
    socketCount: 2,
    ...(fixtures ? { fixtures } : {}),
  });

const table = async () =>
  (
    await client.query<{ id: string; tag: string }>('SELECT id, tag FROM public.p_people ORDER BY id')
  ).rows.map((r) => [Number(r.id), r.tag]);

describe('socket-mode overwrite', () => {
  it('keeps the previous table when the source fails mid-stream, and swaps in a complete one', async () => {
    const first = await sync({ records: 12, per_slice: 4, tag: 'first' });
    expect(first.workload.status, first.workload.terminationReason ?? first.result.stderr).toBe('success');
    expect(outputOf(first.workload).mode).toBe('socket');
    const full = Array.from({ length: 12 }, (_, i) => [i + 1, 'first']);
    expect(await table()).toEqual(full);
    const log = await attemptLog(mh, first.fixtures.attempt.id);
    expect(log).toMatch(/destination > INFO stream "p_people": generation 1 swapped into/);

    // Killed after 6 of 12 rows, with states committed before: nothing else said.
    const killed = await sync({ records: 12, per_slice: 2, fail: 'kill', fail_after: 6, tag: 'killed' });
    expect(killed.workload.status).toBe('failure');
    expect(outputOf(killed.workload).failures?.[0]).toMatchObject({ failureOrigin: 'source' });
    expect(await table()).toEqual(full);
    expect(await attemptLog(mh, killed.fixtures.attempt.id)).toMatch(
      /stream "p_people" did not complete \(status INCOMPLETE\); its table is left as it was/,
    );

    // Every stream said COMPLETE, then the source failed: COMPLETE never reaches the destination.
    const late = await sync({ records: 8, per_slice: 4, fail: 'error_after_complete', tag: 'late' });
    expect(late.workload.status).toBe('failure');
    expect(late.workload.terminationReason).toMatch(/failing after every stream completed/);
    expect(await table()).toEqual(full);

    // A sync that succeeds replaces the table.
    const last = await sync({ records: 5, per_slice: 2, tag: 'last' });
    expect(last.workload.status, last.workload.terminationReason ?? '').toBe('success');
    expect(await table()).toEqual(Array.from({ length: 5 }, (_, i) => [i + 1, 'last']));
  });
});
