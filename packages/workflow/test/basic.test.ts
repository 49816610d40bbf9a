import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineWorkflow,
  type Engine,
  InputValidationError,
  WorkflowExistsError,
  type WorkflowWorker,
} from '../src';
import { dropPrefix, testEngine, uniquePrefix, waitFor } from './helpers';

const prefix = uniquePrefix('basic');
let engine: Engine;
let worker: WorkflowWorker;
const calls: Record<string, number> = {};

const threeSteps = defineWorkflow('three-steps', z.object({ n: z.number() }), async (ctx, input) => {
  const a = await ctx.step('a', () => {
    calls[`${ctx.workflowId}:a`] = (calls[`${ctx.workflowId}:a`] ?? 0) + 1;
    return input.n + 1;
  });
  ctx.setState({ phase: 'after-a', a });
  const b = await ctx.step('b', async () => a * 2);
  const c = await ctx.step('c', () => ({ sum: a + b, when: new Date(0) }));
  return { a, b, c };
});

const stateful = defineWorkflow('stateful', z.object({}), async (ctx) => {
  ctx.setState({ phase: 'waiting' });
  const s = await ctx.waitForSignal<{ go: boolean }>('go');
  ctx.setState({ phase: 'done', go: s?.payload.go });
  return 'ok';
});

beforeAll(async () => {
  engine = testEngine(prefix);
  worker = engine.createWorker({ workflows: [threeSteps, stateful], concurrency: 5 });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('basic workflows', () => {
  it('runs steps in order and stores each result as JSON', async () => {
    const r = await engine.start(threeSteps, 'w1', { n: 1 });
    expect(r).toMatchObject({ workflowId: 'w1', created: true, status: 'running' });
    const out = await engine.result('w1', { timeoutMs: 10_000 });
    // Dates come back as strings: the first run returns what replays will return.
    expect(out).toEqual({ a: 2, b: 4, c: { sum: 6, when: '1970-01-01T00:00:00.000Z' } });
    const info = await engine.query('w1');
    expect(info).toMatchObject({
      status: 'completed',
      state: { phase: 'after-a', a: 2 },
      runs: 1,
      error: null,
    });
    expect(info?.historyLength).toBe(3);
    const history = await engine.history('w1');
    expect(history.map((h) => h.entry.t)).toEqual(['step', 'step', 'step']);
    expect(calls['w1:a']).toBe(1);
  });

  it('start is idempotent for one id', async () => {
    const [x, y, z2] = await Promise.all([
      engine.start(threeSteps, 'w2', { n: 5 }),
      engine.start(threeSteps, 'w2', { n: 5 }),
      engine.start(threeSteps, 'w2', { n: 5 }),
    ]);
    const created = [x, y, z2].filter((r) => r.created);
    expect(created).toHaveLength(1);
    expect(new Set([x.runId, y.runId, z2.runId]).size).toBe(1);
    await engine.result('w2', { timeoutMs: 10_000 });
    // Finished + idempotent (default): returned as is, not re-run.
    const again = await engine.start(threeSteps, 'w2', { n: 5 });
    expect(again).toMatchObject({ created: false, status: 'completed', runId: x.runId });
    // idempotent: false replaces a finished run.
    const fresh = await engine.start(threeSteps, 'w2', { n: 7 }, { idempotent: false });
    expect(fresh.created).toBe(true);
    expect(fresh.runId).not.toBe(x.runId);
    expect(await engine.result('w2', { timeoutMs: 10_000 })).toMatchObject({ a: 8 });
    expect(calls['w2:a']).toBe(2);
  });

  it('rejects bad input and a reused id of another type', async () => {
    await expect(engine.start(threeSteps, 'bad', { n: 'x' })).rejects.toBeInstanceOf(InputValidationError);
    expect(await engine.exists('bad')).toBe(false);
    await engine.start(stateful, 'st1', {});
    await expect(engine.start(threeSteps, 'st1', { n: 1 })).rejects.toBeInstanceOf(WorkflowExistsError);
  });

  it('query shows status and state while waiting', async () => {
    await waitFor('st1 waiting', async () => (await engine.query('st1'))?.status === 'waiting');
    const info = await engine.query('st1');
    expect(info).toMatchObject({
      status: 'waiting',
      state: { phase: 'waiting' },
      waitingFor: { signals: ['go'], children: [] },
    });
    const listed = await engine.list({ name: 'stateful' });
    expect(listed.items.map((i) => i.workflowId)).toContain('st1');
    expect(await engine.signal('st1', 'go', { go: true })).toBe(true);
    expect(await engine.result('st1', { timeoutMs: 5000 })).toBe('ok');
    expect((await engine.query('st1'))?.state).toEqual({ phase: 'done', go: true });
    expect(await engine.signal('st1', 'go', {})).toBe(false);
    const stats = await engine.stats();
    expect(stats.completed).toBeGreaterThanOrEqual(4);
    expect(stats.waiting).toBe(0);
  });
});
