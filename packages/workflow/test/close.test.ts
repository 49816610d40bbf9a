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

const prefix = uniquePrefix('close');
let engine: Engine;
const runs: { id: string; attempt: number; startedAt: number; abortedBy?: string }[] = [];

const slowStep = defineWorkflow('slow-step', z.object({ ms: z.number() }), async (ctx, input) => {
  const r = await ctx.step('work', async (s) => {
    const run: (typeof runs)[number] = { id: ctx.workflowId, attempt: s.attempt, startedAt: Date.now() };
    runs.push(run);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, input.ms);
      s.signal.addEventListener('abort', () => {
        clearTimeout(t);
        run.abortedBy = (s.signal.reason as Error).name;
        reject(s.signal.reason);
      });
    });
    return 'done';
  });
  const after = await ctx.step('after', () => process.pid);
  return [r, after];
});

beforeAll(() => {
  engine = testEngine(prefix);
  engine.register(slowStep);
});

const procs: Proc[] = [];

afterAll(async () => {
  await killAll(procs);
  await engine.close();
  await dropPrefix(prefix);
});

describe('graceful close', () => {
  it('waits for running steps, stores them, and hands the rest to another worker', async () => {
    const w1 = engine.createWorker({ concurrency: 2 });
    await engine.start(slowStep, 'g1', { ms: 800 });
    const g1 = await waitFor('g1 step running', async () => runs.find((r) => r.id === 'g1'));
    await w1.close(5000);
    // From the step's start: a poll that notices the step late must not shorten the wait measured.
    const took = Date.now() - g1.startedAt;
    expect(took).toBeGreaterThan(500);
    expect(took).toBeLessThan(3000);
    const history = await engine.history('g1');
    // The running step finished and was stored; the next one was left for another worker.
    expect(history.map((h) => h.entry)).toMatchObject([{ t: 'step', n: 'work', s: 'ok' }]);
    const info = await engine.query('g1');
    expect(info?.status).not.toBe('completed');
    const job = await engine.queue.getJob(info!.runId);
    expect(job?.attemptsMade ?? 0).toBe(0);

    const w2 = engine.createWorker({ concurrency: 2 });
    expect(await engine.result('g1', { timeoutMs: 5000 })).toEqual(['done', process.pid]);
    expect(runs.filter((r) => r.id === 'g1')).toHaveLength(1);
    await w2.close(1000);
  });

  it('aborts steps still running at the deadline without recording or consuming attempts', async () => {
    const w1 = engine.createWorker({ concurrency: 2 });
    await engine.start(slowStep, 'g2', { ms: 20_000 });
    await waitFor('g2 step running', async () => runs.some((r) => r.id === 'g2'));
    const t = Date.now();
    await w1.close(300);
    expect(Date.now() - t).toBeLessThan(3000);
    expect(runs.find((r) => r.id === 'g2')?.abortedBy).toBe('ShutdownError');
    expect(await engine.history('g2')).toEqual([]);
    const info = await engine.query('g2');
    expect(info?.status).toBe('running');
    const job = await engine.queue.getJob(info!.runId);
    expect(job?.attemptsMade ?? 0).toBe(0);
    expect(['waiting', 'delayed', 'wait']).toContain(await job?.getState());

    // The next worker runs the step again from its first attempt.
    await engine.start(slowStep, 'g3', { ms: 10 });
    const w2 = engine.createWorker({ concurrency: 2 });
    await engine.result('g3', { timeoutMs: 5000 });
    // g3 ending does not mean w2 has started g2's step again; a cancel before that skips it.
    await waitFor('g2 step running again', async () => runs.filter((r) => r.id === 'g2').length === 2);
    await engine.cancel('g2');
    await expect(engine.result('g2', { timeoutMs: 5000 })).rejects.toThrow(/cancelled/);
    const g2runs = runs.filter((r) => r.id === 'g2');
    expect(g2runs.map((r) => [r.attempt, r.abortedBy])).toEqual([
      [1, 'ShutdownError'],
      [1, 'CancelledError'],
    ]);
    await w2.close(1000);
  });

  it('a worker process closes on SIGTERM within its deadline and hands its run back', async () => {
    const p = spawnProc({ mode: 'worker', redis: REDIS_URL, prefix, closeOnSignals: true });
    procs.push(p);
    await p.ready;
    await engine.start('cancellable', 'term1', {});
    await waitFor('step running', () => engine.redis.get(`${prefix}:test:running:term1`));
    const t = Date.now();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(await engine.redis.get(`${prefix}:test:aborted:term1`)).toBe(String(p.pid));
    const info = await engine.query('term1');
    expect(info?.status).toBe('running');
    const job = await engine.queue.getJob(info!.runId);
    expect(job?.attemptsMade ?? 0).toBe(0);
    expect(['waiting', 'delayed']).toContain(await job?.getState());
  }, 20_000);
});
