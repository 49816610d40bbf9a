import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { createPlatformServices, type PlatformServices } from '@sluice/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../src';
import {
  commitAll,
  createConnection,
  createFixture,
  dropPrefix,
  type Fixture,
  jobsOf,
  quiet,
  REDIS_URL,
  scriptedExecutor,
  sleep,
  startScripted,
  testBox,
  uniquePrefix,
  waitFor,
} from './helpers';
import type { ScriptedLauncher } from './scripted-launcher';

const prefix = uniquePrefix('triggers');
const box = testBox();
let t: TestDatabase;
let f: Fixture;
let worker: RunningWorker;
let launcher: ScriptedLauncher;
let otherApi: PlatformServices;
const { executor, executed } = scriptedExecutor({
  sync: async (ctx) => {
    await sleep(300);
    return commitAll(ctx);
  },
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
    // "Every minute" runs every second here; the 60 s minimum gap scales the same way.
    config: { scheduleTimeScale: 60, workloadPollMs: 5000 },
    sweeps: false,
    metricsPort: null,
  });
  launcher = await startScripted(worker, executor, { prefix, heartbeatIntervalMs: 200 });
  // A second API process with its own engine client.
  otherApi = createPlatformServices({ db: t.db, redis: REDIS_URL, prefix, logger: quiet });
});

afterAll(async () => {
  await launcher?.close();
  await otherApi?.close();
  await worker?.close(2000);
  await t?.drop();
  await dropPrefix(prefix);
});

describe('manual and scheduled triggers', () => {
  it('runs one sync at a time under 20 concurrent manual triggers, and one more for those asked during it', async () => {
    const id = await createConnection(t.db, f);
    await worker.platform.orchestrator.created(id);
    const apis = [worker.platform.orchestrator, otherApi.orchestrator];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => apis[i % 2]!.syncNow(id)));
    // Triggers while the sync runs are queued as one more sync.
    await waitFor(
      'the first sync to run',
      async () =>
        executed.some((e) => e.type === 'sync') ||
        (await t.db.workload.count({ where: { type: 'sync', status: 'running' } })) > 0,
    );
    const during = await Promise.all(Array.from({ length: 20 }, (_, i) => apis[i % 2]!.syncNow(id)));
    const jobs = await waitFor(
      'all syncs to end',
      async () => {
        const js = await jobsOf(t.db, id);
        return js.length > 0 &&
          js.every((j) => j.status === 'succeeded') &&
          executed.filter((e) => e.type === 'sync').length === js.length
          ? js
          : null;
      },
      30_000,
    );
    const ids = new Set([...answers, ...during].map((a) => a.jobId));
    expect(jobs.length).toBeLessThanOrEqual(3);
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    expect(new Set(jobs.map((j) => j.id))).toEqual(ids);
    // The triggers made during a running sync got one job, run after it.
    expect(new Set(during.map((d) => d.jobId)).size).toBe(1);
    expect(jobs.at(-1)!.id).toBe(during[0]!.jobId);
    // Never two syncs of the connection at once.
    const runs = executed.filter((e) => e.type === 'sync').sort((a, b) => a.start - b.start);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
  });

  it('runs a basic schedule at its interval after the previous job, the first at once', async () => {
    const id = await createConnection(t.db, f, {
      schedule: { scheduleType: 'basic', scheduleUnits: 1, scheduleTimeUnit: 'minutes' },
    });
    const created = Date.now();
    await worker.platform.orchestrator.created(id);
    const jobs = await waitFor(
      'three scheduled syncs',
      async () => {
        const js = await jobsOf(t.db, id);
        return js.filter((j) => j.status === 'succeeded').length >= 3 ? js : null;
      },
      20_000,
    );
    // Never early; the upper bounds leave room for a loaded CI machine (the schedule-lateness
    // benchmark measures how late a schedule runs).
    expect(jobs[0]!.createdAt.getTime() - created).toBeLessThan(5000);
    for (let i = 1; i < 3; i++) {
      const gap = jobs[i]!.createdAt.getTime() - jobs[i - 1]!.createdAt.getTime();
      expect(gap).toBeGreaterThanOrEqual(1000 - 5);
      expect(gap).toBeLessThan(5000);
      expect((jobs[i]!.config as { trigger: string }).trigger).toBe('scheduled');
    }
    // A schedule change takes effect at once: manual stops the syncs.
    await t.db.connection.update({
      where: { id },
      data: { scheduleType: 'manual', scheduleUnits: null, scheduleTimeUnit: null },
    });
    await worker.platform.orchestrator.updated(id);
    await waitFor('the manager to go idle without a timer', async () => {
      const info = await worker.engine.query(`connection-manager:${id}`);
      return (
        (info?.state as { nextSyncAt?: number | null })?.nextSyncAt === null && info?.status === 'waiting'
      );
    });
    const count = (await jobsOf(t.db, id)).length;
    await sleep(2500);
    expect((await jobsOf(t.db, id)).length).toBe(count);
  });
});
