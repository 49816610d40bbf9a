import type { ConfiguredAirbyteCatalog } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { LogBatcher } from './log-batcher';
import { StreamRoutes } from './mapping';
import { AttemptLog, MessageHandler } from './messages';
import { type LineSink, StdioRouter } from './router';
import { StdioStateTracker } from './state-tracker';
import { SyncStats } from './stats';

const catalog = (streams: Array<{ name: string; namespace?: string }>): ConfiguredAirbyteCatalog => ({
  streams: streams.map((s) => ({
    stream: { ...s, json_schema: {}, supported_sync_modes: ['full_refresh'] },
    sync_mode: 'full_refresh',
    destination_sync_mode: 'append',
  })),
});

function setup(routes: StreamRoutes) {
  const lines: string[] = [];
  const sink: LineSink = {
    writeRange: (b, s, e) => lines.push(b.toString('utf8', s, e)),
    writeBuffer: (b) => lines.push(b.toString('utf8')),
    writeString: (s) => lines.push(s),
  };
  const logged: string[] = [];
  const batcher = new LogBatcher({ send: async () => {}, isTransient: () => false });
  const origLine = batcher.line.bind(batcher);
  batcher.line = (t: string) => {
    logged.push(t);
    origLine(t);
  };
  const log = new AttemptLog(batcher);
  const stats = new SyncStats();
  const tracker = new StdioStateTracker(
    (d) => routes.toDestination(d),
    (d) => routes.toSource(d),
  );
  const messages = new MessageHandler('source', { log, stats });
  const router = new StdioRouter({ routes, stats, tracker, out: sink, messages, log });
  /** Feeds the text in chunks of `size` bytes, so lines straddle chunks. */
  const feed = (text: string, size = 7) => {
    const buf = Buffer.from(text);
    for (let i = 0; i < buf.length; i += size) router.push(buf.subarray(i, i + size));
    router.end();
  };
  return { lines, logged, stats, tracker, messages, router, feed };
}

const rec = (stream: string, data: object, extra: object = {}) =>
  JSON.stringify({ type: 'RECORD', record: { stream, data, emitted_at: 1, ...extra } });
const state = (name: string, v: number) =>
  JSON.stringify({
    type: 'STATE',
    state: { type: 'STREAM', stream: { stream_descriptor: { name }, stream_state: { v } } },
  });

describe('StdioRouter', () => {
  it('forwards records byte for byte and counts them per stream', () => {
    const t = setup(new StreamRoutes(catalog([{ name: 'a' }, { name: 'b' }])));
    const r1 = `{"type": "RECORD", "record": {"stream":"a","data":{"x":"é\\n","y":[1,2]},"emitted_at":5}}`;
    const r2 = rec('b', { z: null });
    t.feed(`${r1}\n${r2}\r\n\n${rec('a', {})}\n`);
    expect(t.lines).toEqual([r1, r2, rec('a', {})]);
    const a = t.stats.counter('a');
    expect(a.recordsEmitted).toBe(2);
    expect(a.bytesEmitted).toBe(Buffer.byteLength(r1) + Buffer.byteLength(rec('a', {})));
    expect(t.stats.counter('b').recordsEmitted).toBe(1);
  });

  it('applies the namespace and prefix mapping by splicing the envelope', () => {
    const routes = new StreamRoutes(catalog([{ name: 'users', namespace: 'public' }, { name: 'plain' }]), {
      streams: [
        {
          source: { name: 'users', namespace: 'public' },
          destination: { name: 'pre_users', namespace: 'analytics' },
        },
        { source: { name: 'plain' }, destination: { name: 'pre_plain' } },
      ],
    });
    const t = setup(routes);
    t.feed(
      [
        `{"type":"RECORD","record":{"stream":"users","data":{"id":1},"namespace":"public","emitted_at":1}}`,
        `{"type":"RECORD","record":{"namespace":"public","stream":"users","data":{"id":2},"emitted_at":1}}`,
        rec('plain', { id: 3 }),
      ].join('\n'),
    );
    const parsed = t.lines.map((l) => JSON.parse(l).record);
    expect(parsed).toEqual([
      { stream: 'pre_users', namespace: 'analytics', data: { id: 1 }, emitted_at: 1 },
      { stream: 'pre_users', namespace: 'analytics', data: { id: 2 }, emitted_at: 1 },
      { stream: 'pre_plain', data: { id: 3 }, emitted_at: 1 },
    ]);
    // Stats stay in the source's terms.
    expect(t.stats.counter('users', 'public').recordsEmitted).toBe(2);
  });

  it('drops the namespace when the mapping sends a stream to the destination default', () => {
    const routes = new StreamRoutes(catalog([{ name: 's', namespace: 'src' }]), {
      streams: [{ source: { name: 's', namespace: 'src' }, destination: { name: 's' } }],
    });
    const t = setup(routes);
    t.feed(`{"type":"RECORD","record":{"stream":"s","namespace":"src","data":{"a":1},"emitted_at":2}}\n`);
    expect(JSON.parse(t.lines[0]!).record).toEqual({ stream: 's', data: { a: 1 }, emitted_at: 2 });
  });

  it('keeps only the selected fields of streams with a field selection', () => {
    const routes = new StreamRoutes(catalog([{ name: 'u' }, { name: 'v' }]), {
      streams: [{ source: { name: 'u' }, destination: { name: 'u' }, selectedFields: ['id', 'name'] }],
    });
    const t = setup(routes);
    t.feed(
      `${rec('u', { id: 1, name: 'n', secret: 's', nested: { a: 1 } })}\n${rec('v', { id: 2, secret: 's' })}\n`,
    );
    expect(JSON.parse(t.lines[0]!).record.data).toEqual({ id: 1, name: 'n' });
    expect(JSON.parse(t.lines[1]!).record.data).toEqual({ id: 2, secret: 's' });
  });

  it('counts and drops records of streams missing from the catalog, warning once', () => {
    const t = setup(new StreamRoutes(catalog([{ name: 'a' }])));
    t.feed(`${rec('ghost', { i: 1 })}\n${rec('a', { i: 2 })}\n${rec('ghost', { i: 3 })}\n`);
    expect(t.lines).toEqual([rec('a', { i: 2 })]);
    expect(t.stats.unknownStreams.get('ghost')).toBe(2);
    expect(t.router.recordsDropped).toBe(2);
    expect(t.logged.filter((l) => l.includes('"ghost"'))).toHaveLength(1);
  });

  it('gives states increasing ids, the forwarded record count and mapped descriptors', () => {
    const routes = new StreamRoutes(catalog([{ name: 'a' }]), {
      streams: [{ source: { name: 'a' }, destination: { name: 'x_a', namespace: 'ns' } }],
    });
    const t = setup(routes);
    t.feed(`${rec('a', {})}\n${rec('a', {})}\n${state('a', 1)}\n${rec('a', {})}\n${state('a', 2)}\n`);
    const states = t.lines.map((l) => JSON.parse(l)).filter((m) => m.type === 'STATE');
    expect(
      states.map((s) => [s.state.id, s.state.sourceStats.recordCount, s.state.stream.stream_descriptor]),
    ).toEqual([
      [1, 2, { name: 'x_a', namespace: 'ns' }],
      [2, 1, { name: 'x_a', namespace: 'ns' }],
    ]);
    expect(t.tracker.pending).toBe(2);
  });

  // Records are checked as far as the fast path reads them (valid JSON, a string stream of the
  // catalog); the destination validates `data` and `emitted_at`. Other messages are validated here.
  it('logs malformed lines and invalid messages without forwarding them', () => {
    const t = setup(new StreamRoutes(catalog([{ name: 'a' }])));
    t.feed(
      [
        'plain text from a print statement',
        '{"type":"RECORD","record":{"stream":"a","data":{"broken":',
        '{"type":"RECORD","record":{"stream":7,"data":{},"emitted_at":1}}',
        '{"type":"LOG","log":{"level":"SHOUT","message":"x"}}',
        '{"type":"LOG","log":{"level":"WARN","message":"careful"}}',
        '[1,2]',
        rec('a', { ok: true }),
      ].join('\n'),
    );
    expect(t.lines).toEqual([rec('a', { ok: true })]);
    const log = t.logged.join('\n');
    expect(log).toContain('source > plain text from a print statement');
    expect(log).toContain('source > WARN careful');
    expect(log).toMatch(/line 2 is not a valid Airbyte message/);
    expect(log).toMatch(/line 3 is not a valid Airbyte message \(record\.stream/);
    expect(log).toMatch(/line 4 is not a valid Airbyte message/);
    expect(t.router.recordsDropped).toBe(2);
  });

  it('turns TRACE errors into failures, estimates into stats, and forwards stream statuses', () => {
    const routes = new StreamRoutes(catalog([{ name: 'a' }]), {
      streams: [{ source: { name: 'a' }, destination: { name: 'b' } }],
    });
    const t = setup(routes);
    const trace = (trace: object) => JSON.stringify({ type: 'TRACE', trace: { emitted_at: 1, ...trace } });
    t.feed(
      [
        trace({
          type: 'STREAM_STATUS',
          stream_status: { stream_descriptor: { name: 'a' }, status: 'STARTED' },
        }),
        trace({ type: 'ESTIMATE', estimate: { name: 'a', type: 'STREAM', row_estimate: 99 } }),
        trace({
          type: 'ERROR',
          error: { message: 'boom', failure_type: 'config_error', internal_message: 'x' },
        }),
      ].join('\n'),
    );
    expect(t.lines.map((l) => JSON.parse(l).trace.stream_status.stream_descriptor)).toEqual([{ name: 'b' }]);
    // COMPLETE waits for the source's end, after every record; a failed source never sends it.
    t.feed(
      `${rec('a', { i: 1 })}\n${trace({ type: 'STREAM_STATUS', stream_status: { stream_descriptor: { name: 'a' }, status: 'COMPLETE' } })}\n${rec('a', { i: 2 })}\n`,
    );
    expect(t.lines).toHaveLength(3);
    t.router.statuses.finish(true);
    expect(JSON.parse(t.lines[3]!).trace.stream_status).toEqual({
      stream_descriptor: { name: 'b' },
      status: 'COMPLETE',
    });
    expect(t.stats.counter('a').estimatedRecords).toBe(99);
    expect(t.messages.errors).toMatchObject([
      {
        failureOrigin: 'source',
        failureType: 'config_error',
        externalMessage: 'boom',
        internalMessage: 'x',
        retryable: false,
      },
    ]);
  });

  it('routes a 10 MB record split over many chunks', () => {
    const t = setup(new StreamRoutes(catalog([{ name: 'a' }])));
    const big = rec('a', { big: 'z'.repeat(10 * 1024 * 1024) });
    t.feed(`${big}\n${rec('a', { i: 1 })}\n`, 65536);
    expect(t.lines).toHaveLength(2);
    expect(t.lines[0]).toBe(big);
  });
});
