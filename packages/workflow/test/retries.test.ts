import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineWorkflow,
  type Engine,
  NonRetryableError,
  type StepEvent,
  StepFailedError,
  TimeoutError,
  WorkflowFailedError,
  type WorkflowWorker,
} from '../src';
import { dropPrefix, testEngine, uniquePrefix } from './helpers';

const prefix = uniquePrefix('retries');
let engine: Engine;
let worker: WorkflowWorker;
const attempts: Record<string, { attempt: number; at: number }[]> = {};
const events: StepEvent[] = [];

function note(key: string, attempt: number) {
  attempts[key] ??= [];
  attempts[key].push({ attempt, at: Date.now() });
}

class ValidationError extends Error {
  override name = 'ValidationError';
}

const flaky = defineWorkflow('flaky', z.object({ failures: z.number() }), async (ctx, input) => {
  return ctx.step(
    'flaky',
    (s) => {
      note(ctx.workflowId, s.attempt);
      if (s.attempt <= input.failures) throw new Error(`boom ${s.attempt}`);
      return s.attempt;
    },
    { retry: { maxAttempts: 4, initialIntervalMs: 200, backoffCoefficient: 4 } },
  );
});

const picky = defineWorkflow(
  'picky',
  z.object({ kind: z.enum(['nonretryable', 'byname']) }),
  async (ctx, input) => {
    try {
      await ctx.step(
        'picky',
        (s) => {
          note(ctx.workflowId, s.attempt);
          if (input.kind === 'nonretryable')
            throw new NonRetryableError('bad config', { details: { field: 'host' } });
          throw new ValidationError('bad shape');
        },
        { retry: { maxAttempts: 5, initialIntervalMs: 10, nonRetryableErrors: ['ValidationError'] } },
      );
      return null;
    } catch (err) {
      if (!(err instanceof StepFailedError)) throw err;
      return {
        attempts: err.attempts,
        nonRetryable: err.nonRetryable,
        cause: err.cause.name,
        msg: err.cause.message,
      };
    }
  },
);

const slow = defineWorkflow('slow', z.object({}), async (ctx) =>
  ctx.step(
    'slow',
    async (s) => {
      note(ctx.workflowId, s.attempt);
      if (s.attempt === 1) {
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 5000);
          s.signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(s.signal.reason);
          });
        });
      }
      return (s.signal.reason as Error | undefined)?.name ?? 'fast';
    },
    { timeoutMs: 150, retry: { initialIntervalMs: 10 } },
  ),
);

beforeAll(async () => {
  engine = testEngine(prefix, { hooks: { onStep: (e) => events.push(e) } });
  worker = engine.createWorker({ workflows: [flaky, picky, slow], concurrency: 4 });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await engine.close();
  await dropPrefix(prefix);
});

describe('step retries', () => {
  it('retries with exponential backoff (in-process and through a delayed job)', async () => {
    await engine.start(flaky, 'f1', { failures: 2 });
    expect(await engine.result('f1', { timeoutMs: 10_000 })).toBe(3);
    const a = attempts.f1!;
    expect(a.map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(a[1]!.at - a[0]!.at).toBeGreaterThanOrEqual(200);
    expect(a[2]!.at - a[1]!.at).toBeGreaterThanOrEqual(800);
    const mine = events.filter((e) => e.workflowId === 'f1').map((e) => e.outcome);
    expect(mine).toEqual(['retrying', 'retrying', 'completed']);
  });

  it('fails the workflow once attempts run out', async () => {
    await engine.start(flaky, 'f2', { failures: 10 });
    const err = (await engine
      .result('f2', { timeoutMs: 15_000 })
      .catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.failure.name).toBe('StepFailedError');
    expect(err.failure.message).toMatch(/failed after 4 attempts: boom 4/);
    expect(attempts.f2).toHaveLength(4);
    expect((await engine.query('f2'))?.status).toBe('failed');
  }, 20_000);

  it('stops at a non-retryable error, by class or by name', async () => {
    await engine.start(picky, 'p1', { kind: 'nonretryable' });
    await engine.start(picky, 'p2', { kind: 'byname' });
    expect(await engine.result('p1', { timeoutMs: 5000 })).toEqual({
      attempts: 1,
      nonRetryable: true,
      cause: 'NonRetryableError',
      msg: 'bad config',
    });
    expect(await engine.result('p2', { timeoutMs: 5000 })).toEqual({
      attempts: 1,
      nonRetryable: true,
      cause: 'ValidationError',
      msg: 'bad shape',
    });
    expect(attempts.p1).toHaveLength(1);
    expect(attempts.p2).toHaveLength(1);
  });

  it('times out an attempt through its AbortSignal and retries it', async () => {
    await engine.start(slow, 's1', {});
    expect(await engine.result('s1', { timeoutMs: 5000 })).toBe('fast');
    expect(attempts.s1!.map((x) => x.attempt)).toEqual([1, 2]);
    const history = await engine.history('s1');
    expect(history[0]?.entry).toMatchObject({ t: 'step', s: 'ok', a: 2 });
    expect(new TimeoutError('x').name).toBe('TimeoutError');
  });
});
