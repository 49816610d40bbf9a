import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { collect, runConnector, socketEnv } from '@sluice/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKER_DIST } from './global-setup';
import { BIN, files, type TestDb, testDatabase, writeArgs } from './helpers';

const FAKER = join(FAKER_DIST, 'index.js');

let db: TestDb;
beforeAll(async () => {
  db = await testDatabase('faker');
});
afterAll(async () => {
  await db.close();
  files.remove();
});

const FAKER_CONFIG = { count: 3000, seed: 9, records_per_slice: 400 };

/** faker's discovered catalog, configured: users overwrite, purchases append_dedup by id. */
async function catalog(namespace: string) {
  const d = await runConnector(FAKER, ['discover', '--config', files.json('fc.json', FAKER_CONFIG)]);
  const streams = d.messages.find((m) => m.type === 'CATALOG')!.catalog.streams as Array<
    Record<string, unknown>
  >;
  return {
    streams: streams
      .filter((s) => s.name === 'users' || s.name === 'purchases')
      .map((s) => ({
        stream: { ...s, namespace },
        sync_mode: 'full_refresh',
        destination_sync_mode: s.name === 'users' ? 'overwrite' : 'append_dedup',
        primary_key: [['id']],
        cursor_field: ['updated_at'],
        generation_id: 1,
        minimum_generation_id: s.name === 'users' ? 1 : 0,
        sync_id: 1,
      })),
  };
}

/** What faker sends for users, as (id, name, email) in id order, hashed. */
function expectedUsersDigest(stdout: string): { count: number; digest: string } {
  const users = stdout
    .split('\n')
    .filter((l) => l.includes('"RECORD"'))
    .map((l) => JSON.parse(l).record)
    .filter((r) => r.stream === 'users')
    .map((r) => r.data as { id: number; name: string; email: string })
    .sort((a, b) => a.id - b.id);
  const text = users.map((u) => `${u.id}|${u.name}|${u.email}`).join('\n');
  return { count: users.length, digest: createHash('md5').update(text).digest('hex') };
}

async function usersDigest(schema: string) {
  const [row] = await db.rows<{ n: number; digest: string }>(
    `SELECT count(*)::int AS n, md5(string_agg(id || '|' || name || '|' || email, E'\\n' ORDER BY id)) AS digest FROM "${schema}".users`,
  );
  return { count: row!.n, digest: row!.digest };
}

describe('source-faker → destination-postgres', () => {
  it('stdio: a piped sync loads what faker sent', async () => {
    const cat = await catalog('faker_stdio');
    const read = await runConnector(FAKER, [
      'read',
      '--config',
      files.json('f1.json', FAKER_CONFIG),
      '--catalog',
      files.json('c1.json', cat),
    ]);
    expect(read.code).toBe(0);
    const dest = await runConnector(BIN, writeArgs(db, cat), {
      stdin: read.stdout,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(dest.code, dest.stdout.slice(-2000)).toBe(0);
    expect(await usersDigest('faker_stdio')).toEqual(expectedUsersDigest(read.stdout));
    const purchases = await db.rows<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM faker_stdio.purchases',
    );
    expect(purchases[0]!.n).toBe(purchases[0]!.d);
    expect(purchases[0]!.n).toBeGreaterThan(0);
  });

  it('loads the same rows whether records are read straight into COPY rows or parsed first', async () => {
    const read = await runConnector(FAKER, [
      'read',
      '--config',
      files.json('f3.json', FAKER_CONFIG),
      '--catalog',
      files.json('c3.json', await catalog('faker_direct')),
    ]);
    expect(read.code).toBe(0);
    const load = async (ns: string, transcode: string) => {
      const input = read.stdout.replaceAll('"namespace":"faker_direct"', `"namespace":"${ns}"`);
      const dest = await runConnector(BIN, writeArgs(db, await catalog(ns)), {
        stdin: input,
        env: { PATH: process.env.PATH ?? '', DESTINATION_POSTGRES_TRANSCODE: transcode },
      });
      expect(dest.code, dest.stdout.slice(-2000)).toBe(0);
      return dest.messages
        .filter((m) => m.type === 'LOG')
        .map((m) => m.log.message as string)
        .filter((l) => / records written to /.test(l));
    };
    // faker's records are plain: nearly all go straight to COPY rows; none when turned off.
    const straight = (lines: string[]) =>
      lines.map((l) => Number(/\((\d+) read straight/.exec(l)![1]) / Number(/: (\d+) records/.exec(l)![1]));
    expect(straight(await load('faker_direct', 'true')).every((r) => r > 0.9)).toBe(true);
    expect(straight(await load('faker_parsed', 'false'))).toEqual([0, 0]);
    for (const table of ['users', 'purchases']) {
      const [cols] = await db.rows<{ c: string }>(
        `SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS c
           FROM information_schema.columns
          WHERE table_schema = 'faker_direct' AND table_name = $1 AND column_name <> '_airbyte_raw_id'`,
        [table],
      );
      const list = cols!.c;
      const [diff] = await db.rows<{ n: number; total: number }>(
        `SELECT (SELECT count(*)::int FROM faker_direct.${table}) AS total, count(*)::int AS n FROM (
           (SELECT ${list} FROM faker_direct.${table} EXCEPT ALL SELECT ${list} FROM faker_parsed.${table})
           UNION ALL
           (SELECT ${list} FROM faker_parsed.${table} EXCEPT ALL SELECT ${list} FROM faker_direct.${table})) d`,
      );
      expect(diff, table).toMatchObject({ n: 0 });
      expect(diff!.total).toBeGreaterThan(0);
    }
  });

  it('socket mode over 4 sockets, statuses forwarded on stdin as a platform does', async () => {
    const cat = await catalog('faker_socket');
    const paths = Array.from({ length: 4 }, (_, i) => join(files.dir, `faker-${i}.sock`));
    const env = { PATH: process.env.PATH ?? '', ...socketEnv(paths) };
    const dest = spawn(process.execPath, [BIN, ...writeArgs(db, cat)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
    });
    const source = spawn(
      process.execPath,
      [
        FAKER,
        'read',
        '--config',
        files.json('f2.json', FAKER_CONFIG),
        '--catalog',
        files.json('c2.json', cat),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    // The platform's part: the source's stream statuses go to the destination's stdin.
    let pending = '';
    source.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l.includes('"STREAM_STATUS"')) dest.stdin.write(`${l}\n`);
    });
    source.on('close', () => dest.stdin.end());
    const [dst, src] = await Promise.all([collect(dest), collect(source)]);
    expect(src.code).toBe(0);
    expect(dst.code, dst.stdout.slice(-2000)).toBe(0);
    const echoes = dst.messages.filter((m) => m.type === 'STATE').map((m) => m.state);
    expect(echoes.map((s) => s.id)).toEqual(Array.from({ length: echoes.length }, (_, i) => i + 1));
    const users = await usersDigest('faker_socket');
    expect(users.count).toBe(3000);
    // Same seed, same data as the stdio run.
    expect(users.digest).toBe((await usersDigest('faker_stdio')).digest);
    const purchases = await db.rows<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM faker_socket.purchases',
    );
    expect(purchases[0]!.n).toBe(purchases[0]!.d);
    expect(echoes.reduce((k, s) => k + s.destinationStats.recordCount, 0)).toBeGreaterThanOrEqual(3000);
    // Socket mode's records (with their partition_id) are read straight into COPY rows too.
    const written = dst.messages
      .filter((m) => m.type === 'LOG')
      .map((m) => /: (\d+) records written to .* \((\d+) read straight/.exec(m.log.message))
      .filter((x) => x !== null);
    expect(written).toHaveLength(2);
    for (const x of written) expect(Number(x[2]) / Number(x[1])).toBeGreaterThan(0.9);
  });
});
