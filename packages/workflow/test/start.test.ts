import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, StartResult } from '../src';
import { dropPrefix, killAll, type Proc, REDIS_URL, spawnProc, testEngine, uniquePrefix } from './helpers';

const prefix = uniquePrefix('start');
let engine: Engine;
const procs: Proc[] = [];

beforeAll(() => {
  engine = testEngine(prefix);
});

afterAll(async () => {
  await killAll(procs);
  await engine.close();
  await dropPrefix(prefix);
});

describe('idempotent start across processes', () => {
  it('concurrent starts of one id from several processes create one run', async () => {
    const startAt = Date.now() + 4000;
    for (let i = 0; i < 4; i++) {
      procs.push(spawnProc({ mode: 'start', redis: REDIS_URL, prefix, workflowId: 'one', startAt }));
    }
    const worker = spawnProc({ mode: 'worker', redis: REDIS_URL, prefix });
    procs.push(worker);
    const codes = await Promise.all(procs.slice(0, 4).map((p) => p.exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    const results = procs.slice(0, 4).map((p) => JSON.parse(p.lines[0]!) as StartResult);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.runId)).size).toBe(1);
    expect(await engine.result('one', { timeoutMs: 15_000 })).toBe('counted');
    expect(await engine.redis.get(`${prefix}:test:count:one`)).toBe('1');
  }, 30_000);
});
