import { randomBytes } from 'node:crypto';
import { type ApiError, ConnectorRunError, type RunnableDefinition } from '@sluice/api';
import { createTestDatabase, type Prisma, type TestDatabase, type Workload } from '@sluice/db';
import { createLogger } from '@sluice/shared';
import {
  createEngine,
  defineWorkflow,
  type Engine,
  type SignalMessage,
  type WorkflowWorker,
} from '@sluice/workflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CONNECTOR_JOB_WORKFLOW,
  ConnectorJobInput,
  type ConnectorJobOutput,
  MANAGER_SIGNALS,
  MANAGER_WORKFLOW,
  managerWorkflowId,
  WorkflowConnectionOrchestrator,
  WorkflowConnectorRunner,
  workloadSignaller,
} from '../src';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `plt-${randomBytes(4).toString('hex')}`;
const quiet = createLogger('platform.test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let t: TestDatabase;
let engine: Engine;
let worker: WorkflowWorker;
let workspaceId: string;
let sourceId: string;
let destinationId: string;
let definitionId: string;

/**
 * Stand-ins for the worker's workflows, so these tests see exactly what the API side sends:
 * a manager that records its signals, a connector job that stores the workload row the runner
 * reads (its outcome chosen per test), and a workflow waiting for a workload's completion.
 */
const got = new Map<string, { name: string; payload: unknown }[]>();
const manager = defineWorkflow(
  MANAGER_WORKFLOW,
  z.looseObject({ connectionId: z.string() }),
  async (ctx, i) => {
    for (;;) {
      const sig = (await ctx.waitForSignal(MANAGER_SIGNALS)) as SignalMessage;
      if (!ctx.isReplaying)
        got.set(i.connectionId, [
          ...(got.get(i.connectionId) ?? []),
          { name: sig.name, payload: sig.payload ?? null },
        ]);
      if (sig.name === 'delete') return 'deleted';
    }
  },
);

type Outcome = Pick<ConnectorJobOutput, 'status' | 'reason' | 'source' | 'timedOut'> & { output: unknown };
let nextOutcome: Outcome;
const started: ConnectorJobInput[] = [];
const connectorJob = defineWorkflow(CONNECTOR_JOB_WORKFLOW, ConnectorJobInput, async (ctx, input) => {
  const o = await ctx.step('workload', async () => {
    started.push(input);
    const o = nextOutcome;
    await t.db.workload.create({
      data: {
        id: input.workloadId,
        type: input.kind,
        status: o.status,
        dataplaneGroup: input.dataplaneGroup,
        input: input as unknown as Prisma.InputJsonValue,
        output: o.output as Prisma.InputJsonValue,
        terminationReason: o.reason,
        terminationSource: o.source,
        attemptId: input.attemptId ?? null,
      },
    });
    return o;
  });
  return {
    workloadId: input.workloadId,
    status: o.status,
    reason: o.reason,
    source: o.source,
    timedOut: o.timedOut,
  } satisfies ConnectorJobOutput;
});
const waiter = defineWorkflow('test-waiter', z.object({}), async (ctx) => {
  const sig = await ctx.waitForSignal('workload');
  return sig?.payload;
});

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 4 });
  engine = createEngine({ connection: REDIS_URL, prefix, logger: quiet });
  worker = engine.createWorker({ workflows: [manager, connectorJob, waiter], concurrency: 10 });
  await worker.waitUntilReady();
  const s = randomBytes(4).toString('hex');
  const ws = await t.db.workspace.create({ data: { name: `W ${s}`, slug: `w-${s}` } });
  workspaceId = ws.id;
  const def = (kind: 'source' | 'destination') =>
    t.db.connectorDefinition.create({
      data: { name: `${kind}-${s}`, displayName: kind, kind, version: '1.0.0', image: `x/${kind}:1` },
    });
  const [sd, dd] = [await def('source'), await def('destination')];
  definitionId = sd.id;
  sourceId = (await t.db.source.create({ data: { workspaceId, definitionId: sd.id, name: 's', config: {} } }))
    .id;
  destinationId = (
    await t.db.destination.create({ data: { workspaceId, definitionId: dd.id, name: 'd', config: {} } })
  ).id;
});

afterAll(async () => {
  await worker?.close(1000);
  if (engine) {
    let cursor = '0';
    do {
      const [next, keys] = await engine.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await engine.redis.unlink(...keys);
    } while (cursor !== '0');
    await engine.close();
  }
  await t?.drop();
});

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function connection(status: 'active' | 'inactive' | 'deprecated' = 'active') {
  const c = await t.db.connection.create({
    data: {
      workspaceId,
      name: `c-${randomBytes(3).toString('hex')}`,
      sourceId,
      destinationId,
      catalog: { streams: [] },
      status,
    },
  });
  return c.id;
}

const signalsOf = (connectionId: string, n: number) =>
  waitFor(`${n} signals`, async () => {
    const list = got.get(connectionId) ?? [];
    return list.length >= n ? list : null;
  });

describe('WorkflowConnectionOrchestrator', () => {
  const orchestrator = () => new WorkflowConnectionOrchestrator({ db: t.db, engine, logger: quiet });

  it('queues one sync job while requests pile up, and tells the manager each time', async () => {
    const id = await connection();
    await orchestrator().created(id);
    expect(await engine.exists(managerWorkflowId(id))).toBe(true);
    const a = await orchestrator().syncNow(id);
    const b = await orchestrator().syncNow(id);
    expect(b.jobId).toBe(a.jobId);
    const jobs = await t.db.job.findMany({ where: { connectionId: id } });
    expect(jobs.map((j) => [j.type, j.status, (j.config as { trigger: string }).trigger])).toEqual([
      ['sync', 'pending', 'manual'],
    ]);
    expect(await signalsOf(id, 2)).toEqual([
      { name: 'sync', payload: { jobId: a.jobId } },
      { name: 'sync', payload: { jobId: a.jobId } },
    ]);
  });

  it('refuses syncs of disabled and deleted connections with the API error codes', async () => {
    const disabled = await connection('inactive');
    const deleted = await connection('deprecated');
    await expect(orchestrator().syncNow(disabled)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    } satisfies Partial<ApiError>);
    await expect(orchestrator().syncNow(deleted)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(orchestrator().reset(deleted)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await t.db.job.count({ where: { connectionId: { in: [disabled, deleted] } } })).toBe(0);
  });

  it('merges resets asked for before either ran, and cancels queued jobs directly', async () => {
    const id = await connection();
    const first = await orchestrator().reset(id, [{ name: 'users' }]);
    const second = await orchestrator().reset(id, [{ name: 'orders', namespace: 'shop' }, { name: 'users' }]);
    expect(second.jobId).toBe(first.jobId);
    const job = await t.db.job.findUniqueOrThrow({ where: { id: first.jobId } });
    expect((job.config as { resetStreams: unknown }).resetStreams).toEqual([
      { name: 'users' },
      { name: 'orders', namespace: 'shop' },
    ]);
    // A reset of everything swallows the stream list.
    await orchestrator().reset(id);
    const all = await t.db.job.findUniqueOrThrow({ where: { id: first.jobId } });
    expect((all.config as { resetStreams: unknown }).resetStreams).toBeNull();

    expect(await orchestrator().cancel(id)).toEqual({ jobId: first.jobId });
    expect((await t.db.job.findUniqueOrThrow({ where: { id: first.jobId } })).status).toBe('cancelled');
  });

  it('signals a cancel for a running job and a delete that ends the manager', async () => {
    const id = await connection();
    const job = await t.db.job.create({
      data: { workspaceId, connectionId: id, type: 'sync', status: 'running', config: {} },
    });
    expect(await orchestrator().cancel(id)).toEqual({ jobId: job.id });
    await orchestrator().deleted(id);
    expect(await signalsOf(id, 2)).toEqual([
      { name: 'cancel', payload: { jobId: job.id, reason: 'cancelled by a user' } },
      { name: 'delete', payload: null },
    ]);
    expect(await engine.result(managerWorkflowId(id), { timeoutMs: 5000 })).toBe('deleted');
  });
});

describe('WorkflowConnectorRunner', () => {
  const runner = () =>
    new WorkflowConnectorRunner({
      db: t.db,
      engine,
      defaultDataplaneGroup: 'specs',
      timeoutsMs: { check: 5000 },
    });
  const spec = { connectionSpecification: { type: 'object', properties: {} } };
  const draft: RunnableDefinition = {
    id: null,
    name: 'custom-thing',
    kind: 'source',
    version: '2.0.0',
    image: 'x/thing:2',
    command: ['/usr/bin/thing'],
    spec: null,
    supportsSocket: true,
    network: 'host',
    resources: { memoryLimitMb: 512 },
  };

  it("reads the spec of a definition that is not saved yet from the definition's own launch data", async () => {
    nextOutcome = { status: 'success', reason: null, source: null, timedOut: false, output: { spec } };
    await expect(runner().spec(draft)).resolves.toEqual(spec);
    const input = started.at(-1)!;
    expect(input).toMatchObject({ kind: 'spec', dataplaneGroup: 'specs' });
    expect(input.workloadId).toMatch(/^spec_/);
    expect(input.connector).toEqual({
      actorType: 'source',
      image: 'x/thing:2',
      command: ['/usr/bin/thing'],
      version: '2.0.0',
      supportsSocket: true,
      network: 'host',
      resources: { memoryLimitMb: 512 },
    });
  });

  it("attaches a check to the API's job, and turns the middleware's failure into a ConnectorRunError", async () => {
    const job = await t.db.job.create({
      data: {
        workspaceId,
        sourceId,
        type: 'check',
        status: 'running',
        config: {},
        attempts: { create: { attemptNumber: 0, status: 'running' } },
      },
      include: { attempts: true },
    });
    const lines: string[] = [];
    const ctx = {
      jobId: job.id,
      attemptId: job.attempts[0]!.id,
      workspaceId,
      dataplaneGroup: 'g1',
      log: (l: string) => lines.push(l),
    };
    const def = { ...draft, id: definitionId };
    nextOutcome = {
      status: 'failure',
      reason: 'the connector failed',
      source: 'middleware',
      timedOut: false,
      output: {
        failures: [{ failureOrigin: 'source', failureType: 'config_error', externalMessage: 'bad password' }],
      },
    };
    const err = await runner()
      .check(def, { password: 'sealed' }, ctx)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorRunError);
    expect(err).toMatchObject({
      message: 'bad password',
      failureType: 'config_error',
      failureOrigin: 'source',
    });
    const input = started.at(-1)!;
    expect(input).toMatchObject({
      kind: 'check',
      workloadId: `${job.id}_0_check`,
      dataplaneGroup: 'g1',
      jobId: job.id,
      attemptId: ctx.attemptId,
      connector: { definitionId, actorId: sourceId, config: { password: 'sealed' } },
    });
    expect(lines).toEqual([`[platform] check runs as workload ${job.id}_0_check`]);
  });

  it('reports a workload cancelled at its deadline as a transient timeout', async () => {
    nextOutcome = {
      status: 'cancelled',
      reason: 'no result',
      source: 'platform',
      timedOut: true,
      output: null,
    };
    await expect(runner().spec(draft)).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringMatching(/did not finish within 300 s/),
    });
  });
});

describe('workloadSignaller', () => {
  it('signals the workflow a workload names, and ignores workloads nobody waits for', async () => {
    const warnings: string[] = [];
    const hook = workloadSignaller(engine, { warn: (_o, m) => warnings.push(m) });
    const id = `waiter-${randomBytes(3).toString('hex')}`;
    await engine.start(waiter, id, {});
    // The hook reads a workload's id, status and signalInput only.
    const fire = (signalInput: unknown) =>
      hook({ id: 'w1', status: 'success', signalInput } as unknown as Workload);
    await fire({ workflowId: id, signalName: 'workload' });
    expect(await engine.result(id, { timeoutMs: 5000 })).toEqual({ workloadId: 'w1', status: 'success' });
    await fire(null);
    await fire({ workflowId: 'gone', signalName: 'workload' });
    expect(warnings).toEqual(['could not signal the workload completion']);
  });
});
