import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogOf,
  connectionState,
  connectorBin,
  killGroup,
  type MiddlewareHarness,
  outputOf,
  prepareSync,
  readJsonl,
  runMiddleware,
  runSync,
  type SyncSetup,
  startHarness,
  TEST_TIMEOUTS,
  waitFor,
} from './harness';

let mh: MiddlewareHarness;
beforeAll(async () => {
  mh = await startHarness();
});
afterAll(async () => {
  await mh?.close();
});

describe('a killed middleware', () => {
  it('is failed by the sweeper, and the retry resumes from the last committed state with no gap', async () => {
    const count = 300_000;
    const dir = path.join(mh.root, 'resume');
    const setup: SyncSetup = {
      source: {
        command: connectorBin('source-faker'),
        config: { count, seed: 3, records_per_slice: 1_000, always_updated: false },
      },
      destination: { command: connectorBin('destination-local-jsonl'), config: { destination_path: dir } },
      catalog: catalogOf([{ name: 'users' }], { sync: 'incremental', dest: 'append' }),
    };
    const first = await prepareSync(mh, setup);
    const run = runMiddleware(mh, first.id, first.workDir);
    const connectionId = first.fixtures.connection.id;
    const committed = async () => {
      const s = (await connectionState(mh, connectionId))[0]?.state as { id: number } | undefined;
      return s?.id;
    };
    const at = await waitFor(
      async () => ((await committed()) ?? 0) >= 10_000 && committed(),
      'a committed state past 10,000',
      60_000,
    );
    // The host is lost: the middleware and its connectors die at once.
    killGroup(run.child);
    await run.done;
    expect(at).toBeLessThan(count);
    expect((await mh.svc.get(first.id)).status).toBe('running');

    // No heartbeat: the sweeper fails the workload once its deadline passes (a heartbeat the API
    // took in after the kill moved it on: polled, not a fixed wait).
    const swept = await waitFor(
      async () => {
        const r = await mh.svc.sweep();
        return r.failed.some((w) => w.id === first.id) && r;
      },
      'the sweeper to fail the workload',
      TEST_TIMEOUTS.heartbeatTimeoutMs! + 20_000,
    );
    expect(swept.failed.map((w) => w.id)).toContain(first.id);
    const resumedFrom = (await committed())!;

    const second = await runSync(mh, { ...setup, fixtures: first.fixtures, attemptNumber: 1 });
    expect(second.workload.status, second.workload.terminationReason ?? '').toBe('success');
    expect(
      (second.inputState[0] as unknown as { stream: { stream_state: { id: number } } }).stream.stream_state
        .id,
    ).toBe(resumedFrom);
    expect(outputOf(second.workload).recordsEmitted).toBe(count - resumedFrom);

    // At least once: records after the last committed state may appear twice, none is missing.
    const seen = new Uint8Array(count + 1);
    for (const row of readJsonl(path.join(dir, 'users.jsonl')))
      seen[(row._airbyte_data as { id: number }).id] = 1;
    const missing: number[] = [];
    for (let id = 1; id <= count; id++) if (!seen[id]) missing.push(id);
    expect(missing).toEqual([]);
    expect(await committed()).toBe(count);
  });
});
