import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ApiServer, type AppRouter, SecretBox, startApiServer } from '@sluice/api';
import { createTestUser } from '@sluice/api/testing';
import { createTestDatabase, seedConnectorDefinitions, type TestDatabase } from '@sluice/db';
import { type RunningLauncher, startLauncher } from '@sluice/launcher';
import { createPlatformServices, type PlatformServices } from '@sluice/platform';
import { createDataplaneToken, LOG_WRITER_BASE } from '@sluice/workload';
import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../src';
import { dropPrefix, type Loose, quiet, REDIS_URL, testKey, uniquePrefix, waitFor } from './helpers';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const prefix = uniquePrefix('e2e');
const box = new SecretBox(testKey());
let t: TestDatabase;
let worker: RunningWorker;
let launcher: RunningLauncher;
let web: PlatformServices;
let server: ApiServer;
let api: TRPCClient<AppRouter>;
let admin: TRPCClient<AppRouter>;
let workspaceId: string;
let root: string;
let out: string;

/** The real middleware (packages/middleware/src/cli.ts) bundled into one file, as the launcher's tests do. */
async function bundleMiddleware(outDir: string): Promise<string> {
  const outfile = join(outDir, 'middleware', 'cli.js');
  await build({
    entryPoints: [join(repo, 'packages/middleware/src/cli.ts')],
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
  return outfile;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-worker-e2e-'));
  out = join(root, 'out');
  t = await createTestDatabase({ poolMax: 8 });
  // The repository's connectors, as the bootloader seeds them (the two used here must be built).
  const seeded = await seedConnectorDefinitions(t.db, {
    connectorsRoot: join(repo, 'connectors'),
    logger: quiet,
  });
  expect(seeded.failed.map((f) => f.name)).not.toContain('source-faker');
  expect(seeded.failed.map((f) => f.name)).not.toContain('destination-local-jsonl');
  worker = await startWorker({
    db: t.db,
    redis: REDIS_URL,
    prefix,
    box,
    logger: quiet,
    concurrency: 10,
    config: { workloadPollMs: 5000 },
    sweeps: false,
    metricsPort: null,
  });
  // The API process: only the client side of the worker (no workflow runs here).
  web = createPlatformServices({ db: t.db, redis: REDIS_URL, prefix, logger: quiet });
  server = await startApiServer({
    db: t.db,
    box,
    logger: quiet,
    runner: web.connectorRunner,
    connections: web.orchestrator,
    workload: web.workload,
  });
  // The real launcher (process runtime) starts the real middleware (packages/middleware/dist/cli.js),
  // which reports to the Workload API of the server above.
  const { token: dataplaneToken } = await createDataplaneToken(t.db, {
    name: 'e2e',
    dataplaneGroup: 'default',
  });
  launcher = await startLauncher({
    apiUrl: server.url,
    dataplaneToken,
    redisUrl: REDIS_URL,
    queuePrefix: prefix,
    runtime: 'process',
    workloadsRoot: join(root, 'workloads'),
    concurrency: 2,
    metricsPort: null,
    socketMode: 'off',
    middlewareCommand: [process.execPath, await bundleMiddleware(root)],
    logger: quiet,
  });
  const ws = await t.db.workspace.create({ data: { name: 'E2E', slug: `e2e-${prefix}` } });
  workspaceId = ws.id;
  const client = (token: string) =>
    createTRPCClient<AppRouter>({
      links: [httpLink({ url: server.url, headers: () => ({ authorization: `Bearer ${token}` }) })],
    });
  api = client((await createTestUser(t.db, { workspaceId, role: 'admin' })).token);
  admin = client((await createTestUser(t.db, { isInstanceAdmin: true })).token);
}, 120_000);

afterAll(async () => {
  await launcher?.stop({ timeoutMs: 5000 });
  await server?.close();
  await web?.close();
  await worker?.close(2000);
  await t?.drop();
  await dropPrefix(prefix);
  await rm(root, { recursive: true, force: true });
});

/** Polls `job.get` closely until the job ends: the first answer that shows it finished. */
async function jobDone(jobId: string) {
  return waitFor(
    `job ${jobId}`,
    async () => {
      const job = await api.job.get.query({ jobId });
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : null;
    },
    60_000,
    20,
  );
}

describe('the Config API on the worker, with workloads run by the real launcher and middleware', () => {
  it('checks, discovers, creates a connection, syncs on demand and resumes from state', async () => {
    const faker = await t.db.connectorDefinition.findUniqueOrThrow({ where: { name: 'source-faker' } });
    const jsonl = await t.db.connectorDefinition.findUniqueOrThrow({
      where: { name: 'destination-local-jsonl' },
    });
    const source = await api.source.create.mutate({
      workspaceId,
      definitionId: faker.id,
      name: 'Faker',
      config: { count: 120, seed: 3, records_per_slice: 40, parallelism: 1, always_updated: false },
    });
    const destination = await api.destination.create.mutate({
      workspaceId,
      definitionId: jsonl.id,
      name: 'Files',
      config: { destination_path: out },
    });

    // Check and discover run as workflows + workloads, from the API process.
    const check = await api.source.check.mutate({ sourceId: source.id });
    expect(check).toMatchObject({ status: 'succeeded', jobStatus: 'succeeded' });
    const checkWorkload = await t.db.workload.findUniqueOrThrow({ where: { id: `${check.jobId}_0_check` } });
    expect(checkWorkload).toMatchObject({ type: 'check', status: 'success', claimedBy: launcher.id });
    expect((await api.destination.check.mutate({ destinationId: destination.id })).status).toBe('succeeded');
    const discovered = await api.source.discover.mutate({ sourceId: source.id });
    expect(discovered.failure).toBeNull();
    expect(discovered.catalog!.streams.map((s) => s.name).sort()).toEqual(['products', 'purchases', 'users']);

    const connection = await api.connection.create.mutate({
      workspaceId,
      sourceId: source.id,
      destinationId: destination.id,
      prefix: 'raw_',
      catalog: {
        streams: [
          {
            stream: { name: 'users' },
            selected: true,
            syncMode: 'incremental',
            destinationSyncMode: 'append',
          },
          {
            stream: { name: 'products' },
            selected: true,
            syncMode: 'full_refresh',
            destinationSyncMode: 'overwrite',
          },
          {
            stream: { name: 'purchases' },
            selected: false,
            syncMode: 'full_refresh',
            destinationSyncMode: 'append',
          },
        ],
      },
    });
    const first = await api.connection.syncNow.mutate({ connectionId: connection.id });
    const job1 = await jobDone(first.jobId);
    expect(job1.status, JSON.stringify(job1.attempts.map((a) => a.failureSummary))).toBe('succeeded');
    expect(job1.totals).toMatchObject({
      recordsEmitted: expect.any(Number),
      recordsCommitted: expect.any(Number),
    });
    const users = (await readFile(join(out, 'raw_users.jsonl'), 'utf8')).trim().split('\n');
    expect(users).toHaveLength(120);
    // The first answer showing the job finished already had its final totals.
    expect(job1.totals!.recordsCommitted).toBeGreaterThanOrEqual(120);
    expect((await api.job.get.query({ jobId: first.jobId })).totals).toEqual(job1.totals);
    expect(JSON.parse(users[0]!)._airbyte_data).toHaveProperty('id');
    const products = (await readFile(join(out, 'raw_products.jsonl'), 'utf8')).trim().split('\n');
    expect(products.length).toBeGreaterThan(0);
    const state = await api.connection.state.query({ connectionId: connection.id });
    expect(state.streams.map((s) => s.name).sort()).toEqual(['products', 'users']);

    // The second sync starts from the committed state: no new users (always_updated is off),
    // products overwritten (a new generation), so the files hold one copy each.
    const second = await api.connection.syncNow.mutate({ connectionId: connection.id });
    const job2 = await jobDone(second.jobId);
    expect(job2.status).toBe('succeeded');
    expect((await readFile(join(out, 'raw_users.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(120);
    expect((await readFile(join(out, 'raw_products.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(
      products.length,
    );
    // The worker's own lines are in the attempt log, in the platform writer's range.
    const lines = await t.db.attemptLogChunk.findMany({
      where: { attempt: { jobId: second.jobId }, sequence: { gte: LOG_WRITER_BASE.platform } },
      orderBy: { sequence: 'asc' },
    });
    expect(lines.map((l) => l.text).join('')).toMatch(/platform > attempt 0 of sync job .* started/);
    expect(lines.map((l) => l.text).join('')).toMatch(
      /platform > attempt 0 succeeded: \d+ records committed/,
    );
  }, 120_000);

  it('creates a command definition through the workflow runner: its spec is read before the row exists', async () => {
    const faker = await t.db.connectorDefinition.findUniqueOrThrow({ where: { name: 'source-faker' } });
    const created = await admin.definition.createCommand.mutate({
      kind: 'source',
      displayName: 'Faker (command)',
      version: '1.0.0',
      command: faker.command,
    });
    expect(created.specError).toBeNull();
    expect(created.definition).toMatchObject({ hasSpec: true, runsAs: 'process' });
    expect(created.definition.spec).toEqual(faker.spec);
    // The spec ran as a workload of its own, without a definition id (there was none yet).
    const spec = await t.db.workload.findFirstOrThrow({
      where: { type: 'spec' },
      orderBy: { createdAt: 'desc' },
    });
    expect(spec.status).toBe('success');
    expect((spec.input as Loose).connector).toMatchObject({ actorType: 'source', command: faker.command });
    expect((spec.input as Loose).connector.definitionId).toBeUndefined();

    // A program that does not answer `spec` leaves nothing behind.
    await expect(
      admin.definition.createCommand.mutate({
        kind: 'source',
        displayName: 'Not a connector',
        version: '1.0.0',
        command: ['/bin/false'],
      }),
    ).rejects.toThrow(/spec could not be read/);
    expect(await t.db.connectorDefinition.count({ where: { displayName: 'Not a connector' } })).toBe(0);
  }, 60_000);
});
