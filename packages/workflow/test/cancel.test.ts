import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CancelledError, defineWorkflow, type Engine, type StepEvent } from '../src';
import {
  dropPrefix,
  killAll,
  type Proc,
  REDIS_URL,
  spawnProc,
  testEngine,
  uniquePrefix,
  waitFor,
} from './helpers';

const prefix = uniquePrefix('cancel');
let engine: Engine;
const procs: Proc[] = [];
let firstStepRuns = 0;
const stepEvents: StepEvent[] = [];
let abortReason: unknown;
let stuckRunning = false;

/** Holds a timer it has not awaited yet when the cancellation arrives. */
const holder = defineWorkflow('holder', z.object({}), async (ctx) => {
  const timer = ctx.sleep(60_000);
  try {
    await ctx.waitForSignal('go');
  } catch (err) {
    if (err instanceof CancelledError) return 'caught';
  }
  await timer;
  return 'done';
});

const stuck = defineWorkflow('stuck', z.object({}), async (ctx) => {
  await ctx.step('stuck', async (s) => {
    stuckRunning = true;
    await new Promise((_, reject) =>
      s.signal.addEventListener('abort', () => {
        abortReason = s.signal.reason;
        reject(s.signal.reason);
      }),
    );
  });
});

const longSleep = defineWorkflow('long-sleep', z.object({}), async (ctx) => {
  await ctx.step('first', () => {
    firstStepRuns++;
  });
  await ctx.sleep(60_000);
  return 'woke';
});

const graceful = defineWorkflow('graceful', z.object({}), async (ctx) => {
  try {
    await ctx.waitForSignal('never');
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
    // Cleanup still runs after a cancellation.
    const cleaned = await ctx.step('cleanup', () => 'cleaned');
    return { cleaned, cancelled: ctx.cancelled, aborted: ctx.signal.aborted };
  }
  return null;
});

beforeAll(() => {
  engine = testEngine(prefix, { hooks: { onStep: (e) => stepEvents.push(e) } });
  engine.register(longSleep, graceful, stuck, holder);
});

afterAll(async () => {
  await killAll(procs);
  await engine.close();
  await dropPrefix(prefix);
});

describe('cancellation', () => {
  it('reaches a step running in another process as an AbortSignal', async () => {
    const p = spawnProc({ mode: 'worker', redis: REDIS_URL, prefix });
    procs.push(p);
    await p.ready;
    await engine.start('cancellable', 'x1', {});
    await waitFor('step running', () => engine.redis.get(`${prefix}:test:running:x1`));
    expect(await engine.cancel('x1', 'user asked')).toBe(true);
    const err = (await engine.result('x1', { timeoutMs: 10_000 }).catch((e: unknown) => e)) as CancelledError;
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.reason).toBe('user asked');
    // The abort was observed by the worker process, not by this one.
    expect(await engine.redis.get(`${prefix}:test:aborted:x1`)).toBe(String(p.pid));
    expect(p.pid).not.toBe(process.pid);
    expect(await engine.redis.get(`${prefix}:test:cleanup:x1`)).toBe('1');
    expect((await engine.query('x1'))?.status).toBe('cancelled');
    expect(await engine.cancel('x1')).toBe(false);
    // That process does not know this file's workflows: stop it before the next tests.
    await killAll([p]);
  }, 20_000);

  it('wakes a sleeping workflow, and reaches one no worker has picked up yet', async () => {
    await engine.start(longSleep, 'ls1', {});
    await engine.start(longSleep, 'ls2', {});
    expect(await engine.cancel('ls2')).toBe(true); // before any worker exists
    const w = engine.createWorker({ concurrency: 2 });
    await waitFor('ls1 sleeping', async () => (await engine.query('ls1'))?.status === 'sleeping');
    const t = Date.now();
    await engine.cancel('ls1', 'stop');
    await expect(engine.result('ls1', { timeoutMs: 5000 })).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t).toBeLessThan(2000);
    await expect(engine.result('ls2', { timeoutMs: 5000 })).rejects.toBeInstanceOf(CancelledError);
    // ls2 was cancelled at its first command: its first step never ran.
    expect(firstStepRuns).toBe(1);
    await w.close(1000);
  });

  it('aborts a step running in this process and reports it', async () => {
    const w = engine.createWorker({ concurrency: 2 });
    await engine.start(stuck, 'st1', {});
    // An active job may still be loading: a cancel then arrives before the step ever starts.
    await waitFor('step running', async () => stuckRunning);
    await engine.cancel('st1', 'enough');
    await expect(engine.result('st1', { timeoutMs: 5000 })).rejects.toBeInstanceOf(CancelledError);
    expect(abortReason).toBeInstanceOf(CancelledError);
    expect(stepEvents.filter((e) => e.workflowId === 'st1').map((e) => e.outcome)).toEqual(['cancelled']);
    expect((await engine.history('st1'))[0]?.entry).toMatchObject({ t: 'step', s: 'cancelled' });
    await w.close(1000);
  });

  it('a cancelled command the workflow never awaited does not crash the worker', async () => {
    const w = engine.createWorker({ concurrency: 2 });
    await engine.start(holder, 'h1', {});
    await waitFor('h1 waiting', async () => (await engine.query('h1'))?.status === 'waiting');
    await engine.cancel('h1');
    expect(await engine.result('h1', { timeoutMs: 5000 })).toBe('caught');
    await w.close(1000);
  });

  it('lets the workflow catch the cancellation and clean up', async () => {
    const w = engine.createWorker({ concurrency: 2 });
    await engine.start(graceful, 'g1', {});
    await waitFor('g1 waiting', async () => (await engine.query('g1'))?.status === 'waiting');
    await engine.cancel('g1');
    expect(await engine.result('g1', { timeoutMs: 5000 })).toEqual({
      cleaned: 'cleaned',
      cancelled: true,
      aborted: true,
    });
    await w.close(1000);
  });
});
