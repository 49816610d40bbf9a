// Launchers as separate processes sharing one host, one queue and one API: races, crashes
// (SIGKILL mid-run, SIGKILL between claim and launch), a killed middleware, graceful shutdown.
// Runs are counted by what the destination connector wrote, never by logs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ProcessRuntime } from '@sluice/runtime';
import { ensureDataplaneToken } from '@sluice/workload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleMiddleware,
  countLines,
  createWorkload,
  FAKER,
  FIXTURE_CONNECTOR,
  fakerCatalog,
  HERE,
  type LauncherProcess,
  LOCAL_JSONL,
  processGroupAlive,
  processGroupMembers,
  type Stack,
  spawnLauncher,
  startStack,
  syncInput,
  waitFor,
  waitStatus,
  waitTerminal,
} from './support';

let stack: Stack;
let mw: string;
const launchers = new Map<string, LauncherProcess>();
let runtime: ProcessRuntime;

const start = async (id: string, extra: Partial<Parameters<typeof spawnLauncher>[1]> = {}) => {
  const l = await spawnLauncher(stack, { id, middleware: mw, ...extra });
  launchers.set(id, l);
  return l;
};

beforeAll(async () => {
  stack = await startStack({ name: 'multi' });
  mw = await bundleMiddleware(stack.tmp);
  runtime = new ProcessRuntime({ workloadsRoot: path.join(stack.tmp, 'w') });
  await Promise.all(['m1', 'm2', 'm3'].map((id) => start(id)));
}, 120_000);

afterAll(async () => {
  for (const l of launchers.values()) if (l.child.exitCode === null) l.kill('SIGKILL');
  if (runtime) for (const id of await runtime.list()) await runtime.stop(id, { graceMs: 0 });
  await stack?.close();
}, 60_000);

const fakerConfig = { count: 200, seed: 3, records_per_slice: 50, parallelism: 1, always_updated: false };
const out = (name: string) => path.join(stack.tmp, 'out', name);
/** Append mode: a second run of the same workload would double the lines. */
const fakerSync = (dir: string) =>
  syncInput(
    stack,
    { command: FAKER, config: fakerConfig },
    { command: LOCAL_JSONL, config: { destination_path: dir } },
    fakerCatalog(),
  );
/** A source that emits 5 records, then takes `sleepMs` before it ends. */
const slowSync = (dir: string, sleepMs: number) =>
  syncInput(
    stack,
    { command: [process.execPath, FIXTURE_CONNECTOR], config: { count: 5, sleepMs } },
    { command: LOCAL_JSONL, config: { destination_path: dir } },
    fakerCatalog([{ name: 'numbers' }]),
  );

describe('several launcher processes', () => {
  it('three launchers racing for the same workloads run each exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 9; i++)
      ids.push(await createWorkload(stack, { type: 'sync', input: fakerSync(out(`race-${i}`)) }));
    const ended = await Promise.all(ids.map((id) => waitTerminal(stack, id, 60_000)));
    for (const w of ended) expect(w.status, w.terminationReason ?? '').toBe('success');
    for (let i = 0; i < ids.length; i++)
      expect(await countLines(path.join(out(`race-${i}`), 'users.jsonl'))).toBe(200);
    // Work was shared.
    expect(new Set(ended.map((w) => w.claimedBy)).size).toBeGreaterThanOrEqual(2);

    // Jobs delivered again (a requeue, a duplicate) find nothing to claim: nothing runs twice.
    for (const id of ids) await stack.queue.enqueue({ id, dataplaneGroup: 'default', priority: 0 });
    await waitFor(async () => (await stack.queue.counts('default')).waiting === 0, 'requeued jobs consumed');
    await new Promise((r) => setTimeout(r, 1_500));
    for (let i = 0; i < ids.length; i++)
      expect(await countLines(path.join(out(`race-${i}`), 'users.jsonl'))).toBe(200);
  }, 90_000);

  it('a workload completes when its launcher is killed with SIGKILL mid-run', async () => {
    const dir = out('sigkill');
    const id = await createWorkload(stack, { type: 'sync', input: slowSync(dir, 3_000) });
    const w = await waitStatus(stack, id, 'running');
    const victim = launchers.get(w.claimedBy!)!;
    const standbyDirs = () =>
      fs.readdirSync(path.join(stack.tmp, 'w')).filter((n) => n.startsWith(`.standby-${victim.child.pid}-`));
    expect(standbyDirs().length).toBeGreaterThanOrEqual(1);
    victim.kill('SIGKILL');
    await victim.exited;
    // Its standby middleware, never handed a workload, notices and goes.
    await waitFor(() => standbyDirs().length === 0, "the dead launcher's standby to go", 10_000);
    const done = await waitTerminal(stack, id);
    expect(done.status, done.terminationReason ?? '').toBe('success');
    expect(await countLines(path.join(dir, 'numbers.jsonl'))).toBe(5);
    // The survivors remove what it left on the host.
    await waitFor(
      () => !fs.existsSync(path.join(stack.tmp, 'w', id)),
      'the working directory to be removed',
      10_000,
    );
    launchers.delete(victim.id);
    await start(`${victim.id}b`);
  }, 60_000);

  it('a launcher killed between claim and launch: the claim expires, the retry runs once elsewhere', async () => {
    // Its own group, so the stalling launcher is the one that claims.
    const token = `sluice_dp_${randomBytes(32).toString('base64url')}`;
    await ensureDataplaneToken(stack.h.db, { token, group: 'stall' });
    const marker = path.join(stack.tmp, 'stalled');
    const stalling = await start('stall-1', {
      entry: path.join(HERE, 'fixtures/stalling-launcher.ts'),
      env: { SLUICE_DATAPLANE_TOKEN: token, SLUICE_DATAPLANE_GROUP: 'stall', STALL_MARKER: marker },
    });
    const dir = out('stall');
    const first = await createWorkload(stack, {
      type: 'sync',
      dataplaneGroup: 'stall',
      mutexKey: `connection:${stack.f.connection.id}`,
      input: fakerSync(dir),
    });
    await waitFor(() => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === first, 'the claim');
    stalling.kill('SIGKILL');
    await stalling.exited;
    expect(await stack.h.db.workload.findUniqueOrThrow({ where: { id: first } })).toMatchObject({
      status: 'claimed',
      claimedBy: 'stall-1',
    });
    await start('stall-2', { env: { SLUICE_DATAPLANE_TOKEN: token, SLUICE_DATAPLANE_GROUP: 'stall' } });

    // The sweeper (the worker's job in production) fails it once the claim deadline passed.
    await waitFor(
      async () => (await stack.svc.sweep()).failed.some((w) => w.id === first),
      'the sweeper',
      20_000,
      250,
    );
    const failed = await stack.h.db.workload.findUniqueOrThrow({ where: { id: first } });
    expect(failed).toMatchObject({ status: 'failure', terminationSource: 'sweeper', launchedAt: null });
    expect(failed.terminationReason).toMatch(/not launched within .* claimed by launcher stall-1/);

    // The sync's retry: a new workload of the same connection, run once by the other launcher.
    const retry = await createWorkload(stack, {
      type: 'sync',
      dataplaneGroup: 'stall',
      mutexKey: `connection:${stack.f.connection.id}`,
      input: fakerSync(dir),
    });
    const w = await waitTerminal(stack, retry);
    expect(w).toMatchObject({ status: 'success', claimedBy: 'stall-2' });
    expect(await countLines(path.join(dir, 'users.jsonl'))).toBe(200);
    expect(fs.existsSync(path.join(stack.tmp, 'w', first))).toBe(false);
  }, 90_000);

  it('the middleware killed: heartbeats stop, the sweeper fails the workload, leftovers go, the retry runs', async () => {
    const dir = out('mw-killed');
    const id = await createWorkload(stack, { type: 'sync', input: slowSync(dir, 60_000) });
    await waitStatus(stack, id, 'running');
    const workDir = path.join(stack.tmp, 'w', id);
    const { pid, pgid } = JSON.parse(await fsp.readFile(path.join(workDir, 'middleware.pid'), 'utf8'));
    await waitFor(() => processGroupMembers(pgid).length >= 3, 'the connectors to start');
    process.kill(pid, 'SIGKILL');

    await waitFor(
      async () => (await stack.svc.sweep()).failed.some((w) => w.id === id),
      'the sweeper',
      20_000,
      250,
    );
    const w = await stack.h.db.workload.findUniqueOrThrow({ where: { id } });
    expect(w).toMatchObject({ status: 'failure', terminationSource: 'sweeper' });
    expect(w.terminationReason).toMatch(/no heartbeat for 3s/);
    // The orphaned source is stopped and the working directory removed by a launcher.
    await waitFor(() => !processGroupAlive(pgid) && !fs.existsSync(workDir), 'leftovers removed', 15_000);

    const retry = await createWorkload(stack, { type: 'sync', input: slowSync(dir, 0) });
    expect((await waitTerminal(stack, retry)).status).toBe('success');
  }, 90_000);

  it('SIGTERM stops a launcher gracefully while its workload keeps running to the end', async () => {
    const dir = out('sigterm');
    const id = await createWorkload(stack, { type: 'sync', input: slowSync(dir, 2_500) });
    const w = await waitStatus(stack, id, 'running');
    const l = launchers.get(w.claimedBy!)!;
    const standbyDirs = () =>
      fs.readdirSync(path.join(stack.tmp, 'w')).filter((n) => n.startsWith(`.standby-${l.child.pid}-`));
    expect(standbyDirs().length).toBeGreaterThanOrEqual(1);
    const t0 = Date.now();
    l.kill('SIGTERM');
    expect(await l.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // Its standby middleware went with it.
    expect(standbyDirs()).toEqual([]);
    expect(fs.readFileSync(l.logFile, 'utf8')).toContain('launcher stopped; its workloads keep running');
    launchers.delete(l.id);
    const done = await waitTerminal(stack, id);
    expect(done.status, done.terminationReason ?? '').toBe('success');
    expect(await countLines(path.join(dir, 'numbers.jsonl'))).toBe(5);
  }, 60_000);
});
