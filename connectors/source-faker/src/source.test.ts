import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  byType,
  configuredCatalog,
  type Message,
  runConnector,
  scratchDir,
  sharedDir,
  traceErrors,
} from '@sluice/protocol/testing';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'source-faker.js');
const reference = (file: string) =>
  JSON.parse(readFileSync(join(sharedDir(), 'reference', 'source-faker', file), 'utf8'));

const files = scratchDir('sluice-faker-');
afterAll(() => files.remove());

const read = async (config: object, catalog: object, state?: object) => {
  const args = [
    'read',
    '--config',
    files.json(`c-${Math.random()}.json`, config),
    '--catalog',
    files.json(`k-${Math.random()}.json`, catalog),
  ];
  if (state) args.push('--state', files.json(`s-${Math.random()}.json`, state));
  const r = await runConnector(BIN, args);
  expect(r.code, r.stdout.slice(-2000) + r.stderr).toBe(0);
  return r;
};
const records = (messages: Message[], stream?: string) =>
  byType(messages, 'RECORD')
    .map((m) => m.record)
    .filter((r) => !stream || r.stream === stream);
const states = (messages: Message[]) => byType(messages, 'STATE').map((m) => m.state);

describe('source-faker', () => {
  it('spec is Airbyte’s faker spec', async () => {
    const r = await runConnector(BIN, ['spec']);
    expect(r.code).toBe(0);
    expect(r.messages[0]?.spec).toEqual(reference('spec.json'));
  });

  it('check validates the config against the spec', async () => {
    const ok = await runConnector(BIN, ['check', '--config', files.json('ok.json', { count: 10 })]);
    expect(ok.messages[0]?.connectionStatus).toEqual({ status: 'SUCCEEDED' });
    const bad = await runConnector(BIN, [
      'check',
      '--config',
      files.json('bad.json', { count: 0, seed: 'x' }),
    ]);
    expect(bad.code).toBe(0);
    expect(bad.messages[0]?.connectionStatus.status).toBe('FAILED');
    expect(bad.messages[0]?.connectionStatus.message).toBe(
      'Config validation error: count: must be >= 1; seed: must be integer',
    );
  });

  it('discover lists users, products and purchases with Airbyte’s schemas', async () => {
    const r = await runConnector(BIN, ['discover', '--config', files.json('d.json', { count: 10 })]);
    const streams = r.messages[0]?.catalog.streams;
    expect(streams.map((s: { name: string }) => s.name)).toEqual(['users', 'products', 'purchases']);
    for (const s of streams) {
      expect(s.json_schema).toEqual(reference(`${s.name}.json`));
      expect(s).toMatchObject({
        source_defined_cursor: true,
        default_cursor_field: ['updated_at'],
        source_defined_primary_key: [['id']],
      });
    }
    const bad = await runConnector(BIN, ['discover', '--config', files.json('dbad.json', { count: -1 })]);
    expect(bad.code).toBe(1);
    expect(traceErrors(bad.messages)[0]).toMatchObject({
      failure_type: 'config_error',
      message: 'Config validation error: count: must be >= 1',
    });
  });

  it('reads users in slices, with a state after each slice, statuses and an estimate', async () => {
    const r = await read({ count: 2500, seed: 7, records_per_slice: 1000 }, configuredCatalog(['users']));
    const users = records(r.messages);
    expect(users.map((u) => u.data.id)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    expect(states(r.messages).map((s) => [s.stream.stream_state, s.sourceStats.recordCount])).toEqual([
      [{ updated_at: '2023-01-01T00:16:40+00:00', id: 1000 }, 1000],
      [{ updated_at: '2023-01-01T00:33:20+00:00', id: 2000 }, 1000],
      [{ updated_at: '2023-01-01T00:41:40+00:00', id: 2500 }, 500],
    ]);
    const traces = r.messages.filter((m) => m.type === 'TRACE').map((m) => m.trace);
    expect(traces.map((t) => t.stream_status?.status ?? t.type)).toEqual([
      'STARTED',
      'ESTIMATE',
      'RUNNING',
      'COMPLETE',
    ]);
    expect(traces[1].estimate).toEqual({ name: 'users', type: 'STREAM', row_estimate: 2500 });
  });

  it('keeps the namespace the catalog gives a stream', async () => {
    const r = await read({ count: 3, seed: 1 }, configuredCatalog(['users'], { namespace: 'demo' }));
    expect(records(r.messages).map((x) => x.namespace)).toEqual(['demo', 'demo', 'demo']);
    expect(states(r.messages)[0].stream.stream_descriptor).toEqual({ name: 'users', namespace: 'demo' });
  });

  it('is deterministic for a seed', async () => {
    const config = { count: 300, seed: 1234, records_per_slice: 100 };
    const catalog = configuredCatalog(['users', 'products', 'purchases']);
    const [a, b] = await Promise.all([read(config, catalog), read(config, catalog)]);
    const data = (m: Message[]) => records(m).map((r) => JSON.stringify([r.stream, r.data]));
    expect(data(a.messages)).toEqual(data(b.messages));
    const other = await read({ ...config, seed: 4321 }, catalog);
    expect(data(other.messages)).not.toEqual(data(a.messages));
  });

  it('emits products and purchases that reference existing users and products', async () => {
    const r = await read(
      { count: 400, seed: 3, records_per_slice: 50 },
      configuredCatalog(['users', 'products', 'purchases']),
    );
    expect(records(r.messages, 'users')).toHaveLength(400);
    expect(records(r.messages, 'products').map((p) => p.data.id)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    const purchases = records(r.messages, 'purchases').map((p) => p.data);
    expect(purchases.length).toBeGreaterThan(400);
    expect(purchases.map((p) => p.id)).toEqual(Array.from({ length: purchases.length }, (_, i) => i + 1));
    for (const p of purchases) {
      expect(p.user_id).toBeGreaterThanOrEqual(1);
      expect(p.user_id).toBeLessThanOrEqual(400);
      expect(p.product_id).toBeLessThanOrEqual(100);
    }
    // Purchase slices end between users: every state's user has all purchases before it.
    const last = states(r.messages)
      .filter((s) => s.stream.stream_descriptor.name === 'purchases')
      .at(-1);
    expect(last.stream.stream_state).toMatchObject({ user_id: 400, id: purchases.length });
  });

  it('resumes incrementally from state, reproducing exactly the remaining records', async () => {
    const config = { count: 2500, seed: 11, records_per_slice: 1000 };
    const catalog = configuredCatalog(['users', 'purchases']);
    const full = await read(config, catalog);
    const checkpoint = states(full.messages).filter((s) => s.stream.stream_descriptor.name === 'users')[0];
    const purchasesCheckpoint = states(full.messages).filter(
      (s) => s.stream.stream_descriptor.name === 'purchases',
    )[1];
    const resumed = await read(config, catalog, [
      { type: 'STREAM', stream: checkpoint.stream },
      { type: 'STREAM', stream: purchasesCheckpoint.stream },
    ]);
    const strip = (m: Message[], s: string) => records(m, s).map((r) => JSON.stringify(r.data));
    expect(strip(resumed.messages, 'users')).toEqual(strip(full.messages, 'users').slice(1000));
    const skipped = purchasesCheckpoint.stream.stream_state.id;
    expect(strip(resumed.messages, 'purchases')).toEqual(strip(full.messages, 'purchases').slice(skipped));
  });

  it('after a complete sync: always_updated re-emits everything later, otherwise nothing', async () => {
    const catalog = configuredCatalog(['users']);
    const done = [
      {
        type: 'STREAM',
        stream: {
          stream_descriptor: { name: 'users' },
          stream_state: { updated_at: '2023-01-01T00:01:40+00:00', id: 100 },
        },
      },
    ];
    const again = await read({ count: 100, seed: 5, always_updated: true }, catalog, done);
    const users = records(again.messages);
    expect(users).toHaveLength(100);
    expect(users[0].data.updated_at).toBe('2023-01-01T00:01:41+00:00');
    expect(states(again.messages).at(-1).stream.stream_state).toEqual({
      updated_at: '2023-01-01T00:03:20+00:00',
      id: 100,
    });

    const still = await read({ count: 100, seed: 5, always_updated: false }, catalog, done);
    expect(records(still.messages)).toHaveLength(0);
    expect(states(still.messages).map((s) => s.stream.stream_state)).toEqual([done[0]!.stream.stream_state]);

    // Full refresh ignores state.
    const full = await read(
      { count: 100, seed: 5, always_updated: false },
      configuredCatalog(['users'], { syncMode: 'full_refresh' }),
      done,
    );
    expect(records(full.messages)).toHaveLength(100);
  });

  it('fails clearly on unknown streams and unusable state', async () => {
    const config = files.json('u.json', { count: 10 });
    const unknown = await runConnector(BIN, [
      'read',
      '--config',
      config,
      '--catalog',
      files.json('uc.json', configuredCatalog(['users', 'planets'])),
    ]);
    expect(unknown.code).toBe(1);
    expect(traceErrors(unknown.messages)[0]).toMatchObject({
      failure_type: 'config_error',
      message:
        'the catalog names stream "planets" that this source does not have; available streams: users, products, purchases',
    });
    const badState = await runConnector(BIN, [
      'read',
      '--config',
      config,
      '--catalog',
      files.json('bc.json', configuredCatalog(['users'])),
      '--state',
      files.json('bs.json', [
        { type: 'STREAM', stream: { stream_descriptor: { name: 'users' }, stream_state: { cursor: 'x' } } },
      ]),
    ]);
    expect(badState.code).toBe(1);
    expect(traceErrors(badState.messages)[0]?.message).toMatch(
      /^the saved state of stream "users" is not a faker cursor/,
    );
  });
});
