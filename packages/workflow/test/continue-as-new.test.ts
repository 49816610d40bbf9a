import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, type Engine, type WorkflowWorker } from '../src';
import { countKeys, dropPrefix, testEngine, uniquePrefix } from './helpers';

const prefix = uniquePrefix('can');
let engine: Engine;
let worker: WorkflowWorker;

const Loop = z.object({ i: z.number(), total: z.number(), every: z.number(), pings: z.number() });

/** A long-lived loop (like a connection manager): a fresh run every `every` iterations. */
const looper = defineWorkflow('looper', Loop, async (ctx, input) => {
  let { i, pings } = input;
  for (let j = 0; j < input.every && i < input.total; j++) {
    await ctx.step('tick', () => i);
    i++;
    const ping = await ctx.waitForSignal('ping', { timeout: 0 });
    if (ping) pings++;
  }
  ctx.setState({ i, pings, run: ctx.info.runNumber });
  if (i < input.total) return ctx.continueAsNew({ ...input, i, pings });
  // Signals sent late are still pending: collect them all.
  while (pings < 5) {
    await ctx.waitForSignal('ping');
    pings++;
  }
  return { i, pings, runs: ctx.info.runNumber };
});

beforeAll(async () => {
  engine = testEngine(prefix);
  worker = engine.createWorker({ workflows: [looper], concurrency: 2 });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('continue-as-new', () => {
  it('keeps history bounded over thousands of iterations; signals carry over', async () => {
    await engine.start(looper, 'loop', { i: 0, total: 3000, every: 100, pings: 0 });
    let maxHistory = 0;
    let sent = 0;
    for (;;) {
      const info = await engine.query('loop');
      if (!info || info.status === 'completed' || info.status === 'failed') break;
      maxHistory = Math.max(maxHistory, info.historyLength);
      if (sent < 5 && info.runs > 3 * (sent + 1)) {
        await engine.signal('loop', 'ping');
        sent++;
      }
      await new Promise((r) => setTimeout(r, 20));
      if (sent < 5 && info.status === 'waiting') {
        while (sent < 5) {
          await engine.signal('loop', 'ping');
          sent++;
        }
      }
    }
    expect(await engine.result('loop', { timeoutMs: 1000 })).toEqual({ i: 3000, pings: 5, runs: 30 });
    // Each run records `every` ticks and as many polls, nothing more.
    expect(maxHistory).toBeLessThanOrEqual(2 * 100 + 5);
    const info = await engine.query('loop');
    expect(info?.runs).toBe(30);
    expect(info?.state).toMatchObject({ i: 3000, run: 30 });
    // Old runs' histories are gone: only the last run's remains (until retention).
    expect(await countKeys(prefix, 'workflows:wf:hist:*')).toBe(1);
  }, 60_000);
});
