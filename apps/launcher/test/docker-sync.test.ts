// Both transport modes through real workloads on the docker runtime, with the real connector
// images: source-faker → destination-postgres (connectors/*/Dockerfile, built and cached by
// infra/images/build.mjs), the middleware in its own image, against the real engine, a real API
// server, Postgres and Redis. One launcher per mode: socket mode is a launcher setting
// (SLUICE_SOCKET_MODE), so the stdio launcher (`off`) serves its own dataplane group and the
// socket one (`auto`) the default group. Each mode syncs its own connection into its own schema of
// a database made for this file, then syncs again from the state it committed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { ensureDataplaneToken } from '@sluice/workload';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningLauncher } from '../src/index';
import {
  attemptLog,
  buildConnectorImage,
  buildMiddlewareImage,
  bundleMiddleware,
  type ConnectorImage,
  launch,
  REPO,
  type Stack,
  startStack,
  syncInput,
  waitFor,
  waitTerminal,
  wid,
} from './support';

const run = promisify(execFile);
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

type Mode = 'stdio' | 'socket';
const MODES: Mode[] = ['stdio', 'socket'];
/** The dataplane group each mode's launcher serves. */
const GROUP: Record<Mode, string> = { stdio: 'stdio', socket: 'default' };

const USERS = 2_000;
const PRODUCTS = 100; // fixed by source-faker
const fakerConfig = { count: USERS, seed: 31, records_per_slice: 500, always_updated: false, parallelism: 1 };
const PREFIX = 'faker_';

let stack: Stack;
let dest: TestDatabase;
let faker: ConnectorImage;
let postgres: ConnectorImage;
let discovered: { name: string }[];
const launchers: Partial<Record<Mode, RunningLauncher>> = {};
/** Per mode: its connection and what its first sync left, for the comparison across modes. */
const connections: Partial<Record<Mode, string>> = {};
const results: Partial<Record<Mode, { users: TableSummary; products: TableSummary; state: StateRow[] }>> = {};
const workloadIds: string[] = [];

const containersOf = (id: string) =>
  docker.listContainers({ all: true, filters: { label: [`sluice.workload=${id}`] } });

beforeAll(async () => {
  // Images first (cached by their inputs; compiled only when dist/ is stale).
  faker = await buildConnectorImage('source-faker');
  postgres = await buildConnectorImage('destination-postgres');
  expect(faker.supportsSocket && postgres.supportsSocket).toBe(true);
  stack = await startStack({ name: 'dsync' });
  const middlewareImage = await buildMiddlewareImage(await bundleMiddleware(stack.tmp));
  dest = await createTestDatabase({ migrate: false, poolMax: 2 });

  // The catalog as the connector discovers it (the image's dist/index.js, run on the host).
  const cfg = path.join(stack.tmp, 'faker-config.json');
  await fsp.writeFile(cfg, JSON.stringify(fakerConfig));
  const { stdout } = await run(process.execPath, [
    path.join(REPO, 'connectors/source-faker/dist/index.js'),
    'discover',
    '--config',
    cfg,
  ]);
  const catalogLine = stdout.split('\n').find((l) => l.includes('"CATALOG"'));
  if (!catalogLine) throw new Error(`source-faker discover printed no CATALOG:\n${stdout}`);
  discovered = JSON.parse(catalogLine).catalog.streams;

  const stdioToken = `sluice_dp_${randomBytes(32).toString('base64url')}`;
  await ensureDataplaneToken(stack.h.db, { token: stdioToken, group: GROUP.stdio });
  const common = { runtime: 'docker' as const, middlewareImage, concurrency: 2 };
  [launchers.socket, launchers.stdio] = await Promise.all([
    launch(stack, { ...common, launcherId: 'dsync-socket', socketMode: 'auto' }),
    launch(stack, {
      ...common,
      launcherId: 'dsync-stdio',
      dataplaneGroup: GROUP.stdio,
      dataplaneToken: stdioToken,
      socketMode: 'off',
    }),
  ]);
}, 600_000);

afterAll(async () => {
  for (const l of Object.values(launchers)) await l?.stop({ timeoutMs: 5_000 });
  const runtime = launchers.socket?.runtime ?? launchers.stdio?.runtime;
  if (runtime) for (const id of workloadIds) await runtime.stop(id, { graceMs: 0 }).catch(() => {});
  await stack?.close();
  await dest?.drop();
}, 60_000);

// ---------------------------------------------------------------------------------------------

/** A connection of the fixtures' workspace for one mode (its own state). */
async function newConnection(mode: Mode): Promise<string> {
  const { f } = stack;
  const c = await stack.h.db.connection.create({
    data: {
      workspaceId: f.workspace.id,
      name: `docker ${mode}`,
      sourceId: f.source.id,
      destinationId: f.destination.id,
      catalog: { streams: [] },
      prefix: PREFIX,
    },
  });
  return c.id;
}

/**
 * The catalog of a connection's n-th sync (1-based) as the worker builds it: users incremental
 * append (cursor and key as the source defines them), so the next sync resumes from the committed
 * state; products full refresh overwrite, a new generation each sync (Airbyte's truncate refresh),
 * which the destination swaps into place only for a stream whose COMPLETE status reached it
 * (over stdin in socket mode). `sync_id` as the worker sets it: the job's start time.
 */
function configuredCatalog(syncNumber: number) {
  const stream = (name: string) => {
    const s = discovered.find((d) => d.name === name);
    if (!s) throw new Error(`source-faker discovered no stream "${name}"`);
    return s;
  };
  return {
    streams: [
      {
        stream: stream('users'),
        sync_mode: 'incremental',
        destination_sync_mode: 'append',
        cursor_field: ['updated_at'],
        primary_key: [['id']],
        generation_id: 0,
        minimum_generation_id: 0,
        sync_id: Date.now(),
      },
      {
        stream: stream('products'),
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
        primary_key: [['id']],
        generation_id: syncNumber,
        minimum_generation_id: syncNumber,
        sync_id: Date.now(),
      },
    ],
  };
}

function destinationConfig(mode: Mode) {
  const u = new URL(dest.url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    database: dest.name,
    schema: `sync_${mode}`,
    username: decodeURIComponent(u.username || 'postgres'),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ssl_mode: { mode: 'disable' },
  };
}

/**
 * One sync attempt of the mode's connection through its launcher, as the worker creates it
 * (a job and attempt of the connection, the connection's mutex key). Waits until it ended and its
 * containers and working directory are gone.
 */
async function sync(mode: Mode, syncNumber: number): Promise<{ id: string; attemptId: string }> {
  const connectionId = connections[mode]!;
  const job = await stack.h.db.job.create({
    data: { workspaceId: stack.f.workspace.id, connectionId, type: 'sync', config: {} },
  });
  const attempt = await stack.h.db.attempt.create({ data: { jobId: job.id, attemptNumber: 0 } });
  const id = wid(`ds-${mode}`);
  workloadIds.push(id);
  const connector = (c: ConnectorImage, config: Record<string, unknown>) => ({ ...c, config });
  // A resource override, as a connection may carry: two CPUs for the source too, so socket mode
  // runs over 2 sockets (one per whole core of the smaller limit) and the committed state must
  // follow the source's order across them. Both modes get the same limits.
  const source = { ...connector(faker, fakerConfig), resources: { ...faker.resources, cpuLimit: 2 } };
  await stack.svc.create({
    id,
    type: 'sync',
    dataplaneGroup: GROUP[mode],
    mutexKey: `connection:${connectionId}`,
    attemptId: attempt.id,
    input: syncInput(
      stack,
      source,
      connector(postgres, destinationConfig(mode)),
      configuredCatalog(syncNumber),
      { connectionId, jobId: job.id, namespaceDefinition: 'destination', prefix: PREFIX },
    ),
  });
  const w = await waitTerminal(stack, id, 150_000);
  const log = await attemptLog(stack, id);
  if (process.env.DSYNC_DEBUG)
    console.log(`${id} ${w.createdAt.toISOString()} ended ${w.updatedAt.toISOString()}\n${log}`);
  expect(w.status, `${w.terminationReason ?? ''}\n${log}`).toBe('success');
  expect(w.claimedBy).toBe(`dsync-${mode}`);
  // The mode is the one asked for, on both sides: the launcher's plan and the middleware.
  if (mode === 'stdio') {
    expect(log).toMatch(/\[launcher\] .*launched on the docker runtime \(stdio mode\)/s);
    expect(log).toContain('replication starting in stdio mode');
  } else {
    expect(log).toMatch(/\[launcher\] .*launched on the docker runtime \(socket mode, 2 sockets\)/s);
    expect(log).toMatch(/replication starting in socket mode over 2 socket/);
  }
  // The overwrite was swapped in: the destination heard products COMPLETE, and no stream was
  // left incomplete.
  expect(log).toMatch(
    new RegExp(
      `stream "${PREFIX}products": generation ${syncNumber} swapped into "sync_${mode}"\\."${PREFIX}products"`,
    ),
  );
  expect(log).not.toContain('did not complete');
  expect(log).not.toContain('started without stdin');
  expect(await stagingTables()).toEqual([]);
  // Nothing is left of an ended workload: no container, no working directory.
  await waitFor(
    async () => (await containersOf(id)).length === 0 && !fs.existsSync(path.join(stack.tmp, 'w', id)),
    `containers and working directory of ${id} removed`,
    30_000,
    200,
  );
  return { id, attemptId: attempt.id };
}

/** Overwrite staging tables the destination left (none once every swap happened). */
async function stagingTables(): Promise<string[]> {
  const rows = await dest.db.$queryRawUnsafe<{ name: string }[]>(
    `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
      WHERE table_name LIKE 'sluice_stg_%' ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

interface TableSummary {
  rows: number;
  distinctIds: number;
  minId: number;
  maxId: number;
  /** Rows whose values the destination had to change (typecast, truncation). */
  changed: number;
  /** md5 of the ids in order. */
  idDigest: string;
  /** md5 of every row's data columns in id order (Airbyte's meta columns left out). */
  rowDigest: string;
}

async function table(mode: Mode, stream: string): Promise<TableSummary> {
  const rows = await dest.db.$queryRawUnsafe<TableSummary[]>(
    `SELECT count(*)::int AS "rows", count(DISTINCT id)::int AS "distinctIds",
            min(id)::int AS "minId", max(id)::int AS "maxId",
            (count(*) FILTER (WHERE jsonb_array_length(_airbyte_meta->'changes') > 0))::int AS "changed",
            md5(string_agg(id::text, ',' ORDER BY id)) AS "idDigest",
            md5(string_agg((to_jsonb(t) - '_airbyte_raw_id' - '_airbyte_extracted_at'
                            - '_airbyte_meta' - '_airbyte_generation_id')::text, E'\\n' ORDER BY id)) AS "rowDigest"
       FROM "sync_${mode}"."${PREFIX}${stream}" t`,
  );
  return rows[0]!;
}

interface StateRow {
  type: string;
  streamNamespace: string;
  streamName: string;
  state: unknown;
}

/** The connection's committed state as the Workload API persisted it. */
async function committedState(mode: Mode): Promise<StateRow[]> {
  const rows = await stack.h.db.connectionState.findMany({
    where: { connectionId: connections[mode]! },
    orderBy: [{ streamNamespace: 'asc' }, { streamName: 'asc' }],
  });
  return rows.map((r) => ({
    type: r.type,
    streamNamespace: r.streamNamespace,
    streamName: r.streamName,
    state: r.state,
  }));
}

async function streamStats(attemptId: string) {
  const rows = await stack.h.db.streamStats.findMany({ where: { attemptId } });
  return Object.fromEntries(
    rows.map((r) => [
      `${r.streamNamespace}/${r.streamName}`,
      {
        recordsEmitted: Number(r.recordsEmitted),
        bytesEmitted: Number(r.bytesEmitted),
        recordsCommitted: Number(r.recordsCommitted),
        bytesCommitted: Number(r.bytesCommitted),
        recordsRejected: Number(r.recordsRejected),
      },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------

describe.each(MODES)('docker runtime, %s mode, source-faker → destination-postgres', (mode) => {
  it('moves every record into Postgres, persists the committed state and reports stream stats', async () => {
    connections[mode] = await newConnection(mode);
    const { attemptId } = await sync(mode, 1);

    const users = await table(mode, 'users');
    const products = await table(mode, 'products');
    expect(users).toMatchObject({ rows: USERS, distinctIds: USERS, minId: 1, maxId: USERS, changed: 0 });
    expect(products).toMatchObject({
      rows: PRODUCTS,
      distinctIds: PRODUCTS,
      minId: 1,
      maxId: PRODUCTS,
      changed: 0,
    });

    // Committed state went through the Workload API: one STREAM row per source stream, at the
    // source's names (not the destination's prefixed ones), each at the stream's last record.
    const state = await committedState(mode);
    expect(state.map((s) => [s.type, s.streamNamespace, s.streamName])).toEqual([
      ['STREAM', '', 'products'],
      ['STREAM', '', 'users'],
    ]);
    expect(state[0]!.state).toMatchObject({ id: PRODUCTS });
    expect(state[1]!.state).toMatchObject({ id: USERS });

    // Stats per source stream: every record emitted and committed, with bytes.
    const stats = await streamStats(attemptId);
    for (const [stream, n] of [
      ['/users', USERS],
      ['/products', PRODUCTS],
    ] as const) {
      const s = stats[stream];
      expect(s, `stats of ${stream}: ${JSON.stringify(stats)}`).toBeDefined();
      expect(s).toMatchObject({ recordsEmitted: n, recordsCommitted: n, recordsRejected: 0 });
      expect(s!.bytesEmitted).toBeGreaterThan(0);
      expect(s!.bytesCommitted).toBeGreaterThan(0);
    }
    results[mode] = { users, products, state };
  }, 240_000);

  it('resumes from the committed state: no new users, products overwritten with the same rows', async () => {
    expect(results[mode], 'the first sync of this mode must have passed').toBeDefined();
    const { attemptId } = await sync(mode, 2);
    // The source read its state file in the container: no new users (always_updated false), so
    // that table is as it was; products were read again in full and swapped in, the same rows.
    expect(await table(mode, 'users')).toEqual(results[mode]!.users);
    expect(await table(mode, 'products')).toEqual(results[mode]!.products);
    expect(await committedState(mode)).toEqual(results[mode]!.state);
    const stats = await streamStats(attemptId);
    expect(stats['/users']?.recordsEmitted ?? 0).toBe(0);
    expect(stats['/products']).toMatchObject({ recordsEmitted: PRODUCTS, recordsCommitted: PRODUCTS });
  }, 240_000);
});

describe('both modes', () => {
  it('wrote the same rows and committed the same final state', () => {
    const { stdio, socket } = results;
    expect(stdio && socket, 'both modes must have synced').toBeTruthy();
    expect(socket!.users.idDigest).toBe(stdio!.users.idDigest);
    expect(socket!.users.rowDigest).toBe(stdio!.users.rowDigest);
    expect(socket!.products.rowDigest).toBe(stdio!.products.rowDigest);
    expect(socket!.state).toEqual(stdio!.state);
  });

  it('left no container of any of its workloads', async () => {
    const left = await docker.listContainers({ all: true, filters: { label: ['sluice.managed=true'] } });
    expect(left.filter((c) => workloadIds.includes(c.Labels['sluice.workload'] ?? ''))).toEqual([]);
  });
});
