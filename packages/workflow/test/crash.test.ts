import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src';
import {
  dropPrefix,
  killAll,
  type Proc,
  REDIS_URL,
  sleep,
  spawnProc,
  testEngine,
  uniquePrefix,
} from './helpers';

const prefix = uniquePrefix('crash');
const schema = `wf_crash_${randomBytes(4).toString('hex')}`;
const db = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
let engine: Engine;
const procs = new Set<Proc>();

const WORKFLOWS = 36;
const STEPS = 8;
const CONCURRENCY = 3;
const MIN_KILLS = 22;

beforeAll(async () => {
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(
    `CREATE TABLE ${schema}.exec (id bigserial PRIMARY KEY, workflow_id text NOT NULL, step int NOT NULL,
       token text NOT NULL, started_at bigint NOT NULL, pid int NOT NULL, violation boolean NOT NULL)`,
  );
  engine = testEngine(prefix);
});

afterAll(async () => {
  await killAll(procs);
  await engine.close();
  await dropPrefix(prefix);
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
});

function startWorker(): Proc {
  const p = spawnProc({
    mode: 'worker',
    redis: REDIS_URL,
    prefix,
    pgSchema: schema,
    concurrency: CONCURRENCY,
    lockDurationMs: 1500,
    stalledIntervalMs: 500,
    selfKillProbability: 0.015,
  });
  procs.add(p);
  void p.exited.then(() => procs.delete(p));
  return p;
}

describe('worker processes killed with SIGKILL inside steps', () => {
  it('every workflow completes elsewhere and no stored step runs again', async () => {
    const live = [startWorker(), startWorker(), startWorker()];
    await Promise.all(live.map((p) => p.ready));
    for (let w = 0; w < WORKFLOWS; w++) {
      await engine.start('chain', `chain-${w}`, { base: w * 1000, steps: STEPS });
    }

    // Kill a random ready worker every 250–600 ms and replace it, until enough kills.
    let kills = 0;
    while (kills < MIN_KILLS) {
      await sleep(250 + Math.random() * 350);
      const ready: Proc[] = [];
      for (const p of procs) if (p.lines.some((l) => l.startsWith('ready'))) ready.push(p);
      // Keep self-killed workers replaced too.
      while (procs.size < 3) startWorker();
      const victim = ready[Math.floor(Math.random() * ready.length)];
      if (!victim) continue;
      victim.child.kill('SIGKILL');
      await victim.exited;
      kills++;
      startWorker();
      const stats = await engine.stats();
      if (stats.completed === WORKFLOWS) break;
    }

    // Let the survivors finish everything, replacing self-killed workers.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const stats = await engine.stats();
      if (stats.completed + stats.failed + stats.cancelled >= WORKFLOWS) break;
      if (Date.now() > deadline) throw new Error(`not finished: ${JSON.stringify(stats)}`);
      while (procs.size < 2) startWorker();
      await sleep(200);
    }

    const rows = (
      await db.query<{ workflow_id: string; step: number; token: string; violation: boolean; id: string }>(
        `SELECT id, workflow_id, step, token, violation FROM ${schema}.exec ORDER BY id`,
      )
    ).rows;
    const selfKills = Number((await engine.redis.get(`${prefix}:test:selfkills`)) ?? 0);
    let reruns = 0;
    for (let w = 0; w < WORKFLOWS; w++) {
      const id = `chain-${w}`;
      const info = await engine.query(id);
      expect(info?.status, `${id}: ${JSON.stringify(info?.error)}`).toBe('completed');
      const out = info!.output as { i: number; v: number; token: string }[];
      expect(out.map((r) => [r.i, r.v])).toEqual(
        Array.from({ length: STEPS }, (_, i) => [i, w * 1000 + i * 10]),
      );
      for (let i = 0; i < STEPS; i++) {
        const execs = rows.filter((r) => r.workflow_id === id && r.step === i);
        expect(execs.length, `${id} step ${i} ran`).toBeGreaterThanOrEqual(1);
        reruns += execs.length - 1;
        // The stored result came from the last execution: nothing ran after it was stored.
        expect(execs.at(-1)!.token, `${id} step ${i}`).toBe(out[i]!.token);
      }
    }
    // No execution started while its step's result was already stored.
    expect(rows.filter((r) => r.violation)).toEqual([]);
    // At-least-once only where a process died inside a step.
    expect(reruns).toBeLessThanOrEqual(kills * CONCURRENCY + selfKills);
    expect(kills + selfKills).toBeGreaterThanOrEqual(20);
    console.log(
      `crash test: ${kills} SIGKILLs + ${selfKills} self-kills, ${rows.length} step executions for ${WORKFLOWS * STEPS} steps (${reruns} re-runs)`,
    );
  }, 150_000);
});
