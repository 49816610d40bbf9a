import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogOf,
  errorsOf,
  files,
  Script,
  type StreamSpec,
  statesOf,
  sync,
  type TestDb,
  type Transport,
  testDatabase,
} from './helpers';

let db: TestDb;
beforeAll(async () => {
  db = await testDatabase('modes');
});
afterAll(async () => {
  await db.close();
  files.remove();
});

const props = {
  id: { type: 'integer' },
  name: { type: ['null', 'string'] },
  seq: { type: 'integer' },
  _ab_cdc_deleted_at: { type: ['null', 'string'], format: 'date-time' },
};

const ids = async (table: string) =>
  (await db.rows<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => Number(r.id));

const expectOk = (r: { code: number | null; stderr: string }, what = 'write') => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}`);
};

async function stagingTables(): Promise<string[]> {
  const rows = await db.rows<{ t: string }>(
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'airbyte_internal' ORDER BY 1",
  );
  return rows.map((r) => r.t);
}

describe.each<Transport>(['stdio', 'socket'])('sync modes over %s', (transport) => {
  const schema = `modes_${transport}`;
  const t = (name: string) => `"${schema}"."${name}"`;
  const stream = (name: string, s: Partial<StreamSpec>): StreamSpec => ({
    name,
    namespace: schema,
    properties: props,
    mode: 'append',
    ...s,
  });

  it('overwrite replaces the table atomically, keeps it when the sync fails, resumes a generation', async () => {
    const run = (gen: number, script: Script) =>
      sync(
        db,
        transport,
        catalogOf([stream('people', { mode: 'overwrite', pk: ['id'], generation: gen })]),
        script,
      );
    const rows = (from: number, to: number, s: Script) => {
      for (let i = from; i <= to; i++)
        s.rec('people', { id: i, name: `p${i}`, seq: 1 }, { namespace: schema });
      return s.st('people', to, schema);
    };
    const one = await run(
      1,
      new Script().stream('people', (s) => rows(1, 5, s), schema),
    );
    expectOk(one);
    expect(statesOf(one)).toHaveLength(1);
    expect(await ids(t('people'))).toEqual([1, 2, 3, 4, 5]);
    expect(await db.rows(`SELECT DISTINCT _airbyte_generation_id AS g FROM ${t('people')}`)).toEqual([
      { g: '1' },
    ]);

    const two = await run(
      2,
      new Script().stream('people', (s) => rows(10, 12, s), schema),
    );
    expectOk(two);
    expect(await ids(t('people'))).toEqual([10, 11, 12]);
    expect(await stagingTables()).toEqual([]);
    // The swapped-in table carries the primary key index built on the staging table.
    const indexes = await db.rows<{ def: string }>(
      `SELECT indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = 'people'`,
      [schema],
    );
    expect(indexes.map((i) => i.def)).toEqual([expect.stringMatching(/USING btree \(id\)$/)]);

    // Generation 3 fails after committing two slices: the table keeps generation 2.
    const failed = await run(
      3,
      new Script()
        .status('people', 'STARTED', schema)
        .rec('people', { id: 20, name: 'a', seq: 1 }, { namespace: schema })
        .st('people', 20, schema)
        .rec('people', { id: 21, name: 'b', seq: 1 }, { namespace: schema })
        .st('people', 21, schema)
        .status('people', 'INCOMPLETE', schema),
    );
    expectOk(failed);
    expect(statesOf(failed)).toHaveLength(2);
    expect(await ids(t('people'))).toEqual([10, 11, 12]);
    expect(await stagingTables()).toHaveLength(1);

    // The retried attempt of generation 3 resumes after state 21 and keeps what was committed.
    const retry = await run(
      3,
      new Script().stream('people', (s) => rows(22, 23, s), schema),
    );
    expectOk(retry);
    expect(await ids(t('people'))).toEqual([20, 21, 22, 23]);
    expect(await stagingTables()).toEqual([]);

    // A new generation abandons a stale staging table of an older one.
    await run(
      4,
      new Script()
        .status('people', 'STARTED', schema)
        .rec('people', { id: 30 }, { namespace: schema })
        .st('people', 30, schema),
    );
    expect(await stagingTables()).toHaveLength(1);
    const five = await run(
      5,
      new Script().stream('people', (s) => rows(40, 40, s), schema),
    );
    expectOk(five);
    expect(await stagingTables()).toEqual([]);
    expect(await ids(t('people'))).toEqual([40]);
  });

  it('an overwrite of an empty stream empties the table only when the stream completed', async () => {
    const cat = (gen: number) => catalogOf([stream('emptied', { mode: 'overwrite', generation: gen })]);
    expectOk(
      await sync(
        db,
        transport,
        cat(1),
        new Script().stream(
          'emptied',
          (s) => s.rec('emptied', { id: 1 }, { namespace: schema }).st('emptied', 1, schema),
          schema,
        ),
      ),
    );
    expect(await ids(t('emptied'))).toEqual([1]);
    expectOk(await sync(db, transport, cat(2), new Script().status('emptied', 'STARTED', schema)));
    expect(await ids(t('emptied'))).toEqual([1]);
    expectOk(
      await sync(
        db,
        transport,
        cat(3),
        new Script().stream('emptied', () => {}, schema),
      ),
    );
    expect(await ids(t('emptied'))).toEqual([]);
  });

  it('append adds rows and records each generation', async () => {
    const cat = (gen: number) => catalogOf([stream('log', { mode: 'append', generation: gen })]);
    const script = (from: number) =>
      new Script().stream(
        'log',
        (s) => {
          for (let i = from; i < from + 3; i++) s.rec('log', { id: i, name: null }, { namespace: schema });
          s.st('log', from, schema);
        },
        schema,
      );
    expectOk(await sync(db, transport, cat(1), script(1)));
    expectOk(await sync(db, transport, cat(2), script(1)));
    const rows = await db.rows<{ id: string; g: string; n: string }>(
      `SELECT id, _airbyte_generation_id AS g, count(*) AS n FROM ${t('log')} GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(rows.map((r) => [Number(r.id), Number(r.g), Number(r.n)])).toEqual([
      [1, 1, 1],
      [1, 2, 1],
      [2, 1, 1],
      [2, 2, 1],
      [3, 1, 1],
      [3, 2, 1],
    ]);
  });

  it('append_dedup keeps the newest row per key by cursor and honours CDC deletes', async () => {
    const cat = catalogOf([stream('users', { mode: 'append_dedup', pk: ['id'], cursor: 'seq' })]);
    const r = (s: Script, id: number, seq: number, name: string, deleted = false) =>
      s.rec(
        'users',
        { id, seq, name, ...(deleted ? { _ab_cdc_deleted_at: '2024-01-01T00:00:00Z' } : {}) },
        { namespace: schema },
      );
    const first = new Script().stream(
      'users',
      (s) => {
        for (let i = 1; i <= 4; i++) r(s, i, 10, `v10-${i}`);
        s.st('users', 1, schema);
      },
      schema,
    );
    expectOk(await sync(db, transport, cat, first));
    const second = new Script().stream(
      'users',
      (s) => {
        r(s, 1, 20, 'newer');
        r(s, 2, 5, 'older'); // a lower cursor never replaces a newer row
        s.st('users', 2, schema);
        r(s, 3, 11, 'gone', true);
        r(s, 4, 30, 'last-of-three');
        r(s, 4, 25, 'middle');
        s.st('users', 3, schema);
        r(s, 5, 1, 'new');
        r(s, 6, 1, 'created then deleted');
        r(s, 6, 2, 'deleted', true);
        s.rec('users', { seq: 1, name: 'no key' }, { namespace: schema });
        s.st('users', 4, schema);
      },
      schema,
    );
    const res = await sync(db, transport, cat, second);
    expectOk(res);
    expect(statesOf(res)).toHaveLength(3);
    const rows = await db.rows<{ id: string | null; seq: string; name: string }>(
      `SELECT id, seq, name FROM ${t('users')} ORDER BY id NULLS LAST`,
    );
    expect(rows.map((x) => [x.id === null ? null : Number(x.id), Number(x.seq), x.name])).toEqual([
      [1, 20, 'newer'],
      [2, 10, 'v10-2'],
      [4, 30, 'last-of-three'],
      [5, 1, 'new'],
      [null, 1, 'no key'],
    ]);
  });

  it('overwrite_dedup (append_dedup with minimum generation = generation) replaces the table with deduplicated rows', async () => {
    const cat = (gen: number) =>
      catalogOf([
        stream('accounts', {
          mode: 'append_dedup',
          pk: ['id'],
          cursor: 'seq',
          generation: gen,
          minGeneration: gen,
        }),
      ]);
    const load = (gen: number, rows: Array<[number, number]>) =>
      sync(
        db,
        transport,
        cat(gen),
        new Script().stream(
          'accounts',
          (s) => {
            for (const [id, seq] of rows)
              s.rec('accounts', { id, seq, name: `${id}@${seq}` }, { namespace: schema });
            s.st('accounts', gen, schema);
          },
          schema,
        ),
      );
    expectOk(
      await load(1, [
        [1, 1],
        [2, 1],
        [1, 2],
      ]),
    );
    expect(await db.rows(`SELECT id::int, seq::int FROM ${t('accounts')} ORDER BY id`)).toEqual([
      { id: 1, seq: 2 },
      { id: 2, seq: 1 },
    ]);
    expectOk(
      await load(2, [
        [3, 1],
        [3, 0],
      ]),
    );
    expect(
      await db.rows(
        `SELECT id::int, seq::int, _airbyte_generation_id::int AS g FROM ${t('accounts')} ORDER BY id`,
      ),
    ).toEqual([{ id: 3, seq: 1, g: 2 }]);
    expect(await stagingTables()).toEqual([]);
  });

  it('writes interleaved streams of several namespaces in one sync', async () => {
    const other = `${schema}_other`;
    const cat = catalogOf([
      stream('a', { mode: 'append' }),
      { name: 'b', namespace: other, properties: props, mode: 'append_dedup', pk: ['id'] },
      { name: 'c', properties: props, mode: 'overwrite' },
    ]);
    const s = new Script()
      .status('a', 'STARTED', schema)
      .status('b', 'STARTED', other)
      .status('c', 'STARTED');
    for (let i = 0; i < 300; i++) {
      s.rec('a', { id: i }, { namespace: schema });
      s.rec('b', { id: i % 50 }, { namespace: other });
      s.rec('c', { id: i });
      if (i % 100 === 99) s.st('a', i, schema);
    }
    s.status('a', 'COMPLETE', schema).status('b', 'COMPLETE', other).status('c', 'COMPLETE');
    const res = await sync(db, transport, cat, s, { config: { schema: `${schema}_default` } });
    expectOk(res);
    expect(errorsOf(res)).toEqual([]);
    expect(await db.rows(`SELECT count(*)::int AS n FROM ${t('a')}`)).toEqual([{ n: 300 }]);
    expect(await db.rows(`SELECT count(*)::int AS n FROM "${other}"."b"`)).toEqual([{ n: 50 }]);
    expect(await db.rows(`SELECT count(*)::int AS n FROM "${schema}_default"."c"`)).toEqual([{ n: 300 }]);
  });
});
