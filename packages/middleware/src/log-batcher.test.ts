import { describe, expect, it } from 'vitest';
import { LogBatcher, type LogChunk } from './log-batcher';

describe('LogBatcher', () => {
  it('numbers chunks from 0 and resends a failed chunk with its own number', async () => {
    const stored = new Map<number, string>();
    let failures = 2;
    const b = new LogBatcher({
      send: async (chunks) => {
        if (failures-- > 0) throw new Error('fetch failed');
        for (const c of chunks) stored.set(c.sequence, c.text);
      },
      isTransient: () => true,
      flushMs: 10,
      chunkChars: 50,
    });
    for (let i = 0; i < 10; i++) b.line(`line ${i} ${'.'.repeat(10)}`);
    await b.close(10_000);
    expect([...stored.keys()]).toEqual([...Array(stored.size).keys()]);
    const text = [...stored.values()].join('');
    expect(text.split('\n').filter(Boolean)).toEqual(
      Array.from({ length: 10 }, (_, i) => `line ${i} ${'.'.repeat(10)}`),
    );
  });

  it('stays bounded under a flood: backpressure first, then counted drops', async () => {
    const sent: LogChunk[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const b = new LogBatcher({
      send: async (chunks) => {
        await gate;
        sent.push(...chunks);
      },
      isTransient: () => true,
      chunkChars: 1000,
      softLimitChars: 5_000,
      hardLimitChars: 20_000,
    });
    for (let i = 0; i < 1000; i++) b.line(`${i}`.padEnd(99, '.'));
    expect(b.needsDrain).toBe(true);
    expect(b.linesDropped).toBeGreaterThan(700);
    const drained = b.drain();
    release();
    await drained;
    b.line('after');
    await b.close(5_000);
    const text = sent.map((c) => c.text).join('');
    expect(text).toMatch(/\d+ log lines were dropped/);
    expect(text).toContain('after');
    expect(text.length).toBeLessThan(30_000);
  });

  it('cuts overlong lines', async () => {
    const sent: LogChunk[] = [];
    const b = new LogBatcher({
      send: async (c) => void sent.push(...c),
      isTransient: () => false,
      maxLineChars: 100,
    });
    b.line('x'.repeat(1000));
    await b.close();
    expect(sent[0]!.text).toMatch(/^x{100}… \[900 more characters cut\]\n$/);
  });
});
