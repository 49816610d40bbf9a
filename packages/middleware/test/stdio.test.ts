import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { openConfig, startApiServer } from '@sluice/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attemptLog,
  catalogOf,
  connectionState,
  connectorBin,
  fixture,
  killGroup,
  type MiddlewareHarness,
  outputOf,
  prepareSync,
  readJsonl,
  runMiddleware,
  runSync,
  startHarness,
  streamStats,
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

const source = (config: Record<string, unknown>) => ({ command: fixture('source.mjs'), config });
const destination = (config: Record<string, unknown> = {}) => ({
  command: fixture('destination.mjs'),
  config,
});

describe('stdio mode', () => {
  it('routes records and states and persists the echoed state, with per-stream stats', async () => {
    const out = path.join(mh.root, 'basic.jsonl');
    const r = await runSync(mh, {
      source: source({ records: 23, per_slice: 5, streams: [{ name: 'a' }, { name: 'b' }] }),
      destination: destination({ output_path: out }),
      catalog: catalogOf([{ name: 'a' }, { name: 'b' }]),
    });
    expect(r.result.code, r.result.stderr).toBe(0);
    expect(r.workload.status).toBe('success');
    expect(readJsonl(out)).toHaveLength(46);
    const state = await connectionState(mh, r.fixtures.connection.id);
    expect(state.map((s) => [s.type, s.streamName, s.state])).toEqual([
      ['STREAM', 'a', { last_id: 23 }],
      ['STREAM', 'b', { last_id: 23 }],
    ]);
    expect(outputOf(r.workload)).toMatchObject({
      type: 'sync',
      status: 'succeeded',
      mode: 'stdio',
      recordsEmitted: 46,
      recordsCommitted: 46,
      statesEmitted: 10,
      statesCommitted: 10,
      streamStatuses: { a: 'COMPLETE', b: 'COMPLETE' },
    });
    const stats = await streamStats(mh, r.fixtures.attempt.id);
    expect(
      stats.map((s) => [
        s.streamName,
        Number(s.recordsEmitted),
        Number(s.recordsCommitted),
        Number(s.estimatedRecords),
      ]),
    ).toEqual([
      ['a', 23, 23, 23],
      ['b', 23, 23, 23],
    ]);
    const log = await attemptLog(mh, r.fixtures.attempt.id);
    expect(log).toContain('source > INFO read done: 10 states');
    expect(log).toContain('destination > INFO write done: 46 records, 10 states');
    expect(log).toContain('replication succeeded');
  });

  it('persists a state only once the destination echoes it; a state received but not echoed is lost', async () => {
    const markers = path.join(mh.root, 'markers-echo');
    const w = await prepareSync(mh, {
      source: source({ records: 30, per_slice: 5 }),
      destination: destination({ marker_dir: markers, first_echo_delay_ms: 3000, hold_state: 3 }),
      catalog: catalogOf([{ name: 'items' }]),
    });
    const run = runMiddleware(mh, w.id, w.workDir);
    const connectionId = w.fixtures.connection.id;
    await waitFor(
      () => fs.existsSync(path.join(markers, 'received-1')),
      'the first state to reach the destination',
    );
    // The destination holds its first echo for 3 s: meanwhile nothing may be persisted
    // (the middleware flushes committed state every 200 ms). The look comes well within the hold,
    // even on a loaded machine.
    await new Promise((r) => setTimeout(r, 700));
    expect(await connectionState(mh, connectionId)).toEqual([]);
    await waitFor(() => fs.existsSync(path.join(markers, 'received-3')), 'the third state');
    // States 1 and 2 are echoed one after the other, and persisted by one flush or by two.
    await waitFor(
      async () =>
        ((await connectionState(mh, connectionId))[0]?.state as { last_id?: number })?.last_id === 10,
      'the echoed states to be persisted',
    );
    expect((await connectionState(mh, connectionId)).map((s) => s.state)).toEqual([{ last_id: 10 }]);
    // Killed between receiving state 3 and echoing it.
    process.kill(Number(fs.readFileSync(path.join(markers, 'pid'), 'utf8')), 'SIGKILL');
    const result = await run.done;
    expect(result.code).toBe(1);
    const wl = await mh.svc.get(w.id);
    expect(wl.status).toBe('failure');
    expect(wl.terminationReason).toMatch(/destination.*exited with code 137/);
    expect((await connectionState(mh, connectionId)).map((s) => s.state)).toEqual([{ last_id: 10 }]);
    expect(outputOf(wl)).toMatchObject({
      status: 'failed',
      statesCommitted: 2,
      partialSuccess: true,
      recordsCommitted: 10,
    });
  });

  for (const type of ['GLOBAL', 'LEGACY'] as const) {
    it(`persists ${type} state and resumes from it`, async () => {
      const setup = {
        source: source({
          records: 12,
          per_slice: 5,
          state_type: type,
          streams: [{ name: 'a' }, { name: 'b' }],
        }),
        destination: destination(),
        catalog: catalogOf([{ name: 'a' }, { name: 'b' }], { sync: 'incremental' }),
      };
      const first = await runSync(mh, setup);
      expect(first.workload.status, first.workload.terminationReason ?? '').toBe('success');
      const state = await connectionState(mh, first.fixtures.connection.id);
      if (type === 'GLOBAL') {
        expect(state.map((s) => [s.type, s.streamName, s.state])).toEqual([
          ['GLOBAL', '', { last_id: { a: 12, b: 12 } }],
          ['GLOBAL', 'a', { last_id: 12 }],
          ['GLOBAL', 'b', { last_id: 12 }],
        ]);
      } else {
        expect(state.map((s) => [s.type, s.streamName, s.state])).toEqual([['LEGACY', '', { a: 12, b: 12 }]]);
      }
      // The next attempt reads the state through workload.input and the source resumes. Its
      // middleware.json has no stateGeneration: the middleware reads it from workload.input.
      const second = await runSync(mh, {
        ...setup,
        fixtures: first.fixtures,
        attemptNumber: 1,
        middleware: { stateGeneration: undefined },
      });
      expect(second.workload.status).toBe('success');
      expect(second.inputState[0]?.type).toBe(type);
      expect(outputOf(second.workload)).toMatchObject({ recordsEmitted: 0, statesCommitted: 2 });
    });
  }

  it('logs malformed lines, drops unknown streams, carries a 10 MB record and survives a flood of LOG lines', async () => {
    const out = path.join(mh.root, 'messy.jsonl');
    const r = await runSync(mh, {
      source: source({
        records: 20,
        per_slice: 10,
        extra_lines: [
          'hello from a print()',
          '{"broken json',
          '{"type":"NOT_A_TYPE"}',
          '{"type":"RECORD","record":{"stream":"items","data":',
        ],
        unknown_records: 3,
        big_record_bytes: 10 * 1024 * 1024,
        log_flood: 20_000,
        log_config: true,
        credentials: { password: 'pa55-word-42' },
      }),
      destination: destination({ output_path: out }),
      catalog: catalogOf([{ name: 'items' }]),
    });
    expect(r.workload.status, r.workload.terminationReason ?? '').toBe('success');
    const rows = readJsonl(out);
    expect(rows).toHaveLength(21);
    const big = rows.find((x) => (x.record as { data: { id: number } }).data.id === 0);
    expect((big!.record as { data: { big: string } }).data.big.length).toBe(10 * 1024 * 1024);
    expect(outputOf(r.workload)).toMatchObject({
      recordsEmitted: 21,
      recordsCommitted: 21,
      recordsDropped: 4,
    });
    const log = await attemptLog(mh, r.fixtures.attempt.id);
    expect(log).toContain('source > hello from a print()');
    // Secrets the connector prints from its config are masked.
    expect(log).toContain('stderr says the password is **********');
    expect(log).toContain('"credentials":{"password":"**********"}');
    expect(log).not.toContain('pa55-word-42');
    expect(log).toMatch(/source line 2 is not a valid Airbyte message \(not valid JSON/);
    expect(log).toMatch(/unknown message type "NOT_A_TYPE"/);
    expect(log).toMatch(/stream "not_configured", which is not in the configured catalog/);
    expect(log).toContain('flood line 0 ');
    expect(log).toContain('flood line 19999 ');
  });

  it('applies the namespace, prefix and field selection mapping for a real destination', async () => {
    const dir = path.join(mh.root, 'mapped');
    const r = await runSync(mh, {
      source: source({ records: 7, per_slice: 3, streams: [{ name: 'users', namespace: 'public' }] }),
      destination: { command: connectorBin('destination-local-jsonl'), config: { destination_path: dir } },
      catalog: catalogOf([{ name: 'users', namespace: 'public' }]),
      mapping: {
        streams: [
          {
            source: { name: 'users', namespace: 'public' },
            destination: { name: 'p_users', namespace: 'raw' },
            selectedFields: ['id', 'name'],
          },
        ],
      },
    });
    expect(r.workload.status, r.workload.terminationReason ?? '').toBe('success');
    const rows = readJsonl(path.join(dir, 'raw__p_users.jsonl'));
    expect(rows.map((x) => x._airbyte_data)).toEqual(
      Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `n${i + 1}` })),
    );
    // State stays in the source's terms.
    const state = await connectionState(mh, r.fixtures.connection.id);
    expect(state.map((s) => [s.streamNamespace, s.streamName, s.state])).toEqual([
      ['public', 'users', { last_id: 7 }],
    ]);
  });

  it('fails with the source’s TRACE error and keeps what the destination committed', async () => {
    const r = await runSync(mh, {
      source: source({
        records: 10,
        per_slice: 5,
        trace_error: {
          message: 'API quota exhausted',
          failure_type: 'transient_error',
          internal_message: 'HTTP 429',
        },
        exit_code: 1,
      }),
      destination: destination(),
      catalog: catalogOf([{ name: 'items' }]),
    });
    expect(r.result.code).toBe(1);
    expect(r.workload.status).toBe('failure');
    expect(r.workload.terminationReason).toBe('Failure in the source (transient_error): API quota exhausted');
    const o = outputOf(r.workload);
    expect(o.failures?.[0]).toMatchObject({
      failureOrigin: 'source',
      failureType: 'transient_error',
      externalMessage: 'API quota exhausted',
      internalMessage: 'HTTP 429',
      retryable: true,
    });
    expect(o).toMatchObject({ partialSuccess: true, recordsCommitted: 10 });
    expect((await connectionState(mh, r.fixtures.connection.id)).map((s) => s.state)).toEqual([
      { last_id: 10 },
    ]);
  });

  it('stops the source when the destination dies', async () => {
    const started = Date.now();
    const r = await runSync(mh, {
      source: source({ records: 100_000, per_slice: 100, slice_delay_ms: 20 }),
      destination: destination({ crash_after_records: 500 }),
      catalog: catalogOf([{ name: 'items' }]),
    });
    // Undisturbed, the source would run for 20 s.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.workload.status).toBe('failure');
    expect(r.workload.terminationReason).toMatch(
      /Failure in the destination \(system_error\): the destination exited with code 3/,
    );
    const o = outputOf(r.workload);
    expect(o.failures?.[0]).toMatchObject({
      failureOrigin: 'destination',
      internalMessage: 'crashing after 500 records',
    });
    expect((o as { source: { exitCode: number } }).source.exitCode).not.toBe(0);
  });

  it('persists a CONTROL config update after the API validates it against the spec', async () => {
    const r = await runSync(mh, {
      source: source({
        records: 3,
        per_slice: 3,
        control_config: { host: 'rotated.example.test', api_key: 'rotated-key-123' },
      }),
      destination: destination(),
      catalog: catalogOf([{ name: 'items' }]),
    });
    expect(r.workload.status).toBe('success');
    const stored = await mh.api.db.source.findUniqueOrThrow({ where: { id: r.fixtures.source.id } });
    expect(JSON.stringify(stored.config)).not.toContain('rotated-key-123');
    expect(openConfig(stored.config, mh.api.deps.box)).toEqual({
      host: 'rotated.example.test',
      api_key: 'rotated-key-123',
    });
    const log = await attemptLog(mh, r.fixtures.attempt.id);
    expect(log).toContain("the source's updated config was validated and persisted");
    expect(log).not.toContain('rotated-key-123');

    // A config the spec refuses is not persisted; the sync goes on.
    const bad = await runSync(mh, {
      source: source({ records: 3, per_slice: 3, control_config: { api_key: 'x' } }),
      destination: destination(),
      catalog: catalogOf([{ name: 'items' }]),
    });
    expect(bad.workload.status).toBe('success');
    expect(await attemptLog(mh, bad.fixtures.attempt.id)).toMatch(/updated config was not persisted: .*spec/);
  });
});

describe('stopping', () => {
  it('never starts the connectors of a workload cancelled before it ran', async () => {
    const markers = path.join(mh.root, 'markers-cancelled');
    const w = await prepareSync(mh, {
      source: source({ records: 10 }),
      destination: destination({ marker_dir: markers }),
      catalog: catalogOf([{ name: 'items' }]),
    });
    await mh.svc.cancel({ id: w.id, reason: 'user changed their mind', source: 'user' });
    const result = await runMiddleware(mh, w.id, w.workDir).done;
    expect(result.code).toBe(2);
    expect(fs.existsSync(path.join(markers, 'pid'))).toBe(false);
    const wl = await mh.svc.get(w.id);
    expect(wl.status).toBe('cancelled');
    // Its programs confirmed they are gone: the connection's next sync may start.
    expect(wl.endedAt).not.toBeNull();
  });

  it('on SIGTERM stops the connectors, keeps what was committed and reports the stop', async () => {
    const w = await prepareSync(mh, {
      source: source({ records: 100_000, per_slice: 50, slice_delay_ms: 20 }),
      destination: destination(),
      catalog: catalogOf([{ name: 'items' }]),
    });
    const run = runMiddleware(mh, w.id, w.workDir);
    await waitFor(
      async () => (await connectionState(mh, w.fixtures.connection.id)).length > 0,
      'a persisted state',
    );
    // What the process runtime's stop does: SIGTERM to the whole process group.
    killGroup(run.child, 'SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(2);
    const wl = await mh.svc.get(w.id);
    expect(wl.status).toBe('failure');
    expect(wl.terminationReason).toBe('the workload was stopped: the middleware received SIGTERM');
    const persisted = (await connectionState(mh, w.fixtures.connection.id))[0]?.state as { last_id: number };
    expect(persisted.last_id).toBeGreaterThan(0);
    expect(persisted.last_id % 50).toBe(0);
  });
});

describe('API downtime', () => {
  it('rides out a few seconds without the Workload API', async () => {
    const h2 = await startHarness();
    let restarted: Awaited<ReturnType<typeof startApiServer>> | undefined;
    try {
      const w = await prepareSync(h2, {
        source: source({ records: 60, per_slice: 5, slice_delay_ms: 100 }),
        destination: destination(),
        catalog: catalogOf([{ name: 'items' }]),
      });
      const run = runMiddleware(h2, w.id, w.workDir);
      const port = Number(new URL(h2.api.server.url).port);
      await waitFor(
        async () => (await connectionState(h2, w.fixtures.connection.id)).length > 0,
        'a first persisted state',
      );
      await h2.api.server.close();
      await new Promise((r) => setTimeout(r, 3_000));
      restarted = await startApiServer(h2.api.deps, { port });
      const result = await run.done;
      expect(result.code, result.stderr).toBe(0);
      const wl = await h2.svc.get(w.id);
      expect(wl.status).toBe('success');
      expect((await connectionState(h2, w.fixtures.connection.id)).map((s) => s.state)).toEqual([
        { last_id: 60 },
      ]);
      const log = await attemptLog(h2, w.fixtures.attempt.id);
      expect(log).toContain('read done: 12 states');
      expect(log).toContain('replication succeeded');
    } finally {
      await restarted?.close();
      await h2.api.testDb.drop();
      await fsp.rm(h2.root, { recursive: true, force: true });
    }
  });
  it('stops the sync when no heartbeat gets through for the heartbeat timeout', async () => {
    const h3 = await startHarness();
    let restarted: Awaited<ReturnType<typeof startApiServer>> | undefined;
    try {
      const w = await prepareSync(h3, {
        source: source({ records: 100_000, per_slice: 50, slice_delay_ms: 20 }),
        destination: destination(),
        catalog: catalogOf([{ name: 'items' }]),
      });
      const run = runMiddleware(h3, w.id, w.workDir);
      const port = Number(new URL(h3.api.server.url).port);
      await waitFor(
        async () => (await connectionState(h3, w.fixtures.connection.id)).length > 0,
        'a persisted state',
      );
      await h3.api.server.close();
      // Past the heartbeat timeout the sweeper could fail the workload and a retry start: the
      // middleware must not keep writing alongside it.
      await new Promise((r) => setTimeout(r, TEST_TIMEOUTS.heartbeatTimeoutMs! + 2_500));
      restarted = await startApiServer(h3.api.deps, { port });
      const result = await run.done;
      expect(result.code).toBe(2);
      const wl = await h3.svc.get(w.id);
      expect(wl.status).toBe('failure');
      expect(wl.terminationReason).toMatch(
        /^the workload was stopped: no heartbeat reached the Workload API for \d+ s$/,
      );
    } finally {
      await restarted?.close();
      await h3.api.testDb.drop();
      await fsp.rm(h3.root, { recursive: true, force: true });
    }
  });
});
