import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { createLogger } from '@sluice/shared';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bullPriority,
  createWorkloadQueueWorker,
  subscribeWorkloadEvents,
  type WorkloadEvent,
  WorkloadQueue,
  type WorkloadQueueWorker,
  workloadQueueName,
} from './queue';
import { WorkloadService } from './service';
import { topLevelConfigSecrets } from './test-secrets';
import {
  checkWorkload,
  createWorkloadFixtures,
  syncWorkload,
  testWorkloadId,
  type WorkloadFixtures,
} from './testing';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `test-wl-${randomBytes(4).toString('hex')}`;
const silent = createLogger('workload.queue.test', { level: 'silent' });
let t: TestDatabase;
let f: WorkloadFixtures;
let queue: WorkloadQueue;
let svc: WorkloadService;
const workers: WorkloadQueueWorker[] = [];

const waitFor = async (cond: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting');
};

beforeAll(async () => {
  t = await createTestDatabase();
  f = await createWorkloadFixtures(t.db);
  queue = new WorkloadQueue({ connection: REDIS_URL, prefix, logger: silent });
  svc = new WorkloadService({
    db: t.db,
    dispatch: queue,
    secrets: topLevelConfigSecrets(randomBytes(32)),
    logger: silent,
    timeouts: { blockedRetryMs: 60_000 },
  });
});

afterAll(async () => {
  for (const w of workers) await w.close();
  await queue?.close();
  const r = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  await r.quit();
  await t?.drop();
});

describe('dispatch queue', () => {
  it('enqueues once per workload, after create, with its priority', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id, priority: 7 }));
    await svc.create(checkWorkload(f, { id, priority: 7 }));
    await queue.enqueue({ id, dataplaneGroup: 'default', priority: 7 });
    const q = queue.queue('default');
    const job = await q.getJob(id);
    expect(job?.data).toEqual({ workloadId: id });
    expect(job?.priority).toBe(bullPriority(7));
    expect(bullPriority(1000)).toBe(1);
    expect(bullPriority(7)).toBeLessThan(bullPriority(0));
    const jobs = await q.getJobs(['prioritized', 'waiting']);
    expect(jobs.filter((j) => j.id === id)).toHaveLength(1);
    // Cancelling a pending workload drops its job.
    await svc.cancel({ id, reason: 'x', source: 'user' });
    expect(await q.getJob(id)).toBeUndefined();
  });

  it('keeps dataplane groups apart and hands a consumer only its own group', async () => {
    const eu = await createWorkloadFixtures(t.db, { dataplaneGroup: 'eu' });
    const us = await createWorkloadFixtures(t.db, { dataplaneGroup: 'us' });
    const euId = testWorkloadId('eu');
    const usId = testWorkloadId('us');
    await svc.create(checkWorkload(eu, { id: euId }));
    await svc.create(checkWorkload(us, { id: usId }));
    expect(await queue.queue('eu').getJob(usId)).toBeUndefined();
    expect(await queue.queue('us').getJob(euId)).toBeUndefined();
    expect(workloadQueueName('eu')).toBe('workload-eu');

    const seen: string[] = [];
    const w = createWorkloadQueueWorker({
      connection: REDIS_URL,
      prefix,
      group: 'eu',
      logger: silent,
      handle: async (workloadId) => {
        seen.push(workloadId);
        const r = await svc.claim({ id: workloadId, launcherId: 'eu-1', scope: { dataplaneGroup: 'eu' } });
        expect(r.outcome).toBe('claimed');
        return { kind: 'done' };
      },
    });
    workers.push(w);
    await waitFor(async () => (await svc.get(euId)).status === 'claimed');
    expect(seen).toEqual([euId]);
    expect((await svc.get(usId)).status).toBe('pending');
    // The claim happens inside the handler; its job is removed only once the handler returned.
    await waitFor(async () => (await queue.queue('eu').getJob(euId)) === undefined);
    expect(await queue.queue('eu').getJob(euId)).toBeUndefined();
    expect((await queue.counts('us')).prioritized).toBe(1);
    await w.close();
  });

  it('runs higher priorities first', async () => {
    const group = `prio${randomBytes(2).toString('hex')}`;
    const fx = await createWorkloadFixtures(t.db, { dataplaneGroup: group });
    const ids = { low: testWorkloadId('low'), high: testWorkloadId('high'), mid: testWorkloadId('mid') };
    await svc.create(checkWorkload(fx, { id: ids.low, priority: -5 }));
    await svc.create(checkWorkload(fx, { id: ids.high, priority: 50 }));
    await svc.create(checkWorkload(fx, { id: ids.mid, priority: 0 }));
    const order: string[] = [];
    const w = createWorkloadQueueWorker({
      connection: REDIS_URL,
      prefix,
      group,
      handle: async (id) => {
        order.push(id);
        return { kind: 'done' };
      },
    });
    workers.push(w);
    await waitFor(() => order.length === 3);
    expect(order).toEqual([ids.high, ids.mid, ids.low]);
    await w.close();
  });

  it('retries a blocked claim and wakes it as soon as the older workload ended', async () => {
    const group = `mx${randomBytes(2).toString('hex')}`;
    const fx = await createWorkloadFixtures(t.db, { dataplaneGroup: group });
    const a = testWorkloadId('a');
    const b = testWorkloadId('b');
    const outcomes: string[] = [];
    const w = createWorkloadQueueWorker({
      connection: REDIS_URL,
      prefix,
      group,
      concurrency: 2,
      handle: async (id) => {
        const r = await svc.claim({ id, launcherId: 'L1' });
        outcomes.push(`${id}:${r.outcome}`);
        return r.outcome === 'blocked' ? { kind: 'retry', afterMs: r.retryAfterMs } : { kind: 'done' };
      },
    });
    workers.push(w);
    await svc.create(syncWorkload(fx, { id: a }));
    await waitFor(async () => (await svc.get(a)).status === 'claimed');
    await svc.launched({ id: a, launcherId: 'L1' });
    await svc.running({ id: a });
    await svc.create(syncWorkload(fx, { id: b }));
    await waitFor(() => outcomes.includes(`${b}:blocked`));
    // The blocked job waits 60 s unless woken: the stop confirmation wakes it (whether its job
    // is delayed by now or still being put back: see the next test).
    const started = Date.now();
    await svc.stopped({ id: a });
    await waitFor(async () => (await svc.get(b)).status === 'claimed', 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await w.close();
  });

  it('keeps a wake that comes while the job is being handled', async () => {
    const group = `wk${randomBytes(2).toString('hex')}`;
    const target = { id: testWorkloadId('w'), dataplaneGroup: group, priority: 0 };
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const handled: number[] = [];
    const w = createWorkloadQueueWorker({
      connection: REDIS_URL,
      prefix,
      group,
      handle: async () => {
        handled.push(Date.now());
        // The first time: blocked, and it takes a while to say so.
        if (handled.length === 1) {
          await gate;
          return { kind: 'retry', afterMs: 60_000 };
        }
        return { kind: 'done' };
      },
    });
    workers.push(w);
    await queue.enqueue(target);
    await waitFor(async () => handled.length === 1);
    expect(await queue.queue(group).getJobState(target.id)).toBe('active');
    await queue.wake(target);
    const woke = Date.now();
    release();
    await waitFor(async () => handled.length === 2, 10_000);
    expect(handled[1]! - woke).toBeLessThan(10_000);
    await waitFor(async () => (await queue.queue(group).getJobState(target.id)) === 'unknown');
    await w.close();
  });

  it('requeuePending re-adds what a crash between commit and enqueue lost', async () => {
    const noDispatch = new WorkloadService({ db: t.db, logger: silent });
    const group = `rq${randomBytes(2).toString('hex')}`;
    const fx = await createWorkloadFixtures(t.db, { dataplaneGroup: group });
    const id = testWorkloadId();
    await noDispatch.create(checkWorkload(fx, { id }));
    expect(await queue.queue(group).getJob(id)).toBeUndefined();
    expect(await svc.requeuePending()).toBeGreaterThanOrEqual(1);
    expect((await queue.queue(group).getJob(id))?.data).toEqual({ workloadId: id });
    // Idempotent.
    await svc.requeuePending();
    expect((await queue.counts(group)).prioritized).toBe(1);
  });

  it('tells launchers of the group about a cancellation', async () => {
    const events: WorkloadEvent[] = [];
    const sub = await subscribeWorkloadEvents({
      connection: REDIS_URL,
      prefix,
      group: 'default',
      onEvent: (e) => events.push(e),
    });
    const other: WorkloadEvent[] = [];
    const subOther = await subscribeWorkloadEvents({
      connection: REDIS_URL,
      prefix,
      group: 'elsewhere',
      onEvent: (e) => other.push(e),
    });
    try {
      const id = testWorkloadId();
      await svc.create(checkWorkload(f, { id }));
      await svc.claim({ id, launcherId: 'L7' });
      await svc.launched({ id, launcherId: 'L7' });
      await svc.cancel({ id, reason: 'cancelled by a user', source: 'user' });
      await waitFor(() => events.some((e) => e.workloadId === id));
      expect(events.find((e) => e.workloadId === id)).toEqual({
        type: 'cancelled',
        workloadId: id,
        dataplaneGroup: 'default',
        claimedBy: 'L7',
        reason: 'cancelled by a user',
      });
      expect(other).toEqual([]);
    } finally {
      await sub.close();
      await subOther.close();
    }
  });
});
