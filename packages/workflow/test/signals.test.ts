import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, type Engine, WorkflowNotFoundError } from '../src';
import { dropPrefix, sleep, testEngine, uniquePrefix, waitFor } from './helpers';

const prefix = uniquePrefix('signals');
let engine: Engine;

const collector = defineWorkflow('collector', z.object({ count: z.number() }), async (ctx, input) => {
  const got: unknown[] = [];
  for (let i = 0; i < input.count; i++) {
    const s = await ctx.waitForSignal('msg');
    got.push(s?.payload);
  }
  return got;
});

/** The connection manager's pattern: a timer that any of several signals interrupts. */
const interruptible = defineWorkflow(
  'interruptible',
  z.object({ timeoutMs: z.number() }),
  async (ctx, input) => {
    const started = ctx.now();
    const s = await ctx.waitForSignal(['manual', 'update'], { timeout: input.timeoutMs });
    return { woke: s ? s.name : 'timeout', after: ctx.now() - started };
  },
);

const multi = defineWorkflow('multi', z.object({}), async (ctx) => {
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await ctx.waitForSignal(['a', 'b']);
    order.push(`${s!.name}:${s!.payload}`);
  }
  const none = await ctx.waitForSignal('c', { timeout: 0 });
  return { order, none };
});

beforeAll(() => {
  engine = testEngine(prefix);
  engine.register(collector, interruptible, multi);
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('signals', () => {
  it('keeps signals sent while no worker runs and delivers them in order', async () => {
    await engine.start(collector, 'c1', { count: 4 });
    for (const p of [1, 2, 3]) expect(await engine.signal('c1', 'msg', p)).toBe(true);
    expect((await engine.query('c1'))?.pendingSignals).toBe(3);

    const w1 = engine.createWorker({ concurrency: 2 });
    await waitFor('c1 waiting for the 4th', async () => (await engine.query('c1'))?.status === 'waiting');
    expect((await engine.query('c1'))?.pendingSignals).toBe(0);
    await w1.close(1000);

    // No worker again: the 4th signal waits in Redis.
    await engine.signal('c1', 'msg', { four: 4 });
    await sleep(200);
    expect((await engine.query('c1'))?.status).toBe('waiting');
    const w2 = engine.createWorker({ concurrency: 2 });
    expect(await engine.result('c1', { timeoutMs: 10_000 })).toEqual([1, 2, 3, { four: 4 }]);
    await w2.close(1000);
  });

  it('wakes a waiting timer early, and times out without a signal', async () => {
    const w = engine.createWorker({ concurrency: 4 });
    await engine.start(interruptible, 'i1', { timeoutMs: 60_000 });
    await engine.start(interruptible, 'i2', { timeoutMs: 1200 });
    await waitFor('i1 waiting', async () => (await engine.query('i1'))?.status === 'waiting');
    const info = await engine.query('i1');
    expect(info?.wakeAt).toBeGreaterThan(Date.now() + 50_000);
    const job = await engine.queue.getJob(info!.runId);
    // The run is recorded as waiting just before its job moves to the delayed set.
    const state = await waitFor('i1 job delayed', async () => {
      const s = await job?.getState();
      return s === 'delayed' && s;
    });
    expect(state).toBe('delayed');
    const t = Date.now();
    await engine.signal('i1', 'update', { schedule: 'cron' });
    const r1 = await engine.result<{ woke: string; after: number }>('i1', { timeoutMs: 5000 });
    expect(r1.woke).toBe('update');
    expect(Date.now() - t).toBeLessThan(2000);
    const r2 = await engine.result<{ woke: string; after: number }>('i2', { timeoutMs: 5000 });
    expect(r2.woke).toBe('timeout');
    expect(r2.after).toBeGreaterThanOrEqual(1200);
    await w.close(1000);
  });

  it('delivers across names in arrival order, and polls with timeout 0', async () => {
    await engine.start(multi, 'm1', {});
    await engine.signal('m1', 'b', 1);
    await engine.signal('m1', 'other', 'ignored');
    await engine.signal('m1', 'a', 2);
    await engine.signal('m1', 'b', 3);
    const w = engine.createWorker({ concurrency: 2 });
    expect(await engine.result('m1', { timeoutMs: 5000 })).toEqual({
      order: ['b:1', 'a:2', 'b:3'],
      none: null,
    });
    await w.close(1000);
  });

  it('refuses signals to unknown workflows and bad names', async () => {
    await expect(engine.signal('nope', 'x')).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await expect(engine.signal('m1', 'bad\nname')).rejects.toThrow(/newlines/);
  });
});
