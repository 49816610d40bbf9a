import { type AirbyteRecordMessage, StreamMapper, streamKey } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { type EncodedColumn, RowEncoder } from './encode';
import { RecordTranscoder, TranscodedRecord } from './transcode';
import type { ColumnKind } from './types';

const KINDS: ColumnKind[] = [
  'text',
  'bigint',
  'numeric',
  'boolean',
  'date',
  'timestamp',
  'timestamptz',
  'time',
  'timetz',
  'jsonb',
];
const COLUMNS: EncodedColumn[] = KINDS.map((kind, i) => ({ field: `c${i}_${kind}`, kind }));

function setup(columns = COLUMNS, mapping?: StreamMapper) {
  const encoder = new RowEncoder({ columns, generationId: 3, syncId: 42, withSequence: false });
  const transcoder = new RecordTranscoder(
    new Map([[streamKey('s', undefined), { columns, encoder }]]),
    mapping,
  );
  return { encoder, transcoder };
}

/** The transcoder's row for a line (newline added), or undefined when it left the line. */
function fast(t: RecordTranscoder, line: string): string | undefined {
  const buf = Buffer.from(line);
  const m = t.read(buf, 0, buf.length);
  if (!m) return undefined;
  const r = m.message.record as unknown as TranscodedRecord;
  expect(r).toBeInstanceOf(TranscodedRecord);
  return `${r.row.toString('utf8', r.rowStart, r.rowEnd)}\n`;
}

/** The encoder's row for the parsed line. */
function slow(e: RowEncoder, line: string): string {
  return e.encode(JSON.parse(line).record as AirbyteRecordMessage);
}

/** Rows compared without `_airbyte_raw_id`, a fresh UUID each time. */
const sansId = (row: string) => row.slice(36);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\t/;

// A small deterministic PRNG, so a failure names a seed that reproduces it.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Raw JSON texts of values, common and awkward, for each kind of column. */
const VALUES: Record<ColumnKind, string[]> = {
  text: [
    '"plain"',
    '""',
    '"ünïcødé ✓ 𝄞"',
    '"tab\\there"',
    '"\\u0000nul"',
    '"\\ud800 lone"',
    '"\\udc00"',
    '"\\x"',
    '"\\u12"',
    '12',
    'true',
    '{"a":1}',
    'null',
  ],
  bigint: [
    '0',
    '7',
    '-12',
    '123456789012345',
    '1234567890123456',
    '9007199254740993',
    '1.0',
    '1.5',
    '-0',
    '1e3',
    '"42"',
    'true',
    'null',
  ],
  numeric: [
    '0',
    '12.5',
    '12.50',
    '-0.25',
    '0.000001',
    '0.0000001',
    '123456789.012345',
    '1234567890123456.7',
    '1e-3',
    '-0',
    '-0.0',
    '100',
    '"3.14"',
    'null',
    '12.000',
  ],
  boolean: ['true', 'false', '"true"', '1', 'null'],
  date: ['"2024-02-29"', '"2023-02-29"', '"2024-01-01 BC"', '"20240101"', '12', 'null'],
  timestamp: [
    '"2024-01-01T00:00:00"',
    '"2024-01-01T12:34:56.789Z"',
    '"2024-01-01 12:34:56+02:00"',
    '"not a time"',
    '"2024-13-01"',
    'null',
  ],
  timestamptz: [
    '"2024-01-01T00:00:00Z"',
    '"2024-06-30T23:59:59.999999-07:00"',
    '"2024-01-01T25:00:00Z"',
    'null',
  ],
  time: ['"12:34"', '"12:34:56.5"', '"24:00:00"', '"24:00:01"', '"é"', 'null'],
  timetz: ['"12:34:56+05:30"', '"12:34:56Z"', '"1:2"', 'null'],
  jsonb: [
    '"s"',
    '12.5',
    '12.50',
    '1e2',
    'true',
    'false',
    'null',
    '{"a":[1,2]}',
    '[]',
    '"\\u0000"',
    '"a\\\\b"',
    '-0',
    '"\\udfff"',
    '{"a":"\\ud800"}',
  ],
};

/** Values the transcoder takes, so that random lines are often taken whole. */
const PLAIN: Record<ColumnKind, string[]> = {
  text: [
    '"plain"',
    '"ünïcødé ✓ 𝄞"',
    '""',
    'null',
    '"AB\\u2212 \\u00e9\\u00E9"',
    '"tab\\there\\nnew\\r\\b\\f\\/"',
    '"q\\"uote back\\\\slash"',
    '"\\ud834\\udd1e \\u0001 \\u005c"',
  ],
  bigint: ['0', '-12', '123456789012345', '2.000'],
  numeric: ['12.50', '-0.25', '0.000001', '100', '99999.99'],
  boolean: ['true', 'false'],
  date: ['"2024-02-29"', '"0001-01-01"'],
  timestamp: ['"2024-01-01T00:00:00"', '"2024-01-01 12:34:56.789"'],
  timestamptz: ['"2024-01-01T00:00:00Z"', '"2024-01-01T00:00:00.123456+05:30"'],
  time: ['"12:34"', '"23:59:59.999"'],
  timetz: ['"12:34:56+05:30"'],
  jsonb: [
    '"s"',
    '12.5',
    'true',
    'null',
    '{"a":[1,2.50,{"b":null}],"c":"x"}',
    '[]',
    '{ "k" : [ true , false ] }',
    '"q\\"uote back\\\\slash \\u2212 \\ud834\\udd1e"',
    '{"s":"tab\\t nl\\n \\u0001 \\b\\f\\r \\/ \\u007f"}',
  ],
};

function randomLine(next: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
  const sp = () => (next() < 0.15 ? pick([' ', '  ', '\t', ' \r']) : '');
  const entries: string[] = [];
  for (const c of COLUMNS) {
    if (next() < 0.1) continue; // absent: NULL
    const value = next() < 0.97 ? pick(PLAIN[c.kind]) : pick(VALUES[c.kind]);
    entries.push(`${sp()}"${c.field}"${sp()}:${sp()}${value}${sp()}`);
  }
  if (next() < 0.15) {
    // An unknown field somewhere: skipped (or, when it is an object, the line is left).
    const at = Math.floor(next() * (entries.length + 1));
    entries.splice(at, 0, `"extra":${pick(['1', '"x"', 'null', 'true', '{"n":{}}', '[1]', '-2.5e3'])}`);
  }
  const order = next();
  if (order < 0.05)
    entries.reverse(); // out of column order
  else if (order < 0.1) entries.sort(() => next() - 0.5); // shuffled
  if (next() < 0.03 && entries.length > 0) entries.push(entries[0]!); // a repeated key
  const data = `{${entries.join(',')}}`;
  const parts = [
    `"stream":${sp()}"s"`,
    `"data":${sp()}${data}`,
    `"emitted_at":${sp()}${pick(['1700000000123', '0', '1700000000123.0'])}`,
  ];
  if (next() < 0.05) parts.push('"meta":{"changes":[]}');
  if (next() < 0.2) parts.push(pick(['"partition_id":2', '"partition_id":"p"']));
  const record = `{${parts.join(`,${sp()}`)}}`;
  const envelope =
    next() < 0.1
      ? `{"record":${record},"type":"RECORD"}`
      : `{"type":${sp()}"RECORD",${sp()}"record":${record}}`;
  return `${sp()}${envelope}${sp()}`;
}

describe('RecordTranscoder', () => {
  it('writes exactly the encoder’s row for every line it takes, over thousands of random records', () => {
    for (const seed of [1, 2, 3]) {
      const next = rng(seed);
      const { encoder, transcoder } = setup();
      let taken = 0;
      const n = 4000;
      for (let i = 0; i < n; i++) {
        const line = randomLine(next);
        const row = fast(transcoder, line);
        if (row === undefined) continue;
        taken++;
        expect(row, `seed ${seed}, line ${i}: ${line}`).toMatch(UUID);
        expect(sansId(row), `seed ${seed}, line ${i}: ${line}`).toBe(sansId(slow(encoder, line)));
      }
      // Awkward values, extra keys and meta make lines fall back; most must still be taken.
      expect(taken).toBeGreaterThan(n * 0.3);
    }
  });

  it('takes the plain records sources emit, in compact or spaced JSON', () => {
    const { encoder, transcoder } = setup();
    const data =
      '"c0_text":"user 1","c1_bigint":123456789,"c2_numeric":12.50,"c3_boolean":false,"c4_date":"2024-02-29",' +
      '"c5_timestamp":"2024-01-01T00:00:00","c6_timestamptz":"2024-01-01T00:00:00.5+02:00","c7_time":"12:00",' +
      '"c8_timetz":"12:00:00Z","c9_jsonb":"x"';
    const lines = [
      `{"type":"RECORD","record":{"stream":"s","data":{${data}},"emitted_at":1700000000123}}`,
      `{"type": "RECORD", "record": {"stream": "s", "data": {${data.replaceAll(',"', ', "').replaceAll('":', '": ')}}, "emitted_at": 1700000000123}}`,
      // Fields absent (NULL), a field the schema lacks, keys skipping columns, keys out of order.
      '{"type":"RECORD","record":{"stream":"s","data":{"c1_bigint":1,"other":"x","c9_jsonb":true},"emitted_at":1}}',
      '{"type":"RECORD","record":{"stream":"s","data":{"c9_jsonb":[],"c2_numeric":1.5,"c0_text":"a"},"emitted_at":1}}',
      '{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1}}',
      // Socket mode: the socket's index.
      '{"type":"RECORD","record":{"stream":"s","data":{"c0_text":"x"},"emitted_at":1,"partition_id":3}}',
      '{"type":"RECORD","record":{"stream":"s","data":{"c0_text":"x"},"emitted_at":1,"partition_id":"p-1"}}',
    ];
    for (const line of lines) {
      const row = fast(transcoder, line);
      expect(row, line).toBeDefined();
      expect(sansId(row!)).toBe(sansId(slow(encoder, line)));
    }
    expect(fast(transcoder, lines[0]!)).toContain('\t12.5\t');
  });

  it('leaves to the encoder what only it handles', () => {
    const { transcoder } = setup();
    const rec = (data: string, extra = '') =>
      `{"type":"RECORD","record":{"stream":"s","data":{${data}},"emitted_at":1${extra}}}`;
    for (const line of [
      rec('"c0_text":"a\\u0000b"'), // U+0000: removed, and a change recorded
      rec('"c0_text":"\\ud800"'), // a lone surrogate
      rec('"c9_jsonb":"\\u0000"'), // refused by jsonb: NULL and a change
      rec('"c0_text":"\\q"'), // not an escape
      rec('"c0_text":1'), // a number for text
      rec('"c1_bigint":1e3'), // an exponent
      rec('"c2_numeric":0.1234567890123456'), // more digits than a double prints
      rec('"c3_boolean":"true"'), // a string for a boolean
      rec('"c4_date":"2023-02-29"'), // not a day: NULL and a change
      rec('"c9_jsonb":{"a":"\\udc00"}'), // a lone surrogate, nested
      rec('"c9_jsonb":{"a":1e5}'), // an exponent, nested
      rec('"c9_jsonb":{"a":1,}'), // not JSON, nested
      rec('"c0_text":{"a":1}'), // an object for text
      rec('"c0_text":"x","c1_bigint":1,"c0_text":"y"'), // a repeated key
      rec('', ',"meta":{"changes":[]}'), // the source's changes
      rec('', ',"partition_id":{}'),
      rec('', ',"partition_id":1,"partition_id":2'),
      '{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1,"namespace":"n"}}', // namespace after data
      '{"type":"RECORD","record":{"stream":"other","data":{},"emitted_at":1}}', // not in the catalog
      '{"type":"STATE","state":{"type":"LEGACY","data":{}}}',
      '{"type":"RECORD","record":{"stream":"s","data":{"c0_text":"x"},"emitted_at":1}} x', // trailing bytes
      '{"type":"RECORD","record":{"stream":"s","data":{"c0_text":"x"},"emitted_at":1}', // cut short
      '{"type":"RECORD","record":{"stream":"s","data":{"c0_text":"x",},"emitted_at":1}}', // not JSON
      '{"type":"RECORD","type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1}}',
    ]) {
      expect(fast(transcoder, line), line).toBeUndefined();
    }
  });

  it('applies the stream mapping: destination names, and fields it drops are NULL', () => {
    const columns: EncodedColumn[] = [
      { field: 'id', kind: 'bigint' },
      { field: 'secret', kind: 'text' },
    ];
    const mapping = new StreamMapper({
      streams: [
        { source: { name: 'users', namespace: 'src' }, destination: { name: 's' }, selectedFields: ['id'] },
      ],
    });
    const { encoder, transcoder } = setup(columns, mapping);
    const line =
      '{"type":"RECORD","record":{"stream":"users","namespace":"src","data":{"id":1,"secret":"x"},"emitted_at":1}}';
    const buf = Buffer.from(line);
    const read = transcoder.read(buf, 0, buf.length)!;
    const r = read.message.record as unknown as TranscodedRecord;
    expect([r.stream, r.namespace]).toEqual(['s', undefined]);
    expect(read.source).toEqual({ name: 'users', namespace: 'src' });
    // The data, when asked for, is what the SDK's mapping would have left.
    expect(r.data).toEqual({ id: 1 });
    const mapped = mapping.map(JSON.parse(line).record);
    expect(sansId(`${r.row.toString('utf8', r.rowStart, r.rowEnd)}\n`)).toBe(sansId(encoder.encode(mapped)));
    // A stream the mapping does not list is left to the SDK, which names it in its error.
    expect(fast(transcoder, line.replace('"users"', '"orders"'))).toBeUndefined();
  });

  it('keeps each row in its own bytes across many records', () => {
    const { transcoder } = setup([{ field: 'id', kind: 'bigint' }]);
    const rows: TranscodedRecord[] = [];
    for (let i = 0; i < 20_000; i++) {
      const buf = Buffer.from(`{"type":"RECORD","record":{"stream":"s","data":{"id":${i}},"emitted_at":1}}`);
      rows.push(transcoder.read(buf, 0, buf.length)!.message.record as unknown as TranscodedRecord);
    }
    const ids = new Set<string>();
    rows.forEach((r, i) => {
      const text = r.row.toString('utf8', r.rowStart, r.rowEnd);
      expect(text.endsWith(`\t${i}`)).toBe(true);
      ids.add(text.slice(0, 36));
    });
    expect(ids.size).toBe(rows.length);
  });
});
