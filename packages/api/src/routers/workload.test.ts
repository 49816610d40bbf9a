import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { hashToken, type Workload } from '@sluice/db';
import { createLogger } from '@sluice/shared';
import { ensureDataplaneToken, WorkloadQueue, WorkloadService } from '@sluice/workload';
import {
  checkWorkload,
  createWorkloadFixtures,
  syncWorkload,
  TEST_SOURCE_SPEC,
  testWorkloadId,
  type WorkloadFixtures,
} from '@sluice/workload/testing';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken, tokenKind } from '../auth/tokens';
import { openConfig, sealConfig } from '../secrets';
import { type ApiHarness, createTestUser, startApiHarness } from '../testing/harness';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `test-wlapi-${randomBytes(4).toString('hex')}`;
const SECRET = 'sk-live-very-secret-0123';
const ROTATED = 'rotated-refresh-token-xyz';

let h: ApiHarness;
let queue: WorkloadQueue;
let f: WorkloadFixtures;
let svc: WorkloadService;
let dpToken: string;
let euToken: string;
let userToken: string;
const terminal: Workload[] = [];
const logged: string[] = [];

const dp = () => h.client(dpToken);

async function trpcError(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  const e = err as { data?: { code?: string }; message: string };
  return { code: String(e.data?.code), message: e.message };
}

async function issueDataplaneToken(group: string) {
  const t = issueToken('dataplane');
  await h.db.dataplaneToken.create({
    data: { name: `dp ${group}`, dataplaneGroup: group, tokenHash: t.hash, tokenPrefix: t.displayPrefix },
  });
  return t.token;
}

beforeAll(async () => {
  queue = new WorkloadQueue({ connection: REDIS_URL, prefix });
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logged.push(String(chunk));
      cb();
    },
  });
  h = await startApiHarness({
    logger: createLogger('api.workload.test', { level: 'debug' }, sink),
    deps: {
      workload: {
        dispatch: queue,
        onTerminal: (w) => {
          terminal.push(w);
        },
      },
    },
  });
  const box = h.deps.box;
  f = await createWorkloadFixtures(h.db, {
    sourceConfig: sealConfig(
      TEST_SOURCE_SPEC.connectionSpecification,
      { host: 'h', api_key: SECRET },
      box,
    ) as object,
  });
  // The worker's side: in-process, with the same secrets.
  svc = new WorkloadService({
    db: h.db,
    dispatch: queue,
    secrets: { open: (s) => openConfig(s, box), seal: (spec, c) => sealConfig(spec, c, box) },
    logger: createLogger('worker.test', { level: 'silent' }),
  });
  dpToken = await issueDataplaneToken('default');
  euToken = await issueDataplaneToken('eu');
  userToken = (await createTestUser(h.db, { workspaceId: f.workspace.id, role: 'admin' })).token;
});

afterAll(async () => {
  await h?.close();
  if (queue) {
    const keys = await queue.redis.keys(`${prefix}:*`);
    if (keys.length) await queue.redis.del(...keys);
    await queue.close();
  }
});

describe('Workload API', () => {
  it('runs a sync workload through every transition over HTTP', async () => {
    const id = testWorkloadId('sync');
    const created = await dp().workload.create.mutate(syncWorkload(f, { id }));
    expect(created).toMatchObject({ created: true, workload: { id, status: 'pending' }, superseded: [] });
    expect((await queue.queue('default').getJob(id))?.data).toEqual({ workloadId: id });

    const claim = await dp().workload.claim.mutate({ id, launcherId: 'L1' });
    expect(claim).toMatchObject({ outcome: 'claimed', workload: { status: 'claimed', claimedBy: 'L1' } });
    await expect(dp().workload.launched.mutate({ id, launcherId: 'L1' })).resolves.toMatchObject({
      status: 'launched',
    });

    const { input } = await dp().workload.input.query({ id, launcherId: 'L1' });
    expect((input.source as { config: unknown }).config).toEqual({ host: 'h', api_key: SECRET });
    expect(input).toMatchObject({ connectionId: f.connection.id, stateGeneration: 0, state: [] });

    const running = await dp().workload.running.mutate({ id, launcherId: 'L1' });
    expect(running).toMatchObject({
      status: 'running',
      stop: false,
      cancelled: false,
      heartbeatIntervalMs: 30_000,
    });

    const hb = await dp().workload.heartbeat.mutate({
      id,
      stats: [{ stream: { name: 'users' }, recordsEmitted: 10, recordsCommitted: 8 }],
    });
    expect(hb).toMatchObject({ status: 'running', stop: false });
    await expect(
      dp().workload.appendLog.mutate({
        id,
        writer: 'middleware',
        chunks: [
          { sequence: 0, text: 'a\n' },
          { sequence: 1, text: 'b\n' },
        ],
      }),
    ).resolves.toEqual({ attached: true, stored: 2 });
    await expect(
      dp().workload.appendLog.mutate({ id, writer: 'middleware', chunks: [{ sequence: 1, text: 'b\n' }] }),
    ).resolves.toEqual({ attached: true, stored: 0 });
    const state = {
      type: 'STREAM',
      stream: { stream_descriptor: { name: 'users' }, stream_state: { cursor: 8 } },
    };
    const v = await dp().workload.reportState.mutate({ id, generation: 0, states: [state] });
    expect(Number(v.version)).toBeGreaterThan(0);
    await expect(dp().workload.reportStats.mutate({ id, streams: [] })).resolves.toEqual({ streams: 0 });

    const done = await dp().workload.success.mutate({ id, output: { ok: true } });
    expect(done).toMatchObject({ status: 'success', output: { ok: true } });
    expect(done.endedAt).toEqual(expect.any(String));
    expect(terminal.filter((w) => w.id === id).map((w) => w.status)).toEqual(['success']);
    expect((await trpcError(dp().workload.failure.mutate({ id, reason: 'late' }))).code).toBe('CONFLICT');
    expect((await dp().workload.get.query({ id })).status).toBe('success');

    const logs = await svc.readAttemptLog(f.attempt.id);
    expect(logs.entries.map((e) => e.text)).toEqual(['a\n', 'b\n']);
    const stats = await h.db.streamStats.findFirstOrThrow({ where: { attemptId: f.attempt.id } });
    expect(stats.recordsCommitted).toBe(8n);
  });

  it('accepts only dataplane tokens, and only for their own group', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    expect((await trpcError(h.client().workload.get.query({ id }))).code).toBe('UNAUTHORIZED');
    expect((await trpcError(h.client(userToken).workload.get.query({ id }))).code).toBe('UNAUTHORIZED');
    expect((await trpcError(h.client(userToken).workload.claim.mutate({ id, launcherId: 'x' }))).code).toBe(
      'UNAUTHORIZED',
    );
    const eu = h.client(euToken);
    expect((await trpcError(eu.workload.get.query({ id }))).code).toBe('NOT_FOUND');
    expect(await eu.workload.claim.mutate({ id, launcherId: 'eu-1' })).toMatchObject({
      outcome: 'unavailable',
      status: null,
    });
    expect((await trpcError(eu.workload.cancel.mutate({ id, reason: 'x' }))).code).toBe('NOT_FOUND');
    expect(
      (await trpcError(eu.workload.create.mutate(checkWorkload(f, { id: testWorkloadId() })))).code,
    ).toBe('BAD_REQUEST');
    expect((await svc.get(id)).status).toBe('pending');

    const revoked = await issueDataplaneToken('default');
    await h.db.dataplaneToken.update({
      where: { tokenHash: hashToken(revoked) },
      data: { revokedAt: new Date() },
    });
    expect((await trpcError(h.client(revoked).workload.get.query({ id }))).code).toBe('UNAUTHORIZED');
  });

  it('decrypts the input only for dataplane callers and never logs a secret', async () => {
    const id = testWorkloadId();
    await svc.create(syncWorkload(f, { id: testWorkloadId('x') }));
    await svc.create(checkWorkload(f, { id }));
    expect((await trpcError(h.client(userToken).workload.input.query({ id }))).code).toBe('UNAUTHORIZED');
    expect((await trpcError(dp().workload.input.query({ id }))).code).toBe('CONFLICT');
    await dp().workload.claim.mutate({ id, launcherId: 'L1' });
    const r = await dp().workload.input.query({ id });
    expect((r.input.connector as { config: unknown }).config).toEqual({ host: 'h', api_key: SECRET });
    expect((await trpcError(dp().workload.input.query({ id, launcherId: 'other' }))).code).toBe('CONFLICT');
    const raw = await h.db.$queryRaw<{ input: string }[]>`SELECT input::text FROM workloads WHERE id = ${id}`;
    expect(raw[0]?.input).not.toContain(SECRET);
    expect(logged.join('')).not.toContain(SECRET);
  });

  it('lets exactly one of two launchers claim, and refuses out-of-order and stale calls', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    const [a, b] = await Promise.all([
      dp().workload.claim.mutate({ id, launcherId: 'A' }),
      dp().workload.claim.mutate({ id, launcherId: 'B' }),
    ]);
    expect([a.outcome, b.outcome].sort()).toEqual(['claimed', 'unavailable']);
    const winner = a.outcome === 'claimed' ? 'A' : 'B';
    const loser = winner === 'A' ? 'B' : 'A';

    const early = await trpcError(dp().workload.running.mutate({ id }));
    expect(early.code).toBe('CONFLICT');
    expect(early.message).toMatch(/it is claimed, expected launched/);
    const stale = await trpcError(dp().workload.launched.mutate({ id, launcherId: loser }));
    expect(stale).toMatchObject({ code: 'CONFLICT' });
    expect(stale.message).toContain(`claimed by launcher ${winner}, not ${loser}`);
    await dp().workload.launched.mutate({ id, launcherId: winner });
    expect((await trpcError(dp().workload.launched.mutate({ id, launcherId: winner }))).code).toBe(
      'CONFLICT',
    );
  });

  it('tells a cancelled workload to stop and supersedes an older sync', async () => {
    const fx = await createWorkloadFixtures(h.db);
    const a = testWorkloadId('a');
    const b = testWorkloadId('b');
    await svc.create(syncWorkload(fx, { id: a }));
    await dp().workload.claim.mutate({ id: a, launcherId: 'L1' });
    await dp().workload.launched.mutate({ id: a, launcherId: 'L1' });
    await dp().workload.running.mutate({ id: a });
    const second = await dp().workload.create.mutate(syncWorkload(fx, { id: b }));
    expect(second.superseded).toEqual([a]);
    const hb = await dp().workload.heartbeat.mutate({ id: a });
    expect(hb).toMatchObject({ status: 'cancelled', stop: true, cancelled: true });
    expect(hb.reason).toMatch(/^superseded by workload /);
    expect(await dp().workload.claim.mutate({ id: b, launcherId: 'L2' })).toMatchObject({
      outcome: 'blocked',
      blockedBy: a,
    });
    const { active, stopping } = await dp().workload.listActive.query({ launcherId: 'L1' });
    expect(stopping.map((w) => w.id)).toContain(a);
    expect(active.map((w) => w.id)).not.toContain(a);
    await dp().workload.stopped.mutate({ id: a, launcherId: 'L1' });
    expect(await dp().workload.claim.mutate({ id: b, launcherId: 'L2' })).toMatchObject({
      outcome: 'claimed',
    });
    await dp().workload.cancel.mutate({ id: b, reason: 'operator cancelled it' });
    expect(await dp().workload.get.query({ id: b })).toMatchObject({
      status: 'cancelled',
      terminationSource: 'api',
      terminationReason: 'operator cancelled it',
    });
  });

  it('stores a CONTROL config update validated and sealed', async () => {
    const id = testWorkloadId();
    await svc.create(syncWorkload(f, { id }));
    await dp().workload.claim.mutate({ id, launcherId: 'L1' });
    await dp().workload.launched.mutate({ id, launcherId: 'L1' });
    await dp().workload.running.mutate({ id });
    const bad = await trpcError(
      dp().workload.updateConnectorConfig.mutate({ id, role: 'source', config: { host: 'h', page_size: 0 } }),
    );
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/api_key: is required/);
    await dp().workload.updateConnectorConfig.mutate({
      id,
      role: 'source',
      config: { host: 'h', api_key: SECRET, refresh_token: ROTATED },
    });
    const raw = await h.db.$queryRaw<
      { config: string }[]
    >`SELECT config::text FROM sources WHERE id = ${f.source.id}::uuid`;
    expect(raw[0]?.config).not.toContain(ROTATED);
    expect(raw[0]?.config).not.toContain(SECRET);
    const stored = await h.db.source.findUniqueOrThrow({ where: { id: f.source.id } });
    expect(openConfig(stored.config, h.deps.box)).toEqual({
      host: 'h',
      api_key: SECRET,
      refresh_token: ROTATED,
    });
    expect(logged.join('')).not.toContain(ROTATED);
  });

  it("reports the queue depth of the caller's group", async () => {
    const depth = await dp().workload.queueDepth.query();
    expect(depth.dataplaneGroup).toBe('default');
    expect(depth.pending).toBeGreaterThan(0);
    const eu = await h.client(euToken).workload.queueDepth.query();
    expect(eu).toEqual({
      dataplaneGroup: 'eu',
      pending: 0,
      claimed: 0,
      launched: 0,
      running: 0,
      oldestPendingAt: null,
    });
  });
});

describe('dataplane tokens', () => {
  it('lets an instance admin create, list and revoke tokens scoped to a group', async () => {
    const admin = await createTestUser(h.db, { isInstanceAdmin: true });
    const a = h.client(admin.token);
    const created = await a.workload.admin.createToken.mutate({ name: 'eu launchers', dataplaneGroup: 'eu' });
    expect(tokenKind(created.token)).toBe('dataplane');
    expect(created).toMatchObject({ dataplaneGroup: 'eu', name: 'eu launchers', revokedAt: null });
    await expect(h.client(created.token).workload.queueDepth.query()).resolves.toMatchObject({
      dataplaneGroup: 'eu',
    });
    const list = await a.workload.admin.listTokens.query({ dataplaneGroup: 'eu' });
    expect(list.map((t) => t.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect(list[0]).not.toHaveProperty('tokenHash');
    expect((await a.workload.admin.queueDepth.query()).map((d) => d.dataplaneGroup)).toContain('default');

    expect((await trpcError(h.client(userToken).workload.admin.createToken.mutate({ name: 'x' }))).code).toBe(
      'FORBIDDEN',
    );
    expect((await trpcError(dp().workload.admin.listTokens.query({}))).code).toBe('UNAUTHORIZED');

    await a.workload.admin.revokeToken.mutate({ id: created.id });
    expect((await trpcError(h.client(created.token).workload.queueDepth.query())).code).toBe('UNAUTHORIZED');
    expect((await trpcError(a.workload.admin.revokeToken.mutate({ id: f.workspace.id }))).code).toBe(
      'NOT_FOUND',
    );
  });

  it('registers a token configured by environment, idempotently', async () => {
    const token = `sluice_dp_${randomBytes(24).toString('base64url')}`;
    const first = await ensureDataplaneToken(h.db, { token, group: 'default' });
    const again = await ensureDataplaneToken(h.db, { token, group: 'default' });
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    await expect(h.client(token).workload.queueDepth.query()).resolves.toMatchObject({
      dataplaneGroup: 'default',
    });
    await ensureDataplaneToken(h.db, { token, group: 'eu' });
    await expect(h.client(token).workload.queueDepth.query()).resolves.toMatchObject({
      dataplaneGroup: 'eu',
    });
    await expect(ensureDataplaneToken(h.db, { token: 'sluice_pat_x', group: 'default' })).rejects.toThrow(
      /must start with "sluice_dp_"/,
    );
    await h.db.dataplaneToken.update({ where: { id: first.id }, data: { revokedAt: new Date() } });
    await expect(ensureDataplaneToken(h.db, { token, group: 'default' })).rejects.toThrow(/was revoked/);
  });
});

describe('fleet', () => {
  it('shows the workers and launchers that report in, and drops one that stopped', async () => {
    const admin = h.client((await createTestUser(h.db, { isInstanceAdmin: true })).token);
    let running = 2;
    const launcher = queue.joinFleet(
      {
        kind: 'launcher',
        id: 'L-fleet-1',
        dataplaneGroup: 'eu',
        runtime: 'docker',
        capacity: 4,
        running: () => running,
      },
      { intervalMs: 200 },
    );
    const worker = queue.joinFleet({ kind: 'worker', id: 'W-fleet-1', capacity: 1000 }, { intervalMs: 200 });
    await launcher.refresh();
    await worker.refresh();
    const { members } = await admin.workload.admin.fleet.query();
    expect(members.map((m) => [m.kind, m.id])).toEqual([
      ['worker', 'W-fleet-1'],
      ['launcher', 'L-fleet-1'],
    ]);
    const l = members[1]!;
    expect(l).toMatchObject({ dataplaneGroup: 'eu', runtime: 'docker', running: 2, capacity: 4 });
    expect(Date.parse(l.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(l.startedAt));
    expect(l.host).toEqual(expect.any(String));

    // Refreshed every interval with what runs now.
    running = 3;
    await new Promise((r) => setTimeout(r, 450));
    const later = (await admin.workload.admin.fleet.query()).members.find((m) => m.id === 'L-fleet-1');
    expect(later?.running).toBe(3);
    expect(Date.parse(later!.lastSeenAt)).toBeGreaterThan(Date.parse(l.lastSeenAt));

    // A clean stop leaves at once; a killed process's record expires (three intervals).
    await worker.leave();
    expect((await admin.workload.admin.fleet.query()).members.map((m) => m.id)).toEqual(['L-fleet-1']);
    // Its own refresh timer must not fire between the simulated crash and the look: with a short
    // interval, a tick delayed by a loaded machine would bring the record back.
    const crashed = queue.joinFleet({ kind: 'launcher', id: 'L-crashed' }, { intervalMs: 60_000 });
    await crashed.refresh();
    expect((await admin.workload.admin.fleet.query()).members.map((m) => m.id)).toContain('L-crashed');
    // Simulate the crash: no more refreshes, and the record is left to expire.
    await queue.redis.pexpire(`${prefix}:fleet:member:launcher:L-crashed`, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await admin.workload.admin.fleet.query()).members.map((m) => m.id)).toEqual(['L-fleet-1']);
    await crashed.leave(); // stops its timer; its record is gone already
    await launcher.leave();

    expect((await trpcError(h.client(userToken).workload.admin.fleet.query())).code).toBe('FORBIDDEN');
    expect((await trpcError(dp().workload.admin.fleet.query())).code).toBe('UNAUTHORIZED');
  });

  it('says why when the server has no queue to read the fleet from', async () => {
    const bare = await startApiHarness();
    try {
      const admin = bare.client((await createTestUser(bare.db, { isInstanceAdmin: true })).token);
      const err = await trpcError(admin.workload.admin.fleet.query());
      expect(err.code).toBe('PRECONDITION_FAILED');
      expect(err.message).toMatch(/REDIS_URL/);
    } finally {
      await bare.close();
    }
  });

  it('lists the active workloads of every group with their job, for instance admins', async () => {
    const admin = h.client((await createTestUser(h.db, { isInstanceAdmin: true })).token);
    const g = await createWorkloadFixtures(h.db);
    const id = testWorkloadId();
    await svc.create(syncWorkload(g, { id }));
    await svc.claim({ id, launcherId: 'L-list' });
    await svc.launched({ id, launcherId: 'L-list' });
    await svc.running({ id });
    const { items } = await admin.workload.admin.listActive.query({ limit: 1000 });
    const mine = items.find((w) => w.id === id);
    expect(mine).toEqual({
      id,
      type: 'sync',
      status: 'running',
      dataplaneGroup: 'default',
      claimedBy: 'L-list',
      createdAt: expect.any(String),
      runningAt: expect.any(String),
      lastHeartbeatAt: expect.any(String),
      workspaceId: g.workspace.id,
      connectionId: g.connection.id,
      jobId: g.job.id,
    });
    expect(JSON.stringify(items)).not.toContain(SECRET);
    expect(items.every((w) => ['pending', 'claimed', 'launched', 'running'].includes(w.status))).toBe(true);
    expect((await admin.workload.admin.listActive.query({ dataplaneGroup: 'eu' })).items).toEqual([]);
    await svc.succeed({ id });
    expect((await admin.workload.admin.listActive.query()).items.map((w) => w.id)).not.toContain(id);
    expect((await trpcError(h.client(userToken).workload.admin.listActive.query())).code).toBe('FORBIDDEN');
  });
});
