import { randomBytes } from 'node:crypto';
import { createTestDatabase, readConnectionState, type TestDatabase, type Workload } from '@sluice/db';
import { createLogger } from '@sluice/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkloadError } from './errors';
import { WorkloadService } from './service';
import { topLevelConfigSecrets } from './test-secrets';
import {
  checkWorkload,
  createWorkloadFixtures,
  syncWorkload,
  TEST_SOURCE_SPEC,
  testWorkloadId,
  type WorkloadFixtures,
} from './testing';

const MIN = 60_000;
let t: TestDatabase;
let f: WorkloadFixtures;
let nowMs = Date.parse('2030-01-01T00:00:00Z');
const clock = () => new Date(nowMs);
const advance = (ms: number) => {
  nowMs += ms;
};
const terminal: Workload[] = [];
const key = randomBytes(32);
const secrets = topLevelConfigSecrets(key);
let svc: WorkloadService;

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkloadError)
      return { code: err.code, message: err.message, status: err.details.status };
    throw err;
  }
  throw new Error('expected a WorkloadError');
};

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 6 });
  f = await createWorkloadFixtures(t.db);
  svc = new WorkloadService({
    db: t.db,
    secrets,
    clock,
    logger: createLogger('workload.test', { level: 'silent' }),
    onTerminal: (w) => {
      terminal.push(w);
    },
    timeouts: {
      pendingMs: 60 * MIN,
      claimedMs: 5 * MIN,
      launchedMs: 5 * MIN,
      heartbeatTimeoutMs: 5 * MIN,
      cancelGraceMs: 2 * MIN,
    },
  });
});

afterAll(async () => {
  await t?.drop();
});

beforeEach(() => {
  terminal.length = 0;
});

/** A check workload (no mutex) moved to `running` by launcher L1. */
async function runningCheck(id = testWorkloadId('chk')) {
  await svc.create(checkWorkload(f, { id }));
  const c = await svc.claim({ id, launcherId: 'L1' });
  expect(c.outcome).toBe('claimed');
  await svc.launched({ id, launcherId: 'L1' });
  return svc.running({ id });
}

describe('create', () => {
  it('is idempotent by caller-chosen id', async () => {
    const id = testWorkloadId();
    const a = await svc.create(checkWorkload(f, { id, priority: 5 }));
    const b = await svc.create(checkWorkload(f, { id, priority: 5 }));
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.workload.autoId).toBe(a.workload.autoId);
    expect(a.workload).toMatchObject({ status: 'pending', priority: 5, dataplaneGroup: 'default' });
    expect(a.workload.deadline?.getTime()).toBe(nowMs + 60 * MIN);
    const other = await code(svc.create({ ...checkWorkload(f, { id }), type: 'discover' }));
    expect(other.code).toBe('CONFLICT');
  });

  it('validates its input with clear errors', async () => {
    const bad = await code(
      svc.create({ ...syncWorkload(f, { id: testWorkloadId() }), input: { source: undefined } as never }),
    );
    expect(bad).toMatchObject({ code: 'BAD_REQUEST' });
    expect(bad.message).toMatch(/input\.connectionId/);
    expect((await code(svc.create(checkWorkload(f, { id: 'a:b' })))).message).toMatch(/workload id/);
    expect((await code(svc.create(checkWorkload(f, { id: '12345' })))).message).toMatch(/only digits/);

    const other = await createWorkloadFixtures(t.db);
    const mixed = syncWorkload(f, { id: testWorkloadId() });
    mixed.input.source!.actorId = other.source.id;
    expect((await code(svc.create(mixed))).message).toBe(
      "input.source.actorId: is not the connection's source",
    );
    const stray = checkWorkload(f, { id: testWorkloadId() });
    stray.input.connector!.actorId = other.source.id;
    stray.input.workspaceId = f.workspace.id;
    expect((await code(svc.create(stray))).message).toMatch(/belongs to another workspace/);
    const eu = await createWorkloadFixtures(t.db, { dataplaneGroup: 'eu' });
    const crossGroup = await code(
      svc.create(syncWorkload(eu, { id: testWorkloadId(), dataplaneGroup: 'default' }), {
        scope: { dataplaneGroup: 'default' },
      }),
    );
    expect(crossGroup).toMatchObject({ code: 'BAD_REQUEST' });
    expect(crossGroup.message).toMatch(/belongs to dataplane group "eu", not "default"/);
  });

  it('seals connector configs against the definition spec', async () => {
    const id = testWorkloadId();
    const w = checkWorkload(f, { id });
    w.input.connector!.config = { host: 'h', api_key: 'plain-api-key-123' };
    const { workload } = await svc.create(w);
    expect(JSON.stringify(workload.input)).not.toContain('plain-api-key-123');
    const stored = await t.db.$queryRaw<
      { input: string }[]
    >`SELECT input::text FROM workloads WHERE id = ${id}`;
    expect(stored[0]?.input).not.toContain('plain-api-key-123');
  });
});

describe('transitions', () => {
  it('moves pending → claimed → launched → running → success with deadlines per status', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    const claim = await svc.claim({ id, launcherId: 'L1' });
    expect(claim.outcome).toBe('claimed');
    if (claim.outcome !== 'claimed') return;
    expect(claim.workload).toMatchObject({ status: 'claimed', claimedBy: 'L1' });
    expect(claim.workload.deadline?.getTime()).toBe(nowMs + 5 * MIN);

    advance(1000);
    const launched = await svc.launched({ id, launcherId: 'L1' });
    expect(launched.status).toBe('launched');
    expect(launched.deadline?.getTime()).toBe(nowMs + 5 * MIN);

    advance(1000);
    const running = await svc.running({ id, launcherId: 'L1' });
    expect(running.status).toBe('running');
    expect(running.deadline?.getTime()).toBe(nowMs + 5 * MIN);

    advance(30_000);
    const hb = await svc.heartbeat({ id });
    expect(hb.stop).toBe(false);
    expect(hb.workload.deadline?.getTime()).toBe(nowMs + 5 * MIN);
    expect(hb.workload.lastHeartbeatAt?.getTime()).toBe(nowMs);

    const done = await svc.succeed({ id, output: { records: 3 } });
    expect(done).toMatchObject({ status: 'success', output: { records: 3 }, deadline: null });
    expect(done.endedAt?.getTime()).toBe(nowMs);
    expect(done.claimedAt && done.launchedAt && done.runningAt).toBeTruthy();
    expect(terminal.map((w) => [w.id, w.status])).toEqual([[id, 'success']]);
  });

  it('lets exactly one of several concurrent claimers win', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    const results = await Promise.all(
      ['A', 'B', 'C', 'D'].map((launcherId) => svc.claim({ id, launcherId })),
    );
    const winners = results.filter((r) => r.outcome === 'claimed');
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => r.outcome === 'unavailable');
    expect(losers).toHaveLength(3);
    for (const l of losers) if (l.outcome === 'unavailable') expect(l.status).toBe('claimed');
  });

  it('refuses out-of-order and duplicate calls', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    expect(await code(svc.launched({ id, launcherId: 'L1' }))).toMatchObject({
      code: 'CONFLICT',
      status: 'pending',
    });
    await svc.claim({ id, launcherId: 'L1' });
    const early = await code(svc.running({ id }));
    expect(early).toMatchObject({ code: 'CONFLICT', status: 'claimed' });
    expect(early.message).toMatch(/it is claimed, expected launched/);
    expect(await code(svc.heartbeat({ id }))).toMatchObject({ code: 'CONFLICT', status: 'claimed' });
    expect(await code(svc.succeed({ id }))).toMatchObject({ code: 'CONFLICT' });
    await svc.launched({ id, launcherId: 'L1' });
    expect(await code(svc.launched({ id, launcherId: 'L1' }))).toMatchObject({
      code: 'CONFLICT',
      status: 'launched',
    });
    const again = await svc.claim({ id, launcherId: 'L2' });
    expect(again).toMatchObject({ outcome: 'unavailable', status: 'launched' });
    expect((await svc.get(id)).status).toBe('launched');
  });

  it('refuses a launcher that did not claim the workload', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    await svc.claim({ id, launcherId: 'L1' });
    const stale = await code(svc.launched({ id, launcherId: 'L2' }));
    expect(stale.code).toBe('CONFLICT');
    expect(stale.message).toMatch(/claimed by launcher L1, not L2/);
    await svc.launched({ id, launcherId: 'L1' });
    expect(await code(svc.running({ id, launcherId: 'L2' }))).toMatchObject({ code: 'CONFLICT' });
    expect((await svc.get(id)).status).toBe('launched');
  });

  it('never moves a terminal status', async () => {
    const w = await runningCheck();
    await svc.succeed({ id: w.id });
    expect(await code(svc.fail({ id: w.id, reason: 'x', source: 'middleware' }))).toMatchObject({
      code: 'CONFLICT',
      status: 'success',
    });
    expect(await code(svc.cancel({ id: w.id, reason: 'x', source: 'user' }))).toMatchObject({
      code: 'CONFLICT',
    });
    expect(await code(svc.succeed({ id: w.id }))).toMatchObject({ code: 'CONFLICT' });
    expect(await code(svc.running({ id: w.id }))).toMatchObject({ code: 'CONFLICT' });
    const hb = await svc.heartbeat({ id: w.id });
    expect(hb).toMatchObject({ stop: true, workload: { status: 'success' } });
    expect((await svc.get(w.id)).status).toBe('success');
    expect(terminal.filter((x) => x.id === w.id)).toHaveLength(1);
  });

  it('fails a workload with a reason and source', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    await svc.claim({ id, launcherId: 'L1' });
    const w = await svc.fail({ id, reason: 'image not found', source: 'launcher', launcherId: 'L1' });
    expect(w).toMatchObject({
      status: 'failure',
      terminationReason: 'image not found',
      terminationSource: 'launcher',
    });
    expect(w.endedAt).not.toBeNull();
    expect(terminal.map((x) => x.id)).toEqual([id]);
  });

  it('cancels a pending workload at once and a running one with a grace period', async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    const p = await svc.cancel({ id, reason: 'cancelled by a user', source: 'user' });
    expect(p).toMatchObject({ status: 'cancelled', terminationSource: 'user', deadline: null });
    expect(p.endedAt?.getTime()).toBe(nowMs);

    const r = await runningCheck();
    const c = await svc.cancel({ id: r.id, reason: 'cancelled by a user', source: 'user' });
    expect(c).toMatchObject({ status: 'cancelled', endedAt: null });
    expect(c.deadline?.getTime()).toBe(nowMs + 2 * MIN);
    const hb = await svc.heartbeat({ id: r.id });
    expect(hb).toMatchObject({ stop: true, workload: { status: 'cancelled' } });
    const s = await svc.stopped({ id: r.id });
    expect(s.endedAt?.getTime()).toBe(nowMs);
    await expect(svc.stopped({ id: r.id })).resolves.toMatchObject({ status: 'cancelled' });
    expect(terminal.map((x) => x.id)).toEqual([id, r.id]);
  });

  it("hides other groups' workloads from a scoped caller", async () => {
    const id = testWorkloadId();
    await svc.create(checkWorkload(f, { id }));
    const scope = { dataplaneGroup: 'eu' };
    expect(await code(svc.get(id, scope))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await svc.claim({ id, launcherId: 'EU1', scope })).toMatchObject({
      outcome: 'unavailable',
      status: null,
    });
    expect(await code(svc.cancel({ id, reason: 'x', source: 'api', scope }))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await code(svc.create(checkWorkload(f, { id: testWorkloadId() }), { scope }))).toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect((await svc.get(id)).status).toBe('pending');
  });
});

describe('mutex', () => {
  it('a newer sync cancels the older (superseded) and is claimable only once the older ended', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const a = testWorkloadId('a');
    const b = testWorkloadId('b');
    await svc.create(syncWorkload(fx, { id: a }));
    await svc.claim({ id: a, launcherId: 'L1' });
    await svc.launched({ id: a, launcherId: 'L1' });
    await svc.running({ id: a });

    const created = await svc.create(syncWorkload(fx, { id: b }));
    expect(created.superseded.map((w) => w.id)).toEqual([a]);
    const old = await svc.get(a);
    expect(old).toMatchObject({ status: 'cancelled', terminationSource: 'platform', endedAt: null });
    expect(old.terminationReason).toMatch(/^superseded by workload /);
    expect(terminal.map((w) => [w.id, w.status])).toEqual([[a, 'cancelled']]);

    expect(await svc.claim({ id: b, launcherId: 'L2' })).toMatchObject({ outcome: 'blocked', blockedBy: a });
    // The old one is told to stop, and may still flush committed state while it stops.
    expect(await svc.heartbeat({ id: a })).toMatchObject({ stop: true });
    await svc.stopped({ id: a });
    expect(await svc.claim({ id: b, launcherId: 'L2' })).toMatchObject({ outcome: 'claimed' });
  });

  it('a superseded pending workload ends at once, so the newer one is claimable', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const a = testWorkloadId('a');
    const b = testWorkloadId('b');
    await svc.create(syncWorkload(fx, { id: a }));
    await svc.create(syncWorkload(fx, { id: b }));
    expect(await svc.get(a)).toMatchObject({ status: 'cancelled' });
    expect(await svc.claim({ id: a, launcherId: 'L1' })).toMatchObject({ outcome: 'unavailable' });
    expect(await svc.claim({ id: b, launcherId: 'L1' })).toMatchObject({ outcome: 'claimed' });
  });

  it('releases the key after the cancel grace period when the programs never confirm', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const a = testWorkloadId('a');
    const b = testWorkloadId('b');
    await svc.create(syncWorkload(fx, { id: a }));
    await svc.claim({ id: a, launcherId: 'L1' });
    await svc.create(syncWorkload(fx, { id: b }));
    expect(await svc.claim({ id: b, launcherId: 'L2' })).toMatchObject({ outcome: 'blocked' });
    advance(2 * MIN + 1);
    const swept = await svc.sweep();
    expect(swept.settled.map((w) => w.id)).toContain(a);
    expect(swept.failed.map((w) => w.id)).not.toContain(b);
    expect(await svc.claim({ id: b, launcherId: 'L2' })).toMatchObject({ outcome: 'claimed' });
  });

  it('serialises concurrent creates of one key: exactly one survives', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const ids = [1, 2, 3].map((n) => testWorkloadId(`m${n}`));
    await Promise.all(ids.map((id) => svc.create(syncWorkload(fx, { id }))));
    const rows = await t.db.workload.findMany({ where: { id: { in: ids } } });
    expect(rows.filter((r) => r.status === 'pending')).toHaveLength(1);
    expect(rows.filter((r) => r.status === 'cancelled')).toHaveLength(2);
  });
});

describe('sweeper', () => {
  it('fails each expired status with a reason a user can read', async () => {
    // Earlier tests left active workloads behind: end them first, then watch only ours.
    advance(24 * 60 * MIN);
    await svc.sweep();
    terminal.length = 0;
    const pending = testWorkloadId('p');
    await svc.create(checkWorkload(f, { id: pending }));
    const claimed = testWorkloadId('c');
    await svc.create(checkWorkload(f, { id: claimed }));
    await svc.claim({ id: claimed, launcherId: 'host-1:42' });
    const launched = testWorkloadId('l');
    await svc.create(checkWorkload(f, { id: launched }));
    await svc.claim({ id: launched, launcherId: 'host-2:7' });
    await svc.launched({ id: launched, launcherId: 'host-2:7' });
    const running = await runningCheck();
    const ids = (r: { failed: Workload[] }) => r.failed.map((w) => w.id).sort();

    advance(4 * MIN);
    expect(ids(await svc.sweep())).toEqual([]);
    // A heartbeat extends the running one; nothing extends the others.
    await svc.heartbeat({ id: running.id });
    advance(2 * MIN);
    expect(ids(await svc.sweep())).toEqual([claimed, launched].sort());
    expect((await svc.get(claimed)).terminationReason).toBe(
      'not launched within 5m0s of being claimed by launcher host-1:42 (the launcher may have crashed or cannot start it)',
    );
    expect((await svc.get(launched)).terminationReason).toMatch(
      /^did not report running within 5m0s of being launched by launcher host-2:7/,
    );
    expect((await svc.get(running.id)).status).toBe('running');

    advance(4 * MIN);
    expect(ids(await svc.sweep())).toEqual([running.id]);
    expect(await svc.get(running.id)).toMatchObject({
      status: 'failure',
      terminationSource: 'sweeper',
      terminationReason:
        "no heartbeat for 5m0s: the workload's middleware stopped reporting (launcher host lost or process killed)",
    });
    // Its middleware comes back: it is told to stop, and nothing moves.
    expect(await svc.heartbeat({ id: running.id })).toMatchObject({ stop: true });

    advance(60 * MIN);
    expect(ids(await svc.sweep())).toEqual([pending]);
    expect((await svc.get(pending)).terminationReason).toBe(
      'not claimed within 1h0m0s: no launcher of dataplane group "default" took it (is one running?)',
    );
    expect(terminal.map((w) => w.id).sort()).toEqual([claimed, launched, running.id, pending].sort());
    expect(ids(await svc.sweep())).toEqual([]);
  });

  it('does not fail a pending workload waiting for its mutex key', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const a = testWorkloadId('a');
    const b = testWorkloadId('b');
    await svc.create(syncWorkload(fx, { id: a }));
    await svc.claim({ id: a, launcherId: 'L1' });
    await svc.launched({ id: a, launcherId: 'L1' });
    await svc.running({ id: a });
    // Force b's claim deadline into the past while a (cancelled) still has programs running.
    await svc.create(syncWorkload(fx, { id: b }));
    await t.db.workload.update({ where: { id: b }, data: { deadline: new Date(nowMs - 1) } });
    const swept = await svc.sweep();
    expect(swept.failed.map((w) => w.id)).not.toContain(b);
    await svc.stopped({ id: a });
    const after = await svc.get(b);
    expect(after.status).toBe('pending');
    expect(after.deadline?.getTime()).toBe(nowMs + 60 * MIN);
  });
});

describe('reads', () => {
  it('hands out the input decrypted, with the current state, only once claimed', async () => {
    const fx = await createWorkloadFixtures(t.db, {
      sourceConfig: secrets.seal(TEST_SOURCE_SPEC.connectionSpecification, {
        host: 'h',
        api_key: 'the-secret-key',
      }) as object,
    });
    const id = testWorkloadId();
    await svc.create(syncWorkload(fx, { id }));
    const raw = await t.db.$queryRaw<{ input: string }[]>`SELECT input::text FROM workloads WHERE id = ${id}`;
    expect(raw[0]?.input).not.toContain('the-secret-key');
    expect(await code(svc.input({ id }))).toMatchObject({ code: 'CONFLICT', status: 'pending' });
    await svc.claim({ id, launcherId: 'L1' });
    const { input } = await svc.input({ id, launcherId: 'L1' });
    expect((input.source as { config: Record<string, unknown> }).config).toEqual({
      host: 'h',
      api_key: 'the-secret-key',
    });
    expect(input).toMatchObject({ state: [], stateGeneration: 0, connectionId: fx.connection.id });
    expect(await code(svc.input({ id, launcherId: 'L9' }))).toMatchObject({ code: 'CONFLICT' });
  });

  it('counts queue depth by group and status', async () => {
    const g = `g${randomBytes(3).toString('hex')}`;
    const fx = await createWorkloadFixtures(t.db, { dataplaneGroup: g });
    const ids = [1, 2, 3].map((n) => testWorkloadId(`q${n}`));
    for (const id of ids) await svc.create(checkWorkload(fx, { id }));
    await svc.claim({ id: ids[0]!, launcherId: 'L' });
    const [depth] = await svc.queueDepth({ dataplaneGroup: g });
    expect(depth).toMatchObject({ dataplaneGroup: g, pending: 2, claimed: 1, launched: 0, running: 0 });
    expect(depth?.oldestPendingAt).toBeInstanceOf(Date);
    const all = await svc.queueDepth();
    expect(all.find((d) => d.dataplaneGroup === g)).toEqual(depth);
  });

  it('lists terminal workloads after a cursor, oldest first', async () => {
    const since = clock();
    advance(1);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = testWorkloadId(`t${i}`);
      ids.push(id);
      await svc.create(checkWorkload(f, { id }));
      await svc.cancel({ id, reason: 'x', source: 'api' });
    }
    const page1 = await svc.listTerminatedSince({ since, limit: 2 });
    expect(page1.map((w) => w.id)).toEqual(ids.slice(0, 2));
    const last = page1[1]!;
    const page2 = await svc.listTerminatedSince({ since: last.updatedAt, afterId: last.id });
    expect(page2.map((w) => w.id)).toEqual(ids.slice(2));
  });

  it('lists active and stopping workloads of a launcher', async () => {
    const r = await runningCheck();
    const c = await runningCheck();
    await svc.cancel({ id: c.id, reason: 'x', source: 'user' });
    const { active, stopping } = await svc.listActive({
      claimedBy: 'L1',
      scope: { dataplaneGroup: 'default' },
    });
    expect(active.map((w) => w.id)).toContain(r.id);
    expect(stopping.map((w) => w.id)).toContain(c.id);
    expect(active.map((w) => w.id)).not.toContain(c.id);
  });
});

describe('reports', () => {
  it('persists committed state only forward', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const id = testWorkloadId();
    await svc.create(syncWorkload(fx, { id }));
    expect(await code(svc.reportState({ id, states: [], generation: 0 }))).toMatchObject({
      code: 'CONFLICT',
    });
    await svc.claim({ id, launcherId: 'L1' });
    await svc.launched({ id, launcherId: 'L1' });
    await svc.running({ id });
    const { input } = await svc.input({ id });
    const generation = input.stateGeneration as number;
    const stream = (name: string, cursor: number) => ({
      type: 'STREAM',
      stream: { stream_descriptor: { name }, stream_state: { cursor } },
    });
    const v1 = await svc.reportState({ id, generation, states: [stream('users', 1), stream('users', 2)] });
    const v2 = await svc.reportState({ id, generation, states: [stream('orders', 7)] });
    expect(v2.version).toBeGreaterThan(v1.version);
    expect(await readConnectionState(t.db, fx.connection.id)).toEqual([
      { type: 'STREAM', stream: { stream_descriptor: { name: 'orders' }, stream_state: { cursor: 7 } } },
      { type: 'STREAM', stream: { stream_descriptor: { name: 'users' }, stream_state: { cursor: 2 } } },
    ]);
    const mixed = await code(
      svc.reportState({ id, generation, states: [stream('a', 1), { type: 'LEGACY', data: {} }] }),
    );
    expect(mixed.code).toBe('BAD_REQUEST');

    // A reset starts a new generation: state still in flight from before it is refused.
    await t.db.connection.update({
      where: { id: fx.connection.id },
      data: { stateGeneration: { increment: 1 } },
    });
    await t.db.connectionState.deleteMany({ where: { connectionId: fx.connection.id } });
    const stale = await code(svc.reportState({ id, generation, states: [stream('users', 99)] }));
    expect(stale.code).toBe('CONFLICT');
    expect(await readConnectionState(t.db, fx.connection.id)).toEqual([]);

    await svc.succeed({ id });
    expect(
      await code(svc.reportState({ id, generation: generation + 1, states: [stream('u', 1)] })),
    ).toMatchObject({
      code: 'CONFLICT',
      status: 'success',
    });
  });

  it('keeps per-stream counters monotonic, from reports and heartbeats', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const id = testWorkloadId();
    await svc.create(syncWorkload(fx, { id }));
    await svc.claim({ id, launcherId: 'L1' });
    await svc.launched({ id, launcherId: 'L1' });
    await svc.running({ id });
    const users = { name: 'users', namespace: 'public' };
    await svc.reportStats({
      id,
      streams: [{ stream: users, recordsEmitted: 10, bytesEmitted: 1000, estimatedRecords: 50 }],
    });
    // A late, older snapshot never lowers a counter.
    await svc.heartbeat({
      id,
      stats: [
        { stream: users, recordsEmitted: 5, recordsCommitted: 4, estimatedRecords: 60 },
        { stream: { name: 'orders' }, recordsEmitted: 1 },
      ],
    });
    const rows = await t.db.streamStats.findMany({
      where: { attemptId: fx.attempt.id },
      orderBy: { streamName: 'asc' },
    });
    expect(rows.map((r) => [r.streamNamespace, r.streamName, r.recordsEmitted, r.recordsCommitted])).toEqual([
      ['', 'orders', 1n, 0n],
      ['public', 'users', 10n, 4n],
    ]);
    expect(rows[1]?.bytesEmitted).toBe(1000n);
    expect(rows[1]?.estimatedRecords).toBe(60n);
    expect(await code(svc.reportStats({ id, streams: [{ stream: { name: '' } }] }))).toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('appends log chunks idempotently and reads them in order', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const id = testWorkloadId();
    await svc.create(syncWorkload(fx, { id }));
    const chunk = (sequence: number) => ({ sequence, text: `line ${sequence}\n` });
    expect(
      await svc.appendLog({ id, writer: 'launcher', chunks: [{ sequence: 0, text: 'claimed\n' }] }),
    ).toEqual({
      attached: true,
      stored: 1,
    });
    expect(await svc.appendLog({ id, writer: 'middleware', chunks: [chunk(0), chunk(1), chunk(2)] })).toEqual(
      {
        attached: true,
        stored: 3,
      },
    );
    // A retried batch overlapping what was stored.
    expect(
      await svc.appendLog({
        id,
        writer: 'middleware',
        chunks: [chunk(1), chunk(2), { sequence: 3, text: 'a\u0000b' }],
      }),
    ).toEqual({ attached: true, stored: 1 });
    const first = await svc.readAttemptLog(fx.attempt.id);
    expect(first.entries.map((e) => [e.writer, e.sequence, e.text])).toEqual([
      ['launcher', 0, 'claimed\n'],
      ['middleware', 0, 'line 0\n'],
      ['middleware', 1, 'line 1\n'],
      ['middleware', 2, 'line 2\n'],
      ['middleware', 3, 'a\uFFFDb'],
    ]);
    expect(first.more).toBe(false);
    expect((await svc.readAttemptLog(fx.attempt.id, { cursor: first.cursor })).entries).toEqual([]);
    expect((await t.db.attempt.findUniqueOrThrow({ where: { id: fx.attempt.id } })).logLocation).toBe('db');

    const noAttempt = testWorkloadId();
    await svc.create(checkWorkload(fx, { id: noAttempt }));
    expect(await svc.appendLog({ id: noAttempt, writer: 'middleware', chunks: [chunk(0)] })).toEqual({
      attached: false,
      stored: 0,
    });
  });

  it('reads an attempt log with a cursor that is exact under concurrent writers', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const attemptId = fx.attempt.id;
    const text = (w: string, n: number) => `${w} ${n}\n`;
    const append = (writer: 'middleware' | 'api' | 'launcher' | 'platform', ...ns: number[]) =>
      svc.appendAttemptLog(
        attemptId,
        writer,
        ns.map((n) => ({ sequence: n, text: text(writer, n) })),
      );
    const seen: string[] = [];
    const readAll = async (cursor: string | null, limit = 1000) => {
      let c = cursor;
      for (;;) {
        const page = await svc.readAttemptLog(attemptId, { cursor: c, limit });
        seen.push(...page.entries.map((e) => e.text));
        c = page.cursor;
        if (!page.more) return c;
      }
    };
    await append('middleware', 0);
    await append('launcher', 0);
    let cursor = await readAll(null);
    expect(seen).toEqual(['middleware 0\n', 'launcher 0\n']);
    // Written after the launcher's chunk: a cursor over the raw number (launcher range above
    // the middleware's) would never return these.
    await append('middleware', 1, 2);
    await append('api', 0);
    // A chunk whose transaction started before the last read but committed after it: its
    // timestamp is older than chunks already read.
    await t.db.attemptLogChunk.create({
      data: { attemptId, sequence: 1_500_000_000, text: 'platform 0\n', createdAt: new Date(0) },
    });
    cursor = await readAll(cursor);
    expect(seen).toEqual([
      'middleware 0\n',
      'launcher 0\n',
      'platform 0\n',
      'middleware 1\n',
      'middleware 2\n',
      'api 0\n',
    ]);
    // Small pages: every chunk exactly once, each writer's in order.
    await append('launcher', 1, 2, 3);
    await append('middleware', 3, 4);
    const before = seen.length;
    await readAll(cursor, 2);
    expect(seen.slice(before).sort()).toEqual(
      ['launcher 1\n', 'launcher 2\n', 'launcher 3\n', 'middleware 3\n', 'middleware 4\n'].sort(),
    );
    const launcherLines = seen.filter((l) => l.startsWith('launcher'));
    expect(launcherLines).toEqual(['launcher 0\n', 'launcher 1\n', 'launcher 2\n', 'launcher 3\n']);
    expect(new Set(seen).size).toBe(seen.length);

    expect(await code(svc.readAttemptLog(attemptId, { cursor: 'not-a-cursor' }))).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('cursor'),
    });
    const other = await createWorkloadFixtures(t.db);
    expect(await code(svc.readAttemptLog(other.attempt.id, { cursor }))).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('another attempt'),
    });
  });

  it('keeps the lines of every workload of an attempt (a sync runs a discover first)', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const discover = testWorkloadId();
    const sync = testWorkloadId();
    await svc.create(checkWorkload(fx, { id: discover, type: 'discover', attemptId: fx.attempt.id }));
    await svc.create(syncWorkload(fx, { id: sync, attemptId: fx.attempt.id }));
    const chunk = (w: string, n: number) => ({ sequence: n, text: `${w} ${n}\n` });
    // Both workloads' middleware and launcher number their chunks from 0.
    await svc.appendLog({ id: discover, writer: 'launcher', chunks: [chunk('discover launcher', 0)] });
    await svc.appendLog({
      id: discover,
      writer: 'middleware',
      chunks: [chunk('discover', 0), chunk('discover', 1)],
    });
    const first = await svc.readAttemptLog(fx.attempt.id);
    await svc.appendLog({ id: sync, writer: 'launcher', chunks: [chunk('sync launcher', 0)] });
    await svc.appendLog({ id: sync, writer: 'middleware', chunks: [chunk('sync', 0), chunk('sync', 1)] });
    // A late line of the first workload's launcher, after the second's were written.
    await svc.appendLog({ id: discover, writer: 'launcher', chunks: [chunk('discover launcher', 1)] });
    const next = await svc.readAttemptLog(fx.attempt.id, { cursor: first.cursor });
    expect(first.entries.map((e) => e.text)).toEqual([
      'discover launcher 0\n',
      'discover 0\n',
      'discover 1\n',
    ]);
    expect(next.entries.map((e) => [e.writer, e.sequence, e.text])).toEqual([
      ['launcher', 0, 'sync launcher 0\n'],
      ['middleware', 0, 'sync 0\n'],
      ['middleware', 1, 'sync 1\n'],
      ['launcher', 1, 'discover launcher 1\n'],
    ]);
    // Each workload numbers from 0 in a slot of its own.
    expect(next.entries[1]!.slot).not.toBe(first.entries[1]!.slot);
    expect((await svc.readAttemptLog(fx.attempt.id, { cursor: next.cursor })).entries).toEqual([]);
    expect((await svc.readAttemptLog(fx.attempt.id)).entries).toHaveLength(7);
  });

  it('validates, seals and stores a CONTROL config update', async () => {
    const fx = await createWorkloadFixtures(t.db);
    const id = testWorkloadId();
    await svc.create(syncWorkload(fx, { id }));
    await svc.claim({ id, launcherId: 'L1' });
    await svc.launched({ id, launcherId: 'L1' });
    await svc.running({ id });
    const bad = await code(svc.updateConnectorConfig({ id, role: 'source', config: { api_key: 'x' } }));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/host: is required/);
    expect(bad.message).not.toContain('"x"');

    await svc.updateConnectorConfig({
      id,
      role: 'source',
      config: { host: 'h2', api_key: 'k2', refresh_token: 'fresh-token-abc' },
    });
    const raw = await t.db.$queryRaw<
      { config: string }[]
    >`SELECT config::text FROM sources WHERE id = ${fx.source.id}::uuid`;
    expect(raw[0]?.config).not.toContain('fresh-token-abc');
    expect(raw[0]?.config).toContain('h2');
    const stored = await t.db.source.findUniqueOrThrow({ where: { id: fx.source.id } });
    expect(secrets.open(stored.config)).toEqual({
      host: 'h2',
      api_key: 'k2',
      refresh_token: 'fresh-token-abc',
    });

    await svc.succeed({ id });
    expect(
      await code(svc.updateConnectorConfig({ id, role: 'source', config: { host: 'h3', api_key: 'k3' } })),
    ).toMatchObject({ code: 'CONFLICT' });
  });
});
