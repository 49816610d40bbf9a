import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type DecodedLine, decodeJsonl, decodeJsonlStream, JsonlDecoder, messageProblem } from './decode';
import { JsonlLineTooLongError, LineSplitter } from './lines';

const record = (i: number, stream = 'users') =>
  JSON.stringify({
    type: 'RECORD',
    record: { stream, data: { id: i, name: `n\u00e9${i}` }, emitted_at: 1000 + i },
  });
const state = (i: number) =>
  JSON.stringify({
    type: 'STATE',
    state: { type: 'STREAM', stream: { stream_descriptor: { name: 'users' }, stream_state: { id: i } } },
  });

function summary(lines: DecodedLine[]) {
  return lines.map((l) =>
    l.kind === 'message'
      ? { line: l.line, type: l.message.type, bytes: l.bytes }
      : { line: l.line, kind: l.kind },
  );
}

/** Feeds `input` to a fresh decoder in the given chunk sizes (cycled). */
function decodeInChunks(input: Buffer, sizes: number[]): DecodedLine[] {
  const decoder = new JsonlDecoder();
  const out: DecodedLine[] = [];
  let pos = 0;
  let k = 0;
  while (pos < input.length) {
    const size = sizes[k++ % sizes.length]!;
    out.push(...decoder.push(input.subarray(pos, pos + size)));
    pos += size;
  }
  out.push(...decoder.end());
  return out;
}

describe('JsonlDecoder', () => {
  const text = [record(1), state(1), 'not json', record(2), '{"type":"NOPE"}', '', record(3)].join('\n');
  const input = Buffer.from(`${text}\n`);
  const whole = decodeJsonl(input);

  it('classifies messages, non-JSON lines and non-messages, with line numbers', () => {
    expect(summary(whole)).toEqual([
      { line: 1, type: 'RECORD', bytes: Buffer.byteLength(record(1)) },
      { line: 2, type: 'STATE', bytes: Buffer.byteLength(state(1)) },
      { line: 3, kind: 'not_json' },
      { line: 4, type: 'RECORD', bytes: Buffer.byteLength(record(2)) },
      { line: 5, kind: 'invalid_message' },
      // line 6 is empty: counted, not delivered
      { line: 7, type: 'RECORD', bytes: Buffer.byteLength(record(3)) },
    ]);
    const bad = whole.find((l) => l.kind === 'invalid_message');
    expect(bad && bad.kind === 'invalid_message' && bad.error).toMatch(/unknown message type "NOPE"/);
  });

  it('gives the same result whatever the chunk boundaries (every split point, byte by byte)', () => {
    const expected = JSON.stringify(whole);
    for (let cut = 1; cut < input.length; cut++) {
      const decoder = new JsonlDecoder();
      const out = [
        ...decoder.push(input.subarray(0, cut)),
        ...decoder.push(input.subarray(cut)),
        ...decoder.end(),
      ];
      expect(JSON.stringify(out)).toBe(expected);
    }
    expect(JSON.stringify(decodeInChunks(input, [1]))).toBe(expected);
    expect(JSON.stringify(decodeInChunks(input, [3, 7, 1, 64]))).toBe(expected);
  });

  it('handles CRLF line ends and a last line without a newline', () => {
    const lines = decodeJsonl(`${record(1)}\r\n${record(2)}\r\n\r\n${record(3)}`);
    expect(summary(lines).map((l) => l.line)).toEqual([1, 2, 4]);
    expect(lines.every((l) => l.kind === 'message')).toBe(true);
  });

  it('skips whitespace-only lines but counts them', () => {
    const lines = decodeJsonl(`  \t\n${record(1)}\n\r\n${record(2)}\n`);
    expect(summary(lines).map((l) => l.line)).toEqual([2, 4]);
  });

  it('decodes multi-byte characters split across chunks', () => {
    const line = JSON.stringify({
      type: 'LOG',
      log: { level: 'INFO', message: 'h\u00e9\u2212\u{1f600} done' },
    });
    const buf = Buffer.from(`${line}\n`);
    for (let cut = 1; cut < buf.length; cut++) {
      const decoder = new JsonlDecoder();
      const out = [
        ...decoder.push(buf.subarray(0, cut)),
        ...decoder.push(buf.subarray(cut)),
        ...decoder.end(),
      ];
      expect(out).toHaveLength(1);
      const d = out[0]!;
      expect(d.kind === 'message' && d.message.log?.message).toBe('h\u00e9\u2212\u{1f600} done');
    }
  });

  it('classifies invalid UTF-8 per line, naming the line and byte, whatever the chunking', () => {
    const bad = Buffer.concat([
      Buffer.from('{"type":"LOG","log":{"level":"INFO","message":"a'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}}'),
    ]);
    const input = Buffer.concat([Buffer.from(`${record(1)}\n`), bad, Buffer.from(`\n${record(2)}\n`)]);
    for (const sizes of [[input.length], [1], [5, 9]]) {
      const out = decodeInChunks(input, sizes);
      expect(summary(out)).toEqual([
        { line: 1, type: 'RECORD', bytes: Buffer.byteLength(record(1)) },
        { line: 2, kind: 'invalid_utf8' },
        { line: 3, type: 'RECORD', bytes: Buffer.byteLength(record(2)) },
      ]);
      const d = out[1]!;
      expect(d.kind === 'invalid_utf8' && d.error).toBe('line 2 is not valid UTF-8 (at byte 48)');
    }
    // A truncated sequence at the end of a line and a surrogate encoded in UTF-8 are invalid too.
    for (const bytes of [[0xe2, 0x88], [0xed, 0xa0, 0x80], [0xf8]]) {
      const out = decodeJsonl(Buffer.concat([Buffer.from('"x'), Buffer.from(bytes), Buffer.from('"\n')]));
      expect(out[0]?.kind).toBe('invalid_utf8');
    }
  });

  it('enforces the maximum line size and names the line in the error', () => {
    const decoder = new JsonlDecoder({ maxLineBytes: 100 });
    const ok = 'x'.repeat(100);
    expect(
      decoder.push(
        Buffer.from(`${record(1).slice(0, 0)}${'{"type":"LOG","log":{"level":"INFO","message":"a"}}'}\n`),
      ),
    ).toHaveLength(1);
    // Exactly at the limit (CR not counted): accepted, classified as not JSON.
    expect(decoder.push(Buffer.from(`${ok}\r\n`))[0]?.kind).toBe('not_json');
    // Line 3 grows past the limit over several chunks: fails before its newline arrives.
    decoder.push(Buffer.from('y'.repeat(60)));
    const before = decoder.push(Buffer.from('y'.repeat(60)));
    expect(before).toEqual([]);
    expect(decoder.error).toBeInstanceOf(JsonlLineTooLongError);
    expect(decoder.error?.message).toBe(
      'line 3 is longer than the maximum of 100 bytes (120 bytes read without a newline)',
    );
    expect(() => decoder.push(Buffer.from('\n'))).toThrow(/line 3 is longer/);
  });

  it('returns the lines before an over-long line in the same chunk', () => {
    const decoder = new JsonlDecoder({ maxLineBytes: 200 });
    const chunk = Buffer.from(`${record(1)}\n${record(2)}\n${'z'.repeat(300)}\n${record(3)}\n`);
    const out = decoder.push(chunk);
    expect(summary(out).map((l) => l.line)).toEqual([1, 2]);
    expect((decoder.error as JsonlLineTooLongError).lineNumber).toBe(3);
    expect(() => decoder.end()).toThrow(JsonlLineTooLongError);
  });

  it('defaults to a 64 MiB limit', () => {
    expect(new LineSplitter().maxLineBytes).toBe(64 * 1024 * 1024);
    expect(() => new LineSplitter({ maxLineBytes: 0 })).toThrow(RangeError);
  });

  it('decodes a stream into batches and fails on an over-long line', async () => {
    const chunks = [Buffer.from(`${record(1)}\n${record(2)}`), Buffer.from(`\n${state(2)}\n`)];
    const batches: DecodedLine[][] = [];
    for await (const b of decodeJsonlStream(Readable.from(chunks))) batches.push(b);
    expect(batches.map((b) => b.map((l) => l.line))).toEqual([[1], [2, 3]]);

    const long = Readable.from([Buffer.from(`${record(1)}\n`), Buffer.from('q'.repeat(50))]);
    const seen: number[] = [];
    await expect(async () => {
      for await (const b of decodeJsonlStream(long, { maxLineBytes: 40 })) seen.push(...b.map((l) => l.line));
    }).rejects.toThrow('line 1 is longer than the maximum of 40 bytes');
    expect(seen).toEqual([]);
  });
});

describe('messageProblem', () => {
  it('accepts plain records by hand and everything else through the schema', () => {
    expect(messageProblem(JSON.parse(record(1)))).toBeUndefined();
    expect(
      messageProblem({ type: 'RECORD', record: { stream: 's', data: {}, emitted_at: 1, namespace: 'n' } }),
    ).toBeUndefined();
    expect(
      messageProblem({
        type: 'RECORD',
        record: {
          stream: 's',
          data: {},
          emitted_at: 1,
          meta: { changes: [{ field: 'a', change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' }] },
        },
      }),
    ).toBeUndefined();
    expect(messageProblem(JSON.parse(state(3)))).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(messageProblem([1])).toBe('not a JSON object');
    expect(messageProblem({ record: {} })).toBe('type: missing or not a string');
    expect(messageProblem({ type: 'RECORD', record: { stream: 1, data: {}, emitted_at: 1 } })).toBe(
      'record.stream: must be a string',
    );
    expect(messageProblem({ type: 'RECORD', record: { stream: 's', data: [], emitted_at: 1 } })).toBe(
      'record.data: must be an object',
    );
    expect(messageProblem({ type: 'RECORD', record: { stream: 's', data: {}, emitted_at: 1.5 } })).toBe(
      'record.emitted_at: must be an integer',
    );
    expect(
      messageProblem({
        type: 'RECORD',
        record: { stream: 's', data: {}, emitted_at: 1, meta: { changes: 3 } },
      }),
    ).toMatch(/^record\.meta\.changes: /);
    expect(messageProblem({ type: 'LOG', log: { level: 'LOUD', message: 'x' } })).toMatch(/^log\.level: /);
  });

  it('checks less at lower levels and more at full', () => {
    const weird = { type: 'RECORD', record: { stream: 1 } };
    expect(messageProblem(weird, 'none')).toBeUndefined();
    expect(messageProblem(weird, 'full')).toMatch(/^record\./);
    expect(
      messageProblem({ type: 'RECORD', record: { stream: 's', data: {}, emitted_at: 1 } }, 'full'),
    ).toBeUndefined();
  });
});
