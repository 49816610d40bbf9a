import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../src';
import {
  commitAll,
  createConnection,
  createFixture,
  dropPrefix,
  type Fixture,
  type Loose,
  quiet,
  REDIS_URL,
  scriptedExecutor,
  startScripted,
  testBox,
  uniquePrefix,
  waitFor,
  waitForJobs,
} from './helpers';
import type { ExecutionResult, ScriptedLauncher } from './scripted-launcher';

const prefix = uniquePrefix('notify');
const box = testBox();
let t: TestDatabase;
let f: Fixture;
let worker: RunningWorker;
let launcher: ScriptedLauncher;
let server: Server;
let hookUrl: string;
interface Delivery {
  at: number;
  headers: IncomingHttpHeaders;
  body: Record<string, Loose>;
  answered: number;
}
const deliveries: Delivery[] = [];
/** Answers 500 to the first `failFirst` deliveries of each event id. */
let failFirst = 2;
let failing = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => {
      const body = JSON.parse(raw);
      const earlier = deliveries.filter((d) => d.body.id === body.id).length;
      const status = earlier < failFirst ? 500 : 200;
      deliveries.push({ at: Date.now(), headers: req.headers, body, answered: status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  t = await createTestDatabase({ poolMax: 8 });
  f = await createFixture(t.db, box);
  await t.db.notificationWebhook.create({
    data: {
      workspaceId: f.workspaceId,
      name: 'ops',
      url: hookUrl,
      events: ['sync_success', 'sync_failure', 'sync_disabled', 'sync_disabled_warning'],
      secretHeaderName: 'Authorization',
      secretHeaderValue: box.seal('Bearer s3cret'),
    },
  });
  const { executor } = scriptedExecutor({
    sync: async (ctx): Promise<ExecutionResult> =>
      failing
        ? {
            status: 'failure',
            reason: 'x',
            output: {
              failures: [
                { failureOrigin: 'source', failureType: 'config_error', externalMessage: 'wrong password' },
              ],
            },
          }
        : commitAll(ctx),
  });
  worker = await startWorker({
    db: t.db,
    redis: REDIS_URL,
    prefix,
    box,
    logger: quiet,
    concurrency: 10,
    config: {
      webhook: {
        timeoutMs: 2000,
        retry: {
          maxAttempts: 5,
          initialIntervalMs: 200,
          backoffCoefficient: 2,
          maxIntervalMs: 1000,
          jitter: 0,
        },
      },
      autoDisable: { maxFailedJobsInARow: 3, warnFailedJobsInARow: 2 },
    },
    sweeps: false,
    metricsPort: 0,
  });
  launcher = await startScripted(worker, executor, { prefix, heartbeatIntervalMs: 200 });
});

afterAll(async () => {
  await launcher?.close();
  await worker?.close(2000);
  await t?.drop();
  await dropPrefix(prefix);
  await new Promise<void>((r) => server.close(() => r()));
});

describe('webhook notifications', () => {
  it('posts a sync_success event, retrying with backoff until the webhook accepts it', async () => {
    const id = await createConnection(t.db, f);
    await worker.platform.orchestrator.created(id);
    const { jobId } = await worker.platform.orchestrator.syncNow(id);
    await waitForJobs(t.db, id, 1);
    const mine = await waitFor('an accepted delivery', async () => {
      const ds = deliveries.filter((d) => d.body.job?.id === jobId);
      return ds.some((d) => d.answered === 200) ? ds : null;
    });
    expect(mine.map((d) => d.answered)).toEqual([500, 500, 200]);
    // 200 ms, then 400 ms between tries.
    expect(mine[1]!.at - mine[0]!.at).toBeGreaterThanOrEqual(190);
    expect(mine[2]!.at - mine[1]!.at).toBeGreaterThanOrEqual(390);
    const d = mine[2]!;
    expect(d.headers.authorization).toBe('Bearer s3cret');
    expect(d.headers['content-type']).toBe('application/json');
    expect(d.headers['x-sluice-event']).toBe('sync_success');
    expect(d.body).toMatchObject({
      event: 'sync_success',
      id: `${jobId}:sync_success`,
      workspace: { id: f.workspaceId },
      connection: { id },
      source: { id: f.sourceId, name: 'src' },
      destination: { id: f.destinationId, name: 'dst' },
      job: { id: jobId, type: 'sync', status: 'succeeded', attempts: 1, recordsCommitted: 20, failure: null },
    });
    expect(d.body.text).toContain('Sync succeeded');
  });

  it('posts sync_failure for each failed job, warns, then auto-disables the connection after repeated failures', async () => {
    failFirst = 0;
    failing = true;
    const id = await createConnection(t.db, f);
    await worker.platform.orchestrator.created(id);
    for (let i = 1; i <= 3; i++) {
      await worker.platform.orchestrator.syncNow(id);
      await waitForJobs(t.db, id, i);
    }
    const events = await waitFor('the disable event', async () => {
      const es = deliveries.filter((d) => d.body.connection?.id === id).map((d) => d.body);
      return es.some((e) => e.event === 'sync_disabled') ? es : null;
    });
    expect(events.filter((e) => e.event === 'sync_failure')).toHaveLength(3);
    expect(events.find((e) => e.event === 'sync_failure')!.job.failure).toEqual({
      origin: 'source',
      type: 'config_error',
      message: 'wrong password',
    });
    expect(events.filter((e) => e.event === 'sync_disabled_warning')).toHaveLength(1);
    const disabled = events.find((e) => e.event === 'sync_disabled')!;
    expect(disabled.reason).toContain('3 sync jobs in a row failed');
    expect(disabled.connection.status).toBe('inactive');
    expect((await t.db.connection.findUniqueOrThrow({ where: { id } })).status).toBe('inactive');
    await waitFor(
      'the manager to stop',
      async () => (await worker.engine.query(`connection-manager:${id}`))?.status === 'completed',
    );
  });
});

describe('/metrics and /healthz', () => {
  it('exposes queue depths, workflows by status and step durations', async () => {
    const res = await fetch(`${worker.http!.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/sluice_worker_workflows\{status="completed"\} \d+/);
    expect(text).toMatch(/sluice_worker_workflows\{status="waiting"\} \d+/);
    expect(text).toContain('sluice_worker_workload_queue_depth');
    expect(text).toMatch(
      /sluice_worker_step_duration_seconds_count\{workflow="connection-manager",step="start-job",outcome="completed"\} \d+/,
    );
    expect(text).toMatch(
      /sluice_worker_step_duration_seconds_count\{workflow="notify",step="deliver",outcome="retrying"\} \d+/,
    );
    const health = await fetch(`${worker.http!.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', postgres: 'ok', redis: 'ok' });
  });
});
