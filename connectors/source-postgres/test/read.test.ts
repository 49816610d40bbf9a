import { runConnector, scratchDir } from '@sluice/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  checkSocketOutput,
  configure,
  errors,
  lastState,
  ownDatabase,
  Runner,
  records,
  states,
} from './helpers';

// Full refresh and cursor incremental against the machine's Postgres, in a database of this
// file's own, through the built CLI, in stdio and socket mode.

let db: Awaited<ReturnType<typeof ownDatabase>>;
const files = scratchDir('sluice-srcpg-read-');
let run: Runner;
let streams: Array<Record<string, unknown>>;
const q = (sql: string, params?: unknown[]) => db.client.query(sql, params);
const stream = (name: string, namespace = 'public') =>
  streams.find((s) => s.name === name && s.namespace === namespace)!;

beforeAll(async () => {
  db = await ownDatabase('sluice_srcpg_read');
  await q(`
    CREATE SCHEMA "Odd ""Schema"" é";
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
    CREATE TABLE typed (
      id bigint PRIMARY KEY, i2 smallint, i4 integer, big bigint, num numeric, num2 numeric(10,2),
      f4 real, f8 double precision, ok boolean, t text, vc varchar(20), ch char(3), nm name,
      j json, jb jsonb, ts timestamp, tstz timestamptz, d date, tm time, tmtz timetz,
      iv interval, by bytea, u uuid, ip inet, cidr_ cidr, mac macaddr, m money, bits bit(3),
      vbits varbit, pt point, arr_i integer[], arr_t text[], arr_ts timestamptz[], arr2 integer[][],
      md mood, dom positive, xm xml, tsv tsvector, rng int4range, oidc oid);
    INSERT INTO typed VALUES (1, -32768, 2147483647, 9223372036854775807, 12345678901234567890.000000000001, 12.50,
      1.5, 0.1, true, E'tab\\there "q" \\\\ é 😀', 'vc', 'ab', 'nm',
      '{"a": [1, 2],\n "b": null}', '{"b": {"c": true}}', '2024-02-29 13:14:15.5', '2024-02-29 13:14:15.123456+02',
      '2024-02-29', '13:14:15', '13:14:15.5+05:30', '1 year 2 mons 3 days 04:05:06', '\\x00ff10',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '-1234.5',
      B'101', B'1', '(1,2)', '{1,NULL,3}', '{"a b","c\\"d",NULL}', '{"2024-01-01 00:00:00+00"}', '{{1,2},{3,4}}',
      'happy', 5, '<a>x</a>', 'fat cat', '[1,5)', 42);
    INSERT INTO typed (id) VALUES (2);
    CREATE TABLE bad_values (id int PRIMARY KEY, f float8, n numeric, ts timestamptz, d date);
    INSERT INTO bad_values VALUES (1, 'NaN', 'NaN', 'infinity', '-infinity'), (2, '-Infinity', 'Infinity', '2024-01-01 00:00:00+00', '2024-01-01'), (3, 1.5, 2.5, NULL, NULL);
    CREATE TABLE "Odd ""Schema"" é"."select" ("from" int PRIMARY KEY, "my ""col"" ü" text, "Order By" int);
    INSERT INTO "Odd ""Schema"" é"."select" SELECT g, 'v' || g, g * 2 FROM generate_series(1, 25) g;
    CREATE TABLE big (id int PRIMARY KEY, payload text);
    INSERT INTO big SELECT g, repeat('x', 20) || g FROM generate_series(1, 20000) g;
    CREATE TABLE composite (a int, b text, v int, PRIMARY KEY (a, b));
    INSERT INTO composite SELECT g % 10, 'k' || (g / 10), g FROM generate_series(0, 299) g;
    CREATE TABLE nopk (v int, s text);
    INSERT INTO nopk SELECT g, 's' || g FROM generate_series(1, 20000) g;
    ANALYZE nopk;
    CREATE TABLE empty_t (id int PRIMARY KEY, x text);
    CREATE TABLE empty_nopk (x text);
    CREATE TABLE events (id int PRIMARY KEY, updated_at timestamp NOT NULL, note text);
    INSERT INTO events SELECT g, '2024-01-01'::timestamp + (g / 10) * interval '1 hour', 'e' || g FROM generate_series(1, 100) g;
    CREATE VIEW events_view AS SELECT id, updated_at FROM events;
    CREATE MATERIALIZED VIEW events_mat AS SELECT id, note FROM events;
    CREATE TABLE parted (id int, k int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
    CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
    CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (10) TO (20);
    INSERT INTO parted SELECT g, g % 20 FROM generate_series(1, 40) g;
    CREATE VIEW slow AS SELECT 1 AS x FROM pg_sleep(3);
  `);
  await q(
    `CREATE TABLE wide (id int PRIMARY KEY, ${Array.from({ length: 99 }, (_, i) => `c${i + 1} int`).join(', ')})`,
  );
  await q(
    `INSERT INTO wide SELECT g, ${Array.from({ length: 99 }, (_, i) => `g + ${i + 1}`).join(', ')} FROM generate_series(1, 50) g`,
  );
  run = new Runner(files, {
    host: '127.0.0.1',
    port: 5432,
    database: db.name,
    username: 'postgres',
    schemas: ['public', 'Odd "Schema" é'],
    chunk_size_rows: 1000,
  });
  streams = await run.discover();
});

afterAll(async () => {
  await db?.drop();
  files.remove();
});

describe('spec and check', () => {
  it('spec follows Airbyte’s source-postgres options and marks secrets', async () => {
    const r = await runConnector(BIN, ['spec']);
    expect(r.code).toBe(0);
    const s = r.messages[0]!.spec.connectionSpecification;
    expect(s.required).toEqual(['host', 'port', 'database', 'username']);
    expect(s.properties.password.airbyte_secret).toBe(true);
    expect(
      s.properties.ssl_mode.oneOf.map(
        (o: { properties: { mode: { const: string } } }) => o.properties.mode.const,
      ),
    ).toEqual(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);
    expect(s.properties.ssl_mode.oneOf[4].properties.client_key.airbyte_secret).toBe(true);
    expect(
      s.properties.replication_method.oneOf.map(
        (o: { properties: { method: { const: string } } }) => o.properties.method.const,
      ),
    ).toEqual(['Standard', 'CDC']);
    const tunnels = s.properties.tunnel_method.oneOf;
    expect(
      tunnels.map(
        (o: { properties: { tunnel_method: { const: string } } }) => o.properties.tunnel_method.const,
      ),
    ).toEqual(['NO_TUNNEL', 'SSH_KEY_AUTH', 'SSH_PASSWORD_AUTH']);
    expect(tunnels[1].properties.ssh_key.airbyte_secret).toBe(true);
    expect(tunnels[2].properties.tunnel_user_password.airbyte_secret).toBe(true);
  });

  it('check connects, and names a missing database or schema', async () => {
    const ok = await runConnector(BIN, run.args('check'));
    expect(ok.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus.status).toBe(
      'SUCCEEDED',
    );
    const noDb = await runConnector(
      BIN,
      run.args('check', undefined, undefined, { ...run.config, database: 'no_such_db_x' }),
    );
    const s1 = noDb.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
    expect(s1.status).toBe('FAILED');
    expect(s1.message).toContain('database "no_such_db_x" does not exist');
    const noSchema = await runConnector(
      BIN,
      run.args('check', undefined, undefined, { ...run.config, schemas: ['public', 'nope'] }),
    );
    const s2 = noSchema.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
    expect(s2).toEqual({
      status: 'FAILED',
      message: 'schema "nope" not found in database "' + db.name + '"',
    });
    const refused = await runConnector(
      BIN,
      run.args('check', undefined, undefined, { ...run.config, port: 1 }),
    );
    expect(refused.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus.message).toContain(
      'refused',
    );
  });
});

describe('discover', () => {
  it('lists tables, views, materialized views and partitioned tables (not partitions)', () => {
    const names = streams.map((s) => `${s.namespace}.${s.name}`).sort();
    expect(names).toEqual(
      [
        'Odd "Schema" é.select',
        'public.bad_values',
        'public.big',
        'public.composite',
        'public.empty_nopk',
        'public.empty_t',
        'public.events',
        'public.events_mat',
        'public.events_view',
        'public.nopk',
        'public.parted',
        'public.slow',
        'public.typed',
        'public.wide',
      ].sort(),
    );
    expect(stream('parted').source_defined_primary_key).toEqual([['id'], ['k']]);
    expect(stream('events_view').is_resumable).toBe(false);
    expect(stream('events_mat').is_resumable).toBe(true);
    expect(stream('nopk').source_defined_primary_key).toBeUndefined();
    expect(stream('nopk').supported_sync_modes).toEqual(['full_refresh', 'incremental']);
  });

  it('maps column types to JSON schema with airbyte_type', () => {
    const p = (stream('typed').json_schema as { properties: Record<string, unknown> }).properties;
    expect(p.id).toEqual({ type: 'number', airbyte_type: 'integer' });
    expect(p.big).toEqual({ type: 'number', airbyte_type: 'integer' });
    expect(p.num).toEqual({ type: 'number' });
    expect(p.ok).toEqual({ type: 'boolean' });
    expect(p.t).toEqual({ type: 'string' });
    expect(p.ts).toEqual({ type: 'string', format: 'date-time', airbyte_type: 'timestamp_without_timezone' });
    expect(p.tstz).toEqual({ type: 'string', format: 'date-time', airbyte_type: 'timestamp_with_timezone' });
    expect(p.d).toEqual({ type: 'string', format: 'date' });
    expect(p.tm).toEqual({ type: 'string', airbyte_type: 'time_without_timezone' });
    expect(p.tmtz).toEqual({ type: 'string', airbyte_type: 'time_with_timezone' });
    expect(p.arr_i).toEqual({ type: 'array', items: { type: 'number', airbyte_type: 'integer' } });
    expect(p.arr_ts).toEqual({
      type: 'array',
      items: { type: 'string', format: 'date-time', airbyte_type: 'timestamp_with_timezone' },
    });
    expect(p.dom).toEqual({ type: 'number', airbyte_type: 'integer' });
    expect(p.md).toEqual({ type: 'string' });
    expect(p.m).toEqual({ type: 'number' });
    expect((p.jb as { oneOf: unknown[] }).oneOf).toHaveLength(5);
    expect(stream('typed').source_defined_primary_key).toEqual([['id']]);
  });

  it('keeps quoted, spaced, unicode and keyword identifiers exactly', () => {
    const s = stream('select', 'Odd "Schema" é');
    expect(Object.keys((s.json_schema as { properties: object }).properties)).toEqual([
      'from',
      'my "col" ü',
      'Order By',
    ]);
    expect(s.source_defined_primary_key).toEqual([['from']]);
  });
});

describe('full refresh', () => {
  it('converts every type as Airbyte does', async () => {
    const r = await run.read(configure(streams, [{ name: 'typed' }]));
    const [row, empty] = records(r.messages, 'typed').map((x) => x.data);
    // int8 and numeric beyond a double: checked in the JSON text below.
    const { big, num, ...rest } = row;
    expect([big, num]).toEqual([Number('9223372036854775807'), Number('12345678901234567890.000000000001')]);
    expect(rest).toEqual({
      id: 1,
      i2: -32768,
      i4: 2147483647,
      num2: 12.5,
      f4: 1.5,
      f8: 0.1,
      ok: true,
      t: 'tab\there "q" \\ é 😀',
      vc: 'vc',
      ch: 'ab ',
      nm: 'nm',
      j: { a: [1, 2], b: null },
      jb: { b: { c: true } },
      ts: '2024-02-29T13:14:15.500000',
      tstz: '2024-02-29T11:14:15.123456Z',
      d: '2024-02-29',
      tm: '13:14:15.000000',
      tmtz: '13:14:15.500000+05:30',
      iv: '1 year 2 mons 3 days 04:05:06',
      by: Buffer.from([0, 255, 16]).toString('base64'),
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ip: '192.168.0.1/24',
      cidr_: '10.0.0.0/8',
      mac: '08:00:2b:01:02:03',
      m: -1234.5,
      bits: '101',
      vbits: '1',
      pt: '(1,2)',
      arr_i: [1, null, 3],
      arr_t: ['a b', 'c"d', null],
      arr_ts: ['2024-01-01T00:00:00.000000Z'],
      arr2: [
        [1, 2],
        [3, 4],
      ],
      md: 'happy',
      dom: 5,
      xm: '<a>x</a>',
      tsv: "'cat' 'fat'",
      rng: '[1,5)',
      oidc: 42,
    });
    // Digits beyond what a double holds are kept in the JSON text.
    const line = r.stdout.split('\n').find((l) => l.includes('"stream":"typed"') && l.includes('"id":1,'))!;
    expect(line).toContain('"big":9223372036854775807');
    expect(line).toContain('"num":12345678901234567890.000000000001');
    expect(Object.values(empty).filter((v) => v !== null)).toEqual([2]);
    expect(Object.keys(empty)).toHaveLength(40);
  });

  it('emits values without a JSON form as null with meta.changes', async () => {
    const r = await run.read(configure(streams, [{ name: 'bad_values' }]));
    const recs = records(r.messages, 'bad_values');
    expect(recs.map((x) => x.data)).toEqual([
      { id: 1, f: null, n: null, ts: null, d: null },
      { id: 2, f: null, n: null, ts: '2024-01-01T00:00:00.000000Z', d: '2024-01-01' },
      { id: 3, f: 1.5, n: 2.5, ts: null, d: null },
    ]);
    const change = (field: string) => ({ field, change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' });
    expect(recs[0].meta).toEqual({ changes: [change('f'), change('n'), change('ts'), change('d')] });
    expect(recs[1].meta).toEqual({ changes: [change('f'), change('n')] });
    expect(recs[2].meta).toBeUndefined();
  });

  it('chunks by primary key with a state after each chunk', async () => {
    const r = await run.read(configure(streams, [{ name: 'big' }]));
    const ids = records(r.messages, 'big').map((x) => x.data.id);
    expect(ids).toHaveLength(20000);
    expect(new Set(ids).size).toBe(20000);
    const s = states(r.messages).map((x) => x.stream.stream_state);
    expect(s).toHaveLength(20);
    expect(s[0]).toEqual({ state_type: 'full_refresh', snapshot: { pk: ['1000'], pk_columns: ['id'] } });
    expect(s[19]).toEqual({ state_type: 'full_refresh', complete: true });
    expect(states(r.messages).every((x) => x.sourceStats.recordCount === 1000)).toBe(true);
  });

  it('chunks a composite key and tables without a key (heap pages)', async () => {
    const config = { ...run.config, chunk_size_rows: 70 };
    const r = await run.read(configure(streams, [{ name: 'composite' }]), undefined, { config });
    const keys = records(r.messages, 'composite').map((x) => `${x.data.a}/${x.data.b}`);
    expect(new Set(keys).size).toBe(300);
    expect(keys).toHaveLength(300);
    expect(states(r.messages).length).toBeGreaterThanOrEqual(5);

    const n = await run.read(configure(streams, [{ name: 'nopk' }]), undefined, {
      config: { ...run.config, chunk_size_rows: 2000 },
    });
    const values = records(n.messages, 'nopk').map((x) => x.data.v);
    expect(values).toHaveLength(20000);
    expect(new Set(values).size).toBe(20000);
    const pageStates = states(n.messages).map((x) => x.stream.stream_state);
    expect(pageStates.length).toBeGreaterThan(5);
    expect(pageStates[0].snapshot.ctid_page).toBeGreaterThan(0);
    expect(typeof pageStates[0].snapshot.relation_filenode).toBe('number');
  });

  it('reads partitioned tables, views, materialized views, quoted names and 100 columns', async () => {
    const r = await run.read(
      configure(streams, [
        { name: 'parted' },
        { name: 'events_view' },
        { name: 'events_mat' },
        { name: 'select', namespace: 'Odd "Schema" é' },
        { name: 'wide' },
      ]),
    );
    expect(records(r.messages, 'parted')).toHaveLength(40);
    expect(records(r.messages, 'events_view')).toHaveLength(100);
    expect(records(r.messages, 'events_mat')).toHaveLength(100);
    const sel = records(r.messages, 'select');
    expect(sel).toHaveLength(25);
    expect(sel[0]).toMatchObject({
      namespace: 'Odd "Schema" é',
      data: { from: 1, 'my "col" ü': 'v1', 'Order By': 2 },
    });
    const wide = records(r.messages, 'wide');
    expect(wide).toHaveLength(50);
    expect(Object.keys(wide[0].data)).toHaveLength(100);
    expect(wide[0].data.c99).toBe(wide[0].data.id + 99);
  });

  it('empty tables end with a completed state', async () => {
    const r = await run.read(configure(streams, [{ name: 'empty_t' }, { name: 'empty_nopk' }]));
    expect(records(r.messages)).toHaveLength(0);
    expect(states(r.messages).map((s) => s.stream.stream_state)).toEqual([
      { state_type: 'full_refresh', complete: true },
      { state_type: 'full_refresh', complete: true },
    ]);
  });

  it('reads only the selected columns', async () => {
    const r = await run.read(configure(streams, [{ name: 'events', fields: ['id', 'note'] }]));
    expect(records(r.messages, 'events')[0].data).toEqual({ id: 1, note: 'e1' });
  });

  it('resumes after a kill mid-snapshot with no row lost or read twice (key and heap chunks)', async () => {
    for (const name of ['big', 'nopk']) {
      const config = { ...run.config, chunk_size_rows: 500 };
      const catalog = configure(streams, [{ name, generation_id: 3, sync_id: 11 }]);
      const killRun = new Runner(files, config);
      let seen = 0;
      const { taken, signal } = await killRun.readUntilKilled(
        catalog,
        undefined,
        (m) => m.type === 'STATE' && ++seen === 3,
      );
      expect(signal).toBe('SIGKILL');
      const committed = records(taken);
      const state = lastState(taken);
      expect(state.stream.stream_state.snapshot).toBeDefined();
      expect(state.stream.stream_state.generation_id).toBe(3);
      const resumed = await killRun.read(catalog, [state]);
      const all = [...committed, ...records(resumed.messages)].map((x) => x.data.id ?? x.data.v);
      expect(all).toHaveLength(20000);
      expect(new Set(all).size).toBe(20000);
      expect(lastState(resumed.messages).stream.stream_state).toEqual({
        state_type: 'full_refresh',
        complete: true,
        generation_id: 3,
        sync_id: 11,
      });
    }
  });

  it('a retry of the same sync skips a finished stream; a new sync or generation reads it all', async () => {
    const done = {
      type: 'STREAM',
      stream: {
        stream_descriptor: { name: 'events', namespace: 'public' },
        stream_state: { state_type: 'full_refresh', complete: true, generation_id: 1, sync_id: 5 },
      },
    };
    const same = await run.read(configure(streams, [{ name: 'events', generation_id: 1, sync_id: 5 }]), [
      done,
    ]);
    expect(records(same.messages)).toHaveLength(0);
    const next = await run.read(configure(streams, [{ name: 'events', generation_id: 1, sync_id: 6 }]), [
      done,
    ]);
    expect(records(next.messages)).toHaveLength(100);
    const partial = {
      ...done,
      stream: {
        ...done.stream,
        stream_state: {
          state_type: 'full_refresh',
          snapshot: { pk: ['50'], pk_columns: ['id'] },
          generation_id: 1,
        },
      },
    };
    const sameGen = await run.read(configure(streams, [{ name: 'events', generation_id: 1, sync_id: 6 }]), [
      partial,
    ]);
    expect(
      records(sameGen.messages)
        .map((x) => x.data.id)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 50 }, (_, i) => i + 51));
    const newGen = await run.read(configure(streams, [{ name: 'events', generation_id: 2, sync_id: 7 }]), [
      partial,
    ]);
    expect(records(newGen.messages)).toHaveLength(100);
  });

  it('fails clearly on an unknown table and on a statement timeout', async () => {
    const catalog = configure(streams, [{ name: 'events' }]);
    catalog.streams[0]!.stream.name = 'gone';
    const r = await run.read(catalog, undefined, { allowFailure: true });
    expect(r.code).toBe(1);
    expect(errors(r.messages)[0]).toMatchObject({ failure_type: 'config_error' });
    expect(errors(r.messages)[0].message).toContain('"public.gone"');

    const slow = await run.read(configure(streams, [{ name: 'slow' }]), undefined, {
      allowFailure: true,
      config: { ...run.config, statement_timeout_seconds: 1 },
    });
    expect(slow.code).toBe(1);
    expect(errors(slow.messages)[0].message).toMatch(/statement timeout/);
  });
});

describe('incremental by cursor', () => {
  it('snapshots first, then reads new rows; ties at the saved value are re-read only when they changed', async () => {
    const catalog = configure(streams, [
      { name: 'events', sync_mode: 'incremental', cursor_field: ['updated_at'] },
    ]);
    const first = await run.read(catalog);
    expect(records(first.messages)).toHaveLength(100);
    const s1 = lastState(first.messages);
    // 100 / 10 per hour: the largest value has one row (id 100 at hour 10).
    expect(s1.stream.stream_state).toEqual({
      state_type: 'cursor',
      cursor_field: ['updated_at'],
      cursor: '2024-01-01 10:00:00',
      cursor_record_count: 1,
    });

    const none = await run.read(catalog, [s1]);
    expect(records(none.messages)).toHaveLength(0);
    expect(lastState(none.messages).stream.stream_state).toEqual(s1.stream.stream_state);

    // A new row with the saved cursor value (a tie) and later rows.
    await q(
      `INSERT INTO events VALUES (101, '2024-01-01 10:00:00', 'tie'), (102, '2024-01-02', 'later'), (103, '2024-01-02', 'later2')`,
    );
    const second = await run.read(catalog, [lastState(none.messages)]);
    expect(
      records(second.messages)
        .map((x) => x.data.id)
        .sort((a, b) => a - b),
    ).toEqual([100, 101, 102, 103]);
    expect(lastState(second.messages).stream.stream_state).toMatchObject({
      cursor: '2024-01-02 00:00:00',
      cursor_record_count: 2,
    });

    await q(`UPDATE events SET updated_at = '2024-01-03', note = 'changed' WHERE id = 5`);
    const third = await run.read(catalog, [lastState(second.messages)]);
    expect(records(third.messages).map((x) => x.data)).toEqual([
      { id: 5, updated_at: '2024-01-03T00:00:00.000000', note: 'changed' },
    ]);
    await q(
      `DELETE FROM events WHERE id > 100; UPDATE events SET updated_at = '2024-01-01'::timestamp + (id / 10) * interval '1 hour', note = 'e' || id`,
    );
  });

  it('checkpoints at cursor changes and resumes after a kill without losing ties', async () => {
    await q(`CREATE TABLE ticks (id int PRIMARY KEY, at int NOT NULL)`);
    await q(`INSERT INTO ticks SELECT g, g / 7 FROM generate_series(1, 3000) g`);
    const local = await run.discover();
    const config = { ...run.config, chunk_size_rows: 100 };
    const r = new Runner(files, config);
    const catalog = configure(local, [{ name: 'ticks', sync_mode: 'incremental', cursor_field: ['at'] }]);
    // A first sync with a saved cursor below everything reads in cursor order.
    const start = {
      type: 'STREAM',
      stream: {
        stream_descriptor: { name: 'ticks', namespace: 'public' },
        stream_state: { state_type: 'cursor', cursor_field: ['at'], cursor: '-1', cursor_record_count: 0 },
      },
    };
    let seen = 0;
    const { taken, signal } = await r.readUntilKilled(
      catalog,
      [start],
      (m) => m.type === 'STATE' && ++seen === 4,
    );
    expect(signal).toBe('SIGKILL');
    const st = lastState(taken).stream.stream_state;
    // Every state closes a group of equal cursor values.
    const before = records(taken);
    expect(before.filter((x) => String(x.data.at) === st.cursor)).toHaveLength(st.cursor_record_count);
    expect(Math.max(...before.map((x) => x.data.at))).toBe(Number(st.cursor));
    const rest = await r.read(catalog, [lastState(taken)]);
    const ids = [...before, ...records(rest.messages)].map((x) => x.data.id);
    expect(new Set(ids).size).toBe(3000);
    expect(ids).toHaveLength(3000);
  });

  it('defaults the cursor to a well-named column', async () => {
    expect(stream('events').default_cursor_field).toEqual(['updated_at']);
    expect(stream('big').default_cursor_field).toEqual([]);
    const r = await run.read(configure(streams, [{ name: 'events', sync_mode: 'incremental' }]));
    expect(lastState(r.messages).stream.stream_state.cursor_field).toEqual(['updated_at']);
  });

  it('an empty table gives a null cursor, and a deselected cursor column is still tracked', async () => {
    const catalog = configure(streams, [{ name: 'empty_t', sync_mode: 'incremental', cursor_field: ['id'] }]);
    const r = await run.read(catalog);
    expect(lastState(r.messages).stream.stream_state).toEqual({
      state_type: 'cursor',
      cursor_field: ['id'],
      cursor: null,
      cursor_record_count: 0,
    });
    const sel = configure(streams, [
      { name: 'events', sync_mode: 'incremental', cursor_field: ['updated_at'], fields: ['id'] },
    ]);
    const from = {
      type: 'STREAM',
      stream: {
        stream_descriptor: { name: 'events', namespace: 'public' },
        stream_state: {
          state_type: 'cursor',
          cursor_field: ['updated_at'],
          cursor: '2024-01-01 09:00:00',
          cursor_record_count: 10,
        },
      },
    };
    const rr = await run.read(sel, [from]);
    expect(records(rr.messages).map((x) => x.data)).toEqual([{ id: 100 }]);
    expect(lastState(rr.messages).stream.stream_state.cursor).toBe('2024-01-01 10:00:00');
  });

  it('rejects a missing or unusable cursor', async () => {
    const none = configure(streams, [{ name: 'big', sync_mode: 'incremental' }]);
    const r = await run.read(none, undefined, { allowFailure: true });
    expect(errors(r.messages)[0].message).toContain('has no cursor field');
    const json = configure(streams, [{ name: 'typed', sync_mode: 'incremental', cursor_field: ['jb'] }]);
    const r2 = await run.read(json, undefined, { allowFailure: true });
    expect(errors(r2.messages)[0].message).toContain('cannot be a cursor');
  });
});

describe('socket mode', () => {
  it('full refresh: chunks read in parallel, spread over the sockets, each row once', async () => {
    const r = await run.readSockets(configure(streams, [{ name: 'big' }, { name: 'typed' }]), 3);
    expect(records(r.messages)).toHaveLength(0);
    const { records: recs, states: st } = checkSocketOutput(r.sockets);
    const big = recs.filter((x) => x.stream === 'big').map((x) => x.data.id);
    expect(big).toHaveLength(20000);
    expect(new Set(big).size).toBe(20000);
    expect(r.sockets.every((s) => s.some((m) => m.type === 'RECORD'))).toBe(true);
    // States follow key order across sockets (by id), so a resumed read never skips a chunk.
    const positions = st
      .filter((s) => s.stream.stream_descriptor.name === 'big' && s.stream.stream_state.snapshot)
      .map((s) => Number(s.stream.stream_state.snapshot.pk[0]));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(r.stdout).toContain('over 3 socket(s)');
  });

  it('incremental by cursor', async () => {
    const catalog = configure(streams, [
      { name: 'events', sync_mode: 'incremental', cursor_field: ['updated_at'] },
    ]);
    const from = {
      type: 'STREAM',
      stream: {
        stream_descriptor: { name: 'events', namespace: 'public' },
        stream_state: {
          state_type: 'cursor',
          cursor_field: ['updated_at'],
          cursor: '2024-01-01 05:00:00',
          cursor_record_count: 10,
        },
      },
    };
    const r = await run.readSockets(catalog, 2, [from]);
    const { records: recs, states: st } = checkSocketOutput(r.sockets);
    expect(recs.map((x) => x.data.id).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 41 }, (_, i) => i + 60),
    );
    expect(st[st.length - 1].stream.stream_state.cursor).toBe('2024-01-01 10:00:00');
  });
});
