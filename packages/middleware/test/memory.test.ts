import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogOf,
  connectorBin,
  fixture,
  type MiddlewareHarness,
  outputOf,
  prepareSync,
  rssMb,
  runMiddleware,
  startHarness,
  streamStats,
  waitFor,
} from './harness';

let mh: MiddlewareHarness;
beforeAll(async () => {
  mh = await startHarness();
});
afterAll(async () => {
  await mh?.close();
});

const LIMIT_MB = 150;

describe('bounded memory', () => {
  it('holds back a fast source behind a destination that sleeps 10 ms per record', async () => {
    const w = await prepareSync(mh, {
      source: {
        command: connectorBin('source-faker'),
        config: { count: 5_000_000, seed: 1, records_per_slice: 1_000 },
      },
      destination: { command: fixture('destination.mjs'), config: { sleep_per_record_ms: 10 } },
      catalog: catalogOf([{ name: 'users' }]),
    });
    const run = runMiddleware(mh, w.id, w.workDir);
    const samples: number[] = [];
    const until = Date.now() + 6_000;
    const atMost = Date.now() + 30_000;
    // Six seconds, and enough samples however late a loaded machine runs the timers.
    while (
      Date.now() < until ||
      (samples.length <= 40 && Date.now() < atMost && run.child.exitCode === null)
    ) {
      const mb = rssMb(run.child.pid!);
      if (mb !== undefined) samples.push(mb);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The heartbeats carry the counters: the source was held to what the pipes and one write
    // buffer hold, not the millions it has to send.
    const emitted = await waitFor(async () => {
      const stats = await streamStats(mh, w.fixtures.attempt.id);
      const n = Number(stats[0]?.recordsEmitted ?? 0);
      return n > 0 && n;
    }, 'counters from a heartbeat');
    expect(emitted).toBeGreaterThan(0);
    expect(emitted).toBeLessThan(30_000);

    // Cancelling reaches the middleware through its heartbeat; it stops the connectors.
    await mh.svc.cancel({ id: w.id, reason: 'test over', source: 'user' });
    const result = await run.done;
    expect(result.code).toBe(2);
    const wl = await mh.svc.get(w.id);
    expect(wl.status).toBe('cancelled');
    expect(wl.endedAt).not.toBeNull();
    expect(samples.length).toBeGreaterThan(40);
    expect(Math.max(...samples)).toBeLessThanOrEqual(LIMIT_MB);
  });

  it(`stays under ${LIMIT_MB} MB while carrying 300,000 records at full speed`, async () => {
    const w = await prepareSync(mh, {
      source: {
        command: connectorBin('source-faker'),
        config: { count: 300_000, seed: 1, records_per_slice: 1_000 },
      },
      destination: { command: connectorBin('destination-dev-null'), config: {} },
      catalog: catalogOf([{ name: 'users' }]),
    });
    const run = runMiddleware(mh, w.id, w.workDir);
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, rssMb(run.child.pid!) ?? 0);
    }, 50);
    const result = await run.done;
    clearInterval(timer);
    expect(result.code, result.stderr).toBe(0);
    expect(outputOf(await mh.svc.get(w.id))).toMatchObject({ recordsCommitted: 300_000 });
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(LIMIT_MB);
  });
});
