import { runConnector, scratchDir } from '@sluice/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './cluster';
import {
  BIN,
  checkSocketOutput,
  configure,
  errors,
  lastState,
  logs,
  Runner,
  records,
  states,
} from './helpers';

// CDC over logical replication against a cluster of this file's own (wal_level=logical).

let cluster: Cluster;
const files = scratchDir('sluice-srcpg-cdc-');
let dbCount = 0;

type Rec = { stream: string; data: Record<string, unknown> };

/** What a destination deduplicating by primary key and _ab_cdc_lsn ends with. */
function dedup(recs: Rec[], key = 'id'): Map<unknown, Record<string, unknown>> {
  const out = new Map<unknown, Record<string, unknown>>();
  const lsn = new Map<unknown, number>();
  for (const r of recs) {
    const k = r.data[key];
    const l = r.data._ab_cdc_lsn as number;
    if (lsn.has(k) && lsn.get(k)! > l) continue;
    lsn.set(k, l);
    out.set(k, r.data);
  }
  for (const [k, v] of out) if (v._ab_cdc_deleted_at !== null) out.delete(k);
  return out;
}

async function fresh(tables: string) {
  const database = `cdc${++dbCount}`;
  await cluster.query(`CREATE DATABASE ${database}`);
  for (const statement of tables.split(';').filter((s) => s.trim()))
    await cluster.query(statement, [], database);
  const slot = `slot_${dbCount}`;
  const config = {
    host: '127.0.0.1',
    port: cluster.port,
    database,
    username: 'postgres',
    ssl_mode: { mode: 'disable' },
    chunk_size_rows: 1000,
    replication_method: {
      method: 'CDC',
      replication_slot: slot,
      publication: `pub_${dbCount}`,
      initial_waiting_seconds: 5,
    },
  };
  const run = new Runner(files, config);
  const q = (sql: string, params?: unknown[]) => cluster.query(sql, params, database);
  const slotRow = async () =>
    (
      await q(
        'SELECT confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      )
    ).rows[0];
  return { database, config, run, q, slot, slotRow };
}

/** Table contents as the records carry them (id → columns). */
async function tableRows(q: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }>, sql: string) {
  return new Map((await q(sql)).rows.map((r) => [r.id, r]));
}

function sameContents(
  deduped: Map<unknown, Record<string, unknown>>,
  table: Map<unknown, Record<string, unknown>>,
  columns: string[],
) {
  expect([...deduped.keys()].sort()).toEqual([...table.keys()].sort());
  for (const [k, row] of table) {
    const rec = deduped.get(k)!;
    for (const c of columns) expect(rec[c], `${String(k)}.${c}`).toEqual(row[c]);
  }
}

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(() => {
  cluster?.stop();
  files.remove();
});

describe('CDC', () => {
  it('discover adds the CDC columns; tables without a key are full refresh only', async () => {
    const { run } = await fresh(
      'CREATE TABLE items (id int PRIMARY KEY, name text); CREATE TABLE logs (line text)',
    );
    const streams = await run.discover();
    const items = streams.find((s) => s.name === 'items')!;
    expect(items.supported_sync_modes).toEqual(['full_refresh', 'incremental']);
    expect(items.source_defined_cursor).toBe(true);
    expect(items.default_cursor_field).toEqual(['_ab_cdc_lsn']);
    expect(Object.keys((items.json_schema as { properties: object }).properties)).toEqual([
      'id',
      'name',
      '_ab_cdc_lsn',
      '_ab_cdc_updated_at',
      '_ab_cdc_deleted_at',
    ]);
    expect(streams.find((s) => s.name === 'logs')!.supported_sync_modes).toEqual(['full_refresh']);
    const check = await runConnector(BIN, run.args('check'));
    expect(check.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus.status).toBe(
      'SUCCEEDED',
    );
  });

  it('snapshot then streaming: inserts, updates, deletes; the LSN is acknowledged only at the next sync', async () => {
    const { run, q, slotRow, slot } = await fresh(`
      CREATE TABLE items (id int PRIMARY KEY, name text, qty int, f float8);
      INSERT INTO items SELECT g, 'item ' || g, g, 1.5 FROM generate_series(1, 2500) g;
      CREATE TABLE logs (line text);
      INSERT INTO logs VALUES ('a'), ('b')`);
    const streams = await run.discover();
    const catalog = configure(streams, [
      { name: 'items', sync_mode: 'incremental' },
      { name: 'logs', sync_mode: 'full_refresh' },
    ]);
    const first = await run.read(catalog);
    const snap = records(first.messages, 'items');
    expect(snap).toHaveLength(2500);
    expect(snap[0].data).toMatchObject({ id: 1, name: 'item 1', qty: 1, _ab_cdc_deleted_at: null });
    expect(typeof snap[0].data._ab_cdc_lsn).toBe('number');
    expect(snap[0].data._ab_cdc_updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(records(first.messages, 'logs')).toHaveLength(2);
    const st = states(first.messages);
    expect(st.every((s) => s.type === 'GLOBAL')).toBe(true);
    const s1 = lastState(first.messages);
    expect(s1.global.shared_state).toMatchObject({ state_type: 'cdc', slot });
    expect(s1.global.stream_states).toEqual([
      { stream_descriptor: { name: 'items', namespace: 'public' }, stream_state: { cdc: true } },
      {
        stream_descriptor: { name: 'logs', namespace: 'public' },
        stream_state: { state_type: 'full_refresh', complete: true },
      },
    ]);
    expect(logs(first.messages)).toContain('created replication slot');
    expect(logs(first.messages)).toContain('created publication');
    const analytics = first.messages.find((m) => m.type === 'TRACE' && m.trace.type === 'ANALYTICS');
    expect(analytics!.trace.analytics.type).toBe('postgres-cdc-slot-lag-bytes');

    await q(`INSERT INTO items VALUES (3000, 'new', 1, 'NaN')`);
    await q(`UPDATE items SET qty = qty + 100 WHERE id <= 3`);
    await q(`DELETE FROM items WHERE id = 2`);
    await q(
      `BEGIN; INSERT INTO items VALUES (3001, 'tx', 1, 0); UPDATE items SET name = 'tx2' WHERE id = 3001; COMMIT`,
    );
    const second = await run.read(catalog, [s1]);
    const changes = records(second.messages, 'items');
    expect(changes.map((c) => [c.data.id, c.data._ab_cdc_deleted_at === null ? 'u' : 'd'])).toEqual([
      [3000, 'u'],
      [1, 'u'],
      [2, 'u'],
      [3, 'u'],
      [2, 'd'],
      [3001, 'u'],
      [3001, 'u'],
    ]);
    const del = changes[4]!;
    // The default replica identity sends the key only.
    expect(del.data).toMatchObject({ id: 2, name: null, qty: null });
    expect(del.data._ab_cdc_deleted_at).toBe(del.data._ab_cdc_updated_at);
    expect(changes[0]!.meta).toEqual({
      changes: [{ field: 'f', change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' }],
    });
    // Change LSNs grow, and every one is above the snapshot rows' LSN.
    const lsns = changes.map((c) => c.data._ab_cdc_lsn as number);
    expect([...lsns].sort((a, b) => a - b)).toEqual(lsns);
    expect(lsns[0]).toBeGreaterThan(snap[0].data._ab_cdc_lsn as number);
    // The full refresh stream is read again each sync.
    expect(records(second.messages, 'logs')).toHaveLength(2);
    const s2 = lastState(second.messages);
    expect(s2.global.shared_state.lsn).not.toBe(s1.global.shared_state.lsn);

    // Nothing read in the second sync was acknowledged: the destination had not committed it.
    expect((await slotRow()).confirmed).toBe(s1.global.shared_state.lsn);
    const third = await run.read(catalog, [s2]);
    expect(records(third.messages, 'items')).toHaveLength(0);
    expect(third.stdout).toContain(`acknowledged ${s2.global.shared_state.lsn}`);
    expect((await slotRow()).confirmed).toBe(s2.global.shared_state.lsn);

    // A changed primary key: the old key is deleted, the new one written.
    await q(`UPDATE items SET id = 5000, name = 'moved' WHERE id = 5`);
    const fourth = await run.read(catalog, [lastState(third.messages)]);
    const moved = records(fourth.messages, 'items');
    expect(moved.map((c) => [c.data.id, c.data._ab_cdc_deleted_at === null ? 'u' : 'd'])).toEqual([
      [5, 'd'],
      [5000, 'u'],
    ]);

    const table = await tableRows(q, 'SELECT id, name, qty FROM items');
    sameContents(dedup([...snap, ...changes, ...moved]), table, ['name', 'qty']);
  });

  it('resumes after a kill mid-snapshot and mid-stream: nothing lost, nothing read twice', async () => {
    const { q, config } = await fresh(`
      CREATE TABLE "Odd ""T"" é" (id int PRIMARY KEY, "select" text, n int);
      INSERT INTO "Odd ""T"" é" SELECT g, 's' || g, 0 FROM generate_series(1, 6000) g`);
    const small = new Runner(files, { ...config, chunk_size_rows: 500 });
    const streams = await small.discover();
    const catalog = configure(streams, [{ name: 'Odd "T" é', sync_mode: 'incremental' }]);
    const all: Rec[] = [];

    // Killed during the initial snapshot, after the third chunk.
    let seen = 0;
    const k1 = await small.readUntilKilled(catalog, undefined, (m) => m.type === 'STATE' && ++seen === 3);
    expect(k1.signal).toBe('SIGKILL');
    expect(lastState(k1.taken).global.stream_states[0].stream_state.snapshot.pk).toEqual(['1500']);
    all.push(...records(k1.taken));
    // Changes made meanwhile are streamed after the resumed snapshot.
    await q(`UPDATE "Odd ""T"" é" SET n = 1 WHERE id IN (10, 4000)`);
    await q(`DELETE FROM "Odd ""T"" é" WHERE id = 11`);
    const r1 = await small.read(catalog, [lastState(k1.taken)]);
    all.push(...records(r1.messages));
    // The snapshot went on after the last committed chunk: ids 1–1500 before, 1501–6000 after.
    const ids = (recs: Rec[]) => recs.map((r) => r.data.id as number).sort((a, b) => a - b);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(ids(records(k1.taken))).toEqual(range(1, 1500));
    const resumed = records(r1.messages);
    const snapshotLsn = Math.min(...resumed.map((r) => r.data._ab_cdc_lsn as number));
    expect(ids(resumed.filter((r) => r.data._ab_cdc_lsn === snapshotLsn))).toEqual(range(1501, 6000));
    expect(resumed.filter((r) => r.data._ab_cdc_lsn !== snapshotLsn).map((r) => r.data.id)).toEqual([
      10, 4000, 11,
    ]);

    // Many transactions, then a kill while streaming them.
    for (let t = 0; t < 60; t++) {
      await q(
        `BEGIN; UPDATE "Odd ""T"" é" SET n = n + 1 WHERE id % 60 = ${t}; INSERT INTO "Odd ""T"" é" VALUES (${10000 + t}, 'new', ${t}); DELETE FROM "Odd ""T"" é" WHERE id = ${20 + t}; COMMIT`,
      );
    }
    seen = 0;
    const k2 = await small.readUntilKilled(
      catalog,
      [lastState(r1.messages)],
      (m) => m.type === 'STATE' && ++seen === 3,
    );
    expect(k2.signal).toBe('SIGKILL');
    const committed = records(k2.taken);
    expect(committed.length).toBeGreaterThan(500);
    all.push(...committed);
    const r2 = await small.read(catalog, [lastState(k2.taken)]);
    const rest = records(r2.messages);
    // No change is read twice across the kill: (key, lsn) pairs are disjoint.
    const seenPairs = new Set(committed.map((r) => `${r.data.id}@${r.data._ab_cdc_lsn}`));
    expect(rest.filter((r) => seenPairs.has(`${r.data.id}@${r.data._ab_cdc_lsn}`))).toEqual([]);
    all.push(...rest);

    const table = await tableRows(q, `SELECT id, "select", n FROM "Odd ""T"" é"`);
    sameContents(dedup(all), table, ['select', 'n']);
  });

  it('a dropped replication slot is a clear error, never a silent resync', async () => {
    const { run, q, slot } = await fresh('CREATE TABLE items (id int PRIMARY KEY)');
    const catalog = configure(await run.discover(), [{ name: 'items', sync_mode: 'incremental' }]);
    const first = await run.read(catalog);
    await q('SELECT pg_drop_replication_slot($1)', [slot]);
    const r = await run.read(catalog, [lastState(first.messages)], { allowFailure: true });
    expect(r.code).toBe(1);
    expect(records(r.messages)).toHaveLength(0);
    expect(errors(r.messages)[0]).toMatchObject({
      failure_type: 'config_error',
      message: `replication slot "${slot}" does not exist: it was dropped; a full resync is needed — reset the connection`,
    });
  });

  it('a saved position the server already discarded fails, or re-reads when asked to', async () => {
    const { run, q, config } = await fresh(
      'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)',
    );
    const catalog = configure(await run.discover(), [{ name: 'items', sync_mode: 'incremental' }]);
    const s1 = lastState((await run.read(catalog)).messages);
    await q('INSERT INTO items VALUES (3)');
    const s2 = lastState((await run.read(catalog, [s1])).messages);
    // Starting from s2 acknowledges it: s1 is now behind what the slot keeps.
    await run.read(catalog, [s2]);
    const stale = await run.read(catalog, [s1], { allowFailure: true });
    expect(stale.code).toBe(1);
    expect(records(stale.messages)).toHaveLength(0);
    expect(errors(stale.messages)[0].message).toContain(
      `the saved position ${s1.global.shared_state.lsn} is behind the slot's confirmed position ${s2.global.shared_state.lsn}`,
    );
    const resync = new Runner(files, {
      ...config,
      replication_method: {
        ...config.replication_method,
        invalid_cdc_cursor_position_behavior: 'Re-sync data',
      },
    });
    const again = await resync.read(catalog, [s1]);
    expect(
      records(again.messages)
        .map((r) => r.data.id)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(logs(again.messages)).toContain('re-reading every CDC stream as configured');
  });

  it('uses a slot and publication the user made, and says which tables the publication lacks', async () => {
    const { run, q, config } = await fresh(`
      CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY);
      INSERT INTO a VALUES (1, 'x')`);
    const method = config.replication_method;
    await q(`CREATE PUBLICATION ${method.publication} FOR TABLE a`);
    await q(`SELECT pg_create_logical_replication_slot('${method.replication_slot}', 'pgoutput')`);
    const streams = await run.discover();
    const bad = await run.read(
      configure(streams, [
        { name: 'a', sync_mode: 'incremental' },
        { name: 'b', sync_mode: 'incremental' },
      ]),
      undefined,
      {
        allowFailure: true,
      },
    );
    expect(errors(bad.messages)[0].message).toContain(
      `publication "${method.publication}" does not include "public.b"`,
    );
    expect(errors(bad.messages)[0].message).toContain(
      `ALTER PUBLICATION "${method.publication}" ADD TABLE "public"."b"`,
    );
    const ok = await run.read(configure(streams, [{ name: 'a', sync_mode: 'incremental' }]));
    expect(logs(ok.messages)).toContain(`using existing replication slot "${method.replication_slot}"`);
    expect(records(ok.messages).map((r) => r.data.v)).toEqual(['x']);
  });

  it('updates of large unchanged values: omitted with the default identity, sent with REPLICA IDENTITY FULL', async () => {
    const { run, q } = await fresh(`
      CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
      ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL`);
    const big = 'x'.repeat(10_000);
    await q('INSERT INTO docs VALUES (1, $1, $2), (2, $1, $2)', ['t', big]);
    const catalog = configure(await run.discover(), [{ name: 'docs', sync_mode: 'incremental' }]);
    const s1 = lastState((await run.read(catalog)).messages);
    await q(`UPDATE docs SET title = 'changed' WHERE id = 1`);
    const r = await run.read(catalog, [s1]);
    const [rec] = records(r.messages);
    expect(rec.data.title).toBe('changed');
    expect('body' in rec.data).toBe(false);
    expect(r.stdout).toContain('REPLICA IDENTITY FULL');
    await q('ALTER TABLE docs REPLICA IDENTITY FULL');
    await q(`UPDATE docs SET title = 'again' WHERE id = 2`);
    const r2 = await run.read(catalog, [lastState(r.messages)]);
    expect(records(r2.messages)[0].data).toMatchObject({ id: 2, title: 'again', body: big });
  });

  it('socket mode: snapshot and changes over the sockets', async () => {
    const { run, q } = await fresh(`
      CREATE TABLE items (id int PRIMARY KEY, name text);
      INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 3000) g`);
    const catalog = configure(await run.discover(), [{ name: 'items', sync_mode: 'incremental' }]);
    const first = await run.readSockets(catalog, 2);
    const one = checkSocketOutput(first.sockets);
    expect(one.records).toHaveLength(3000);
    expect(first.sockets.every((s) => s.some((m) => m.type === 'RECORD'))).toBe(true);
    await q(`UPDATE items SET name = 'changed' WHERE id <= 10`);
    await q(`DELETE FROM items WHERE id = 3000`);
    const second = await run.readSockets(catalog, 2, [one.states[one.states.length - 1]]);
    const two = checkSocketOutput(second.sockets);
    expect(two.records).toHaveLength(11);
    const table = await tableRows(q, 'SELECT id, name FROM items');
    sameContents(dedup([...one.records, ...two.records]), table, ['name']);
  });

  it('"While reading Data" acknowledges as it reads', async () => {
    const { config, slotRow, q } = await fresh('CREATE TABLE items (id int PRIMARY KEY)');
    const eager = new Runner(files, {
      ...config,
      replication_method: { ...config.replication_method, lsn_commit_behaviour: 'While reading Data' },
    });
    const catalog = configure(await eager.discover(), [{ name: 'items', sync_mode: 'incremental' }]);
    const s1 = lastState((await eager.read(catalog)).messages);
    await q('INSERT INTO items VALUES (1)');
    const r = await eager.read(catalog, [s1]);
    expect(records(r.messages)).toHaveLength(1);
    const lsn = lastState(r.messages).global.shared_state.lsn;
    // The server records the acknowledgement on its own time: up to 20 s on a loaded machine.
    for (let i = 0; i < 200 && (await slotRow()).confirmed !== lsn; i++)
      await new Promise((res) => setTimeout(res, 100));
    expect((await slotRow()).confirmed).toBe(lsn);
  }, 60_000);
});
