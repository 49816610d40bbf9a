import { describe, expect, it } from 'vitest';
import {
  arrayEncoder,
  encodeBytea,
  encodeMoney,
  encoderFor,
  encodeTime,
  encodeTimestamp,
  formatOffset,
  padMicros,
  parseArray,
  scalarEncoder,
  unescapeCopy,
} from './convert';
import { jsonSchemaOf, type PgTypeRow, resolveType, scalarKindOf, typesToFetch } from './types';

describe('scalar encoders (Postgres text output → JSON)', () => {
  it('numbers pass through verbatim, so int8 beyond 2^53 and numerics keep every digit', () => {
    const int = scalarEncoder('int');
    expect(int('9223372036854775807')).toBe('9223372036854775807');
    expect(int('-42')).toBe('-42');
    const numeric = scalarEncoder('numeric');
    expect(numeric('12345678901234567890.123456789012345')).toBe('12345678901234567890.123456789012345');
    expect(scalarEncoder('float')('1e+300')).toBe('1e+300');
    expect(JSON.parse(`[${scalarEncoder('float')('-1.5e-07')}]`)).toEqual([-1.5e-7]);
  });

  it('NaN and infinities have no JSON form', () => {
    for (const kind of ['float', 'numeric'] as const) {
      const enc = scalarEncoder(kind);
      expect(enc('NaN')).toBeUndefined();
      expect(enc('Infinity')).toBeUndefined();
      expect(enc('-Infinity')).toBeUndefined();
    }
    expect(scalarEncoder('date')('infinity')).toBeUndefined();
    expect(scalarEncoder('timestamptz')('-infinity')).toBeUndefined();
  });

  it('booleans, strings and json', () => {
    expect(scalarEncoder('bool')('t')).toBe('true');
    expect(scalarEncoder('bool')('f')).toBe('false');
    expect(scalarEncoder('string')('a "q" \\ \n é 😀')).toBe(JSON.stringify('a "q" \\ \n é 😀'));
    expect(scalarEncoder('json')('{"a": [1, 2]}')).toBe('{"a": [1, 2]}');
    // json keeps its input text, line breaks included: a JSONL record must not have them.
    const multiLine = scalarEncoder('json')('{\n  "a": "x\\ny"\r\n}')!;
    expect(multiLine).not.toMatch(/[\r\n]/);
    expect(JSON.parse(multiLine)).toEqual({ a: 'x\ny' });
  });

  it('timestamps get a T, six fractional digits, Z for UTC and a trailing BC', () => {
    expect(encodeTimestamp('2023-01-02 03:04:05+00', true)).toBe('"2023-01-02T03:04:05.000000Z"');
    expect(encodeTimestamp('2023-01-02 03:04:05.12+00', true)).toBe('"2023-01-02T03:04:05.120000Z"');
    expect(encodeTimestamp('0044-03-15 01:02:03.5+00 BC', true)).toBe('"0044-03-15T01:02:03.500000Z BC"');
    expect(encodeTimestamp('2023-01-02 03:04:05+05:30', true)).toBe('"2023-01-02T03:04:05.000000+05:30"');
    expect(encodeTimestamp('2023-01-02 03:04:05.123456', false)).toBe('"2023-01-02T03:04:05.123456"');
    expect(encodeTimestamp('10000-01-01 00:00:00', false)).toBe('"10000-01-01T00:00:00.000000"');
    expect(encodeTimestamp('infinity', false)).toBeUndefined();
  });

  it('times and dates', () => {
    expect(encodeTime('04:05:06', false)).toBe('"04:05:06.000000"');
    expect(encodeTime('04:05:06.5+05:30', true)).toBe('"04:05:06.500000+05:30"');
    expect(encodeTime('04:05:06-08', true)).toBe('"04:05:06.000000-08:00"');
    expect(encodeTime('23:59:59.999999+00', true)).toBe('"23:59:59.999999Z"');
    expect(scalarEncoder('date')('2021-01-23')).toBe('"2021-01-23"');
    expect(scalarEncoder('date')('0044-03-15 BC')).toBe('"0044-03-15 BC"');
    expect(padMicros('01:02:03.1234567')).toBe('01:02:03.1234567');
    expect(formatOffset('+00')).toBe('Z');
    expect(formatOffset('-03')).toBe('-03:00');
  });

  it('bytea becomes base64, money a plain number', () => {
    expect(encodeBytea('\\x00ff10')).toBe(JSON.stringify(Buffer.from([0, 255, 16]).toString('base64')));
    expect(encodeBytea('\\x')).toBe('""');
    expect(encodeMoney('-$1,234.50')).toBe('-1234.50');
    expect(encodeMoney('$1,234,567.89')).toBe('1234567.89');
    expect(encodeMoney('($3.00)')).toBe('-3.00');
  });
});

describe('arrays', () => {
  it('parses quoting, escapes, NULL, nesting and bounds', () => {
    expect(parseArray('{}')).toEqual([]);
    expect(parseArray('{1,NULL,3}')).toEqual(['1', null, '3']);
    expect(parseArray('{"a b","c\\"d","NULL","x\\\\y"}')).toEqual(['a b', 'c"d', 'NULL', 'x\\y']);
    expect(parseArray('{{1,2},{3,4}}')).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(parseArray('[0:1]={7,8}')).toEqual(['7', '8']);
    expect(parseArray('{(1,2),(3,4);(5,6),(7,8)}', ';')).toEqual(['(1,2),(3,4)', '(5,6),(7,8)']);
    expect(() => parseArray('{1,2')).toThrow(/malformed|unterminated/);
  });

  it('encodes elements with the element type', () => {
    expect(arrayEncoder('int', ',')('{1,NULL,3}')).toBe('[1,null,3]');
    expect(arrayEncoder('string', ',')('{"a \\"b\\"",c}')).toBe('["a \\"b\\"","c"]');
    expect(arrayEncoder('timestamptz', ',')('{"2023-01-01 00:00:00+00"}')).toBe(
      '["2023-01-01T00:00:00.000000Z"]',
    );
    expect(arrayEncoder('bool', ',')('{{t,f},{f,t}}')).toBe('[[true,false],[false,true]]');
    // An element without a JSON form makes the whole field a reported loss.
    expect(arrayEncoder('float', ',')('{1,NaN}')).toBeUndefined();
  });
});

describe('COPY text unescaping', () => {
  it('undoes backslash escapes', () => {
    expect(unescapeCopy('a\\tb\\nc\\\\d\\re')).toBe('a\tb\nc\\d\re');
    expect(unescapeCopy('\\b\\f\\v')).toBe('\b\f\v');
    expect(unescapeCopy('\\101\\x42\\7')).toBe('AB\u0007');
    expect(unescapeCopy('plain')).toBe('plain');
  });
});

describe('type mapping', () => {
  const row = (oid: number, typname: string, extra: Partial<PgTypeRow> = {}): PgTypeRow => ({
    oid,
    typname,
    typtype: 'b',
    typcategory: 'N',
    typbasetype: 0,
    typelem: 0,
    typdelim: ',',
    ...extra,
  });
  const types = new Map<number, PgTypeRow>([
    [23, row(23, 'int4')],
    [1007, row(1007, '_int4', { typcategory: 'A', typelem: 23 })],
    [1184, row(1184, 'timestamptz')],
    [90001, row(90001, 'positive_int', { typtype: 'd', typbasetype: 23 })],
    [90002, row(90002, 'mood', { typtype: 'e', typcategory: 'E' })],
    [90003, row(90003, '_mood', { typcategory: 'A', typelem: 90002 })],
    [90004, row(90004, 'int_list', { typtype: 'd', typbasetype: 1007 })],
  ]);

  it('resolves domains, arrays, enums', () => {
    expect(resolveType(23, types)).toEqual({ kind: 'int' });
    expect(resolveType(90001, types)).toEqual({ kind: 'int' });
    expect(resolveType(1007, types)).toEqual({ kind: 'array', element: 'int', delimiter: ',' });
    expect(resolveType(90002, types)).toEqual({ kind: 'string' });
    expect(resolveType(90003, types)).toEqual({ kind: 'array', element: 'string', delimiter: ',' });
    expect(resolveType(90004, types)).toEqual({ kind: 'array', element: 'int', delimiter: ',' });
    expect(resolveType(999999, types)).toEqual({ kind: 'string' });
    expect(scalarKindOf(1700)).toBe('numeric');
  });

  it('knows which rows it still needs', () => {
    const partial = new Map([[90004, types.get(90004)!]]);
    expect(typesToFetch([90004, 25], partial).sort()).toEqual([1007, 25]);
  });

  it('gives Airbyte JSON schemas', () => {
    expect(jsonSchemaOf({ kind: 'int' })).toEqual({ type: 'number', airbyte_type: 'integer' });
    expect(jsonSchemaOf({ kind: 'timestamptz' })).toEqual({
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    });
    expect(jsonSchemaOf({ kind: 'timestamp' }).airbyte_type).toBe('timestamp_without_timezone');
    expect(jsonSchemaOf({ kind: 'time' }).airbyte_type).toBe('time_without_timezone');
    expect(jsonSchemaOf({ kind: 'timetz' }).airbyte_type).toBe('time_with_timezone');
    expect(jsonSchemaOf({ kind: 'date' })).toEqual({ type: 'string', format: 'date' });
    expect(jsonSchemaOf({ kind: 'array', element: 'numeric', delimiter: ',' })).toEqual({
      type: 'array',
      items: { type: 'number' },
    });
    expect(encoderFor({ kind: 'array', element: 'int', delimiter: ',' })('{1}')).toBe('[1]');
  });
});
