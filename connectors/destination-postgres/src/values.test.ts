import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyEscape, RowEncoder } from './encode';
import { columnNames, cutUtf8, pgName, quoteIdent } from './names';
import { evolveColumn, kindOf, widen } from './types';
import { bigintText, booleanText, isDate, isTime, isTimestamp, numericText } from './values';

// Only casts of literals: nothing is created, so the shared `test` database is enough.
let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'");
});
afterAll(() => client.end());

async function postgresAccepts(value: string, type: string): Promise<boolean> {
  try {
    await client.query(`SELECT $1::${type}`, [value]);
    return true;
  } catch {
    return false;
  }
}

/** Whatever a validator accepts, Postgres must accept (COPY never fails); the corpus's `valid` ones both accept. */
async function agree(check: (s: string) => boolean, type: string, valid: string[], invalid: string[]) {
  for (const v of valid) {
    expect(check(v), `${type} should accept ${JSON.stringify(v)}`).toBe(true);
    expect(await postgresAccepts(v, type), `postgres ${type} should accept ${v}`).toBe(true);
  }
  for (const v of invalid) {
    const ours = check(v);
    if (ours)
      expect(
        await postgresAccepts(v, type),
        `${type}: we accept ${JSON.stringify(v)}, postgres does not`,
      ).toBe(true);
    else expect(ours, `${type} should refuse ${JSON.stringify(v)}`).toBe(false);
  }
}

describe('value checks agree with Postgres', () => {
  it('dates', async () => {
    await agree(
      isDate,
      'date',
      ['2024-02-29', '2000-02-29', '0001-01-01', '9999-12-31', '0044-03-15 BC', '2023-12-31'],
      [
        '2023-02-29',
        '1900-02-29',
        '0000-01-01',
        '2024-13-01',
        '2024-00-10',
        '2024-04-31',
        '24-01-01',
        '2024-1-1',
        '2024-01-01T00:00:00',
        '',
        'today',
        '5000-01-01 BC',
      ],
    );
  });

  it('timestamps', async () => {
    const valid = [
      '2024-03-01T12:34:56Z',
      '2024-03-01T12:34:56.123456789+02:00',
      '2024-03-01 12:34:56-0530',
      '2024-03-01T12:34:56+05',
      '2024-03-01T00:00',
      '2024-03-01',
      '2024-03-01T24:00:00Z',
      '2024-03-01T12:34:56.5 +01:00',
      '2024-03-01t12:34:56z',
      '0100-03-01T12:34:56 BC',
      '2024-03-01T12:34:56+14:59:59',
    ];
    const invalid = [
      '2024-03-01T24:00:01Z',
      '2024-03-01T12:60:00Z',
      '2024-03-01T12:34:60Z',
      '2024-03-01T12:34:56+16:00',
      '2024-02-30T00:00:00Z',
      '2024-03-01T12:34:56.Z',
      '2024-03-01X12:34:56',
      '2024-03-01T12',
      '2024-03-01T12:34:56 PST',
      'not a date',
      '1700000000',
    ];
    await agree(isTimestamp, 'timestamptz', valid, invalid);
    await agree(isTimestamp, 'timestamp', valid, invalid);
  });

  it('times', async () => {
    const valid = ['00:00', '12:34:56', '23:59:59.999999', '24:00:00', '12:34:56+05:30', '12:34:56Z'];
    const invalid = ['24:00:01', '25:00', '12:60', '12:34:56+16', '1234', 'noon', '12:34:56.'];
    await agree(isTime, 'time', valid, invalid);
    await agree(isTime, 'timetz', valid, invalid);
  });

  it('integers, numbers and booleans', async () => {
    for (const [v, text] of [
      [1, '1'],
      [-0, '0'],
      [2 ** 62, '4611686018427387904'],
      ['9223372036854775807', '9223372036854775807'],
      [' -12 ', '-12'],
      ['+5', '+5'],
    ] as const) {
      expect(bigintText(v)).toBe(text);
      expect(await postgresAccepts(text, 'bigint')).toBe(true);
    }
    for (const v of [1.5, 2 ** 63, '9223372036854775808', '1e3', '', '-', 'x', true, null, {}])
      expect(bigintText(v)).toBeUndefined();
    for (const [v, text] of [
      [1.25, '1.25'],
      [1e21, '1e+21'],
      [5e-324, '5e-324'],
      ['-.5', '-.5'],
      ['3.', '3.'],
      ['1E-7', '1E-7'],
      ['NaN', 'NaN'],
      ['-Infinity', '-Infinity'],
    ] as const) {
      expect(numericText(v)).toBe(text);
      expect(await postgresAccepts(text, 'numeric'), text).toBe(true);
    }
    for (const v of ['', '.', '1e', '1e1000000', 'e5', '1.2.3', '0x10', false, [1]])
      expect(numericText(v)).toBeUndefined();
    expect([true, false, 'TRUE', ' false '].map(booleanText)).toEqual(['t', 'f', 't', 'f']);
    expect([1, 0, 'yes', null].map(booleanText)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('COPY text encoding', () => {
  it('escapes the characters COPY treats specially and nothing else', () => {
    expect(copyEscape('plain ü')).toBe('plain ü');
    expect(copyEscape('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
  });

  it('encodes a row with meta columns, changes and a sequence', () => {
    const enc = new RowEncoder({
      columns: [
        { field: 'id', kind: 'bigint' },
        { field: 'tags', kind: 'jsonb' },
        { field: 'when', kind: 'date' },
      ],
      generationId: 3,
      syncId: 9,
      withSequence: true,
    });
    const line = enc.encode({
      stream: 's',
      data: { id: 7, tags: { a: 'x\\y' }, when: 'never' },
      emitted_at: 0,
    });
    const [rawId, at, meta, gen, id, tags, when, seq] = line.slice(0, -1).split('\t');
    expect(rawId).toMatch(/^[0-9a-f-]{36}$/);
    expect(at).toBe('1970-01-01T00:00:00.000Z');
    expect(meta).toBe(
      '{"changes":[{"field":"when","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}],"sync_id":9}',
    );
    expect([gen, id, tags, when, seq]).toEqual(['3', '7', '{"a":"x\\\\\\\\y"}', '\\N', '1']);
    expect(line.endsWith('\n')).toBe(true);
  });
});

describe('names and types', () => {
  it('keeps names Postgres can hold, and cuts long ones deterministically', () => {
    expect(pgName('Simple Name')).toBe('Simple Name');
    expect(pgName('nul\u0000byte')).toBe('nul_byte');
    const long = 'é'.repeat(40);
    expect(Buffer.byteLength(pgName(long))).toBeLessThanOrEqual(63);
    expect(pgName(long)).toBe(pgName(long));
    expect(pgName(`${long}x`)).not.toBe(pgName(long));
    expect(cutUtf8('aé', 2)).toBe('a');
    expect(quoteIdent('say "hi"')).toBe('"say ""hi"""');
    expect(columnNames(['_airbyte_raw_id', 'a', 'a_x'])).toEqual(['_airbyte_raw_id_1', 'a', 'a_x']);
  });

  it('maps Airbyte types and widens without narrowing', () => {
    expect(kindOf({ type: ['null', 'number'], airbyte_type: 'integer' })).toBe('bigint');
    expect(kindOf({ oneOf: [{ type: 'null' }, { type: 'string', format: 'date' }] })).toBe('date');
    expect(kindOf({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toBe('jsonb');
    expect(kindOf({ $ref: 'WellKnownTypes.json#/definitions/TimeWithTimezone' })).toBe('timetz');
    expect(kindOf({ type: 'string', format: 'date-time', airbyte_type: 'timestamp_without_timezone' })).toBe(
      'timestamp',
    );
    expect(kindOf(true)).toBe('jsonb');
    expect(widen('bigint', 'numeric')).toBe('numeric');
    expect(widen('numeric', 'bigint')).toBe('numeric');
    expect(widen('date', 'timestamptz')).toBe('timestamptz');
    expect(widen('boolean', 'bigint')).toBe('text');
    expect(widen('text', 'jsonb')).toBe('jsonb');
    expect(widen('jsonb', 'text')).toBe('jsonb');
    expect(evolveColumn('integer', 'bigint')).toEqual({ kind: 'bigint', alter: true });
    expect(evolveColumn('numeric(5,2)', 'numeric')).toEqual({ kind: 'numeric', alter: true });
    expect(evolveColumn('text', 'bigint')).toEqual({ kind: 'text', alter: false });
    expect(evolveColumn('uuid', 'text')).toEqual({ kind: 'text', alter: true });
  });
});
