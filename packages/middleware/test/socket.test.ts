import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogOf,
  connectionState,
  connectorBin,
  fixture,
  type MiddlewareHarness,
  outputOf,
  readJsonl,
  runSync,
  type SyncSetup,
  startHarness,
} from './harness';

let mh: MiddlewareHarness;
beforeAll(async () => {
  mh = await startHarness();
});
afterAll(async () => {
  await mh?.close();
});

const faker = (count: number, slice: number) => ({
  command: connectorBin('source-faker'),
  config: { count, seed: 42, records_per_slice: slice, always_updated: false },
});
const localJsonl = (dir: string) => ({
  command: connectorBin('destination-local-jsonl'),
  config: { destination_path: dir },
});
const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => (r._airbyte_data as { id: number }).id);

describe('socket mode', () => {
  for (const sockets of [1, 4]) {
    it(`moves every record over ${sockets} socket(s) and persists the final state`, async () => {
      const dir = path.join(mh.root, `socket-${sockets}`);
      const r = await runSync(mh, {
        source: faker(20_000, 1_000),
        destination: localJsonl(dir),
        catalog: catalogOf([{ name: 'users' }], { sync: 'incremental', dest: 'append' }),
        socketCount: sockets,
      });
      expect(r.workload.status, r.workload.terminationReason ?? r.result.stderr).toBe('success');
      const got = ids(readJsonl(path.join(dir, 'users.jsonl'))).sort((a, b) => a - b);
      expect(got).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
      const state = await connectionState(mh, r.fixtures.connection.id);
      expect(state.map((s) => [s.streamName, (s.state as { id: number }).id])).toEqual([['users', 20_000]]);
      expect(outputOf(r.workload)).toMatchObject({
        mode: 'socket',
        socketCount: sockets,
        recordsCommitted: 20_000,
        statesCommitted: 20,
        streams: [{ stream: { name: 'users' }, recordsEmitted: 20_000, recordsCommitted: 20_000 }],
      });
    });
  }

  it('persists states in id order when echoes arrive out of order across sockets', async () => {
    const r = await runSync(mh, {
      source: faker(10_000, 500),
      destination: { command: fixture('destination.mjs'), config: { echo_order: 'reverse-pairs' } },
      catalog: catalogOf([{ name: 'users' }], { sync: 'incremental' }),
      socketCount: 4,
    });
    expect(r.workload.status, r.workload.terminationReason ?? '').toBe('success');
    const state = await connectionState(mh, r.fixtures.connection.id);
    expect(state.map((s) => (s.state as { id: number }).id)).toEqual([10_000]);
    expect(outputOf(r.workload)).toMatchObject({ statesCommitted: 20, recordsCommitted: 10_000 });
  });

  it('gives the same rows and final state as stdio mode for the same input', async () => {
    const run = async (mode: 'stdio' | 'socket') => {
      const dir = path.join(mh.root, `same-${mode}`);
      const setup: SyncSetup = {
        source: faker(3_000, 250),
        destination: localJsonl(dir),
        catalog: catalogOf([{ name: 'users' }, { name: 'purchases' }], {
          sync: 'incremental',
          dest: 'append',
        }),
        mapping: {
          streams: [
            { source: { name: 'users' }, destination: { name: 'x_users' } },
            { source: { name: 'purchases' }, destination: { name: 'x_purchases' } },
          ],
        },
        ...(mode === 'socket' ? { socketCount: 2 } : {}),
      };
      const r = await runSync(mh, setup);
      expect(r.workload.status, r.workload.terminationReason ?? '').toBe('success');
      expect(outputOf(r.workload).mode).toBe(mode);
      const rows = (stream: string) =>
        readJsonl(path.join(dir, `${stream}.jsonl`))
          .map((x) => JSON.stringify(x._airbyte_data))
          .sort();
      const state = (await connectionState(mh, r.fixtures.connection.id)).map((s) => [
        s.type,
        s.streamName,
        s.state,
      ]);
      return { users: rows('x_users'), purchases: rows('x_purchases'), state };
    };
    const stdio = await run('stdio');
    const socket = await run('socket');
    expect(stdio.users).toHaveLength(3_000);
    expect(stdio.purchases.length).toBeGreaterThan(1_000);
    expect(socket.users).toEqual(stdio.users);
    expect(socket.purchases).toEqual(stdio.purchases);
    expect(socket.state).toEqual(stdio.state);
  });
});
