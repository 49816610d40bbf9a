import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, sink };
}

describe('createLogger', () => {
  it('redacts secret-bearing keys up to two levels deep', () => {
    const { lines, sink } = capture();
    const log = createLogger('test', {}, sink);
    log.info({ password: 'hunter2', source: { token: 'tok-123' }, a: { b: { apiKey: 'k-9' } } }, 'hello');
    const out = lines.join('');
    expect(out).toContain('hello');
    expect(out).not.toContain('hunter2');
    expect(out).not.toContain('tok-123');
    expect(out).not.toContain('k-9');
    expect(out).toContain('**********');
  });

  it('writes structured JSON with the logger name', () => {
    const { lines, sink } = capture();
    createLogger('worker', {}, sink).warn({ jobId: 7 }, 'slow');
    const entry = JSON.parse(lines[0] ?? '{}');
    expect(entry).toMatchObject({ name: 'worker', jobId: 7, msg: 'slow', level: 40 });
  });
});
