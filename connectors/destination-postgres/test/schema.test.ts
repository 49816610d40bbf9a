import { runConnector } from '@sluice/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgName } from '../src/names';
import {
  BIN,
  catalogOf,
  errorsOf,
  files,
  record,
  runWrite,
  Script,
  state,
  sync,
  type TestDb,
  testDatabase,
} from './helpers';

let db: TestDb;
beforeAll(async () => {
  db = await testDatabase('schema');
});
afterAll(async () => {
  await db.close();
  files.remove();
});

const ok = (r: { code: number | null; stderr: string; messages: unknown[] }) => {
  if (r.code !== 0)
    throw new Error(`write exited ${r.code}: ${JSON.stringify(r.messages.slice(-3))} ${r.stderr}`);
};

async function columnTypes(schema: string, table: string): Promise<Record<string, string>> {
  const rows = await db.rows<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND attnum > 0 AND NOT attisdropped
      ORDER BY attnum`,
    [schema, table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.type]));
}

const TYPED = {
  s: { type: 'string' },
  i: { type: 'integer' },
  n: { type: 'number' },
  ni: { type: 'number', airbyte_type: 'integer' },
  b: { type: 'boolean' },
  d: { type: 'string', format: 'date' },
  tz: { type: 'string', format: 'date-time', airbyte_type: 'timestamp_with_timezone' },
  ts: { type: 'string', format: 'date-time', airbyte_type: 'timestamp_without_timezone' },
  ttz: { type: 'string', format: 'time', airbyte_type: 'time_with_timezone' },
  t: { type: 'string', format: 'time', airbyte_type: 'time_without_timezone' },
  o: { type: 'object', properties: { x: { type: 'integer' } } },
  a: { type: 'array', items: { type: 'string' } },
  u: { type: ['string', 'integer'] },
  any: {},
  ref: { $ref: 'WellKnownTypes.json#/definitions/TimestampWithTimezone' },
  nullable: { type: ['null', 'integer'] },
};

describe('types, values and casts', () => {
  const schema = 'types';
  it('creates typed columns and loads each type', async () => {
    const cat = catalogOf([{ name: 'typed', namespace: schema, properties: TYPED, mode: 'append' }]);
    const good = {
      s: 'tab\there, newline\nhere, back\\slash, quote\' "double"',
      i: 2 ** 53 + 2,
      n: 12.5,
      ni: '-42',
      b: true,
      d: '2024-02-29',
      tz: '2024-03-01T12:34:56.789+02:00',
      ts: '2024-03-01T12:34:56',
      ttz: '12:34:56+05:30',
      t: '23:59:59.5',
      o: { x: 1, nested: { y: ['z'] } },
      a: ['a', 'b\\c'],
      u: 7,
      any: 'free text',
      ref: '2020-01-01T00:00:00Z',
      nullable: null,
    };
    ok(await runWrite(db, cat, [record('typed', good, { namespace: schema }), state('typed', 1, schema)]));
    expect(await columnTypes(schema, 'typed')).toEqual({
      _airbyte_raw_id: 'uuid',
      _airbyte_extracted_at: 'timestamp with time zone',
      _airbyte_meta: 'jsonb',
      _airbyte_generation_id: 'bigint',
      s: 'text',
      i: 'bigint',
      n: 'numeric',
      ni: 'bigint',
      b: 'boolean',
      d: 'date',
      tz: 'timestamp with time zone',
      ts: 'timestamp without time zone',
      ttz: 'time with time zone',
      t: 'time without time zone',
      o: 'jsonb',
      a: 'jsonb',
      u: 'jsonb',
      any: 'jsonb',
      ref: 'timestamp with time zone',
      nullable: 'bigint',
    });
    const [row] = await db.rows(
      `SELECT s, i::text, n::text, ni::text, b, d::text, tz::text, ts::text, ttz::text, t::text, o, a, u, "any", ref::text, nullable,
              _airbyte_meta AS meta, _airbyte_generation_id::int AS g, _airbyte_extracted_at::text AS x
         FROM types.typed`,
    );
    expect(row).toEqual({
      s: good.s,
      // Past 2^53 a JSON number is still an exact integer double.
      i: '9007199254740994',
      n: '12.5',
      ni: '-42',
      b: true,
      d: '2024-02-29',
      tz: '2024-03-01 10:34:56.789+00',
      ts: '2024-03-01 12:34:56',
      ttz: '12:34:56+05:30',
      t: '23:59:59.5',
      o: { x: 1, nested: { y: ['z'] } },
      a: ['a', 'b\\c'],
      u: 7,
      any: 'free text',
      ref: '2020-01-01 00:00:00+00',
      nullable: null,
      meta: { changes: [], sync_id: 100 },
      g: 1,
      x: '2023-11-14 22:13:20+00',
    });
  });

  it('nulls a value its column cannot take, records why, and never fails the sync', async () => {
    const cat = catalogOf([
      { name: 'bad', namespace: schema, properties: TYPED, mode: 'append', syncId: 55 },
    ]);
    const bad = {
      s: 'nul\u0000inside',
      i: 'forty-two',
      n: 'abc',
      ni: 1.5,
      b: 'maybe',
      d: '2023-02-30',
      tz: 'yesterday',
      ts: '2024-13-01T00:00:00',
      ttz: '25:00:00+00',
      t: 12,
      o: { text: 'nul \u0000 in json' },
      a: [1],
      u: 'x',
      any: null,
      ref: 1700000000,
      nullable: 2 ** 70,
    };
    const r = await runWrite(db, cat, [
      record('bad', bad, {
        namespace: schema,
        meta: { changes: [{ field: 'big', change: 'TRUNCATED', reason: 'SOURCE_FIELD_SIZE_LIMITATION' }] },
      }),
      record('bad', { i: 1 }, { namespace: schema }),
      state('bad', 1, schema),
    ]);
    ok(r);
    expect(errorsOf(r)).toEqual([]);
    const rows = await db.rows<Record<string, unknown>>(
      `SELECT s, i, n, ni, b, d, tz, ts, ttz, t, o, a::text, u, _airbyte_meta AS meta FROM types.bad ORDER BY i NULLS FIRST`,
    );
    expect(rows[0]).toMatchObject({
      s: 'nulinside',
      i: null,
      n: null,
      ni: null,
      b: null,
      d: null,
      tz: null,
      ts: null,
      ttz: null,
      t: null,
      o: null,
      a: '[1]',
      u: 'x',
    });
    const typecast = (field: string) => ({ field, change: 'NULLED', reason: 'DESTINATION_TYPECAST_ERROR' });
    expect(rows[0]!.meta).toEqual({
      sync_id: 55,
      changes: [
        { field: 'big', change: 'TRUNCATED', reason: 'SOURCE_FIELD_SIZE_LIMITATION' },
        { field: 's', change: 'TRUNCATED', reason: 'DESTINATION_SERIALIZATION_ERROR' },
        typecast('i'),
        typecast('n'),
        typecast('ni'),
        typecast('b'),
        typecast('d'),
        typecast('tz'),
        typecast('ts'),
        typecast('ttz'),
        typecast('t'),
        { field: 'o', change: 'NULLED', reason: 'DESTINATION_SERIALIZATION_ERROR' },
        typecast('ref'),
        typecast('nullable'),
      ],
    });
    expect(rows[1]).toMatchObject({ i: '1', meta: { changes: [], sync_id: 55 } });
  });
});

describe('schema evolution', () => {
  const schema = 'evolution';
  it('adds columns, widens types and never drops user data', async () => {
    const load = (properties: Record<string, unknown>, data: Record<string, unknown>, env = {}) =>
      runWrite(
        db,
        catalogOf([{ name: 'evolving', namespace: schema, properties, mode: 'append' }]),
        [record('evolving', data, { namespace: schema }), state('evolving', 1, schema)],
        { env },
      );
    ok(
      await load(
        {
          id: { type: 'integer' },
          a: { type: 'integer' },
          d: { type: 'string', format: 'date' },
          gone: { type: 'string' },
        },
        { id: 1, a: 10, d: '2024-01-02', gone: 'kept' },
      ),
    );
    // a: integer → number, d: date → timestamp with time zone, new column c, `gone` left out of the schema.
    ok(
      await load(
        {
          id: { type: 'integer' },
          a: { type: 'number' },
          d: { type: 'string', format: 'date-time' },
          c: { type: 'boolean' },
        },
        { id: 2, a: 2.5, d: '2024-01-02T03:04:05Z', c: true, gone: 'not loaded' },
      ),
    );
    expect(await columnTypes(schema, 'evolving')).toMatchObject({
      id: 'bigint',
      a: 'numeric',
      d: 'timestamp with time zone',
      gone: 'text',
      c: 'boolean',
    });
    // a: number → string (text), c: boolean → object (jsonb).
    ok(
      await load(
        { id: { type: 'integer' }, a: { type: 'string' }, c: { type: 'object' } },
        { id: 3, a: 'three', c: { k: 1 } },
      ),
    );
    expect(await columnTypes(schema, 'evolving')).toMatchObject({ a: 'text', c: 'jsonb' });
    // A schema narrower than the table again: values are written as the table's columns take them
    // (read straight into COPY rows, and parsed first).
    const narrower = { id: { type: 'integer' }, a: { type: 'integer' }, c: { type: 'boolean' } };
    ok(await load(narrower, { id: 4, a: 'four', c: false }));
    ok(await load(narrower, { id: 5, a: 'five', c: true }, { DESTINATION_POSTGRES_TRANSCODE: 'false' }));
    expect(await columnTypes(schema, 'evolving')).toMatchObject({ a: 'text', c: 'jsonb' });
    expect(await db.rows(`SELECT id::int, a, d::text, gone, c FROM evolution.evolving ORDER BY id`)).toEqual([
      { id: 1, a: '10', d: '2024-01-02 00:00:00+00', gone: 'kept', c: null },
      { id: 2, a: '2.5', d: '2024-01-02 03:04:05+00', gone: null, c: true },
      { id: 3, a: 'three', d: null, gone: null, c: { k: 1 } },
      { id: 4, a: 'four', d: null, gone: null, c: false },
      { id: 5, a: 'five', d: null, gone: null, c: true },
    ]);
  });

  it('widens columns of a table the user made with narrower types', async () => {
    await db.client.query(`CREATE SCHEMA IF NOT EXISTS evolution;
      CREATE TABLE evolution.handmade (id integer, code varchar(3), amount numeric(5,2), flag uuid);
      INSERT INTO evolution.handmade VALUES (1, 'abc', 123.45, '6f1c2f2e-8f43-4a3e-9d7e-5c3b2f1e0a9b')`);
    ok(
      await runWrite(
        db,
        catalogOf([
          {
            name: 'handmade',
            namespace: schema,
            properties: {
              id: { type: 'integer' },
              code: { type: 'string' },
              amount: { type: 'number' },
              flag: { type: 'string' },
            },
            mode: 'append',
          },
        ]),
        [
          record(
            'handmade',
            { id: 2 ** 40, code: 'a much longer code', amount: 123456789.123, flag: 'not a uuid' },
            { namespace: schema },
          ),
          state('handmade', 1, schema),
        ],
      ),
    );
    expect(await columnTypes(schema, 'handmade')).toMatchObject({
      id: 'bigint',
      code: 'text',
      amount: 'numeric',
      flag: 'text',
    });
    expect(
      await db.rows(`SELECT id::text, code, amount::text, flag FROM evolution.handmade ORDER BY id`),
    ).toEqual([
      { id: '1', code: 'abc', amount: '123.45', flag: '6f1c2f2e-8f43-4a3e-9d7e-5c3b2f1e0a9b' },
      { id: '1099511627776', code: 'a much longer code', amount: '123456789.123', flag: 'not a uuid' },
    ]);
  });
});

describe('table shapes', () => {
  const schema = 'shapes';
  it('loads a 100-column table', async () => {
    const kinds = [
      { type: 'integer' },
      { type: 'string' },
      { type: 'number' },
      { type: 'boolean' },
      { type: 'string', format: 'date-time' },
    ];
    const properties = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`col_${i}`, kinds[i % kinds.length]]),
    );
    const value = (i: number, r: number) =>
      [
        r * 1000 + i,
        `v${r}-${i}`,
        r + i / 10,
        (r + i) % 2 === 0,
        `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`,
      ][i % 5];
    const s = new Script().status('wide', 'STARTED', schema);
    for (let r = 0; r < 500; r++) {
      s.rec('wide', Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`col_${i}`, value(i, r)])), {
        namespace: schema,
      });
      if (r % 100 === 99) s.st('wide', r, schema);
    }
    s.status('wide', 'COMPLETE', schema);
    ok(
      await sync(
        db,
        'stdio',
        catalogOf([{ name: 'wide', namespace: schema, properties, mode: 'overwrite' }]),
        s,
      ),
    );
    expect(Object.keys(await columnTypes(schema, 'wide'))).toHaveLength(104);
    expect(
      await db.rows(
        'SELECT count(*)::int AS n, sum(col_0)::bigint::text AS s, count(*) FILTER (WHERE col_3)::int AS t FROM shapes.wide',
      ),
    ).toEqual([
      {
        n: 500,
        s: String(Array.from({ length: 500 }, (_, r) => r * 1000).reduce((a, b) => a + b, 0)),
        t: 250,
      },
    ]);
    expect(await db.rows('SELECT col_99::text, col_98 FROM shapes.wide WHERE col_0 = 7000')).toEqual([
      { col_99: '2024-01-01 00:00:39+00', col_98: false },
    ]);
  });

  it('creates empty tables for empty streams, and loads streams without a primary key as they are', async () => {
    const properties = { id: { type: 'integer' } };
    const cat = catalogOf([
      { name: 'empty_append', namespace: schema, properties, mode: 'append' },
      { name: 'empty_overwrite', namespace: schema, properties, mode: 'overwrite' },
      { name: 'nokey', namespace: schema, properties, mode: 'append' },
      { name: 'nokey_overwrite', namespace: schema, properties, mode: 'overwrite' },
    ]);
    const s = new Script()
      .status('empty_overwrite', 'STARTED', schema)
      .status('nokey_overwrite', 'STARTED', schema);
    for (const id of [1, 1, 2])
      s.rec('nokey', { id }, { namespace: schema }).rec('nokey_overwrite', { id }, { namespace: schema });
    s.st('nokey', 1, schema)
      .status('empty_overwrite', 'COMPLETE', schema)
      .status('nokey_overwrite', 'COMPLETE', schema);
    ok(await sync(db, 'stdio', cat, s));
    expect(await db.rows('SELECT count(*)::int AS n FROM shapes.empty_append')).toEqual([{ n: 0 }]);
    expect(await db.rows('SELECT count(*)::int AS n FROM shapes.empty_overwrite')).toEqual([{ n: 0 }]);
    expect(await db.rows('SELECT id::int FROM shapes.nokey ORDER BY id')).toEqual([
      { id: 1 },
      { id: 1 },
      { id: 2 },
    ]);
    expect(await db.rows('SELECT id::int FROM shapes.nokey_overwrite ORDER BY id')).toEqual([
      { id: 1 },
      { id: 1 },
      { id: 2 },
    ]);
    expect(
      await db.rows(
        `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'shapes' AND tablename LIKE 'nokey%'`,
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('refuses to drop a replaced table that views depend on unless drop_cascade is set', async () => {
    const cat = (gen: number) =>
      catalogOf([
        {
          name: 'viewed',
          namespace: schema,
          properties: { id: { type: 'integer' } },
          mode: 'overwrite',
          generation: gen,
        },
      ]);
    const load = (gen: number, config: Record<string, unknown> = {}) =>
      sync(
        db,
        'stdio',
        cat(gen),
        new Script().stream(
          'viewed',
          (s) => s.rec('viewed', { id: gen }, { namespace: schema }).st('viewed', gen, schema),
          schema,
        ),
        { config },
      );
    ok(await load(1));
    await db.client.query('CREATE VIEW shapes.viewed_ids AS SELECT id FROM shapes.viewed');
    const refused = await load(2);
    expect(refused.code).toBe(1);
    expect(errorsOf(refused)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('cannot be replaced because other objects (views) depend on it'),
    });
    expect(await db.rows('SELECT id::int FROM shapes.viewed_ids')).toEqual([{ id: 1 }]);
    // The retried attempt of generation 2 has nothing left to send: its rows wait in staging.
    ok(
      await sync(
        db,
        'stdio',
        cat(2),
        new Script().stream('viewed', () => {}, schema),
        { config: { drop_cascade: true } },
      ),
    );
    expect(await db.rows('SELECT id::int FROM shapes.viewed')).toEqual([{ id: 2 }]);
    expect(await db.rows(`SELECT count(*)::int AS n FROM pg_views WHERE viewname = 'viewed_ids'`)).toEqual([
      { n: 0 },
    ]);
  });

  it('keeps the whole record of a schemaless stream in _airbyte_data', async () => {
    ok(
      await runWrite(
        db,
        catalogOf([{ name: 'loose', namespace: schema, schemaless: true, mode: 'append' }]),
        [record('loose', { anything: [1, { two: 'three' }], 'odd key': null }, { namespace: schema })],
      ),
    );
    expect(await db.rows('SELECT _airbyte_data AS d FROM shapes.loose')).toEqual([
      { d: { anything: [1, { two: 'three' }], 'odd key': null } },
    ]);
  });

  it('quotes every identifier: case, spaces, quotes, unicode, keywords, names over 63 bytes', async () => {
    const ns = 'My "Schema" ü';
    const longA = `${'a'.repeat(60)}_first`;
    const longB = `${'a'.repeat(60)}_second`;
    const longStream = `stream_${'ß'.repeat(40)}`;
    const properties = {
      'Name With Spaces': { type: 'string' },
      '"quoted"': { type: 'string' },
      ÜnïcÖdé: { type: 'integer' },
      order: { type: 'integer' },
      UPPER: { type: 'string' },
      upper: { type: 'string' },
      [longA]: { type: 'integer' },
      [longB]: { type: 'integer' },
      _airbyte_meta: { type: 'string' },
    };
    const cat = catalogOf([
      { name: 'select', namespace: ns, properties, mode: 'append_dedup', pk: ['order'], cursor: 'ÜnïcÖdé' },
      { name: longStream, namespace: ns, properties: { id: { type: 'integer' } }, mode: 'overwrite' },
    ]);
    const data = {
      'Name With Spaces': 'spaces',
      '"quoted"': 'quotes',
      ÜnïcÖdé: 1,
      order: 5,
      UPPER: 'big',
      upper: 'small',
      [longA]: 1,
      [longB]: 2,
      _airbyte_meta: 'a user field named like a meta column',
    };
    const s = new Script()
      .status(longStream, 'STARTED', ns)
      .rec('select', data, { namespace: ns })
      .rec('select', { ...data, ÜnïcÖdé: 2, UPPER: 'newer' }, { namespace: ns })
      .rec(longStream, { id: 1 }, { namespace: ns })
      .st('select', 1, ns)
      .status(longStream, 'COMPLETE', ns);
    ok(await sync(db, 'stdio', cat, s));
    const cols = Object.keys(await columnTypes(ns, 'select'));
    expect(cols).toEqual([
      '_airbyte_raw_id',
      '_airbyte_extracted_at',
      '_airbyte_meta',
      '_airbyte_generation_id',
      'Name With Spaces',
      '"quoted"',
      'ÜnïcÖdé',
      'order',
      'UPPER',
      'upper',
      pgName(longA),
      pgName(longB),
      '_airbyte_meta_1',
    ]);
    expect(pgName(longA)).not.toBe(pgName(longB));
    expect(Buffer.byteLength(pgName(longA))).toBeLessThanOrEqual(63);
    const rows = await db.rows(
      `SELECT "Name With Spaces" AS a, """quoted""" AS b, "ÜnïcÖdé"::int AS c, "order"::int AS d, "UPPER" AS e, upper AS f, "_airbyte_meta_1" AS g
         FROM "My ""Schema"" ü"."select"`,
    );
    expect(rows).toEqual([
      {
        a: 'spaces',
        b: 'quotes',
        c: 2,
        d: 5,
        e: 'newer',
        f: 'small',
        g: 'a user field named like a meta column',
      },
    ]);
    const table = pgName(longStream);
    expect(Buffer.byteLength(table)).toBeLessThanOrEqual(63);
    expect(await db.rows(`SELECT id::int FROM "My ""Schema"" ü"."${table}"`)).toEqual([{ id: 1 }]);
  });
});

describe('check', () => {
  it('succeeds against a reachable database and fails clearly otherwise', async () => {
    const good = await runConnector(BIN, ['check', '--config', files.json('check-ok.json', db.config)]);
    expect(good.messages.at(-1)?.connectionStatus).toEqual({ status: 'SUCCEEDED' });
    const bad = await runConnector(BIN, [
      'check',
      '--config',
      files.json('check-bad.json', { ...db.config, port: 1, ssl_mode: { mode: 'disable' } }),
    ]);
    expect(bad.messages.at(-1)?.connectionStatus.status).toBe('FAILED');
    expect(bad.messages.at(-1)?.connectionStatus.message).toMatch(/could not reach Postgres at 127.0.0.1:1/);
    const secret = 'sup3r-secret-pw';
    const wrongUser = await runConnector(BIN, [
      'check',
      '--config',
      files.json('check-user.json', { ...db.config, username: 'no_such_role', password: secret }),
    ]);
    expect(wrongUser.messages.at(-1)?.connectionStatus.status).toBe('FAILED');
    expect(wrongUser.stdout).not.toContain(secret);
  });
});
