import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, type Engine } from '../src';
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

const prefix = uniquePrefix('timers');
let engine: Engine;
const procs: Proc[] = [];

const napper = defineWorkflow('napper', z.object({ ms: z.number() }), async (ctx, input) => {
  const t0 = ctx.now();
  await ctx.sleep(input.ms);
  const t1 = await ctx.step('after', () => Date.now());
  await ctx.sleepUntil(new Date(t1 + 50));
  return t1 - t0;
});

beforeAll(() => {
  engine = testEngine(prefix);
  engine.register(napper);
});

afterAll(async () => {
  await killAll(procs);
  await engine.close();
  await dropPrefix(prefix);
});

describe('durable timers', () => {
  it('sleeps on a delayed job without holding a worker slot', async () => {
    const w = engine.createWorker({ concurrency: 1 });
    await engine.start(napper, 'n1', { ms: 1500 });
    await waitFor('n1 sleeping', async () => (await engine.query('n1'))?.status === 'sleeping');
    const info = await engine.query('n1');
    // The run is recorded as sleeping just before its job moves to the delayed set.
    const state = await waitFor('n1 job delayed', async () => {
      const s = await (await engine.queue.getJob(info!.runId))?.getState();
      return s === 'delayed' && s;
    });
    expect(state).toBe('delayed');
    expect(w.activeCount).toBe(0);
    const slept = await engine.result<number>('n1', { timeoutMs: 10_000 });
    expect(slept).toBeGreaterThanOrEqual(1500);
    await w.close(1000);
  });

  it('a timer survives the death of the worker that set it', async () => {
    const first = spawnProc({ mode: 'worker', redis: REDIS_URL, prefix });
    procs.push(first);
    await first.ready;
    await engine.start('sleeper', 's1', { ms: 2500 });
    await waitFor('s1 sleeping', async () => (await engine.query('s1'))?.status === 'sleeping');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = spawnProc({ mode: 'worker', redis: REDIS_URL, prefix });
    procs.push(second);
    const r = await engine.result<{ t0: number; t1: number; pid: number }>('s1', { timeoutMs: 20_000 });
    expect(r.t1 - r.t0).toBeGreaterThanOrEqual(2500);
    expect(r.pid).toBe(second.pid);
    expect(await engine.redis.get(`${prefix}:test:slept:s1`)).toBe(String(first.pid));
    const history = await engine.history('s1');
    expect(history.filter((h) => h.entry.t === 'step')).toHaveLength(2);
  }, 40_000);
});
