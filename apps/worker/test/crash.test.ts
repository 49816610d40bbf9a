import { randomBytes } from 'node:crypto';
import { SecretBox } from '@sluice/api';
import { createTestDatabase, type TestDatabase } from '@sluice/db';
import {
  configSecrets,
  createPlatformServices,
  type PlatformServices,
  workloadSignaller,
} from '@sluice/platform';
import { WorkloadQueue, WorkloadService } from '@sluice/workload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commitAll,
  createConnection,
  createFixture,
  dropPrefix,
  quiet,
  REDIS_URL,
  scriptedExecutor,
  sleep,
  uniquePrefix,
  waitFor,
} from './helpers';
import { cleanupWorkerProcs, killAll, type Proc, prepareWorkerProcs, spawnWorker } from './procs';
import { type ScriptedLauncher, startScriptedLauncher } from './scripted-launcher';

const prefix = uniquePrefix('crash');
const key = randomBytes(32);
const box = new SecretBox(key);
const CONNECTIONS = 8;
const JOBS_EACH = 3;
const CONCURRENCY = 4;
const MIN_KILLS = 22;
const procs = new Set<Proc>();
let t: TestDatabase;
let platform: PlatformServices;
let launcher: ScriptedLauncher;
let dispatch: WorkloadQueue;
const connections: string[] = [];

beforeAll(async () => {
  await prepareWorkerProcs();
  t = await createTestDatabase({ poolMax: 8 });
  await t.db.$executeRawUnsafe(
    `CREATE TABLE step_exec (id bigserial PRIMARY KEY, workflow_id text NOT NULL, run_id text NOT NULL, step text NOT NULL,
       occurrence int NOT NULL, attempt int NOT NULL, pid int NOT NULL, violation boolean NOT NULL)`,
  );
  const f = await createFixture(t.db, box);
  for (let i = 0; i < CONNECTIONS; i++) connections.push(await createConnection(t.db, f));
  platform = createPlatformServices({ db: t.db, redis: REDIS_URL, prefix, logger: quiet });
  dispatch = new WorkloadQueue({ connection: REDIS_URL, prefix });
  // The launcher (and the API's side of the workloads) lives in this process, which is never killed.
  const service = new WorkloadService({
    db: t.db,
    dispatch,
    secrets: configSecrets(box),
    onTerminal: workloadSignaller(platform.engine),
    logger: quiet,
  });
  const { executor } = scriptedExecutor({
    sync: async (ctx) => {
      await sleep(30);
      return commitAll(ctx);
    },
  });
  launcher = startScriptedLauncher({
    service,
    connection: REDIS_URL,
    prefix,
    executor,
    concurrency: 8,
    heartbeatIntervalMs: 500,
    logger: quiet,
  });
  await launcher.waitUntilReady();
});

afterAll(async () => {
  await killAll(procs);
  cleanupWorkerProcs();
  await launcher?.close();
  await dispatch?.close();
  await platform?.close();
  await t?.drop();
  await dropPrefix(prefix);
});

function startWorkerProc(selfKillProbability = 0.01): Proc {
  const p = spawnWorker({
    databaseUrl: t.url,
    redis: REDIS_URL,
    prefix,
    key: key.toString('hex'),
    concurrency: CONCURRENCY,
    // Long enough that a process starved of CPU (2 cores shared with Postgres and the other
    // workers) keeps its locks; killed processes are still detected within a few seconds.
    lockDurationMs: 4000,
    stalledIntervalMs: 1000,
    selfKillProbability,
    stepTable: 'step_exec',
    config: { workloadPollMs: 3000 },
  });
  procs.add(p);
  void p.exited.then(() => procs.delete(p));
  return p;
}

async function progress() {
  const jobs = await t.db.job.groupBy({ by: ['connectionId', 'status'], _count: { _all: true } });
  const done = new Map<string, number>();
  const active = new Set<string>();
  for (const j of jobs) {
    if (['succeeded', 'failed', 'cancelled'].includes(j.status))
      done.set(j.connectionId!, (done.get(j.connectionId!) ?? 0) + j._count._all);
    else active.add(j.connectionId!);
  }
  return { done, active };
}

describe('worker processes killed with SIGKILL inside steps of connection managers and syncs', () => {
  it('every sync completes on another worker and no step whose result was stored runs again', async () => {
    const live = [startWorkerProc(), startWorkerProc(), startWorkerProc()];
    await Promise.all(live.map((p) => p.ready));
    for (const id of connections) await platform.orchestrator.created(id);

    let finished = false;
    // Drives each connection through JOBS_EACH manual syncs, one after the other.
    const driver = (async () => {
      while (!finished) {
        const { done, active } = await progress();
        if (connections.every((c) => (done.get(c) ?? 0) >= JOBS_EACH)) break;
        for (const c of connections) {
          if (!active.has(c) && (done.get(c) ?? 0) < JOBS_EACH) await platform.orchestrator.syncNow(c);
        }
        await sleep(100);
      }
    })();

    const t0 = Date.now();
    let kills = 0;
    const deadline = Date.now() + 120_000;
    while (kills < MIN_KILLS && Date.now() < deadline) {
      await sleep(250 + Math.random() * 350);
      while (procs.size < 3) startWorkerProc();
      const ready = [...procs].filter((p) => p.isReady());
      const victim = ready[Math.floor(Math.random() * ready.length)];
      if (!victim) continue;
      victim.child.kill('SIGKILL');
      await victim.exited;
      kills++;
      startWorkerProc();
    }
    const killPhaseMs = Date.now() - t0;
    // Survivors (without self-kills) finish the rest.
    for (const p of [...procs]) if (!p.isReady()) await p.ready.catch(() => {});
    while (procs.size < 2) startWorkerProc(0);
    const finishBy = Date.now() + 90_000;
    for (;;) {
      const { done } = await progress();
      if (connections.every((c) => (done.get(c) ?? 0) >= JOBS_EACH)) break;
      if (Date.now() > finishBy) {
        finished = true;
        const stuck = connections.filter((c) => (done.get(c) ?? 0) < JOBS_EACH);
        const details = [];
        for (const c of stuck) {
          const info = await platform.engine.query(`connection-manager:${c}`);
          const jobs = await t.db.job.findMany({
            where: { connectionId: c },
            include: { attempts: { include: { workloads: true } } },
          });
          details.push({
            info: info && {
              status: info.status,
              state: info.state,
              error: info.error,
              waitingFor: info.waitingFor,
              wakeAt: info.wakeAt,
              pending: info.pendingSignals,
            },
            jobs: jobs.map((j) => ({
              status: j.status,
              attempts: j.attempts.map((a) => ({
                s: a.status,
                w: a.workloads.map((w) => `${w.type}:${w.status}`),
              })),
            })),
          });
        }
        throw new Error(`not finished: ${JSON.stringify(details, null, 1)}`);
      }
      if (procs.size < 2) startWorkerProc(0);
      await sleep(200);
    }
    finished = true;
    await driver;

    for (const c of connections) {
      const jobs = await t.db.job.findMany({
        where: { connectionId: c },
        include: { attempts: { include: { workloads: true } } },
      });
      // No duplicate job, attempt or workload: each step's side effect happened once.
      expect(jobs).toHaveLength(JOBS_EACH);
      for (const j of jobs) {
        expect(j.status, `job ${j.id}`).toBe('succeeded');
        expect(j.attempts).toHaveLength(1);
        expect(j.attempts[0]!.status).toBe('succeeded');
        expect(j.attempts[0]!.workloads.map((w) => `${w.type}:${w.status}`).sort()).toEqual([
          'discover:success',
          'sync:success',
        ]);
      }
      const state = await t.db.connectionState.findMany({ where: { connectionId: c } });
      expect(state.map((s) => (s.state as { n: number }).n)).toEqual([JOBS_EACH, JOBS_EACH]);
    }
    const rows = await t.db.$queryRawUnsafe<
      {
        workflow_id: string;
        run_id: string;
        step: string;
        occurrence: number;
        attempt: number;
        pid: number;
        violation: boolean;
      }[]
    >('SELECT workflow_id, run_id, step, occurrence, attempt, pid, violation FROM step_exec ORDER BY id');
    // The property under test, checked where the step runs: its result was never stored before.
    const violations = rows.filter((r) => r.violation);
    expect(
      violations,
      JSON.stringify(
        rows.filter((r) => violations.some((v) => v.workflow_id === r.workflow_id)),
        null,
        1,
      ),
    ).toEqual([]);
    const executions = new Map<string, number>();
    for (const r of rows) {
      const k = `${r.workflow_id}|${r.run_id}|${r.step}|${r.occurrence}`;
      executions.set(k, (executions.get(k) ?? 0) + 1);
    }
    const reruns = [...executions.values()].reduce((s, n) => s + n - 1, 0);
    const selfKills = Number((await platform.engine.redis.get(`${prefix}:test:selfkills`)) ?? 0);
    // At-least-once only where a process died inside a step.
    expect(reruns).toBeLessThanOrEqual(kills * CONCURRENCY + selfKills);
    expect(kills + selfKills).toBeGreaterThanOrEqual(20);
    // A manager whose worker died right after the last job's final step resumes on another
    // worker (once the dead one's lock expires) before it goes idle.
    for (const c of connections) {
      await waitFor(
        `the manager of ${c} to be idle`,
        async () =>
          ((await platform.engine.query(`connection-manager:${c}`))?.state as { phase?: string } | undefined)
            ?.phase === 'idle',
        30_000,
        100,
      );
    }
    console.log(
      `crash test: ${kills} SIGKILLs + ${selfKills} self-kills in ${killPhaseMs} ms, all done after ${Date.now() - t0} ms; ${rows.length} step executions, ${executions.size} distinct steps, ${reruns} re-runs`,
    );
  }, 240_000);
});
