// The data plane end to end on the process runtime (a real API server, the launcher, the bundled
// middleware, real connectors), as users and operators see it through the API: attempt logs
// followed with job.attemptLog's cursor, job stats, the fleet.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { AttemptLogWriter } from '@sluice/api';
import { createTestUser } from '@sluice/api/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningLauncher } from '../src/index';
import {
  bundleConnector,
  bundleMiddleware,
  FIXTURE_CONNECTOR,
  fakerCatalog,
  HERE,
  LOCAL_JSONL,
  launch,
  newAttempt,
  type Stack,
  startStack,
  syncInput,
  waitFor,
  waitStatus,
  waitTerminal,
  wid,
} from './support';

const CHATTY = [process.execPath, path.join(HERE, 'fixtures/chatty-source.mjs')];

let stack: Stack;
let launcher: RunningLauncher;
let reader: string;
let admin: string;
/** Built from source, with this workspace's SDK. */
let faker: string[];
let localJsonl: string[];

beforeAll(async () => {
  stack = await startStack({ name: 'dataplane' });
  const mw = await bundleMiddleware(stack.tmp);
  faker = await bundleConnector('source-faker', stack.tmp);
  localJsonl = await bundleConnector('destination-local-jsonl', stack.tmp);
  launcher = await launch(stack, {
    launcherId: 'dp-L1',
    middlewareCommand: [process.execPath, mw],
    concurrency: 4,
    fleetIntervalMs: 200,
  });
  reader = (await createTestUser(stack.h.db, { workspaceId: stack.f.workspace.id, role: 'reader' })).token;
  admin = (await createTestUser(stack.h.db, { isInstanceAdmin: true })).token;
}, 120_000);

afterAll(async () => {
  await launcher?.stop({ timeoutMs: 5_000 });
  if (launcher)
    for (const id of await launcher.runtime.list()) await launcher.runtime.stop(id, { graceMs: 0 });
  await stack?.close();
});

const jobOf = async (attemptId: string) =>
  (await stack.h.db.attempt.findUniqueOrThrow({ where: { id: attemptId } })).jobId;

/** Reads an attempt's log through the API from `cursor` to what is stored now. */
async function readLog(jobId: string, cursor: string | null = null) {
  const client = stack.h.client(reader);
  const chunks: Array<{ writer: string; slot: number; sequence: number; text: string }> = [];
  for (;;) {
    const page = await client.job.attemptLog.query({ jobId, cursor, limit: 50 });
    chunks.push(...page.chunks);
    cursor = page.cursor;
    if (page.chunks.length < 50) return { chunks, cursor, text: chunks.map((c) => c.text).join('') };
  }
}

async function createWithAttempt(type: 'check' | 'discover' | 'sync', input: object, attemptId: string) {
  const id = wid(type);
  await stack.svc.create({ id, type, input: input as never, attemptId });
  return id;
}

describe('attempt logs', () => {
  it("carries a connector's LOG messages and stderr lines for check and discover, beside the API's lines", async () => {
    for (const type of ['check', 'discover'] as const) {
      // As the API runs a connector job: its own lines go to the attempt first (chunk 0 of its
      // writer), then the workload's middleware and launcher write theirs, also from 0.
      const attemptId = await newAttempt(stack);
      const api = new AttemptLogWriter(stack.h.db, attemptId);
      api.append(`[platform] ${type} of Chatty started`);
      await api.flush();
      const id = await createWithAttempt(
        type,
        { connector: { actorType: 'source', command: CHATTY, config: {} } },
        attemptId,
      );
      const w = await waitTerminal(stack, id);
      expect(w.status, w.terminationReason ?? '').toBe('success');
      api.append(`[platform] ${type} finished`);
      expect(await api.close()).toBeNull();
      // The launcher sends its lines in the background: they may be stored after the workload ended.
      const jobId = await jobOf(attemptId);
      const { text, chunks } = await waitFor(async () => {
        const log = await readLog(jobId);
        return /launcher\(dp-L1\) > launched on the process runtime/.test(log.text) && log;
      }, "the launcher's launch line");
      expect(text).toContain(`[platform] ${type} of Chatty started`);
      expect(text).toContain(`[platform] ${type} finished`);
      expect(text).toMatch(/launcher\(dp-L1\) > claimed workload/);
      expect(text).toContain(`connector > INFO chatty LOG message during ${type}`);
      expect(text).toContain(`connector > chatty stderr line during ${type}`);
      expect(new Set(chunks.map((c) => c.writer))).toEqual(new Set(['api', 'launcher', 'middleware']));
    }
  });

  it("carries a sync's connector lines after its discover's, and a follower with the cursor gets every chunk once", async () => {
    const out = path.join(stack.tmp, 'out-chatty');
    const attemptId = await newAttempt(stack);
    const jobId = await jobOf(attemptId);
    // The worker runs a discover of the source in the sync's attempt first: a second workload
    // whose middleware and launcher also number their chunks from 0.
    const discover = await createWithAttempt(
      'discover',
      { connector: { actorType: 'source', command: CHATTY, config: {} } },
      attemptId,
    );
    expect((await waitTerminal(stack, discover)).status).toBe('success');
    const id = await createWithAttempt(
      'sync',
      syncInput(
        stack,
        { command: CHATTY, config: { count: 7 } },
        { command: LOCAL_JSONL, config: { destination_path: out } },
        fakerCatalog([{ name: 'users' }]),
      ),
      attemptId,
    );
    // Follow while it runs, as `sluice logs --follow` and the dashboard do.
    let cursor: string | null = null;
    const followed: Array<{ writer: string; slot: number; sequence: number; text: string }> = [];
    const ended = async () =>
      ['success', 'failure', 'cancelled'].includes(
        (await stack.h.db.workload.findUniqueOrThrow({ where: { id } })).status,
      );
    for (let done = false; !done; ) {
      done = await ended();
      const page = await readLog(jobId, cursor);
      followed.push(...page.chunks);
      cursor = page.cursor;
      if (!done) await new Promise((r) => setTimeout(r, 30));
    }
    const w = await waitTerminal(stack, id);
    expect(w.status, w.terminationReason ?? '').toBe('success');
    // The launcher may still be flushing its last line (the launch line of each workload).
    await waitFor(
      async () =>
        (await readLog(jobId)).text.match(/launcher\(dp-L1\) > launched on the process runtime/g)?.length ===
        2,
      "the launcher's launch lines of the discover and the sync",
    );
    followed.push(...(await readLog(jobId, cursor)).chunks);

    const all = await readLog(jobId);
    const key = (c: { writer: string; slot: number; sequence: number }) =>
      `${c.writer}:${c.slot}:${c.sequence}`;
    expect(followed.map(key).sort()).toEqual(all.chunks.map(key).sort());
    expect(new Set(followed.map(key)).size).toBe(followed.length);
    expect(all.text).toContain('connector > INFO chatty LOG message during discover');
    expect(all.text).toContain('source > INFO chatty LOG message during read');
    expect(all.text).toContain('source > chatty stderr line during read');
    expect(all.text).toMatch(/destination > INFO wrote 7 records/);
    expect(all.text).toMatch(/launcher\(dp-L1\) > launched on the process runtime/);
  });
});

describe('job stats', () => {
  for (const socket of [true, false]) {
    it(`counts the bytes a ${socket ? 'socket' : 'stdio'}-mode sync moved, about the bytes of the records`, async () => {
      const out = path.join(stack.tmp, `out-bytes-${socket}`);
      const count = 150;
      const attemptId = await newAttempt(stack);
      const id = await createWithAttempt(
        'sync',
        syncInput(
          stack,
          {
            command: faker,
            config: { count, seed: 3, records_per_slice: 40, parallelism: 1, always_updated: false },
            supportsSocket: socket,
          },
          { command: localJsonl, config: { destination_path: out }, supportsSocket: socket },
          fakerCatalog([{ name: 'users' }]),
        ),
        attemptId,
      );
      const w = await waitTerminal(stack, id);
      expect(w.status, w.terminationReason ?? '').toBe('success');
      expect((w.output as { mode?: string }).mode).toBe(socket ? 'socket' : 'stdio');
      const job = await stack.h.client(reader).job.get.query({ jobId: await jobOf(attemptId) });
      const totals = job.attempts.at(-1)!.totals;
      const lines = (await fsp.readFile(path.join(out, 'users.jsonl'), 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(count);
      const dataBytes = lines.reduce(
        (n, l) => n + Buffer.byteLength(JSON.stringify(JSON.parse(l)._airbyte_data)),
        0,
      );
      expect(totals.recordsEmitted).toBe(count);
      expect(totals.recordsCommitted).toBe(count);
      // The record lines as the source serialised them: the data plus a small envelope.
      expect(totals.bytesEmitted).toBeGreaterThanOrEqual(dataBytes);
      expect(totals.bytesEmitted).toBeLessThan(dataBytes * 1.4);
      expect(totals.bytesCommitted).toBe(totals.bytesEmitted);
    });
  }
});

describe('fleet', () => {
  it('shows this launcher with what it runs, and the middleware started with its node flags', async () => {
    const client = stack.h.client(admin);
    const me = async () =>
      (await client.workload.admin.fleet.query()).members.find(
        (m) => m.kind === 'launcher' && m.id === 'dp-L1',
      );
    // Earlier tests' workloads free their capacity within a capacity poll.
    await waitFor(async () => (await me())?.running === 0, 'no workload running here', 10_000);
    expect(await me()).toMatchObject({ dataplaneGroup: 'default', runtime: 'process', capacity: 4 });
    const id = wid('sync');
    const attemptId = await newAttempt(stack);
    await stack.svc.create({
      id,
      type: 'sync',
      attemptId,
      input: syncInput(
        stack,
        { command: [process.execPath, FIXTURE_CONNECTOR], config: { count: 3, sleepMs: 60_000 } },
        { command: [process.execPath, FIXTURE_CONNECTOR], config: {} },
        fakerCatalog([{ name: 'numbers' }]),
      ),
    });
    await waitStatus(stack, id, 'running');
    await waitFor(async () => (await me())?.running === 1, 'the fleet to show the running workload', 5_000);
    const active = await client.workload.admin.listActive.query({ limit: 1000 });
    expect(active.items.find((w) => w.id === id)).toMatchObject({
      status: 'running',
      claimedBy: 'dp-L1',
      jobId: await jobOf(attemptId),
      workspaceId: stack.f.workspace.id,
    });

    const { pid } = JSON.parse(await fsp.readFile(path.join(stack.tmp, 'w', id, 'middleware.pid'), 'utf8'));
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv.slice(0, 2)).toEqual([process.execPath, '--max-semi-space-size=4']);

    await stack.svc.cancel({ id, reason: 'test over', source: 'user' });
    await waitFor(async () => (await me())?.running === 0, 'the workload to leave the fleet count', 15_000);
  });
});
