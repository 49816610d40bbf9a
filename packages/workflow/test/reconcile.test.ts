import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineWorkflow,
  type Engine,
  NonDeterminismError,
  TerminatedError,
  type WorkflowEndEvent,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '../src';
import { dropPrefix, testEngine, uniquePrefix, waitFor } from './helpers';

const prefix = uniquePrefix('reconcile');
let engine: Engine;
const ends: WorkflowEndEvent[] = [];
let stepAborted = '';
let busyRunning = false;
let variant = 'a';

const sleeper = defineWorkflow('idle', z.object({ ms: z.number() }), async (ctx, input) => {
  await ctx.sleep(input.ms);
  return 'woke';
});

const busy = defineWorkflow('busy', z.object({}), async (ctx) => {
  await ctx.step('forever', async (s) => {
    busyRunning = true;
    await new Promise((_, reject) =>
      s.signal.addEventListener('abort', () => {
        stepAborted = (s.signal.reason as Error).name;
        reject(s.signal.reason);
      }),
    );
  });
  await ctx.step('never', () => {
    throw new Error('must not run');
  });
});

/** Its code changes between two activations: replay must notice. */
const changing = defineWorkflow('changing', z.object({}), async (ctx) => {
  await ctx.step(variant, () => variant);
  // Long enough for the test to change the code while it sleeps, however loaded the machine.
  await ctx.sleep(2_000);
  return 'done';
});

beforeAll(() => {
  engine = testEngine(prefix, { hooks: { onWorkflowEnd: (e) => ends.push(e) } });
  engine.register(sleeper, busy, changing);
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('reconciler support', () => {
  it('lists unfinished workflows, tells existence, terminates and wakes', async () => {
    for (let i = 0; i < 5; i++) await engine.start(sleeper, `idle-${i}`, { ms: 60_000 });
    const all = await engine.list();
    expect(all.items.map((i) => i.workflowId).sort()).toEqual([
      'idle-0',
      'idle-1',
      'idle-2',
      'idle-3',
      'idle-4',
    ]);
    expect(all.next).toBeNull();
    const page = await engine.list({ limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.next).toBe(2);
    expect(await engine.exists('idle-0')).toBe(true);
    expect(await engine.exists('nope')).toBe(false);

    expect(await engine.terminate('idle-0', 'connection deleted in Postgres')).toBe(true);
    expect(await engine.terminate('idle-0', 'again')).toBe(false);
    const info = await engine.query('idle-0');
    expect(info).toMatchObject({ status: 'failed', error: { name: 'TerminatedError' } });
    expect(await engine.queue.getJob(info!.runId)).toBeUndefined();
    const err = (await engine.result('idle-0').catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.failure.name).toBe(new TerminatedError('x').name);
    expect((await engine.list()).items.map((i) => i.workflowId)).not.toContain('idle-0');
    await expect(engine.terminate('nope', 'x')).rejects.toBeInstanceOf(WorkflowNotFoundError);

    // A lost job (e.g. Redis restored from an older snapshot) is re-created by wake().
    const idle1 = await engine.query('idle-1');
    await engine.queue.remove(idle1!.runId);
    expect(await engine.wake('idle-1')).toBe(true);
    expect(await (await engine.queue.getJob(idle1!.runId))?.getState()).toBe('waiting');
    expect(await engine.wake('idle-0')).toBe(false);
  });

  it('terminate aborts a running step wherever it runs, and nothing more of it runs', async () => {
    const w = engine.createWorker({ concurrency: 8 });
    await engine.start(busy, 'b1', {});
    // Its step, not just its job: a terminate that reaches the run while it loads stops it before.
    await waitFor('b1 step running', async () => busyRunning);
    expect(await engine.terminate('b1', 'orphaned')).toBe(true);
    await waitFor('step aborted', async () => stepAborted);
    expect(stepAborted).toBe('TerminatedError');
    await new Promise((r) => setTimeout(r, 300));
    expect(await engine.history('b1')).toEqual([]);
    expect((await engine.query('b1'))?.status).toBe('failed');
    await w.close(1000);
  });

  it('fails a workflow whose code no longer matches its history', async () => {
    const w = engine.createWorker({ concurrency: 2 });
    await engine.start(changing, 'ch1', {});
    await waitFor('ch1 sleeping', async () => (await engine.query('ch1'))?.status === 'sleeping');
    variant = 'b';
    const err = (await engine
      .result('ch1', { timeoutMs: 10_000 })
      .catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.failure.name).toBe(new NonDeterminismError('x').name);
    expect(err.failure.message).toMatch(/issued step "b" as command #0, but its history recorded step "a"/);
    expect(ends.find((e) => e.workflowId === 'ch1')).toMatchObject({
      status: 'failed',
      workflowName: 'changing',
    });
    await w.close(1000);
  });
});
