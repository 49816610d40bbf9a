import { type ChildProcess, spawn } from 'node:child_process';
import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../src';
import {
  commitAll,
  createConnection,
  createFixture,
  type Fixture,
  jobsOf,
  quiet,
  scriptedExecutor,
  sleep,
  startScripted,
  testBox,
  uniquePrefix,
  untilAborted,
  waitFor,
} from './helpers';
import type { ScriptedLauncher } from './scripted-launcher';

// Destructive: FLUSHALL runs on a Redis of this test's own.
const port = 21000 + Math.floor(Math.random() * 20000);
const url = `redis://127.0.0.1:${port}`;
const prefix = uniquePrefix('reconcile');
const box = testBox();
let redisServer: ChildProcess;
let redis: Redis;
let t: TestDatabase;
let f: Fixture;
let worker: RunningWorker;
let launcher: ScriptedLauncher;
let hang = true;
const runs: string[] = [];

beforeAll(async () => {
  redisServer = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
    { stdio: 'ignore' },
  );
  redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  await waitFor(
    'redis',
    async () =>
      redis.ping().then(
        () => true,
        () => false,
      ),
    10_000,
  );
  t = await createTestDatabase({ poolMax: 8 });
  f = await createFixture(t.db, box);
  const { executor } = scriptedExecutor({
    sync: async (ctx) => {
      runs.push(ctx.workload.id);
      if (hang) return untilAborted()(ctx);
      return commitAll(ctx);
    },
  });
  worker = await startWorker({
    db: t.db,
    redis: url,
    prefix,
    box,
    logger: quiet,
    concurrency: 10,
    config: { workloadPollMs: 2000 },
    // The test runs the reconciler itself.
    sweeps: { intervals: { sweeperMs: 500, reconcilerMs: 3_600_000, retentionMs: 3_600_000 } },
    workloadTimeouts: { cancelGraceMs: 2000 },
    metricsPort: null,
  });
  launcher = await startScripted(worker, executor, { prefix, redis: url, heartbeatIntervalMs: 200 });
});

afterAll(async () => {
  await launcher?.close();
  await worker?.close(2000);
  await t?.drop();
  redis?.disconnect();
  redisServer?.kill('SIGKILL');
});

describe('the reconciler after Redis loses everything (FLUSHALL)', () => {
  it('restarts connection managers, fails the orphaned attempt and retries it, and re-queues pending workloads', async () => {
    const running = await createConnection(t.db, f);
    const idle = await createConnection(t.db, f);
    const orchestrator = worker.platform.orchestrator;
    await orchestrator.created(running);
    await orchestrator.created(idle);
    const { jobId } = await orchestrator.syncNow(running);
    await waitFor('the sync to run', async () => runs.includes(`${jobId}_0_sync`));
    // A workload no launcher serves: it stays pending, and its queue job will be lost.
    const pending = await worker.service.create({
      id: `check-${jobId}`,
      type: 'check',
      dataplaneGroup: 'elsewhere',
      input: {
        connector: {
          actorType: 'source',
          actorId: f.sourceId,
          definitionId: f.sourceDefinitionId,
          config: { host: 'h' },
        },
      },
    });
    expect(pending.created).toBe(true);

    await redis.flushall();
    expect(await worker.engine.exists(`connection-manager:${running}`)).toBe(false);
    hang = false;

    const report = await worker.sweeps!.reconcile();
    expect(report.managersStarted).toBe(2);
    expect(report.requeued).toBeGreaterThanOrEqual(1);
    expect(await worker.service.queueDepth()).toContainEqual(
      expect.objectContaining({ dataplaneGroup: 'elsewhere', pending: 1 }),
    );
    expect(await redis.exists(`${prefix}:workload-elsewhere:check-${jobId}`)).toBe(1);

    const job = await waitFor(
      'the adopted job to finish',
      async () => {
        const [j] = await jobsOf(t.db, running);
        return j && j.status === 'succeeded' ? j : null;
      },
      30_000,
    );
    expect(job.id).toBe(jobId);
    expect(job.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(
      (job.attempts[0]!.failureSummary as { failures: { externalMessage: string }[] }).failures[0]!
        .externalMessage,
    ).toMatch(/workflow running this attempt was lost/);
    // The lost attempt's workload was superseded (cancelled) by the retry's, never run twice at once.
    const old = await t.db.workload.findUniqueOrThrow({ where: { id: `${jobId}_0_sync` } });
    expect(old.status).toBe('cancelled');
    expect(runs.filter((r) => r === `${jobId}_1_sync`)).toHaveLength(1);

    // The idle manager is back, waiting for signals.
    await waitFor(
      'the idle manager',
      async () => (await worker.engine.query(`connection-manager:${idle}`))?.status === 'waiting',
    );
    await orchestrator.syncNow(idle);
    await waitFor(
      'a sync of the other connection',
      async () => (await jobsOf(t.db, idle))[0]?.status === 'succeeded',
      20_000,
    );

    // A second pass finds nothing left to repair.
    await sleep(200);
    const again = await worker.sweeps!.reconcile();
    expect(again.managersStarted).toBe(0);
  });
});
