import { appendAttemptLogChunks, PLATFORM_LINE } from '@sluice/workload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptLogWriter } from '../src/services/logs';
import { type ApiHarness, startApiHarness } from '../src/testing/harness';
import { createPipeline, createWorkspaceWithUsers, expectTrpcError, seedFixtureDefinitions } from './helpers';

let h: ApiHarness;
let world: Awaited<ReturnType<typeof createWorkspaceWithUsers>>;
let pipeline: Awaited<ReturnType<typeof createPipeline>>;

beforeAll(async () => {
  h = await startApiHarness();
  const defs = await seedFixtureDefinitions(h.db);
  world = await createWorkspaceWithUsers(h.db, 'Jobs');
  pipeline = await createPipeline(h, world.editor.token, world.ws.id, {
    sourceDefId: defs.sourceDef.id,
    destinationDefId: defs.destinationDef.id,
  });
});
afterAll(async () => {
  await h?.close();
});

/** A sync job as the worker writes it: two attempts, the first failed, with per-stream stats. */
async function seedSyncJob(createdAt: Date) {
  const job = await h.db.job.create({
    data: {
      workspaceId: world.ws.id,
      connectionId: pipeline.connection.id,
      type: 'sync',
      status: 'succeeded',
      config: {},
      createdAt,
      startedAt: createdAt,
      endedAt: new Date(createdAt.getTime() + 90_000),
    },
  });
  await h.db.attempt.create({
    data: {
      jobId: job.id,
      attemptNumber: 0,
      status: 'failed',
      createdAt,
      endedAt: new Date(createdAt.getTime() + 30_000),
      failureSummary: {
        failures: [
          {
            failureOrigin: 'destination',
            failureType: 'transient_error',
            externalMessage: 'connection reset',
          },
        ],
        partialSuccess: true,
      },
    },
  });
  await h.db.attempt.create({
    data: {
      jobId: job.id,
      attemptNumber: 1,
      status: 'succeeded',
      createdAt: new Date(createdAt.getTime() + 40_000),
      endedAt: new Date(createdAt.getTime() + 90_000),
      streamStats: {
        create: [
          {
            streamName: 'users',
            recordsEmitted: 5_000_000_000n,
            bytesEmitted: 123n,
            recordsCommitted: 5_000_000_000n,
            bytesCommitted: 120n,
          },
          {
            streamName: 'orders',
            streamNamespace: 'shop',
            recordsEmitted: 7n,
            bytesEmitted: 70n,
            recordsCommitted: 7n,
            bytesCommitted: 70n,
            recordsRejected: 1n,
          },
        ],
      },
    },
  });
  return job;
}

describe('jobs', () => {
  it('lists jobs newest first with cursor pagination, attempts, durations and stats', async () => {
    const base = Date.now() - 3_600_000;
    const seeded = [];
    for (let i = 0; i < 5; i++) seeded.push(await seedSyncJob(new Date(base + i * 60_000)));
    const c = h.client(world.reader.token);
    const page1 = await c.job.list.query({
      workspaceId: world.ws.id,
      connectionId: pipeline.connection.id,
      limit: 2,
    });
    expect(page1.items.map((j) => j.id)).toEqual([seeded[4]!.id, seeded[3]!.id]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = await c.job.list.query({
      workspaceId: world.ws.id,
      connectionId: pipeline.connection.id,
      limit: 2,
      cursor: page1.nextCursor,
    });
    expect(page2.items.map((j) => j.id)).toEqual([seeded[2]!.id, seeded[1]!.id]);
    const page3 = await c.job.list.query({
      workspaceId: world.ws.id,
      connectionId: pipeline.connection.id,
      limit: 2,
      cursor: page2.nextCursor,
    });
    expect(page3.items.map((j) => j.id)).toEqual([seeded[0]!.id]);
    expect(page3.nextCursor).toBeNull();

    const job = page1.items[0]!;
    expect(job).toMatchObject({ type: 'sync', status: 'succeeded', durationMs: 90_000 });
    expect(job.attempts.map((a) => [a.attemptNumber, a.status, a.durationMs])).toEqual([
      [0, 'failed', 30_000],
      [1, 'succeeded', 50_000],
    ]);
    expect(job.attempts[0]!.failureSummary).toMatchObject({
      failures: [{ externalMessage: 'connection reset' }],
    });
    // bigint counters arrive as JSON numbers.
    expect(job.totals).toEqual({
      recordsEmitted: 5_000_000_007,
      bytesEmitted: 193,
      recordsCommitted: 5_000_000_007,
      bytesCommitted: 190,
      recordsRejected: 1,
    });
    expect(job.attempts[1]!.streams).toEqual([
      expect.objectContaining({ namespace: null, name: 'users', recordsEmitted: 5_000_000_000 }),
      expect.objectContaining({ namespace: 'shop', name: 'orders', recordsRejected: 1 }),
    ]);

    // Filters: the discover job of the pipeline is not a sync.
    const syncs = await c.job.list.query({ workspaceId: world.ws.id, types: ['sync'] });
    expect(syncs.items.every((j) => j.type === 'sync')).toBe(true);
    const discovers = await c.job.list.query({
      workspaceId: world.ws.id,
      types: ['discover'],
      statuses: ['succeeded'],
    });
    expect(discovers.items).toHaveLength(1);
    await expectTrpcError(c.job.list.query({ workspaceId: world.ws.id, cursor: 'garbage' }), 'BAD_REQUEST', {
      fieldPath: 'cursor',
    });
    await expect(c.job.get.query({ jobId: job.id })).resolves.toMatchObject({
      id: job.id,
      connectionId: pipeline.connection.id,
    });
  });

  it("follows a growing attempt log with a cursor, every writer's chunks exactly once", async () => {
    const job = await h.db.job.create({
      data: {
        workspaceId: world.ws.id,
        connectionId: pipeline.connection.id,
        type: 'sync',
        status: 'running',
        config: {},
        attempts: { create: { attemptNumber: 0, status: 'running', logLocation: 'db' } },
      },
      include: { attempts: true },
    });
    const attemptId = job.attempts[0]!.id;
    const writer = new AttemptLogWriter(h.db, attemptId);
    const c = h.client(world.reader.token);
    writer.append('line one');
    writer.append('line two');
    await writer.flush();
    // The launcher's and the middleware's chunks of the same attempt, numbered from 0 too.
    await appendAttemptLogChunks(h.db, attemptId, 'launcher', [{ sequence: 0, text: 'launcher claimed\n' }]);
    await appendAttemptLogChunks(h.db, attemptId, 'middleware', [{ sequence: 0, text: 'source > hello\n' }]);
    const first = await c.job.attemptLog.query({ jobId: job.id });
    expect(first.chunks.map((x) => x.text).join('')).toMatch(
      /line one\n.*line two\nlauncher claimed\nsource > hello\n$/,
    );
    expect(first.chunks.map((x) => [x.writer, x.sequence])).toEqual([
      ['api', 0],
      ['launcher', 0],
      ['middleware', 0],
    ]);
    expect(first).toMatchObject({ attemptNumber: 0, attemptStatus: 'running', complete: false });

    // A middleware chunk written after the launcher's was read, and the API writer's next one.
    await appendAttemptLogChunks(h.db, attemptId, 'middleware', [{ sequence: 1, text: 'source > more\n' }]);
    writer.append('line three');
    await writer.close();
    const next = await c.job.attemptLog.query({ jobId: job.id, cursor: first.cursor });
    expect(next.chunks.map((x) => x.text).sort()).toEqual(
      [expect.stringContaining('line three'), 'source > more\n'].sort(),
    );
    expect(next.complete).toBe(false);

    await h.db.attempt.update({
      where: { id: attemptId },
      data: { status: 'succeeded', endedAt: new Date() },
    });
    // The worker writes the attempt's closing line after marking it ended: complete once it is in
    // (or, for attempts the worker did not run, once the job moved on).
    const ending = await c.job.attemptLog.query({ jobId: job.id, cursor: next.cursor });
    expect(ending).toMatchObject({ chunks: [], complete: false, attemptStatus: 'succeeded' });
    await appendAttemptLogChunks(h.db, attemptId, 'platform', [
      { sequence: PLATFORM_LINE.ended, text: 'attempt 0 succeeded\n' },
    ]);
    const done = await c.job.attemptLog.query({ jobId: job.id, cursor: ending.cursor });
    expect(done).toMatchObject({ chunks: [{ text: 'attempt 0 succeeded\n' }], complete: true });
    // Paging with a small limit reads every chunk once.
    const texts: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page: Awaited<ReturnType<typeof c.job.attemptLog.query>> = await c.job.attemptLog.query({
        jobId: job.id,
        cursor,
        limit: 1,
      });
      texts.push(...page.chunks.map((x) => x.text));
      cursor = page.cursor;
      if (page.complete) break;
    }
    expect(texts).toHaveLength(6);
    await expectTrpcError(c.job.attemptLog.query({ jobId: job.id, attemptNumber: 4 }), 'NOT_FOUND');
    await expectTrpcError(c.job.attemptLog.query({ jobId: job.id, cursor: 'garbage' }), 'BAD_REQUEST', {
      message: /cursor/,
    });
  });

  it('cancels only running sync jobs, through the scheduler', async () => {
    const c = h.client(world.editor.token);
    const discover = (await c.job.list.query({ workspaceId: world.ws.id, types: ['discover'] })).items[0]!;
    await expectTrpcError(c.job.cancel.mutate({ jobId: discover.id }), 'PRECONDITION_FAILED', {
      message: /ends on its own/,
    });
    const running = await h.db.job.create({
      data: {
        workspaceId: world.ws.id,
        connectionId: pipeline.connection.id,
        type: 'sync',
        status: 'running',
        config: {},
      },
    });
    await expectTrpcError(c.job.cancel.mutate({ jobId: running.id }), 'PRECONDITION_FAILED', {
      message: /no scheduler/,
    });
    await expectTrpcError(h.client(world.reader.token).job.cancel.mutate({ jobId: running.id }), 'FORBIDDEN');
  });
});
