import { describe, expect, it } from 'vitest';
import { peekRecordEnvelope, rewriteRecordEnvelope, rewriteRecordLine } from './fastpath';

/** Mulberry32: a reproducible corpus. */
class Prng {
  constructor(private a: number) {}
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '/': '\\/',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};
const CHARS = [
  'a',
  'b',
  'z',
  'R',
  '0',
  '9',
  ' ',
  '_',
  '-',
  '.',
  ':',
  ',',
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  '/',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u00e9',
  '\u2212',
  '\u4e2d',
  '\u{1f600}',
  '\ud800',
];

function hex4(code: number, r: Prng): string {
  const h = code.toString(16).padStart(4, '0');
  return r.chance(0.5) ? h : h.toUpperCase();
}

/** A JSON string token for `value`, each character written raw or escaped at random. */
function stringToken(value: string, r: Prng, escapeRate = 0.3): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    const mustEscape = ch === '"' || ch === '\\' || code < 0x20 || (code >= 0xd800 && code <= 0xdfff);
    if (!mustEscape && !r.chance(escapeRate)) {
      out += ch;
    } else if (SHORT_ESCAPES[ch] && r.chance(0.6)) {
      out += SHORT_ESCAPES[ch];
    } else if (code > 0xffff) {
      const hi = 0xd800 + ((code - 0x10000) >> 10);
      const lo = 0xdc00 + ((code - 0x10000) & 0x3ff);
      out += `\\u${hex4(hi, r)}\\u${hex4(lo, r)}`;
    } else {
      out += `\\u${hex4(code, r)}`;
    }
  }
  return `${out}"`;
}

function randomText(r: Prng, max = 8): string {
  let s = '';
  const n = r.int(max + 1);
  for (let i = 0; i < n; i++) s += r.pick(CHARS);
  return s;
}

function ws(r: Prng): string {
  if (r.chance(0.6)) return '';
  return r.pick([' ', '  ', '\t', '\r', ' \n ', '\n', ' \t\r\n']);
}

function numberText(r: Prng): string {
  return r.pick([
    '0',
    '-0',
    '1',
    '-12',
    '3.25',
    '-0.5',
    '1e3',
    '1E+2',
    '2.5e-3',
    '123456789012345678901',
    '0.0',
    '7E0',
  ]);
}

function valueText(r: Prng, depth: number): string {
  const k = r.int(depth > 3 ? 4 : 6);
  if (k === 0) return stringToken(randomText(r), r);
  if (k === 1) return numberText(r);
  if (k === 2) return r.pick(['true', 'false', 'null']);
  if (k === 3) return stringToken(randomText(r, 3), r);
  if (k === 4) {
    const n = r.int(4);
    const items = Array.from({ length: n }, () => ws(r) + valueText(r, depth + 1) + ws(r));
    return `[${items.join(',')}${n === 0 ? ws(r) : ''}]`;
  }
  return objectText(
    r,
    Array.from({ length: r.int(4) }, () => [randomText(r, 4), valueText(r, depth + 1)] as [string, string]),
  );
}

/** An object from [key, valueText] members, keys tokenised with random escapes. */
function objectText(r: Prng, members: Array<[string, string]>): string {
  if (members.length === 0) return `{${ws(r)}}`;
  const parts = members.map(([k, v]) => `${ws(r)}${stringToken(k, r, 0.15)}${ws(r)}:${ws(r)}${v}${ws(r)}`);
  return `{${parts.join(',')}}`;
}

function shuffle<T>(r: Prng, list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

interface Generated {
  text: string;
  /** True when the fast path must decline (duplicate or non-string relevant keys). */
  declines: boolean;
}

const STREAMS = ['users', 'purchases', 'weird "stream"', 'caf\u00e9', 'a\\b', 'tab\there', '\u{1f600}', ''];

function generateLine(r: Prng): Generated {
  let declines = false;
  // Reasons inside the record count only if the record is part of the line.
  let recordDeclines = false;
  const record: Array<[string, string]> = [];
  if (r.chance(0.95)) {
    const stream = r.chance(0.9) ? r.pick(STREAMS) : randomText(r);
    let value: string;
    if (r.chance(0.97)) value = stringToken(stream, r);
    else {
      recordDeclines = true;
      value = numberText(r);
    }
    record.push(['stream', value]);
  }
  if (r.chance(0.5)) {
    const kind = r.int(10);
    if (kind === 0) record.push(['namespace', 'null']);
    else if (kind === 1) {
      recordDeclines = true;
      record.push(['namespace', 'true']);
    } else record.push(['namespace', stringToken(r.chance(0.5) ? 'public' : randomText(r), r)]);
  }
  record.push(['data', valueText(r, 0)]);
  record.push(['emitted_at', numberText(r)]);
  for (let i = r.int(3); i > 0; i--) record.push([randomText(r, 3), valueText(r, 1)]);
  if (r.chance(0.03)) {
    const key = r.pick(['stream', 'namespace']);
    if (record.some(([k]) => k === key)) recordDeclines = true;
    record.push([key, stringToken('dup', r)]);
  }
  const top: Array<[string, string]> = [];
  if (r.chance(0.95)) {
    const type = r.chance(0.85) ? 'RECORD' : r.pick(['STATE', 'LOG', 'TRACE', 'CONTROL', 'X', '']);
    if (r.chance(0.97)) top.push(['type', stringToken(type, r, 0.1)]);
    else {
      declines = true;
      top.push(['type', 'null']);
    }
  }
  if (r.chance(0.97)) {
    if (r.chance(0.97)) {
      top.push(['record', objectText(r, shuffle(r, record))]);
      declines ||= recordDeclines;
    } else {
      declines = true;
      top.push(['record', r.pick(['[]', '"r"', 'null', '1'])]);
    }
  }
  for (let i = r.int(3); i > 0; i--) top.push([randomText(r, 5), valueText(r, 1)]);
  if (r.chance(0.03)) {
    const key = r.pick(['type', 'record']);
    if (top.some(([k]) => k === key)) declines = true;
    top.push([key, key === 'type' ? '"RECORD"' : '{}']);
  }
  return { text: `${ws(r)}${objectText(r, shuffle(r, top))}${ws(r)}`, declines };
}

function mutate(text: string, r: Prng): string {
  const i = r.int(text.length + 1);
  switch (r.int(5)) {
    case 0:
      return text.slice(0, i) + text.slice(i + 1);
    case 1:
      return (
        text.slice(0, i) +
        r.pick(['"', '\\', ',', '}', ']', '{', 'x', '0', '\u0002', ':', ' ']) +
        text.slice(i)
      );
    case 2:
      return text.slice(0, i);
    case 3:
      return `${text}${r.pick([',', '}', 'x', ' 1', '{}'])}`;
    default:
      return text.replace(/:/, r.pick(['', '::', ':,']));
  }
}

type Parsed = { type?: unknown; record?: unknown };

function tryParse(text: string): { ok: true; value: Parsed } | { ok: false } {
  try {
    return { ok: true, value: parseBytes(text) };
  } catch {
    return { ok: false };
  }
}

/** JSON.parse of the bytes (a lone surrogate in `text` becomes U+FFFD in UTF-8, as on the wire). */
function parseBytes(text: string): Parsed {
  return JSON.parse(Buffer.from(text).toString('utf8')) as Parsed;
}

function expectAgreement(text: string, value: Parsed) {
  const env = peekRecordEnvelope(Buffer.from(text));
  expect(env, text).not.toBeNull();
  expect(env!.type).toBe(value.type);
  const rec = value.record as Record<string, unknown> | undefined;
  expect(env!.stream).toBe(rec?.stream);
  expect(env!.namespace).toBe(rec?.namespace);
  expect(env!.record === undefined).toBe(rec === undefined);
  // data and emitted_at: their tokens parse to what JSON.parse gave (the last of a repeated key).
  const buf = Buffer.from(text);
  const token = (span: { start: number; end: number } | undefined) =>
    span === undefined ? undefined : JSON.parse(buf.toString('utf8', span.start, span.end));
  expect(token(env!.data)).toEqual(rec?.data);
  expect(token(env!.emittedAt)).toEqual(rec?.emitted_at);
  if (env!.plain) {
    expect(
      Object.keys(value).every((k) => k === 'type' || k === 'record'),
      text,
    ).toBe(true);
    const known = ['stream', 'namespace', 'data', 'emitted_at', 'partition_id'];
    expect(
      Object.keys(rec ?? {}).every((k) => known.includes(k)),
      text,
    ).toBe(true);
  }
}

describe('peekRecordEnvelope agrees with JSON.parse on a generated corpus', () => {
  const r = new Prng(20240601);
  const corpus = Array.from({ length: 6000 }, () => generateLine(r));

  it('reads type, stream and namespace of every clean line, declines the rest', () => {
    let clean = 0;
    let declined = 0;
    let plain = 0;
    for (const { text, declines } of corpus) {
      const parsed = tryParse(text);
      expect(parsed.ok, text).toBe(true);
      if (!parsed.ok) continue;
      if (declines) {
        expect(peekRecordEnvelope(Buffer.from(text)), text).toBeNull();
        declined++;
      } else {
        expectAgreement(text, parsed.value);
        clean++;
        if (peekRecordEnvelope(Buffer.from(text))!.plain) plain++;
      }
    }
    expect(clean).toBeGreaterThan(5000);
    expect(plain).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(100);
  });

  it('never accepts what JSON.parse rejects, and agrees on mutated lines it accepts', () => {
    const m = new Prng(7);
    let invalid = 0;
    for (let i = 0; i < 6000; i++) {
      const text = mutate(corpus[i % corpus.length]!.text, m);
      const parsed = tryParse(text);
      const env = peekRecordEnvelope(Buffer.from(text));
      if (!parsed.ok) {
        expect(env, text).toBeNull();
        invalid++;
      } else if (env !== null) {
        expectAgreement(text, parsed.value);
      }
    }
    expect(invalid).toBeGreaterThan(3000);
  });

  it('in structure mode, gives the same envelope and spans for every line full mode accepts', () => {
    const m = new Prng(11);
    let compared = 0;
    const lines = [
      ...corpus.map((c) => c.text),
      ...Array.from({ length: 3000 }, () => mutate(corpus[m.int(corpus.length)]!.text, m)),
    ];
    for (const text of lines) {
      const buf = Buffer.from(text);
      const full = peekRecordEnvelope(buf);
      if (full === null) continue;
      expect(peekRecordEnvelope(buf, 0, buf.length, { validate: 'structure' }), text).toEqual(full);
      compared++;
    }
    expect(compared).toBeGreaterThan(5000);
  });

  it('in structure mode, still finds the envelope when data holds what JSON.parse rejects', () => {
    const text = '{"type":"RECORD","record":{"data":{"a":tru,"b":"x\\\\"},"stream":"s","namespace":"n"}}';
    expect(peekRecordEnvelope(Buffer.from(text))).toBeNull();
    const env = peekRecordEnvelope(Buffer.from(text), 0, text.length, { validate: 'structure' });
    expect(env).toMatchObject({ type: 'RECORD', stream: 's', namespace: 'n' });
  });

  it('reads only inside [start, end) of a larger buffer', () => {
    for (const { text: padded, declines } of corpus.slice(0, 500)) {
      if (declines) continue;
      const text = padded.trim();
      const line = Buffer.from(text);
      const buf = Buffer.concat([Buffer.from('{"x":1}\n'), line, Buffer.from('\n{"type":"STATE"}')]);
      const env = peekRecordEnvelope(buf, 8, 8 + line.length);
      expectAgreement(text, parseBytes(text));
      expect(env?.stream).toBe(peekRecordEnvelope(line)?.stream);
      // A truncated line must not be completed by the bytes after `end`.
      expect(peekRecordEnvelope(Buffer.concat([line, Buffer.from('}')]), 0, line.length - 1)).toBeNull();
    }
  });

  it('splices new streams and namespaces that JSON.parse reads back exactly', () => {
    const s = new Prng(99);
    let rewritten = 0;
    for (const { text, declines } of corpus) {
      if (declines) continue;
      const value = parseBytes(text);
      if (value.type !== 'RECORD' || typeof value.record !== 'object' || value.record === null) continue;
      const line = Buffer.from(text);
      const env = peekRecordEnvelope(line)!;
      const change = {
        stream: s.chance(0.8) ? s.pick(STREAMS) + randomText(s, 3) : undefined,
        namespace: s.chance(0.3) ? null : s.chance(0.5) ? `ns_${randomText(s, 4)}` : undefined,
      };
      const out = rewriteRecordEnvelope(line, env, change);
      const expected = structuredClone(value) as { record: Record<string, unknown> };
      if (change.stream !== undefined) expected.record.stream = change.stream;
      if (change.namespace === null) delete expected.record.namespace;
      else if (change.namespace !== undefined) expected.record.namespace = change.namespace;
      expect(JSON.parse(out.toString('utf8')), `${text}\n${JSON.stringify(change)}`).toEqual(expected);
      rewritten++;
    }
    expect(rewritten).toBeGreaterThan(3500);
  });
});

describe('peekRecordEnvelope', () => {
  it('reports the byte offsets of the stream and namespace values', () => {
    const line = Buffer.from(
      '{"type":"RECORD","record":{"namespace":"pub","stream":"caf\u00e9","data":{"a":[1,{"b":"}"}]},"emitted_at":1}}',
    );
    const env = peekRecordEnvelope(line)!;
    expect(env).toMatchObject({
      type: 'RECORD',
      stream: 'caf\u00e9',
      namespace: 'pub',
      namespaceCommaBefore: -1,
    });
    expect(line.subarray(env.streamValue!.start, env.streamValue!.end).toString()).toBe('"caf\u00e9"');
    expect(line.subarray(env.namespaceValue!.start, env.namespaceValue!.end).toString()).toBe('"pub"');
    expect(line.subarray(env.record!.start, env.record!.end).toString()).toMatch(
      /^\{"namespace".*"emitted_at":1\}$/,
    );
  });

  it('handles empty objects, escaped keys and deep nesting', () => {
    expect(peekRecordEnvelope(Buffer.from('{}'))).toMatchObject({ type: undefined, stream: undefined });
    expect(
      peekRecordEnvelope(Buffer.from('{"\\u0074ype":"RECORD","rec\\u006frd":{"str\\u0065am":"s"}}')),
    ).toMatchObject({
      type: 'RECORD',
      stream: 's',
    });
    const deep = `{"type":"RECORD","record":{"stream":"s","data":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
    expect(peekRecordEnvelope(Buffer.from(deep))?.stream).toBe('s');
    expect(peekRecordEnvelope(Buffer.from(deep.slice(0, -3)))).toBeNull();
  });

  it('inserts a namespace into a record that has none, and removes one', () => {
    const line = Buffer.from('{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1}}');
    const added = rewriteRecordLine(line, { namespace: 'x"y' });
    expect(JSON.parse(added.toString())).toEqual({
      type: 'RECORD',
      record: { namespace: 'x"y', stream: 's', data: {}, emitted_at: 1 },
    });
    const removed = rewriteRecordLine(added, { namespace: null, stream: 't' });
    expect(removed.toString()).toBe('{"type":"RECORD","record":{"stream":"t","data":{},"emitted_at":1}}');
    // Lines the fast path declines are rewritten through JSON.parse.
    const dup = Buffer.from(
      '{"type":"RECORD","record":{"stream":"a","stream":"b","data":{},"emitted_at":1}}',
    );
    expect(JSON.parse(rewriteRecordLine(dup, { stream: 'c' }).toString()).record.stream).toBe('c');
    expect(() => rewriteRecordLine(Buffer.from('{"type":"STATE"}'), { stream: 'c' })).toThrow(
      'not a RECORD message',
    );
  });
});
