import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, type Engine, type WorkflowWorker } from '../src';
import { dropPrefix, testEngine, uniquePrefix, waitFor } from './helpers';

const prefix = uniquePrefix('schedule');
let engine: Engine;
let worker: WorkflowWorker;
const ran: string[] = [];

const sweep = defineWorkflow('sweep', z.object({ holdMs: z.number() }), async (ctx, input) => {
  await ctx.step('sweep', () => {
    ran.push(ctx.workflowId);
  });
  if (input.holdMs > 0) await ctx.sleep(input.holdMs);
  return 'swept';
});

beforeAll(async () => {
  engine = testEngine(prefix);
  worker = engine.createWorker({ workflows: [sweep], concurrency: 4 });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('schedules', () => {
  it('starts a workflow per tick, one id per tick, until unscheduled', async () => {
    await engine.schedule('fast', { every: 250 }, sweep, { holdMs: 0 }, { overlap: 'allow' });
    const listed = await engine.listSchedules();
    expect(listed).toMatchObject([
      { scheduleId: 'fast', workflow: 'sweep', every: 250, input: { holdMs: 0 } },
    ]);
    await waitFor('3 ticks', async () => ran.filter((id) => id.startsWith('fast@')).length >= 3);
    expect(await engine.unschedule('fast')).toBe(true);
    const ids = ran.filter((id) => id.startsWith('fast@'));
    expect(new Set(ids).size).toBe(ids.length);
    const ticks = ids.map((id) => Number(id.split('@')[1]));
    expect(ticks.every((t) => Number.isFinite(t) && t > 0)).toBe(true);
    expect(await engine.result(ids[0]!, { timeoutMs: 5000 })).toBe('swept');
    expect(await engine.listSchedules()).toEqual([]);
  });

  it('skips ticks while the previous run is unfinished', async () => {
    await engine.schedule('slow', { every: 200 }, sweep, { holdMs: 3000 });
    // The first run may start late under load; the ticks that follow it, while it holds, are skipped.
    await waitFor('the first run', async () => ran.some((id) => id.startsWith('slow@')));
    await new Promise((r) => setTimeout(r, 1000));
    await engine.unschedule('slow');
    expect(ran.filter((id) => id.startsWith('slow@'))).toHaveLength(1);
  });

  it('rejects bad specs', async () => {
    await expect(engine.schedule('bad', {}, sweep, { holdMs: 0 })).rejects.toThrow(/exactly one/);
    await expect(engine.schedule('bad:id', { every: 10 }, sweep, { holdMs: 0 })).rejects.toThrow(
      /schedule id/,
    );
    await expect(engine.schedule('bad', { every: 10 }, sweep, { holdMs: 'x' })).rejects.toThrow(/invalid/);
  });
});
