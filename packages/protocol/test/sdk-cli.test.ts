import { afterAll, describe, expect, it } from 'vitest';
import { byType, configuredCatalog, DESTINATION, run, SOURCE, scratch, traceErrors } from './helpers';

const files = scratch();
afterAll(() => files.remove());

const good = files.json('good.json', { rows: 25, slice: 10, credentials: { password: 'hunter2' } });
const catalog = files.json('catalog.json', configuredCatalog(['numbers', 'letters']));

describe('command line', () => {
  it('spec prints the SPEC message', async () => {
    const r = await run(SOURCE, ['spec']);
    expect(r.code).toBe(0);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]).toMatchObject({
      type: 'SPEC',
      spec: { documentationUrl: 'https://example.org/test-source' },
    });
  });

  it('rejects unknown commands, missing options and commands of the other kind', async () => {
    for (const [args, message] of [
      [[], /no command given; a source accepts: spec, check, discover, read/],
      [['sync'], /unknown command "sync"/],
      [['check'], /check: missing --config FILE/],
      [['read', '--config', good], /read: missing --catalog FILE/],
      [['read', '--config'], /option --config needs a file path/],
      [['check', '--config', good, '--bogus', 'x'], /unknown option --bogus/],
      [['write', '--config', good, '--catalog', catalog], /unknown command "write"/],
    ] as const) {
      const r = await run(SOURCE, [...args]);
      expect(r.code, String(args)).toBe(1);
      const [error] = traceErrors(r.messages);
      expect(error?.message).toMatch(message);
      expect(error?.failure_type).toBe('config_error');
    }
    const d = await run(DESTINATION, ['read', '--config', good]);
    expect(traceErrors(d.messages)[0]?.message).toMatch(/a destination accepts: spec, check, write/);
  });

  it('accepts --option=value', async () => {
    const r = await run(SOURCE, ['check', `--config=${good}`]);
    expect(byType(r.messages, 'CONNECTION_STATUS')[0]?.connectionStatus.status).toBe('SUCCEEDED');
  });
});

describe('check', () => {
  it('succeeds, or reports the connector’s own FAILED status', async () => {
    const ok = await run(SOURCE, ['check', '--config', good]);
    expect(ok.code).toBe(0);
    expect(ok.messages).toEqual([{ type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED' } }]);
    const many = files.json('many.json', { rows: 5000, credentials: { password: 'hunter2' } });
    const failed = await run(SOURCE, ['check', '--config', many]);
    expect(failed.messages).toEqual([
      { type: 'CONNECTION_STATUS', connectionStatus: { status: 'FAILED', message: 'too many rows' } },
    ]);
  });

  it('reports a bad config as FAILED, naming each field path and never echoing values', async () => {
    const bad = files.json('bad.json', { rows: -3, extra: true, credentials: { password: 'xy' } });
    const r = await run(SOURCE, ['check', '--config', bad]);
    expect(r.code).toBe(0);
    const status = r.messages[0]?.connectionStatus;
    expect(status.status).toBe('FAILED');
    expect(status.message).toMatch(/^Config validation error: /);
    expect(status.message).toContain('rows: must be >= 0');
    expect(status.message).toContain('extra: is not allowed');
    expect(status.message).toContain('credentials.password: must NOT have fewer than 3 characters');
    expect(status.message).not.toContain('xy');

    const missing = files.json('missing.json', { rows: 1, credentials: {} });
    const m = await run(SOURCE, ['check', '--config', missing]);
    expect(m.messages[0]?.connectionStatus.message).toContain('credentials.password: is required');
    const wrongType = files.json('type.json', { rows: 'ten', credentials: { password: 'abc' } });
    const t = await run(SOURCE, ['check', '--config', wrongType]);
    expect(t.messages[0]?.connectionStatus.message).toContain('rows: must be integer');
  });

  it('reports unreadable and non-JSON config files', async () => {
    const nofile = await run(SOURCE, ['check', '--config', `${files.dir}/nope.json`]);
    expect(nofile.messages[0]?.connectionStatus).toEqual({
      status: 'FAILED',
      message: `could not read the --config file "${files.dir}/nope.json": no such file`,
    });
    const notJson = files.json('notjson.json', '{"rows": 1,');
    const r = await run(SOURCE, ['check', '--config', notJson]);
    expect(r.messages[0]?.connectionStatus.message).toMatch(
      /--config file ".*notjson.json" is not valid JSON/,
    );
  });

  it('turns an exception in check into FAILED with the cause logged', async () => {
    const thirteen = files.json('13.json', { rows: 13, credentials: { password: 'hunter2' } });
    const r = await run(SOURCE, ['check', '--config', thirteen]);
    expect(r.code).toBe(0);
    expect(byType(r.messages, 'LOG')[0]?.log).toMatchObject({
      level: 'ERROR',
      message: 'check failed: thirteen rows is unlucky',
    });
    expect(byType(r.messages, 'CONNECTION_STATUS')[0]?.connectionStatus).toEqual({
      status: 'FAILED',
      message: 'thirteen rows is unlucky',
    });
  });
});

describe('discover', () => {
  it('prints the catalog', async () => {
    const r = await run(SOURCE, ['discover', '--config', good]);
    expect(r.code).toBe(0);
    expect(r.messages[0]?.catalog.streams.map((s: { name: string }) => s.name)).toEqual([
      'numbers',
      'letters',
    ]);
  });

  it('fails a bad config with a config_error TRACE naming the field, exit code 1', async () => {
    const bad = files.json('bad-discover.json', { rows: 1.5, credentials: { password: 'hunter2' } });
    const r = await run(SOURCE, ['discover', '--config', bad]);
    expect(r.code).toBe(1);
    const [error] = traceErrors(r.messages);
    expect(error).toMatchObject({
      failure_type: 'config_error',
      message: 'Config validation error: rows: must be integer',
    });
  });
});

describe('read', () => {
  it('emits records, states with sourceStats, stream statuses, and fills defaults', async () => {
    const noSlice = files.json('noslice.json', { rows: 25, credentials: { password: 'hunter2' } });
    const r = await run(SOURCE, ['read', '--config', noSlice, '--catalog', catalog]);
    expect(r.code).toBe(0);
    const records = byType(r.messages, 'RECORD');
    expect(records).toHaveLength(50);
    expect(records[0]?.record).toMatchObject({ stream: 'numbers', data: { n: 1, half: 0.5 } });
    expect(records[25]?.record).toMatchObject({ stream: 'letters', data: { n: 1, letter: 'b' } });
    const states = byType(r.messages, 'STATE').map((m) => m.state);
    // slice defaults to 10 (the spec's default): 10, 20, then 25 for each stream.
    expect(
      states.map((s) => [
        s.stream.stream_descriptor.name,
        s.stream.stream_state.cursor,
        s.sourceStats.recordCount,
      ]),
    ).toEqual([
      ['numbers', 10, 10],
      ['numbers', 20, 10],
      ['numbers', 25, 5],
      ['letters', 10, 10],
      ['letters', 20, 10],
      ['letters', 25, 5],
    ]);
    const statuses = r.messages
      .filter((m) => m.type === 'TRACE' && m.trace.type === 'STREAM_STATUS')
      .map((m) => `${m.trace.stream_status.stream_descriptor.name}:${m.trace.stream_status.status}`);
    expect(statuses).toEqual(['numbers:STARTED', 'numbers:COMPLETE', 'letters:STARTED', 'letters:COMPLETE']);
    expect(byType(r.messages, 'LOG').at(-1)?.log.message).toMatch(/^read finished: 50 records/);
  });

  it('resumes from a state file in any of Airbyte’s shapes', async () => {
    const perStream = files.json('state.json', [
      { type: 'STREAM', stream: { stream_descriptor: { name: 'numbers' }, stream_state: { cursor: 20 } } },
    ]);
    const legacy = files.json('legacy.json', { numbers: { cursor: 22 }, letters: { cursor: 24 } });
    const global = files.json('global.json', {
      type: 'GLOBAL',
      global: { stream_states: [{ stream_descriptor: { name: 'letters' }, stream_state: { cursor: 15 } }] },
    });
    const count = async (state: string) => {
      const r = await run(SOURCE, ['read', '--config', good, '--catalog', catalog, '--state', state]);
      expect(r.code).toBe(0);
      return byType(r.messages, 'RECORD').length;
    };
    expect(await count(perStream)).toBe(5 + 25);
    expect(await count(legacy)).toBe(3 + 1);
    expect(await count(global)).toBe(25 + 10);
    const badState = files.json('badstate.json', [{ type: 'STREAM', stream: { stream_state: {} } }]);
    const r = await run(SOURCE, ['read', '--config', good, '--catalog', catalog, '--state', badState]);
    expect(r.code).toBe(1);
    expect(traceErrors(r.messages)[0]?.message).toMatch(
      /--state file ".*badstate.json": entry \[0\] is not a state message: stream\.stream_descriptor: /,
    );
  });

  it('fails on a catalog naming an unknown stream, or an invalid catalog', async () => {
    const unknown = files.json('unknown.json', configuredCatalog(['numbers', 'planets']));
    const r = await run(SOURCE, ['read', '--config', good, '--catalog', unknown]);
    expect(r.code).toBe(1);
    expect(traceErrors(r.messages)[0]).toMatchObject({
      failure_type: 'config_error',
      message: 'unknown stream planets',
    });
    const invalid = files.json('invalid-catalog.json', { streams: [{ stream: { name: 'numbers' } }] });
    const i = await run(SOURCE, ['read', '--config', good, '--catalog', invalid]);
    expect(i.code).toBe(1);
    expect(traceErrors(i.messages)[0]?.message).toMatch(
      /^the --catalog file ".*" is not a ConfiguredAirbyteCatalog: streams\[0\]\./,
    );
  });

  it('turns a thrown error into INCOMPLETE statuses, a TRACE ERROR and exit code 1, keeping earlier output', async () => {
    const failing = files.json('failing.json', {
      rows: 25,
      slice: 10,
      fail_at: 15,
      credentials: { password: 'hunter2' },
    });
    const r = await run(SOURCE, ['read', '--config', failing, '--catalog', catalog]);
    expect(r.code).toBe(1);
    expect(byType(r.messages, 'RECORD')).toHaveLength(14);
    expect(byType(r.messages, 'STATE')).toHaveLength(1);
    const statuses = r.messages.filter((m) => m.type === 'TRACE' && m.trace.type === 'STREAM_STATUS');
    expect(statuses.at(-1)?.trace.stream_status.status).toBe('INCOMPLETE');
    const [error] = traceErrors(r.messages);
    expect(error).toMatchObject({
      message: 'failed at row 15',
      failure_type: 'system_error',
      stream_descriptor: { name: 'numbers' },
    });
    expect(error.stack_trace).toContain('failed at row 15');
  });

  it('reports an error thrown outside the read promise (a timer) as a TRACE ERROR', async () => {
    const crash = files.json('crash.json', {
      rows: 5,
      crash_in_timer: true,
      credentials: { password: 'hunter2' },
    });
    const r = await run(SOURCE, ['read', '--config', crash, '--catalog', catalog]);
    expect(r.code).toBe(1);
    expect(traceErrors(r.messages)[0]?.message).toBe('boom from a timer');
  });
});

describe('write', () => {
  const destConfig = files.json('dest.json', {});
  const destCatalog = files.json('dest-catalog.json', configuredCatalog(['numbers', 'letters']));
  const rec = (stream: string, n: number) =>
    JSON.stringify({ type: 'RECORD', record: { stream, data: { n }, emitted_at: 1 } });
  const st = (cursor: number) =>
    JSON.stringify({
      type: 'STATE',
      state: { type: 'STREAM', stream: { stream_descriptor: { name: 'numbers' }, stream_state: { cursor } } },
    });

  it('acknowledges states with destinationStats and logs a summary', async () => {
    const input = [
      rec('numbers', 1),
      rec('numbers', 2),
      st(2),
      rec('letters', 1),
      st(3),
      '',
      rec('numbers', 3),
    ].join('\r\n');
    const r = await run(DESTINATION, ['write', '--config', destConfig, '--catalog', destCatalog], {
      stdin: input,
    });
    expect(r.code).toBe(0);
    expect(
      byType(r.messages, 'STATE').map((m) => [
        m.state.stream.stream_state.cursor,
        m.state.destinationStats.recordCount,
      ]),
    ).toEqual([
      [2, 2],
      [3, 1],
    ]);
    const logs = byType(r.messages, 'LOG').map((m) => m.log.message);
    expect(JSON.parse(logs[0]!).summary).toMatchObject({
      counts: { numbers: 3, letters: 1 },
      medium: 'STDIO',
      partitions: 1,
    });
    expect(logs[1]).toMatch(/^write finished: 4 records, \d+ bytes, 2 states received, 2 echoed/);
  });

  it('fails on a malformed line, naming it, after acknowledging the states before it', async () => {
    const input = [
      rec('numbers', 1),
      st(1),
      '{"type":"RECORD","record":{"stream":"numbers","data":{"n":2}',
      rec('numbers', 3),
    ].join('\n');
    const r = await run(DESTINATION, ['write', '--config', destConfig, '--catalog', destCatalog], {
      stdin: input,
    });
    expect(r.code).toBe(1);
    expect(byType(r.messages, 'STATE')).toHaveLength(1);
    const [error] = traceErrors(r.messages);
    expect(error.message).toMatch(/^stdin line 3 is not valid JSON: /);
    expect(error.internal_message).toMatch(/^line starts with: \{"type":"RECORD"/);
  });

  it('fails on lines that are JSON but not messages, and on records of unknown streams', async () => {
    for (const [line, message] of [
      [
        '{"type":"RECORD","record":{"stream":"numbers","data":[],"emitted_at":1}}',
        'stdin line 1 is not an Airbyte message: record.data: must be an object',
      ],
      ['[1,2]', 'stdin line 1 is not an Airbyte message: not a JSON object'],
      [
        rec('planets', 1),
        'stdin line 1: record for stream "planets", which is not in the configured catalog (configured: numbers, letters)',
      ],
    ]) {
      const r = await run(DESTINATION, ['write', '--config', destConfig, '--catalog', destCatalog], {
        stdin: `${line}\n`,
      });
      expect(r.code, line).toBe(1);
      expect(traceErrors(r.messages)[0]?.message).toBe(message);
    }
  });

  it('fails on an over-long line, naming its number', async () => {
    const input = [rec('numbers', 1), rec('numbers', 2), `{"pad":"${'x'.repeat(500)}"}`].join('\n');
    const r = await run(DESTINATION, ['write', '--config', destConfig, '--catalog', destCatalog], {
      stdin: input,
      env: { SLUICE_MAX_LINE_BYTES: '200' },
    });
    expect(r.code).toBe(1);
    expect(traceErrors(r.messages)[0]?.message).toMatch(
      /^stdin: line 3 is longer than the maximum of 200 bytes/,
    );
  });

  it('reports an error thrown by the write handler', async () => {
    const failing = files.json('dest-fail.json', { fail_on_record: 2 });
    const r = await run(DESTINATION, ['write', '--config', failing, '--catalog', destCatalog], {
      stdin: [rec('numbers', 1), st(1), rec('numbers', 2), rec('numbers', 3)].join('\n'),
    });
    expect(r.code).toBe(1);
    expect(byType(r.messages, 'STATE')).toHaveLength(1);
    expect(traceErrors(r.messages)[0]?.message).toBe('refusing record 2');
  });

  it('handles a large input with backpressure', async () => {
    const lines: string[] = [];
    for (let i = 1; i <= 20000; i++) {
      lines.push(rec(i % 2 ? 'numbers' : 'letters', i));
      if (i % 1000 === 0) lines.push(st(i));
    }
    const slow = files.json('dest-slow.json', { slow_ms: 2 });
    const r = await run(DESTINATION, ['write', '--config', slow, '--catalog', destCatalog], {
      stdin: lines.join('\n'),
    });
    expect(r.code).toBe(0);
    expect(byType(r.messages, 'STATE').map((m) => m.state.destinationStats.recordCount)).toEqual(
      Array(20).fill(1000),
    );
  });
});
