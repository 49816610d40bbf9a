import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CancelledError,
  defineWorkflow,
  type Engine,
  WorkflowFailedError,
  type WorkflowWorker,
} from '../src';
import { dropPrefix, testEngine, uniquePrefix, waitFor } from './helpers';

const prefix = uniquePrefix('children');
let engine: Engine;
let worker: WorkflowWorker;

const child = defineWorkflow(
  'child',
  z.object({ x: z.number(), fail: z.boolean().default(false) }),
  async (ctx, input) => {
    const v = await ctx.step('double', () => input.x * 2);
    if (input.fail) throw new Error(`child ${input.x} failed`);
    return v;
  },
);

const sleepyChild = defineWorkflow('sleepy-child', z.object({}), async (ctx) => {
  await ctx.sleep(60_000);
  return 'slept';
});

const parent = defineWorkflow('parent', z.object({ n: z.number() }), async (ctx, input) => {
  const handles = [];
  for (let i = 0; i < input.n; i++)
    handles.push(await ctx.startChild(child, `${ctx.workflowId}-c${i}`, { x: i }));
  const values = await Promise.all(handles.map((h) => h.result()));
  const single = await ctx.executeChild(child, `${ctx.workflowId}-single`, { x: 100 });
  let failure: string | null = null;
  try {
    await ctx.executeChild(child, `${ctx.workflowId}-bad`, { x: 7, fail: true });
  } catch (err) {
    if (err instanceof WorkflowFailedError) failure = err.failure.message;
  }
  return { values, single, failure };
});

const waitsOnSleepy = defineWorkflow('waits-on-sleepy', z.object({}), async (ctx) =>
  ctx.executeChild(sleepyChild, `${ctx.workflowId}-sleepy`, {}),
);

beforeAll(async () => {
  engine = testEngine(prefix);
  worker = engine.createWorker({ workflows: [child, sleepyChild, parent, waitsOnSleepy], concurrency: 6 });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('child workflows', () => {
  it('starts children, awaits their results and sees their failures', async () => {
    await engine.start(parent, 'p1', { n: 3 });
    expect(await engine.result('p1', { timeoutMs: 15_000 })).toEqual({
      values: [0, 2, 4],
      single: 200,
      failure: 'child 7 failed',
    });
    const c = await engine.query('p1-c1');
    expect(c).toMatchObject({ status: 'completed', output: 2, parent: { workflowId: 'p1' } });
  });

  it('cancelling the parent cancels the child it waits on', async () => {
    await engine.start(waitsOnSleepy, 'p2', {});
    await waitFor('child sleeping', async () => (await engine.query('p2-sleepy'))?.status === 'sleeping');
    await waitFor('parent waiting', async () => (await engine.query('p2'))?.status === 'waiting');
    expect((await engine.query('p2'))?.waitingFor?.children).toEqual(['p2-sleepy']);
    await engine.cancel('p2');
    await expect(engine.result('p2', { timeoutMs: 5000 })).rejects.toBeInstanceOf(CancelledError);
    await expect(engine.result('p2-sleepy', { timeoutMs: 5000 })).rejects.toBeInstanceOf(CancelledError);
  });
});
