import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogOf,
  errorsOf,
  files,
  record,
  runWrite,
  Script,
  type StreamSpec,
  startWrite,
  state,
  statesOf,
  status,
  sync,
  type TestDb,
  type Transport,
  testDatabase,
} from './helpers';

let db: TestDb;
beforeAll(async () => {
  db = await testDatabase('commit');
});
afterAll(async () => {
  await db.close();
  files.remove();
});

const props = {
  id: { type: 'integer' },
  seq: { type: 'integer' },
  payload: { type: 'string' },
  _ab_cdc_deleted_at: { type: ['null', 'string'], format: 'date-time' },
};
// Rows big enough that a slice fills the writer's 256 KB chunks and reaches Postgres.
const PAYLOAD = 'x'.repeat(400);
const EVERY_STATE = { DESTINATION_POSTGRES_COMMIT_BYTES: '0' };
const NEVER = {
  DESTINATION_POSTGRES_COMMIT_BYTES: '1000000000000',
  DESTINATION_POSTGRES_COMMIT_INTERVAL_MS: '100000000',
};

const count = async (table: string) =>
  (await db.rows<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;

/** Rows of one slice: ids from..to, then (unless `open`) its state. */
function slice(schema: string, stream: string, from: number, to: number, open = false, seq = 1): Script {
  const s = new Script();
  for (let id = from; id <= to; id++) s.rec(stream, { id, seq, payload: PAYLOAD }, { namespace: schema });
  return open ? s : s.st(stream, to, schema);
}

describe.each<Transport>(['stdio', 'socket'])('commits and acknowledgements over %s', (transport) => {
  const schema = `commit_${transport}`;
  const t = (name: string) => `"${schema}"."${name}"`;
  const stream = (name: string, s: Partial<StreamSpec>): StreamSpec => ({
    name,
    namespace: schema,
    properties: props,
    mode: 'append',
    ...s,
  });

  it('echoes a state only once the records before it are committed', async () => {
    const live = await startWrite(db, transport, catalogOf([stream('acked', {})]), EVERY_STATE);
    for (let k = 1; k <= 3; k++) {
      live.send(slice(schema, 'acked', k * 1000, k * 1000 + 99));
      await live.waitForEchoes(k);
      // The echo came after the commit: another session already sees every row it covers.
      expect(await count(t('acked'))).toBe(100 * k);
    }
    const r = await live.end();
    expect(r.code).toBe(0);
    expect(live.echoed).toEqual([1099, 2099, 3099]);
  });

  it('a destination killed between COPY and COMMIT echoed nothing and left no rows', async () => {
    const live = await startWrite(db, transport, catalogOf([stream('killed', {})]), NEVER);
    live.send(slice(schema, 'killed', 1, 1000));
    // Wait until the rows are inside Postgres, in the open transaction's COPY.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const copying = await db.rows<{ n: string }>(
        `SELECT coalesce(sum(p.tuples_processed), 0) AS n FROM pg_stat_progress_copy p
           JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1`,
        [db.name],
      );
      if (Number(copying[0]!.n) > 0) break;
      if (Date.now() > deadline) throw new Error('the COPY never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(live.echoed).toEqual([]);
    await live.kill();
    expect(live.echoed).toEqual([]);
    expect(await count(t('killed'))).toBe(0);
  });

  it('resumes a killed snapshot without losing or duplicating rows (append_dedup and overwrite)', async () => {
    for (const mode of ['append_dedup', 'overwrite'] as const) {
      const name = `snap_${mode}`;
      const cat = catalogOf([stream(name, { mode, pk: ['id'], generation: 2 })]);
      // An older generation the overwrite must keep until the new one completes.
      expect(
        (
          await sync(
            db,
            transport,
            catalogOf([stream(name, { mode, pk: ['id'], generation: 1 })]),
            new Script().stream(
              name,
              (s) => s.rec(name, { id: -1 }, { namespace: schema }).st(name, 0, schema),
              schema,
            ),
          )
        ).code,
      ).toBe(0);

      const first = await startWrite(db, transport, cat, EVERY_STATE);
      first.send(new Script().status(name, 'STARTED', schema));
      for (let k = 0; k < 5; k++) first.send(slice(schema, name, k * 100 + 1, k * 100 + 100));
      await first.waitForEchoes(5);
      first.send(slice(schema, name, 501, 1100, true));
      await new Promise((r) => setTimeout(r, 200));
      await first.kill();
      expect(first.echoed).toEqual([100, 200, 300, 400, 500]);
      if (mode === 'overwrite') expect(await db.rows(`SELECT id::int FROM ${t(name)}`)).toEqual([{ id: -1 }]);

      // The next attempt starts after the last echoed state.
      const second = await startWrite(db, transport, cat, EVERY_STATE);
      second.send(new Script().status(name, 'STARTED', schema));
      for (let k = 5; k < 10; k++) second.send(slice(schema, name, k * 100 + 1, k * 100 + 100));
      second.send(new Script().status(name, 'COMPLETE', schema));
      const r = await second.end();
      expect(r.code).toBe(0);
      const stats = await db.rows(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, min(id)::int AS lo, max(id)::int AS hi FROM ${t(name)}`,
      );
      expect(stats).toEqual([
        mode === 'overwrite' ? { n: 1000, d: 1000, lo: 1, hi: 1000 } : { n: 1001, d: 1001, lo: -1, hi: 1000 },
      ]);
    }
  });

  it('resumes killed CDC without losing changes, replays included', async () => {
    const name = 'cdc';
    const cat = catalogOf([stream(name, { mode: 'append_dedup', pk: ['id'], cursor: 'seq' })]);
    const model = new Map<number, number>();
    const change = (s: Script, id: number, seq: number, del = false) => {
      s.rec(
        name,
        { id, seq, payload: PAYLOAD, ...(del ? { _ab_cdc_deleted_at: '2024-05-01T00:00:00Z' } : {}) },
        { namespace: schema },
      );
      const cur = model.get(id);
      if (cur === undefined || seq >= Math.abs(cur)) model.set(id, del ? -seq : seq);
    };
    const snapshot = new Script();
    for (let id = 1; id <= 600; id++) change(snapshot, id, 1);
    snapshot.st(name, 'snapshot', schema);
    const a = new Script();
    for (let id = 1; id <= 300; id++) change(a, id, 2);
    a.st(name, 'A', schema);
    const b = new Script();
    for (let id = 301; id <= 400; id++) change(b, id, 3, true);
    for (let id = 401; id <= 600; id++) change(b, id, 3);
    const c = new Script();
    for (let id = 1; id <= 50; id++) change(c, id, 4);
    change(c, 601, 4);
    change(c, 602, 4);
    change(c, 602, 5, true);
    c.st(name, 'C', schema);

    const first = await startWrite(db, transport, cat, EVERY_STATE);
    first.send(snapshot);
    first.send(a);
    await first.waitForEchoes(2);
    first.send(b); // no state yet: killed before B commits
    await new Promise((r) => setTimeout(r, 300));
    await first.kill();
    expect(first.echoed).toEqual(['snapshot', 'A']);

    // The source replays from before A (its last persisted state may lag the echoes).
    const second = await startWrite(db, transport, cat, EVERY_STATE);
    second.send(a);
    second.send(b.st(name, 'B', schema));
    second.send(c);
    const r = await second.end();
    expect(r.code).toBe(0);
    const rows = await db.rows<{ id: number; seq: number }>(
      `SELECT id::int, seq::int FROM ${t(name)} ORDER BY id`,
    );
    const expected = [...model.entries()]
      .filter(([, seq]) => seq > 0)
      .sort(([x], [y]) => x - y)
      .map(([id, seq]) => ({ id, seq }));
    expect(rows).toEqual(expected);
    expect(rows).toHaveLength(600 - 100 + 1);
  });
});

describe('failures', () => {
  const schema = 'failures';
  it('a bad input line fails the sync, keeps the old table and acknowledges only committed states', async () => {
    const cat = (gen: number) =>
      catalogOf([{ name: 'kept', namespace: schema, properties: props, mode: 'overwrite', generation: gen }]);
    const good = await runWrite(db, cat(1), [
      status('kept', 'STARTED', schema),
      record('kept', { id: 1 }, { namespace: schema }),
      state('kept', 1, schema),
      status('kept', 'COMPLETE', schema),
    ]);
    expect(good.code).toBe(0);
    const bad = await runWrite(
      db,
      cat(2),
      [
        status('kept', 'STARTED', schema),
        record('kept', { id: 2 }, { namespace: schema }),
        state('kept', 2, schema),
        record('kept', { id: 3 }, { namespace: schema }),
        '{"type":"RECORD","record":{"stream":"kept"', // truncated: not JSON
        state('kept', 3, schema),
        status('kept', 'COMPLETE', schema),
      ],
      { env: EVERY_STATE },
    );
    expect(bad.code).toBe(1);
    expect(errorsOf(bad)[0]?.message).toMatch(/line 5 is not valid JSON/);
    expect(statesOf(bad).map((m) => m.state.stream.stream_state.cursor)).toEqual([2]);
    expect(await db.rows(`SELECT id::int FROM "${schema}"."kept"`)).toEqual([{ id: 1 }]);
  });

  it('reports a clear error for a record of a stream not in the catalog, and for bad configs', async () => {
    const cat = catalogOf([{ name: 'known', namespace: schema, properties: props, mode: 'append' }]);
    const r = await runWrite(db, cat, [record('unknown', { id: 1 }, { namespace: schema })]);
    expect(r.code).toBe(1);
    expect(errorsOf(r)[0]?.message).toMatch(
      /stream "failures.unknown", which is not in the configured catalog/,
    );
    const wrongDb = await runWrite(db, cat, [], { config: { database: 'no_such_database_here' } });
    expect(wrongDb.code).toBe(1);
    expect(errorsOf(wrongDb)[0]).toMatchObject({
      failure_type: 'config_error',
      message: 'database "no_such_database_here" does not exist on 127.0.0.1:5432',
    });
    const dedupWithoutKey = await runWrite(
      db,
      catalogOf([{ name: 'k', namespace: schema, properties: props, mode: 'append_dedup' }]),
      [],
    );
    expect(errorsOf(dedupWithoutKey)[0]?.message).toBe(
      'stream "failures.k" uses append_dedup but has no primary key',
    );
  });
});
