import { describe, expect, it } from 'vitest';
import { type ColumnPlan, CopyRowEncoder, LineAssembler, newBatch } from './rows';

const cols = (spec: Array<[string, ColumnPlan['type']['kind']]>): ColumnPlan[] =>
  spec.map(
    ([name, kind]) =>
      ({ name, type: kind === 'array' ? { kind, element: 'int', delimiter: ',' } : { kind } }) as ColumnPlan,
  );

const encode = (columns: ColumnPlan[], text: string, suffix = '', capture = -1) => {
  const enc = new CopyRowEncoder(columns, suffix, capture);
  const batch = newBatch();
  const n = enc.encode(text, batch);
  return { n, batch, parsed: batch.rows.map((r) => JSON.parse(r)) };
};

describe('CopyRowEncoder', () => {
  const columns = cols([
    ['id', 'int'],
    ['select', 'string'],
    ['Größe "x"', 'numeric'],
    ['ok', 'bool'],
    ['at', 'timestamptz'],
    ['d', 'date'],
    ['list', 'array'],
  ]);

  it('encodes rows of COPY text into record JSON with exact keys', () => {
    const text =
      '1\thello\t1.50\tt\t2024-01-01 10:00:00+00\t2024-01-02\t{1,2}\n' + '2\t\\N\t\\N\tf\t\\N\t\\N\t\\N\n';
    const { n, parsed } = encode(columns, text);
    expect(n).toBe(2);
    expect(parsed[0]).toEqual({
      id: 1,
      select: 'hello',
      'Größe "x"': 1.5,
      ok: true,
      at: '2024-01-01T10:00:00.000000Z',
      d: '2024-01-02',
      list: [1, 2],
    });
    expect(parsed[1]).toEqual({
      id: 2,
      select: null,
      'Größe "x"': null,
      ok: false,
      at: null,
      d: null,
      list: null,
    });
  });

  it('unescapes COPY escapes and JSON-escapes strings, in blocks with and without escapes', () => {
    const text = '1\ta\\tb\\nc\\\\d "q"\t0\tt\t2024-01-01 10:00:00.5+00\t2024-01-02\t{}\n';
    const { parsed } = encode(columns, text);
    expect(parsed[0].select).toBe('a\tb\nc\\d "q"');
    expect(parsed[0].at).toBe('2024-01-01T10:00:00.500000Z');
    expect(parsed[0].list).toEqual([]);
    // COPY sends most control characters raw: they still need JSON escapes.
    const control = encode(cols([['s', 'string']]), 'a\u0001b\u001fc\n');
    expect(control.batch.rows[0]).toBe('{"s":"a\\u0001b\\u001fc"}');
    expect(control.parsed[0].s).toBe('a\u0001b\u001fc');
    const literalN = encode(cols([['s', 'string']]), '\\\\N\n');
    expect(literalN.parsed[0].s).toBe('\\N');
  });

  it('reports values without a JSON form as nulled fields', () => {
    const c = cols([
      ['id', 'int'],
      ['f', 'float'],
      ['t', 'timestamptz'],
    ]);
    const { batch, parsed } = encode(c, '1\tNaN\tinfinity\n2\t1.5\t2024-01-01 00:00:00+00\n');
    expect(parsed[0]).toEqual({ id: 1, f: null, t: null });
    expect(batch.nulled).toEqual([{ row: 0, fields: ['f', 't'] }]);
  });

  it('appends a suffix, captures a column and hides deselected ones', () => {
    const c: ColumnPlan[] = [
      { name: 'id', type: { kind: 'int' } },
      { name: 'cursor', type: { kind: 'timestamp' }, hidden: true },
    ];
    const { batch, parsed } = encode(c, '1\t2024-01-01 00:00:00\n2\t\\N\n', ',"_ab_cdc_lsn":5', 1);
    expect(parsed).toEqual([
      { id: 1, _ab_cdc_lsn: 5 },
      { id: 2, _ab_cdc_lsn: 5 },
    ]);
    expect(batch.captured).toEqual(['2024-01-01 00:00:00', null]);
  });

  it('handles tables without columns and rejects short rows', () => {
    expect(encode([], '\n\n', ',"a":1').parsed).toEqual([{ a: 1 }, { a: 1 }]);
    expect(() =>
      encode(
        cols([
          ['a', 'int'],
          ['b', 'int'],
        ]),
        '1\n',
      ),
    ).toThrow(/fewer than 2 fields/);
  });

  it('a hundred columns', () => {
    const many = Array.from({ length: 100 }, (_, i) => [`c${i}`, 'int'] as [string, 'int']);
    const text = `${Array.from({ length: 100 }, (_, i) => String(i)).join('\t')}\n`;
    const { parsed } = encode(cols(many), text);
    expect(Object.keys(parsed[0])).toHaveLength(100);
    expect(parsed[0].c99).toBe(99);
  });
});

describe('LineAssembler', () => {
  it('returns whole lines only and never splits a UTF-8 character', () => {
    const la = new LineAssembler();
    const bytes = Buffer.from('é1\n😀2\nab');
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++)
      out.push(la.push(bytes.subarray(i, i + 1))?.toString('utf8') ?? '');
    expect(out.join('')).toBe('é1\n😀2\n');
    expect(la.pending).toBe(2);
  });
});
