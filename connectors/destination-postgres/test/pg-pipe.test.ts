import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, runConnector, socketEnv } from '@sluice/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_PG_BUILD_ERROR, SOURCE_PG_DIST } from './global-setup';
import { BIN, files, type TestDb, type Transport, testDatabase, writeArgs } from './helpers';

const SOURCE = join(SOURCE_PG_DIST, 'index.js');

let src: TestDb;
let dst: TestDb;
beforeAll(async () => {
  if (existsSync(SOURCE_PG_BUILD_ERROR)) {
    throw new Error(
      `connectors/source-postgres does not build: ${readFileSync(SOURCE_PG_BUILD_ERROR, 'utf8')}`,
    );
  }
  src = await testDatabase('pgsrc');
  dst = await testDatabase('pgdst');
  await src.client.query(`CREATE TABLE orders (
      id bigint PRIMARY KEY, qty integer, price numeric(10,2), ratio double precision, paid boolean,
      note text, code varchar(8), placed_at timestamptz, local_at timestamp, due date, token uuid, extra jsonb)`);
  await src.client.query(`INSERT INTO orders SELECT g, g % 7, g / 100.0, g / 3.0, g % 2 = 0,
      CASE WHEN g % 10 = 0 THEN NULL ELSE E'line\\t' || g || E'\\nnext "q" \\\\ end' END, 'c' || (g % 1000),
      '2024-01-01'::timestamptz + g * interval '1.25 second', '2024-01-01'::timestamp + g * interval '1 minute',
      '2000-01-01'::date + g % 5000, md5(g::text)::uuid, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g))
    FROM generate_series(1, 5000) g`);
});
afterAll(async () => {
  await src?.close();
  await dst?.close();
  files.remove();
});

const sourceConfig = () => ({ ...src.config, schemas: ['public'] });

async function configuredCatalog() {
  const d = await runConnector(SOURCE, ['discover', '--config', files.json('pg-src.json', sourceConfig())]);
  const stream = d.messages
    .find((m) => m.type === 'CATALOG')!
    .catalog.streams.find((s: { name: string }) => s.name === 'orders');
  return {
    streams: [
      {
        stream,
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
        primary_key: [['id']],
        generation_id: 1,
        minimum_generation_id: 1,
        sync_id: 1,
      },
    ],
  };
}

/** An ordered digest of the table, canonical across the source's and the target's column types. */
async function digest(db: TestDb): Promise<string> {
  const [row] = await db.rows<{
    d: string;
  }>(`SELECT md5(string_agg(concat_ws('|', id, qty, trim_scale(price::text::numeric),
      trim_scale(ratio::text::numeric), paid, coalesce(note, '∅'), code, placed_at, local_at, due, token::text, extra::text), E'\\n' ORDER BY id)) AS d
    FROM public.orders`);
  return row!.d;
}

describe.each<Transport>(['stdio', 'socket'])(
  'source-postgres → destination-postgres over %s',
  (transport) => {
    it('copies the table exactly', async () => {
      const catalog = await configuredCatalog();
      await dst.client.query('DROP TABLE IF EXISTS public.orders');
      const paths = Array.from({ length: 2 }, (_, i) => join(files.dir, `pg-${transport}-${i}.sock`));
      const env = { PATH: process.env.PATH ?? '', ...(transport === 'socket' ? socketEnv(paths) : {}) };
      const dest = spawn(process.execPath, [BIN, ...writeArgs(dst, catalog)], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env,
      });
      const source = spawn(
        process.execPath,
        [
          SOURCE,
          'read',
          '--config',
          files.json(`pg-src-${transport}.json`, { ...sourceConfig(), chunk_size_rows: 700 }),
          '--catalog',
          files.json(`pg-cat-${transport}.json`, catalog),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env },
      );
      if (transport === 'stdio') source.stdout.pipe(dest.stdin);
      else {
        // The platform's part in socket mode: stream statuses reach the destination on stdin.
        let pending = '';
        source.stdout.on('data', (d: Buffer) => {
          pending += d.toString();
          const lines = pending.split('\n');
          pending = lines.pop()!;
          for (const l of lines) if (l.includes('"STREAM_STATUS"')) dest.stdin.write(`${l}\n`);
        });
        source.on('close', () => dest.stdin.end());
      }
      const [d, s] = await Promise.all([collect(dest), collect(source)]);
      expect(s.code, s.stderr).toBe(0);
      expect(d.code, d.stdout.slice(-2000)).toBe(0);
      expect(d.messages.filter((m) => m.type === 'STATE').length).toBeGreaterThan(1);
      expect(await dst.rows('SELECT count(*)::int AS n FROM public.orders')).toEqual([{ n: 5000 }]);
      expect(await digest(dst)).toBe(await digest(src));
    });
  },
);
