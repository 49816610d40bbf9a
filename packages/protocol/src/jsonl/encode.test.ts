import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeJsonl } from './decode';
import { BufferedLineWriter, encodeJsonl } from './encode';

/** A sink that accepts `capacity` bytes, then reports backpressure until read() frees it. */
function slowSink(highWaterMark: number) {
  const chunks: Buffer[] = [];
  let release: (() => void) | undefined;
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      release = cb;
    },
  });
  return {
    sink,
    chunks,
    /** Completes the pending write, letting the stream drain. */
    step: () => {
      const r = release;
      release = undefined;
      r?.();
    },
  };
}

describe('BufferedLineWriter', () => {
  it('batches lines into large writes and keeps them intact, non-ASCII included', async () => {
    const out = new PassThrough();
    const received: Buffer[] = [];
    out.on('data', (c: Buffer) => received.push(c));
    const w = new BufferedLineWriter(out, { chunkBytes: 1000, maxDelayMs: 0 });
    const lines = Array.from({ length: 500 }, (_, i) =>
      JSON.stringify({ i, s: 'caf\u00e9 \u2212 \u{1f600}'.repeat(i % 5) }),
    );
    for (const l of lines) w.writeLine(l);
    await w.flush();
    expect(received.length).toBeGreaterThan(10);
    expect(received.length).toBeLessThan(lines.length / 5);
    expect(Buffer.concat(received).toString()).toBe(`${lines.join('\n')}\n`);
    expect(w.lines).toBe(500);
    expect(w.bytes).toBe(Buffer.byteLength(`${lines.join('\n')}\n`));
  });

  it('writes a line larger than a chunk on its own', async () => {
    const out = new PassThrough();
    const received: Buffer[] = [];
    out.on('data', (c: Buffer) => received.push(c));
    const w = new BufferedLineWriter(out, { chunkBytes: 64, maxDelayMs: 0 });
    const big = 'x'.repeat(1000);
    w.writeLine('a');
    w.writeLine(big);
    w.writeLine('b');
    await w.flush();
    expect(Buffer.concat(received).toString()).toBe(`a\n${big}\nb\n`);
  });

  it('reports backpressure and resolves drain() when the stream drains', async () => {
    const { sink, chunks, step } = slowSink(10);
    const w = new BufferedLineWriter(sink, { chunkBytes: 16, maxDelayMs: 0 });
    expect(w.needsDrain).toBe(false);
    w.writeLine('0123456789abcdef'); // 17 bytes: a write the sink does not finish
    expect(w.needsDrain).toBe(true);
    let drained = false;
    const p = w.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    step();
    await p;
    expect(drained).toBe(true);
    expect(w.needsDrain).toBe(false);
    expect(Buffer.concat(chunks).toString()).toBe('0123456789abcdef\n');
  });

  it('flushes a slow producer after maxDelayMs', async () => {
    const out = new PassThrough();
    const received: string[] = [];
    out.on('data', (c: Buffer) => received.push(c.toString()));
    const w = new BufferedLineWriter(out, { maxDelayMs: 20 });
    w.writeLine('{"a":1}');
    expect(received).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(received).toEqual(['{"a":1}\n']);
    w.detach();
  });

  it('surfaces stream errors to the producer', async () => {
    const sink = new Writable({
      write(_c, _e, cb) {
        cb(new Error('EPIPE: broken pipe'));
      },
    });
    const w = new BufferedLineWriter(sink, { chunkBytes: 4, maxDelayMs: 0 });
    w.writeLine('hello');
    await new Promise((r) => setImmediate(r));
    expect(() => w.writeLine('more')).toThrow('EPIPE');
    await expect(w.flush()).rejects.toThrow('EPIPE');
  });

  it('round-trips through the decoder', () => {
    const messages = [
      { type: 'LOG' as const, log: { level: 'INFO' as const, message: 'line\nbreak "quoted"' } },
      { type: 'RECORD' as const, record: { stream: 's', data: { x: '\u2028' }, emitted_at: 1 } },
    ];
    const decoded = decodeJsonl(encodeJsonl(messages));
    expect(decoded.map((d) => d.kind === 'message' && d.message)).toEqual(messages);
  });
});
