import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbOrTx } from '../src/client';
import { Prisma } from '../src/generated/prisma/client';
import { createTestDatabase, type TestDatabase } from '../src/testing';

// A service written the way the API's services will be: it takes a client or a transaction.
async function createWorkspaceWithAdmin(db: DbOrTx, slug: string, email: string) {
  const workspace = await db.workspace.create({ data: { name: slug, slug } });
  const user = await db.user.create({ data: { email } });
  await db.workspaceMembership.create({
    data: { workspaceId: workspace.id, userId: user.id, role: 'admin' },
  });
  return { workspace, user };
}

describe('createTestDatabase and the typed client', () => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('gives each caller its own migrated database and drops it', async () => {
    const started = Date.now();
    const [a, b] = await Promise.all([
      createTestDatabase({ poolMax: 1 }),
      createTestDatabase({ poolMax: 1 }),
    ]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(a.name).not.toBe(b.name);
    await a.db.workspace.create({ data: { name: 'only in a', slug: 'only-in-a' } });
    expect(await a.db.workspace.count()).toBe(1);
    expect(await b.db.workspace.count()).toBe(0);
    const migrations = await b.db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM "_prisma_migrations"`;
    expect(migrations[0]?.n).toBeGreaterThan(0n);
    await Promise.all([a.drop(), b.drop()]);
    const admin = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [
        [a.name, b.name],
      ]);
      expect(rows).toEqual([]);
    } finally {
      await admin.end();
    }
  });

  it('stores and relates the whole configuration and job model', async () => {
    const db = t.db;
    const { workspace, user } = await db.$transaction((tx) =>
      createWorkspaceWithAdmin(tx, 'acme', 'ada@example.com'),
    );
    const definition = await db.connectorDefinition.create({
      data: {
        name: 'source-x',
        displayName: 'X',
        kind: 'source',
        version: '1.0.0',
        image: 'x:1',
        command: ['node', 'x.js'],
      },
    });
    const destDefinition = await db.connectorDefinition.create({
      data: { name: 'destination-y', displayName: 'Y', kind: 'destination', version: '1.0.0', image: 'y:1' },
    });
    expect(destDefinition.command).toEqual([]);
    const source = await db.source.create({
      data: {
        workspaceId: workspace.id,
        definitionId: definition.id,
        name: 'src',
        config: { api_key: 'enc:v1:AAAA' },
      },
    });
    const destination = await db.destination.create({
      data: { workspaceId: workspace.id, definitionId: destDefinition.id, name: 'dst', config: {} },
    });
    const catalog = await db.actorCatalog.create({ data: { catalog: { streams: [] }, catalogHash: 'h1' } });
    await db.actorCatalogFetchEvent.create({
      data: { actorCatalogId: catalog.id, sourceId: source.id, configHash: 'c', connectorVersion: '1.0.0' },
    });
    const connection = await db.connection.create({
      data: {
        workspaceId: workspace.id,
        name: 'src → dst',
        sourceId: source.id,
        destinationId: destination.id,
        sourceCatalogId: catalog.id,
        catalog: { streams: [{ stream: { name: 'users' }, selected: true, syncMode: 'incremental' }] },
        scheduleType: 'cron',
        cronExpression: '0 0 * * * ?',
        cronTimeZone: 'Europe/Paris',
      },
    });
    expect(connection).toMatchObject({
      status: 'active',
      namespaceDefinition: 'destination',
      prefix: '',
      nonBreakingChangesPreference: 'ignore',
      breakingChange: false,
      stateVersion: 0n,
    });

    // State rows are keyed by stream; the compound unique makes writes upserts.
    const upsertState = (version: bigint, cursor: number) =>
      db.connectionState.upsert({
        where: {
          connectionId_streamNamespace_streamName: {
            connectionId: connection.id,
            streamNamespace: '',
            streamName: 'users',
          },
        },
        create: {
          connectionId: connection.id,
          type: 'STREAM',
          streamName: 'users',
          state: { cursor },
          version,
        },
        update: { state: { cursor }, version },
      });
    await upsertState(1n, 10);
    await upsertState(2n, 20);
    expect(await db.connectionState.findMany({ select: { state: true, version: true } })).toEqual([
      { state: { cursor: 20 }, version: 2n },
    ]);

    const job = await db.job.create({
      data: {
        workspaceId: workspace.id,
        connectionId: connection.id,
        type: 'sync',
        config: { snapshot: true },
      },
    });
    const attempt = await db.attempt.create({ data: { jobId: job.id, attemptNumber: 0 } });
    await expect(db.attempt.create({ data: { jobId: job.id, attemptNumber: 0 } })).rejects.toMatchObject({
      code: 'P2002',
    });
    const workload = await db.workload.create({
      data: {
        id: `${connection.id}_${job.id}_0_sync`,
        type: 'sync',
        input: { jobId: job.id },
        mutexKey: `connection:${connection.id}`,
        signalInput: { workflowId: 'wf-1', signalName: 'workloadDone' },
        attemptId: attempt.id,
      },
    });
    expect(workload.autoId).toMatch(/^[0-9a-f-]{36}$/);
    expect(workload.status).toBe('pending');
    await db.streamStats.create({
      data: { attemptId: attempt.id, streamName: 'users', recordsEmitted: 5_000_000_000n, bytesEmitted: 1n },
    });
    await db.attemptLogChunk.createMany({
      data: [
        { attemptId: attempt.id, sequence: 0, text: 'line 1\n' },
        { attemptId: attempt.id, sequence: 1, text: 'line 2\n' },
      ],
    });
    // A retried append of the same chunk is a no-op.
    await db.attemptLogChunk.createMany({
      data: [{ attemptId: attempt.id, sequence: 1, text: 'line 2\n' }],
      skipDuplicates: true,
    });
    await db.notificationWebhook.create({
      data: {
        workspaceId: workspace.id,
        name: 'ops',
        url: 'https://hooks.example.com/x',
        events: ['sync_failure', 'breaking_schema_change'],
      },
    });
    await db.apiToken.create({
      data: { userId: user.id, name: 'ci', tokenHash: 'th', tokenPrefix: 'sl_abc' },
    });
    await db.dataplaneToken.create({
      data: { name: 'launcher-1', tokenHash: 'dh', tokenPrefix: 'dp_abc', createdById: user.id },
    });
    await db.session.create({
      data: { userId: user.id, tokenHash: 'sh', expiresAt: new Date(Date.now() + 3_600_000) },
    });

    const loaded = await db.job.findUniqueOrThrow({
      where: { id: job.id },
      include: {
        attempts: {
          include: { streamStats: true, logChunks: { orderBy: { sequence: 'asc' } }, workloads: true },
        },
      },
    });
    expect(loaded.attempts[0]?.streamStats[0]?.recordsEmitted).toBe(5_000_000_000n);
    expect(loaded.attempts[0]?.logChunks.map((c) => c.text).join('')).toBe('line 1\nline 2\n');
    expect(loaded.attempts[0]?.workloads[0]?.id).toBe(workload.id);

    // A definition in use cannot be deleted.
    await expect(db.connectorDefinition.delete({ where: { id: definition.id } })).rejects.toBeInstanceOf(
      Prisma.PrismaClientKnownRequestError,
    );

    // Deleting the workspace removes everything it owns; instance-wide rows stay.
    await db.workspace.delete({ where: { id: workspace.id } });
    for (const count of [
      db.source.count(),
      db.connection.count(),
      db.connectionState.count(),
      db.job.count(),
      db.attempt.count(),
      db.streamStats.count(),
      db.attemptLogChunk.count(),
      db.notificationWebhook.count(),
      db.workspaceMembership.count(),
    ]) {
      expect(await count).toBe(0);
    }
    expect(await db.workload.findUniqueOrThrow({ where: { id: workload.id } })).toMatchObject({
      attemptId: null,
    });
    expect(await db.user.count()).toBe(1);
    expect(await db.connectorDefinition.count()).toBe(2);
    expect(await db.actorCatalog.count()).toBe(1);
  });

  it('rolls back a failed transaction', async () => {
    await expect(
      t.db.$transaction(async (tx) => {
        await createWorkspaceWithAdmin(tx, 'rolled-back', 'grace@example.com');
        await createWorkspaceWithAdmin(tx, 'rolled-back', 'other@example.com');
      }),
    ).rejects.toMatchObject({ code: 'P2002' });
    expect(await t.db.workspace.findUnique({ where: { slug: 'rolled-back' } })).toBeNull();
    expect(await t.db.user.findUnique({ where: { email: 'grace@example.com' } })).toBeNull();
  });
});
