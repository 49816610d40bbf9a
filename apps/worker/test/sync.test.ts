import { createTestDatabase, isEncryptedSecret, type TestDatabase } from '@sluice/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../src';
import {
  commitAll,
  createConnection,
  createFixture,
  dropPrefix,
  type Fixture,
  jobsOf,
  type Loose,
  quiet,
  REDIS_URL,
  type Script,
  scriptedExecutor,
  startScripted,
  testBox,
  testCatalog,
  uniquePrefix,
  untilAborted,
  waitFor,
  waitForJobs,
} from './helpers';
import type { ExecutionContext, ExecutionResult, ScriptedLauncher } from './scripted-launcher';

const prefix = uniquePrefix('sync');
const box = testBox();
let t: TestDatabase;
let worker: RunningWorker;
let launcher: ScriptedLauncher;
let f: Fixture;
/** Per-connection behaviour (by source id, which discover workloads carry too). */
const syncScripts = new Map<string, Script>();
const catalogs = new Map<string, () => ReturnType<typeof testCatalog>>();
const sourceOf = (ctx: ExecutionContext) =>
  ((ctx.input.source ?? ctx.input.connector) as { actorId?: string } | undefined)?.actorId ?? '';
const { executor, executed } = scriptedExecutor({
  sync: (ctx) => (syncScripts.get(sourceOf(ctx)) ?? commitAll)(ctx),
  discover: async (ctx) => ({
    status: 'success',
    output: { catalog: (catalogs.get(sourceOf(ctx)) ?? (() => testCatalog()))() },
  }),
});

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 8 });
  f = await createFixture(t.db, box);
  worker = await startWorker({
    db: t.db,
    redis: REDIS_URL,
    prefix,
    box,
    logger: quiet,
    concurrency: 10,
    config: {
      retry: {
        completeFailureBackoffMinMs: 100,
        completeFailureBackoffBase: 2,
        completeFailureBackoffMaxMs: 400,
      },
      workloadPollMs: 5_000,
    },
    sweeps: false,
    metricsPort: null,
  });
  launcher = await startScripted(worker, executor, { prefix, heartbeatIntervalMs: 200 });
});

afterAll(async () => {
  await launcher?.close();
  await worker?.close(2000);
  await t?.drop();
  await dropPrefix(prefix);
});

const orchestrator = () => worker.platform.orchestrator;

async function newConnection(opts: Parameters<typeof createConnection>[2] = {}, own = false) {
  const fx = own ? await createFixture(t.db, box) : f;
  const id = await createConnection(t.db, fx, opts);
  await orchestrator().created(id);
  return { id, fx };
}

describe('sync jobs', () => {
  it('runs discover then the sync workload, records stats and carries state to the next job', async () => {
    const { id } = await newConnection({}, true);
    const { jobId } = await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.id).toBe(jobId);
    expect(job!.status).toBe('succeeded');
    expect(job!.attempts.map((a) => a.status)).toEqual(['succeeded']);
    const output = job!.attempts[0]!.output as {
      totals: { recordsCommitted: number };
      progress: boolean;
      job: unknown;
    };
    expect(output.totals.recordsCommitted).toBe(20);
    expect(output.progress).toBe(true);
    expect(output.job).toMatchObject({ totals: { recordsCommitted: 20 }, attempts: 1 });

    const workloads = await t.db.workload.findMany({
      where: { attempt: { jobId } },
      orderBy: { createdAt: 'asc' },
    });
    expect(workloads.map((w) => [w.id, w.type, w.status])).toEqual([
      [`${jobId}_0_discover`, 'discover', 'success'],
      [`${jobId}_0_sync`, 'sync', 'success'],
    ]);
    const sync = workloads[1]!;
    expect(sync.mutexKey).toBe(`connection:${id}`);
    expect(sync.signalInput).toEqual({ workflowId: `connection-manager:${id}`, signalName: 'workload' });
    const input = sync.input as Record<string, Loose>;
    // Sealed at rest, opened only for the launcher.
    expect(isEncryptedSecret(input.source.config.api_key)).toBe(true);
    expect(input.source).toMatchObject({
      actorType: 'source',
      image: 'sluice/source-test:dev',
      command: ['/bin/true'],
      resources: { memoryLimitMb: 256 },
    });
    expect(input).toMatchObject({
      connectionId: id,
      jobId,
      attemptNumber: 0,
      namespaceDefinition: 'destination',
      prefix: '',
      jobType: 'sync',
    });
    const streams = input.catalog.streams as Record<string, Loose>[];
    expect(
      streams.map((s) => [
        s.stream.name,
        s.sync_mode,
        s.destination_sync_mode,
        s.generation_id,
        s.minimum_generation_id,
      ]),
    ).toEqual([
      ['users', 'incremental', 'append_dedup', 0, 0],
      ['products', 'full_refresh', 'overwrite', 1, 1],
    ]);
    expect(streams[0]!.cursor_field).toEqual(['updated_at']);
    expect(streams[0]!.primary_key).toEqual([['id']]);
    expect(Number.isInteger(streams[0]!.sync_id)).toBe(true);
    const ran = executed.find((e) => e.id === sync.id)!;
    expect((ran.input.source as Loose).config.api_key).toBe('secret-key-value');
    expect(ran.input.state).toEqual([]);

    // The second job starts from the committed state; the overwrite stream gets a new generation.
    const second = await orchestrator().syncNow(id);
    const jobs = await waitForJobs(t.db, id, 2);
    expect(jobs[1]!.id).toBe(second.jobId);
    expect(jobs[1]!.status).toBe('succeeded');
    const ran2 = executed.find((e) => e.id === `${second.jobId}_0_sync`)!;
    expect(
      (ran2.input.state as Loose[])
        .map((s) => [s.stream.stream_descriptor.name, s.stream.stream_state.n])
        .sort(),
    ).toEqual([
      ['products', 1],
      ['users', 1],
    ]);
    const gens = (ran2.input.catalog as Loose).streams.map((s: Loose) => [
      s.stream.name,
      s.generation_id,
      s.minimum_generation_id,
    ]);
    expect(gens).toEqual([
      ['users', 0, 0],
      ['products', 2, 2],
    ]);
    const state = await t.db.connectionState.findMany({
      where: { connectionId: id },
      orderBy: { streamName: 'asc' },
    });
    expect(state.map((s) => [s.streamName, (s.state as { n: number }).n])).toEqual([
      ['products', 2],
      ['users', 2],
    ]);
    // The job reads as succeeded before the manager continues as new and plans its next wait.
    const idle = await waitFor('the manager to go idle', async () => {
      const info = await worker.engine.query(`connection-manager:${id}`);
      return (info?.state as { phase?: string } | undefined)?.phase === 'idle' && info;
    });
    expect(idle.state).toMatchObject({ phase: 'idle' });
  });

  it('stores the final counts of the workload output before the job reads as finished', async () => {
    const { id, fx } = await newConnection({ withProducts: false }, true);
    // No stats with heartbeats: the counts come only with the workload's final output.
    syncScripts.set(fx.sourceId, async (ctx) => {
      await ctx.reportState([
        { type: 'STREAM', stream: { stream_descriptor: { name: 'users' }, stream_state: { n: 1 } } },
      ]);
      return {
        status: 'success',
        output: {
          streams: [
            {
              stream: { name: 'users', namespace: null },
              recordsEmitted: 7,
              bytesEmitted: 70,
              recordsCommitted: 7,
              bytesCommitted: 70,
            },
          ],
        },
      };
    });
    const { jobId } = await orchestrator().syncNow(id);
    // Read as job.get does, as often as possible, until the job has ended.
    const seen: { status: string; committed: number }[] = [];
    await waitFor(
      'the job to end',
      async () => {
        const job = await t.db.job.findUniqueOrThrow({
          where: { id: jobId },
          include: { attempts: { include: { streamStats: true } } },
        });
        const last = job.attempts.sort((a, b) => a.attemptNumber - b.attemptNumber).at(-1);
        const committed = (last?.streamStats ?? []).reduce((n, r) => n + Number(r.recordsCommitted), 0);
        seen.push({ status: job.status, committed });
        return ['succeeded', 'failed', 'cancelled'].includes(job.status);
      },
      20_000,
      2,
    );
    expect(seen.at(-1)!.status).toBe('succeeded');
    expect(seen.filter((s) => s.status === 'succeeded' && s.committed !== 7)).toEqual([]);
    const [job] = await jobsOf(t.db, id);
    expect((job!.attempts[0]!.output as Loose).job).toMatchObject({ totals: { recordsCommitted: 7 } });
    const log = await t.db.attemptLogChunk.findMany({
      where: { attemptId: job!.attempts[0]!.id },
      orderBy: { sequence: 'asc' },
    });
    expect(log.map((l) => l.text).join('')).toMatch(/platform > attempt 0 succeeded: 7 records committed/);
  });

  it('retries attempts without progress with backoff, five times, then fails the job', async () => {
    const { id, fx } = await newConnection({}, true);
    syncScripts.set(fx.sourceId, async () => ({
      status: 'failure',
      reason: 'boom',
      output: {
        failures: [
          { failureOrigin: 'destination', failureType: 'system_error', externalMessage: 'disk full' },
        ],
      },
    }));
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1, 30_000);
    expect(job!.status).toBe('failed');
    expect(job!.attempts).toHaveLength(5);
    expect(job!.attempts.every((a) => a.status === 'failed')).toBe(true);
    const summary = job!.attempts[0]!.failureSummary as { failures: Loose[]; partialSuccess: boolean };
    expect(summary.partialSuccess).toBe(false);
    expect(summary.failures[0]).toMatchObject({
      failureOrigin: 'destination',
      failureType: 'system_error',
      externalMessage: 'disk full',
    });
    // 100 ms × 2^(n-1), capped at 400 ms, between attempts.
    const gaps = job!.attempts
      .slice(1)
      .map((a, i) => a.createdAt.getTime() - job!.attempts[i]!.endedAt!.getTime());
    const expected = [100, 200, 400, 400];
    for (const [i, g] of gaps.entries()) expect(g).toBeGreaterThanOrEqual(expected[i]! - 10);
  });

  it('keeps retrying attempts that made progress, each starting from the state the last committed', async () => {
    const { id, fx } = await newConnection({ withProducts: false }, true);
    let n = 0;
    syncScripts.set(fx.sourceId, async (ctx) => {
      n++;
      await commitAll(ctx, 1);
      return n < 8 ? { status: 'failure', reason: `failed after committing (${n})` } : { status: 'success' };
    });
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1, 30_000);
    expect(job!.status).toBe('succeeded');
    expect(job!.attempts).toHaveLength(8);
    const failed = job!.attempts.slice(0, 7);
    expect(failed.every((a) => (a.failureSummary as { partialSuccess: boolean }).partialSuccess)).toBe(true);
    const states = executed
      .filter((e) => e.type === 'sync' && e.id.startsWith(job!.id))
      .map((e) => ((e.input.state as Loose[])[0]?.stream.stream_state.n as number | undefined) ?? 0);
    expect(states).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not retry a configuration error', async () => {
    const { id, fx } = await newConnection({}, true);
    syncScripts.set(fx.sourceId, async () => ({
      status: 'failure',
      reason: 'bad password',
      output: {
        failures: [{ failureOrigin: 'source', failureType: 'config_error', externalMessage: 'bad password' }],
      },
    }));
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('failed');
    expect(job!.attempts).toHaveLength(1);
  });

  it('cancels a running sync from the API', async () => {
    const { id, fx } = await newConnection({}, true);
    let started = false;
    syncScripts.set(
      fx.sourceId,
      untilAborted(() => {
        started = true;
      }),
    );
    const { jobId } = await orchestrator().syncNow(id);
    await waitFor('the sync to run', async () => started);
    expect(await orchestrator().cancel(id)).toEqual({ jobId });
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('cancelled');
    expect(job!.attempts[0]!.status).toBe('cancelled');
    expect((job!.attempts[0]!.failureSummary as Loose).failures[0]).toMatchObject({
      failureType: 'manual_cancellation',
    });
    const w = await t.db.workload.findUniqueOrThrow({ where: { id: `${jobId}_0_sync` } });
    expect(w.status).toBe('cancelled');
    await waitFor(
      'the workload to stop',
      async () => (await t.db.workload.findUniqueOrThrow({ where: { id: w.id } })).endedAt,
    );
  });

  it('resets some streams: clears their state and re-syncs them with truncation', async () => {
    const { id } = await newConnection({}, true);
    await orchestrator().syncNow(id);
    await waitForJobs(t.db, id, 1);
    const before = await t.db.connection.findUniqueOrThrow({ where: { id } });
    const { jobId } = await orchestrator().reset(id, [{ name: 'users' }]);
    const jobs = await waitForJobs(t.db, id, 2);
    const reset = jobs.find((j) => j.id === jobId)!;
    expect(reset.type).toBe('reset');
    expect(reset.status).toBe('succeeded');
    const ran = executed.find((e) => e.id === `${jobId}_0_sync`)!;
    // No discover for a reset; only the reset stream, from empty state, truncating older generations.
    expect(executed.some((e) => e.id === `${jobId}_0_discover`)).toBe(false);
    expect(
      (ran.input.catalog as Loose).streams.map((s: Loose) => [
        s.stream.name,
        s.generation_id,
        s.minimum_generation_id,
      ]),
    ).toEqual([['users', 1, 1]]);
    expect((ran.input.state as Loose[]).map((s) => s.stream.stream_descriptor.name)).toEqual(['products']);
    const after = await t.db.connection.findUniqueOrThrow({ where: { id } });
    expect(after.stateGeneration).toBe(before.stateGeneration + 1);
  });
});

describe('schema changes found by the discover before a sync', () => {
  it('fails the job on a breaking change (a selected stream is gone) without syncing', async () => {
    const { id, fx } = await newConnection({}, true);
    catalogs.set(fx.sourceId, () => testCatalog({ withProducts: false }));
    const { jobId } = await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('failed');
    expect(job!.attempts).toHaveLength(1);
    const failure = (job!.attempts[0]!.failureSummary as Loose).failures[0];
    expect(failure).toMatchObject({ failureType: 'refresh_schema', failureOrigin: 'source' });
    expect(failure.externalMessage).toContain('products');
    expect(await t.db.workload.count({ where: { id: `${jobId}_0_sync` } })).toBe(0);
    const c = await t.db.connection.findUniqueOrThrow({ where: { id } });
    expect(c.breakingChange).toBe(true);
    expect((c.schemaChange as Loose).breaking).toBe(true);
  });

  it('propagates a non-breaking change when the connection says so', async () => {
    const { id, fx } = await newConnection({ nonBreakingChangesPreference: 'propagate_columns' }, true);
    const before = await t.db.connection.findUniqueOrThrow({ where: { id } });
    catalogs.set(fx.sourceId, () => testCatalog({ usersFields: ['id', 'updated_at', 'name', 'email'] }));
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('succeeded');
    const after = await t.db.connection.findUniqueOrThrow({ where: { id } });
    expect(after.sourceCatalogId).not.toBe(before.sourceCatalogId);
    expect(after.schemaChange).toBeNull();
    const ran = executed.find((e) => e.id === `${job!.id}_0_sync`)!;
    const users = (ran.input.catalog as Loose).streams.find((s: Loose) => s.stream.name === 'users');
    expect(Object.keys(users.stream.json_schema.properties)).toContain('email');
  });

  it('disables the connection and cancels the job when it is set to disable on changes', async () => {
    const { id, fx } = await newConnection({ nonBreakingChangesPreference: 'disable' }, true);
    catalogs.set(fx.sourceId, () => testCatalog({ usersFields: ['id', 'updated_at', 'name', 'email'] }));
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('cancelled');
    const c = await t.db.connection.findUniqueOrThrow({ where: { id } });
    expect(c.status).toBe('inactive');
    expect(c.schemaChange).not.toBeNull();
    await waitFor(
      'the manager to stop',
      async () => (await worker.engine.query(`connection-manager:${id}`))?.status === 'completed',
    );
  });

  it('ignores (records) a non-breaking change by default and syncs with the configured catalog', async () => {
    const { id, fx } = await newConnection({}, true);
    catalogs.set(fx.sourceId, () => testCatalog({ usersFields: ['id', 'updated_at', 'name', 'email'] }));
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('succeeded');
    const c = await t.db.connection.findUniqueOrThrow({ where: { id } });
    expect(c.schemaChange).not.toBeNull();
    expect(c.breakingChange).toBe(false);
    const ran = executed.find((e) => e.id === `${job!.id}_0_sync`)!;
    const users = (ran.input.catalog as Loose).streams.find((s: Loose) => s.stream.name === 'users');
    expect(Object.keys(users.stream.json_schema.properties)).not.toContain('email');
  });
});

describe('connection lifecycle', () => {
  it('keeps a manager with an unreadable schedule idle, saying why, instead of failing it', async () => {
    const { id } = await newConnection(
      { schedule: { scheduleType: 'cron', cronExpression: 'every full moon', cronTimeZone: 'UTC' } },
      true,
    );
    const info = await waitFor('the manager to settle', async () => {
      const i = await worker.engine.query(`connection-manager:${id}`);
      return i?.status === 'waiting' ? i : null;
    });
    expect(info.state).toMatchObject({
      phase: 'idle',
      nextSyncAt: null,
      scheduleError: expect.stringContaining('cron'),
    });
    // Manual syncs still work.
    await orchestrator().syncNow(id);
    expect((await waitForJobs(t.db, id, 1))[0]!.status).toBe('succeeded');
  });

  it('refuses a sync of a disabled connection and stops the manager of a disabled one', async () => {
    const { id } = await newConnection({}, true);
    await waitFor(
      'the manager',
      async () => (await worker.engine.query(`connection-manager:${id}`))?.status === 'waiting',
    );
    await t.db.connection.update({ where: { id }, data: { status: 'inactive' } });
    await orchestrator().disabled(id);
    await waitFor(
      'the manager to stop',
      async () => (await worker.engine.query(`connection-manager:${id}`))?.status === 'completed',
    );
    await expect(orchestrator().syncNow(id)).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    await t.db.connection.update({ where: { id }, data: { status: 'active' } });
    await orchestrator().enabled(id);
    await orchestrator().syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1);
    expect(job!.status).toBe('succeeded');
    expect(await jobsOf(t.db, id)).toHaveLength(1);
  });
});

export type { ExecutionResult };
