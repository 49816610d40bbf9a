import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../src';
import {
  commitAll,
  createConnection,
  createFixture,
  dropPrefix,
  type Fixture,
  quiet,
  REDIS_URL,
  scriptedExecutor,
  startScripted,
  testBox,
  uniquePrefix,
  waitForJobs,
} from './helpers';
import type { ScriptedLauncher } from './scripted-launcher';

const prefix = uniquePrefix('sweeps');
const box = testBox();
let t: TestDatabase;
let f: Fixture;
let worker: RunningWorker;
let launcher: ScriptedLauncher;
let syncs = 0;

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 8 });
  f = await createFixture(t.db, box);
  const { executor } = scriptedExecutor({
    sync: async (ctx) => {
      // The first sync's launcher "dies": no heartbeat, no report (until the test ends).
      if (++syncs === 1)
        return new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve({ status: 'failure', reason: 'stopped' })),
        );
      return commitAll(ctx);
    },
  });
  worker = await startWorker({
    db: t.db,
    redis: REDIS_URL,
    prefix,
    box,
    logger: quiet,
    concurrency: 10,
    config: { retry: { completeFailureBackoffMinMs: 100 }, workloadPollMs: 5000 },
    // The retry (which sends no heartbeats either) must finish within it, even on a busy machine.
    workloadTimeouts: { heartbeatTimeoutMs: 3000 },
    sweeps: {
      intervals: { sweeperMs: 300, reconcilerMs: 3_600_000, retentionMs: 3_600_000 },
      retention: { jobDays: 30, minJobsPerConnection: 20, logDays: 7, workloadDays: 7 },
    },
    metricsPort: null,
  });
  launcher = await startScripted(worker, executor, { prefix, heartbeatIntervalMs: 3_600_000 });
});

afterAll(async () => {
  await launcher?.close();
  await worker?.close(500);
  await t?.drop();
  await dropPrefix(prefix);
});

describe('cron sweeps', () => {
  it('the workload sweeper fails a workload whose heartbeats stopped, and the attempt is retried', async () => {
    const id = await createConnection(t.db, f);
    await worker.platform.orchestrator.created(id);
    await worker.platform.orchestrator.syncNow(id);
    const [job] = await waitForJobs(t.db, id, 1, 30_000);
    expect(job!.status).toBe('succeeded');
    expect(job!.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    const failure = (job!.attempts[0]!.failureSummary as { failures: Record<string, string>[] }).failures[0]!;
    expect(failure).toMatchObject({ failureOrigin: 'platform', failureType: 'heartbeat_timeout' });
    expect(failure.externalMessage).toMatch(/no heartbeat/);
  });

  it('retention deletes old jobs beyond each connection’s latest ones, old logs and old workloads', async () => {
    const busy = await createConnection(t.db, f, { status: 'inactive' });
    const quietConn = await createConnection(t.db, f, { status: 'inactive' });
    const old = (days: number) => new Date(Date.now() - days * 86_400_000);
    const mk = (connectionId: string, createdAt: Date) =>
      t.db.job.create({
        data: {
          workspaceId: f.workspaceId,
          connectionId,
          type: 'sync',
          status: 'succeeded',
          config: {},
          createdAt,
          attempts: { create: { attemptNumber: 0, status: 'succeeded' } },
        },
        include: { attempts: true },
      });
    const busyJobs = [];
    for (let i = 0; i < 25; i++) busyJobs.push(await mk(busy, old(60 - i)));
    for (let i = 0; i < 3; i++) await mk(quietConn, old(90 - i));
    const recent = busyJobs.at(-1)!;
    await t.db.attemptLogChunk.createMany({
      data: [
        { attemptId: recent.attempts[0]!.id, sequence: 0, text: 'old line\n', createdAt: old(10) },
        { attemptId: recent.attempts[0]!.id, sequence: 1, text: 'new line\n' },
      ],
    });
    await t.db.workload.create({
      data: {
        id: 'old-workload',
        type: 'check',
        status: 'success',
        input: {},
        endedAt: old(8),
        createdAt: old(8),
      },
    });
    const r = await worker.sweeps!.retention();
    expect(r).toEqual({ jobs: 5, logs: 1, workloads: 1 });
    const left = await t.db.job.findMany({ where: { connectionId: busy }, orderBy: { createdAt: 'asc' } });
    expect(left.map((j) => j.id)).toEqual(busyJobs.slice(5).map((j) => j.id));
    expect(await t.db.job.count({ where: { connectionId: quietConn } })).toBe(3);
    expect(
      (await t.db.attemptLogChunk.findMany({ where: { attemptId: recent.attempts[0]!.id } })).map(
        (c) => c.text,
      ),
    ).toEqual(['new line\n']);
  });
});
