import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BufferedLineWriter } from '../jsonl/encode';
import type { AirbyteMessage, ConfiguredAirbyteCatalog } from '../schema';
import { parseArgs } from './args';
import { compileConfigValidator } from './config';
import { DestinationInput, type WriteBatch } from './destination';
import { ConnectorError } from './errors';
import { findStreamState } from './files';
import { assertKnownStreams, CatalogIndex, StreamMapper } from './streams';

const catalogOf = (...names: Array<string | [string, string]>): ConfiguredAirbyteCatalog => ({
  streams: names.map((n) => ({
    stream: {
      name: typeof n === 'string' ? n : n[1],
      ...(typeof n === 'string' ? {} : { namespace: n[0] }),
      json_schema: {},
      supported_sync_modes: ['full_refresh'],
    },
    sync_mode: 'full_refresh',
    destination_sync_mode: 'append',
  })),
});

describe('parseArgs', () => {
  it('parses every Airbyte command', () => {
    expect(parseArgs('source', ['spec'])).toEqual({ command: 'spec' });
    expect(parseArgs('source', ['read', '--catalog', 'c', '--config=a', '--state', 's'])).toEqual({
      command: 'read',
      config: 'a',
      catalog: 'c',
      state: 's',
    });
    expect(parseArgs('destination', ['write', '--config', 'a', '--catalog', 'c'])).toEqual({
      command: 'write',
      config: 'a',
      catalog: 'c',
    });
    expect(() => parseArgs('destination', ['discover', '--config', 'a'])).toThrow(
      /unknown command "discover"/,
    );
    expect(() => parseArgs('source', ['check', '--config', 'a', '--config', 'b'])).toThrow(
      /--config given twice/,
    );
  });
});

describe('config validation', () => {
  const validate = compileConfigValidator({
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    required: ['host', 'port'],
    properties: {
      host: { type: 'string', format: 'hostname', order: 0 },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      ssl: { type: 'boolean', default: true },
      tunnel: {
        type: 'object',
        oneOf: [
          { properties: { method: { const: 'NONE' } }, required: ['method'] },
          {
            properties: { method: { const: 'SSH' }, key: { type: 'string', airbyte_secret: true } },
            required: ['method', 'key'],
          },
        ],
      },
      'odd key': { type: 'array', items: { type: 'string' } },
    },
  });

  it('fills defaults on a copy and returns the config', () => {
    const input = { host: 'db.example.org', port: 5432 };
    expect(validate(input)).toEqual({ ok: true, config: { host: 'db.example.org', port: 5432, ssl: true } });
    expect(input).toEqual({ host: 'db.example.org', port: 5432 });
  });

  it('names each failing path', () => {
    const r = validate({ host: 'not a host!', port: 70000, tunnel: { method: 'SSH' }, 'odd key': ['a', 3] });
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toContain('host: must match format "hostname"');
    expect(problems).toContain('port: must be <= 65535');
    expect(problems).toContain('tunnel.key: is required');
    expect(problems).toContain('["odd key"][1]: must be string');
    expect(validate([])).toEqual({ ok: false, problems: ['(root): must be a JSON object'] });
    expect(validate({})).toEqual({ ok: false, problems: ['host: is required', 'port: is required'] });
  });
});

describe('streams', () => {
  it('finds stream state in STREAM, GLOBAL and LEGACY states', () => {
    const states = [
      {
        type: 'STREAM' as const,
        stream: { stream_descriptor: { name: 'a', namespace: 'x' }, stream_state: { c: 1 } },
      },
      {
        type: 'GLOBAL' as const,
        global: { stream_states: [{ stream_descriptor: { name: 'b' }, stream_state: { c: 2 } }] },
      },
      { type: 'LEGACY' as const, data: { d: { c: 3 } } },
    ];
    expect(findStreamState(states, 'a', 'x')).toEqual({ c: 1 });
    expect(findStreamState(states, 'a')).toBeUndefined();
    expect(findStreamState(states, 'b')).toEqual({ c: 2 });
    expect(findStreamState(states, 'd')).toEqual({ c: 3 });
  });

  it('rejects catalogs naming streams a source lacks, or listing one twice', () => {
    expect(() =>
      assertKnownStreams(catalogOf('users', 'planets', ['x', 'moons']), ['users', 'products']),
    ).toThrow(
      'the catalog names streams "planets", "x.moons" that this source does not have; available streams: users, products',
    );
    expect(() => assertKnownStreams(catalogOf(['public', 'users']), ['users'])).not.toThrow();
    expect(() =>
      assertKnownStreams(catalogOf(['public', 'users']), [{ name: 'users', namespace: 'other' }]),
    ).toThrow(/"public\.users"/);
    expect(() => new CatalogIndex(catalogOf('a', 'a'))).toThrow('the catalog lists stream "a" twice');
  });

  it('maps records: renames, sets or removes namespaces, keeps selected fields', () => {
    const mapper = new StreamMapper({
      streams: [
        {
          source: { name: 'users', namespace: 'src' },
          destination: { name: 'p_users', namespace: 'dst' },
          selectedFields: ['id', 'gone'],
        },
        { source: { name: 'orders', namespace: 'src' }, destination: { name: 'orders' } },
      ],
    });
    expect(
      mapper.map({ stream: 'users', namespace: 'src', data: { id: 1, name: 'a' }, emitted_at: 1 }),
    ).toEqual({
      stream: 'p_users',
      namespace: 'dst',
      data: { id: 1 },
      emitted_at: 1,
    });
    expect(mapper.map({ stream: 'orders', namespace: 'src', data: { x: 1 }, emitted_at: 1 })).toEqual({
      stream: 'orders',
      data: { x: 1 },
      emitted_at: 1,
    });
    expect(() => mapper.map({ stream: 'users', data: {}, emitted_at: 1 })).toThrow(
      'received a record for stream "users", which the stream mapping does not list',
    );
  });
});

/** A DestinationInput over in-memory partitions, with its echoes (and other output) collected. */
function harness(
  partitions: number,
  socketMode = true,
  opts: { mapper?: StreamMapper; catalog?: ConfiguredAirbyteCatalog; controlGraceMs?: number } = {},
) {
  const out = new PassThrough();
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary message shapes
  const echoed: Array<Record<string, any>> = [];
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary message shapes
  const printed: Array<Record<string, any>> = [];
  let text = '';
  out.on('data', (c: Buffer) => {
    text += c.toString();
    const lines = text.split('\n');
    text = lines.pop()!;
    for (const l of lines) {
      const m = JSON.parse(l);
      printed.push(m);
      if (m.type === 'STATE') echoed.push(m.state);
    }
  });
  const writer = new BufferedLineWriter(out, { maxDelayMs: 0 });
  const input = new DestinationInput(
    writer,
    new CatalogIndex(opts.catalog ?? catalogOf('s')),
    opts.mapper,
    socketMode,
    undefined,
    {
      statsIntervalMs: 0,
      ...(opts.controlGraceMs !== undefined ? { controlGraceMs: opts.controlGraceMs } : {}),
    },
  );
  const streams = Array.from({ length: partitions }, (_, i) => {
    const p = new PassThrough();
    input.attach(p, `socket ${i}`);
    return p;
  });
  const flush = async () => {
    await writer.flush();
    await new Promise((r) => setImmediate(r));
  };
  return { input, streams, echoed, printed, flush };
}

const rec = (p: number) =>
  `${JSON.stringify({ type: 'RECORD', record: { stream: 's', data: {}, emitted_at: 1, partition_id: p } })}\n`;
const st = (id: number, p: number, count: number) =>
  `${JSON.stringify({ type: 'STATE', state: { type: 'STREAM', stream: { stream_descriptor: { name: 's' } }, id, partition_id: p, sourceStats: { recordCount: count } } })}\n`;

describe('DestinationInput', () => {
  it('echoes acknowledged states in id order across partitions', async () => {
    const { input, streams, echoed, flush } = harness(2);
    const it = input[Symbol.asyncIterator]();
    // State 2 arrives (and is acked) before state 1.
    streams[1]!.write(rec(1) + st(2, 1, 1));
    const first = (await it.next()).value as WriteBatch;
    expect(first.partition).toBe(1);
    input.ack(first.messages[1]!);
    await flush();
    expect(echoed).toEqual([]);
    streams[0]!.write(rec(0) + rec(0) + st(1, 0, 2));
    const second = (await it.next()).value as WriteBatch;
    expect(second).toMatchObject({ partition: 0, records: 2 });
    input.ack(second.messages[2]!);
    await flush();
    expect(echoed.map((s) => [s.id, s.destinationStats.recordCount])).toEqual([
      [1, 2],
      [2, 1],
    ]);
    for (const s of streams) s.end();
    expect((await it.next()).done).toBe(true);
    expect(() => input.finish()).not.toThrow();
  });

  it('fails when a state’s sourceStats disagree with the records received on its socket', async () => {
    const { input, streams } = harness(1);
    streams[0]!.end(rec(0) + st(1, 0, 5));
    await expect(async () => {
      for await (const _ of input) {
        // consume
      }
    }).rejects.toThrow(
      'socket 0 line 2: state id 1 says 5 records preceded it on this socket, but 1 arrived',
    );
  });

  it('reports states that could not be echoed because an earlier id never arrived', async () => {
    const { input, streams } = harness(1);
    streams[0]!.end(rec(0) + st(2, 0, 1));
    for await (const b of input) for (const m of b.messages) if (m.type === 'STATE') input.ack(m);
    expect(() => input.finish()).toThrow(
      'states 2 were acknowledged but not echoed: state id 1 never arrived',
    );
  });

  it('reports a handler that stops reading early, and rejects foreign acks', async () => {
    const { input, streams } = harness(1, false);
    streams[0]!.write(rec(0));
    for await (const _ of input) break;
    expect(() => input.finish()).toThrow(ConnectorError);
    expect(() => input.ack({ type: 'STREAM' })).toThrow(/needs a STATE message/);
  });

  it('reads stream statuses from stdin in socket mode, mapped, until stdin ends', async () => {
    const mapper = new StreamMapper({
      streams: [{ source: { name: 'users', namespace: 'src' }, destination: { name: 'p_users' } }],
    });
    const { input, streams, printed, flush } = harness(1, true, { mapper, catalog: catalogOf('p_users') });
    const stdin = new PassThrough();
    input.attachControl(stdin);
    const status = (name: string, st: string, namespace?: string) =>
      `${JSON.stringify({ type: 'TRACE', trace: { type: 'STREAM_STATUS', emitted_at: 1, stream_status: { stream_descriptor: { name, ...(namespace ? { namespace } : {}) }, status: st } } })}\n`;
    const record = `${JSON.stringify({ type: 'RECORD', record: { stream: 'users', namespace: 'src', data: { id: 1 }, emitted_at: 1, partition_id: 0 } })}\n`;
    // In the source's names (mapped by the SDK), in the destination's (kept), and stray lines.
    stdin.write(status('users', 'STARTED', 'src'));
    stdin.write(`${JSON.stringify({ type: 'STATE', state: { type: 'LEGACY', data: {} } })}\nnot json\n`);
    streams[0]!.end(record + record);
    const batches: WriteBatch[] = [];
    const done = (async () => {
      for await (const b of input) batches.push(b);
    })();
    await new Promise((r) => setTimeout(r, 50));
    // The sockets ended, but stdin is still open: the input waits for its last statuses.
    stdin.end(status('p_users', 'COMPLETE'));
    await done;
    const statuses = batches
      .filter((b) => b.control)
      .flatMap((b) => b.messages)
      .map((m) => [m.trace?.stream_status?.stream_descriptor, m.trace?.stream_status?.status]);
    expect(statuses).toEqual([
      [{ name: 'p_users' }, 'STARTED'],
      [{ name: 'p_users' }, 'COMPLETE'],
    ]);
    expect(batches.filter((b) => !b.control).reduce((n, b) => n + b.records, 0)).toBe(2);
    expect(batches.filter((b) => b.control).every((b) => b.partition === 0 && b.records === 0)).toBe(true);
    expect(() => input.finish()).not.toThrow();
    await flush();
    const warnings = printed.filter((m) => m.type === 'LOG').map((m) => m.log.message);
    expect(warnings).toEqual([
      expect.stringMatching(/stdin line 2: a STATE message on stdin in socket mode is not read/),
      expect.stringMatching(/stdin line 3 is not an Airbyte message/),
    ]);
    // What was read, per source stream, for the platform (Airbyte's socket-mode stats message).
    const stats = printed.filter((m) => m.type === 'RECORD').map((m) => m.record);
    expect(stats).toEqual([
      expect.objectContaining({
        stream: 'users',
        namespace: 'src',
        data: {},
        isDummyStatsMessage: true,
        emittedRecordsCount: 2,
        emittedBytesCount: Buffer.byteLength(record) * 2 - 2,
      }),
    ]);
  });

  it('offers data lines to a destination’s reader, which takes records before the SDK parses them', async () => {
    const mapper = new StreamMapper({ streams: [{ source: { name: 'a' }, destination: { name: 's' } }] });
    const { input, streams, printed, flush } = harness(1, true, { mapper });
    const offered: string[] = [];
    input.readRecordsWith((buf, start, end) => {
      const text = buf.toString('utf8', start, end);
      offered.push(text);
      // Takes records whose data says so, already in the destination's names; leaves the rest.
      if (!text.includes('"take":true')) return undefined;
      return {
        message: { type: 'RECORD', record: { stream: 's', data: { taken: true }, emitted_at: 1 } },
        source: { name: 'a', namespace: undefined },
      };
    });
    const line = (data: Record<string, unknown>) =>
      `${JSON.stringify({ type: 'RECORD', record: { stream: 'a', data, emitted_at: 1 } })}\n`;
    streams[0]!.end(
      Buffer.concat([Buffer.from(line({ take: true }) + line({ n: 2 })), Buffer.from([0xff, 0x0a])]),
    );
    const messages: AirbyteMessage[] = [];
    await expect(async () => {
      for await (const b of input) {
        messages.push(...b.messages);
      }
    }).rejects.toThrow('socket 0 line 3 is not valid UTF-8');
    // A record the reader took is not mapped again; one it left is parsed and mapped as before.
    expect(messages.map((m) => m.record?.data)).toEqual([{ taken: true }, { n: 2 }]);
    expect(messages.map((m) => m.record?.stream)).toEqual(['s', 's']);
    // Invalid UTF-8 is never offered.
    expect(offered).toHaveLength(2);
    // What was read is counted per source stream, taken by the reader or not.
    await flush();
    const stats = printed.filter((m) => m.type === 'RECORD').map((m) => m.record);
    expect(stats).toEqual([expect.objectContaining({ stream: 'a', emittedRecordsCount: 2 })]);
  });

  it('stops waiting for stdin a grace period after the sockets ended', async () => {
    const { input, streams } = harness(1, true, { controlGraceMs: 100 });
    const stdin = new PassThrough();
    input.attachControl(stdin);
    streams[0]!.end(rec(0));
    const started = Date.now();
    let records = 0;
    for await (const b of input) records += b.records;
    expect(records).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(() => input.finish()).not.toThrow();
  });

  it('maps stream statuses on the data channel like records (stdio with a mapping)', async () => {
    const mapper = new StreamMapper({ streams: [{ source: { name: 'a' }, destination: { name: 'b' } }] });
    const { input, streams, printed, flush } = harness(1, false, { mapper, catalog: catalogOf('b', 'c') });
    const status = (name: string) =>
      `${JSON.stringify({ type: 'TRACE', trace: { type: 'STREAM_STATUS', emitted_at: 1, stream_status: { stream_descriptor: { name }, status: 'COMPLETE' } } })}\n`;
    streams[0]!.end(status('a') + status('c'));
    const names: string[] = [];
    for await (const b of input)
      for (const m of b.messages) names.push(m.trace?.stream_status?.stream_descriptor.name ?? '');
    expect(names).toEqual(['b', 'c']);
    await flush();
    // stdio mode: the platform counts the records itself.
    expect(printed.filter((m) => m.type === 'RECORD')).toEqual([]);
  });
});
