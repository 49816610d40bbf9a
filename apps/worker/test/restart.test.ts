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
  type Fixture,
  jobsOf,
  quiet,
  REDIS_URL,
  scriptedExecutor,
  sleep,
  uniquePrefix,
  untilAborted,
  waitFor,
  waitForJobs,
} from './helpers';
import { cleanupWorkerProcs, killAll, type Proc, prepareWorkerProcs, spawnWorker } from './procs';
import { type ScriptedLauncher, startScriptedLauncher } from './scripted-launcher';

const prefix = uniquePrefix('restart');
const key = randomBytes(32);
const box = new SecretBox(key);
const procs = new Set<Proc>();
let t: TestDatabase;
let f: Fixture;
let platform: PlatformServices;
let launcher: ScriptedLauncher;
let dispatch: WorkloadQueue;
let hangFor: string | null = null;
let aborted: string | null = null;

beforeAll(async () => {
  await prepareWorkerProcs();
  t = await createTestDatabase({ poolMax: 6 });
  f = await createFixture(t.db, box);
  platform = createPlatformServices({ db: t.db, redis: REDIS_URL, prefix, logger: quiet });
  dispatch = new WorkloadQueue({ connection: REDIS_URL, prefix });
  const service = new WorkloadService({
    db: t.db,
    dispatch,
    secrets: configSecrets(box),
    onTerminal: workloadSignaller(platform.engine),
    logger: quiet,
  });
  const { executor } = scriptedExecutor({
    sync: async (ctx) => {
      if (hangFor && ctx.input.connectionId === hangFor) {
        const r = await untilAborted()(ctx);
        aborted = ctx.workload.id;
        return r;
      }
      return commitAll(ctx);
    },
  });
  launcher = startScriptedLauncher({
    service,
    connection: REDIS_URL,
    prefix,
    executor,
    concurrency: 4,
    heartbeatIntervalMs: 200,
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

function startWorkerProc(): Proc {
  const p = spawnWorker({
    databaseUrl: t.url,
    redis: REDIS_URL,
    prefix,
    key: key.toString('hex'),
    concurrency: 4,
  });
  procs.add(p);
  void p.exited.then(() => procs.delete(p));
  return p;
}

describe('worker restarts', () => {
  let cronConnection: string;
  let cronDue: number;

  it('delivers a signal sent while no worker runs once one starts', async () => {
    const id = await createConnection(t.db, f);
    await platform.orchestrator.created(id);
    const { jobId } = await platform.orchestrator.syncNow(id);
    await sleep(1500);
    expect((await t.db.job.findUniqueOrThrow({ where: { id: jobId } })).status).toBe('pending');
    expect((await platform.engine.query(`connection-manager:${id}`))?.pendingSignals).toBe(1);
    await startWorkerProc().ready;
    const [job] = await waitForJobs(t.db, id, 1, 30_000);
    expect(job!.id).toBe(jobId);
    expect(job!.status).toBe('succeeded');
  });

  it('keeps a cron timer across a worker killed while the manager sleeps', async () => {
    cronConnection = await createConnection(t.db, f, {
      schedule: { scheduleType: 'cron', cronExpression: '0 * * * * ?', cronTimeZone: 'America/New_York' },
    });
    await platform.orchestrator.created(cronConnection);
    const info = await waitFor('the manager to sleep', async () => {
      const i = await platform.engine.query(`connection-manager:${cronConnection}`);
      return i?.status === 'waiting' && i.wakeAt ? i : null;
    });
    cronDue = (info.state as { nextSyncAt: number }).nextSyncAt;
    expect(cronDue % 60_000).toBe(0);
    expect(cronDue).toBeGreaterThan(Date.now());
    // Every worker dies; a new one starts.
    await killAll(procs);
    await startWorkerProc().ready;
  });

  it('cancels a sync running on a worker from another process', async () => {
    const id = await createConnection(t.db, f);
    hangFor = id;
    await platform.orchestrator.created(id);
    const { jobId } = await platform.orchestrator.syncNow(id);
    await waitFor(
      'the sync workload to run',
      async () =>
        (await t.db.workload.findUnique({ where: { id: `${jobId}_0_sync` } }))?.status === 'running',
      30_000,
    );
    expect(await platform.orchestrator.cancel(id)).toEqual({ jobId });
    const [job] = await waitForJobs(t.db, id, 1, 30_000);
    expect(job!.status).toBe('cancelled');
    await waitFor('the launcher to stop the programs', async () => aborted === `${jobId}_0_sync`);
    const w = await waitFor('the workload to end', async () => {
      const row = await t.db.workload.findUniqueOrThrow({ where: { id: `${jobId}_0_sync` } });
      return row.endedAt ? row : null;
    });
    expect(w.status).toBe('cancelled');
    expect(w.terminationReason).toBe('cancelled by a user');
  });

  it('runs the cron sync at its instant on the new worker', async () => {
    const jobs = await waitFor(
      'the scheduled job',
      async () => {
        const js = await jobsOf(t.db, cronConnection);
        return js.length > 0 && js[0]!.status === 'succeeded' ? js : null;
      },
      Math.max(0, cronDue - Date.now()) + 30_000,
      200,
    );
    const job = jobs[0]!;
    const config = job.config as { trigger: string; scheduledFor: string };
    expect(config.trigger).toBe('scheduled');
    expect(Date.parse(config.scheduledFor)).toBe(cronDue);
    const lateness = job.createdAt.getTime() - cronDue;
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(5000);
    // The next instant is one minute later.
    const info = await waitFor('the next sleep', async () => {
      const i = await platform.engine.query(`connection-manager:${cronConnection}`);
      return (i?.state as { phase?: string; nextSyncAt?: number })?.phase === 'idle' ? i : null;
    });
    expect((info.state as { nextSyncAt: number }).nextSyncAt).toBe(cronDue + 60_000);
  }, 120_000);
});
