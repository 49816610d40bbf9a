import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  byType,
  collect,
  configuredCatalog,
  runConnector,
  scratchDir,
  socketEnv,
  traceErrors,
} from '@sluice/protocol/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { FAKER_DIST } from '../test/global-setup';
import { fileNameFor } from './destination';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'destination-local-jsonl.js');
const FAKER = join(FAKER_DIST, 'index.js');

const files = scratchDir('sluice-localjsonl-');
afterAll(() => files.remove());

let n = 0;
const fresh = () => join(files.dir, `out-${++n}`);
const rec = (stream: string, id: number, namespace?: string) =>
  JSON.stringify({
    type: 'RECORD',
    record: { stream, ...(namespace ? { namespace } : {}), data: { id }, emitted_at: 1000 + id },
  });
const st = (id: number) =>
  JSON.stringify({
    type: 'STATE',
    state: { type: 'STREAM', stream: { stream_descriptor: { name: 'users' }, stream_state: { id } } },
  });
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

function write(dir: string, catalog: object, stdin: string) {
  return runConnector(
    BIN,
    [
      'write',
      '--config',
      files.json(`c${++n}.json`, { destination_path: dir }),
      '--catalog',
      files.json(`k${++n}.json`, catalog),
    ],
    {
      stdin,
    },
  );
}

describe('destination-local-jsonl', () => {
  it('check creates the directory, and fails on one it cannot write', async () => {
    const dir = join(fresh(), 'nested', 'deeper');
    const ok = await runConnector(BIN, [
      'check',
      '--config',
      files.json('ok.json', { destination_path: dir }),
    ]);
    expect(ok.messages[0]?.connectionStatus).toEqual({ status: 'SUCCEEDED' });
    expect(readdirSync(dir)).toEqual([]);
    const blocker = join(files.dir, 'a-file');
    writeFileSync(blocker, 'x');
    const bad = await runConnector(BIN, [
      'check',
      '--config',
      files.json('bad.json', { destination_path: join(blocker, 'sub') }),
    ]);
    expect(bad.messages.at(-1)?.connectionStatus.status).toBe('FAILED');
    expect(bad.messages.at(-1)?.connectionStatus.message).toMatch(
      /^destination_path ".*a-file\/sub" is not a writable directory/,
    );
    const missing = await runConnector(BIN, ['check', '--config', files.json('none.json', {})]);
    expect(missing.messages[0]?.connectionStatus.message).toBe(
      'Config validation error: destination_path: is required',
    );
  });

  it('writes one file per stream (namespaced names included) in Airbyte’s raw format', async () => {
    const dir = fresh();
    const catalog = {
      streams: [
        ...configuredCatalog(['users']).streams,
        ...configuredCatalog(['users', 'odd/name'], { namespace: 'ns' }).streams,
      ],
    };
    const r = await write(
      dir,
      catalog,
      [rec('users', 1), rec('users', 2, 'ns'), rec('odd/name', 3, 'ns'), st(1)].join('\n'),
    );
    expect(r.code, r.stdout).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['ns__odd_name.jsonl', 'ns__users.jsonl', 'users.jsonl']);
    const [row] = lines(join(dir, 'users.jsonl'));
    expect(row).toEqual({
      _airbyte_ab_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      _airbyte_emitted_at: 1001,
      _airbyte_data: { id: 1 },
    });
    expect(lines(join(dir, 'ns__odd_name.jsonl')).map((l) => l._airbyte_data.id)).toEqual([3]);
    expect(byType(r.messages, 'STATE')[0]?.state.destinationStats.recordCount).toBe(3);
    // Names never escape the directory or hide files.
    expect(fileNameFor('../etc/passwd')).toBe('__etc_passwd.jsonl');
    expect(fileNameFor('.hidden', 'a b')).toBe('a_b___hidden.jsonl');
  });

  it('writes every record’s data as sent, whether read from its line or parsed first', async () => {
    const dir = fresh();
    const input = [
      // Read from the line: compact, spaced, escapes and non-ASCII, nested, numbers as written.
      '{"type":"RECORD","record":{"stream":"users","data":{"id":1,"n":1.50,"s":"a\\"b\\u00e9 ✓"},"emitted_at":5}}',
      '{"type": "RECORD", "record": {"stream": "users", "data": {"id": 2, "o": {"k": [1, null]}}, "emitted_at": 6, "partition_id": 0}}',
      // Left to the SDK: meta, a fractional emitted_at, an unknown top-level key.
      '{"type":"RECORD","record":{"stream":"users","data":{"id":3},"emitted_at":7,"meta":{"changes":[]}}}',
      '{"type":"RECORD","record":{"stream":"users","data":{"id":4},"emitted_at":8.0}}',
      '{"type":"RECORD","record":{"stream":"users","data":{"id":5},"emitted_at":9},"extra":1}',
    ];
    const r = await write(dir, configuredCatalog(['users']), [...input, st(1)].join('\n'));
    expect(r.code, r.stdout).toBe(0);
    const rows = lines(join(dir, 'users.jsonl'));
    expect(rows.map((row) => [row._airbyte_emitted_at, row._airbyte_data])).toEqual(
      input.map((l) => {
        const rec = JSON.parse(l).record;
        return [rec.emitted_at, rec.data];
      }),
    );
    for (const row of rows) expect(row._airbyte_ab_id).toMatch(/^[0-9a-f-]{36}$/);
    // Data read from its line keeps the source's text: 1.50 stays 1.50.
    expect(readFileSync(join(dir, 'users.jsonl'), 'utf8')).toContain('"n":1.50');
  });

  it('appends in append mode and replaces in overwrite mode', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'users.jsonl'), `${JSON.stringify({ old: true })}\n`);
    writeFileSync(join(dir, 'purchases.jsonl'), `${JSON.stringify({ old: true })}\n`);
    const catalog = {
      streams: [
        ...configuredCatalog(['users'], { destinationSyncMode: 'append' }).streams,
        ...configuredCatalog(['purchases'], { destinationSyncMode: 'overwrite', generationId: 3 }).streams,
      ],
    };
    const r = await write(
      dir,
      catalog,
      [rec('users', 1), rec('purchases', 1), rec('purchases', 2), st(1)].join('\n'),
    );
    expect(r.code).toBe(0);
    expect(lines(join(dir, 'users.jsonl'))).toHaveLength(2);
    expect(lines(join(dir, 'purchases.jsonl')).map((l) => l._airbyte_data.id)).toEqual([1, 2]);
    expect(readdirSync(dir).sort()).toEqual(['purchases.jsonl', 'users.jsonl']);
  });

  it('keeps an overwrite generation’s acknowledged records across a failed attempt', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'users.jsonl'), `${JSON.stringify({ previous: 'sync' })}\n`);
    const catalog = configuredCatalog(['users'], { destinationSyncMode: 'overwrite', generationId: 7 });
    const first = await write(
      dir,
      catalog,
      [rec('users', 1), rec('users', 2), st(2), rec('users', 3), '{broken'].join('\n'),
    );
    expect(first.code).toBe(1);
    expect(byType(first.messages, 'STATE')).toHaveLength(1);
    // The previous sync's file is untouched until the generation completes.
    expect(lines(join(dir, 'users.jsonl'))).toEqual([{ previous: 'sync' }]);
    // The retry resumes after state 2 (record 3, never acknowledged, was not kept).
    const second = await write(dir, catalog, [rec('users', 3), rec('users', 4), st(4)].join('\n'));
    expect(second.code).toBe(0);
    expect(lines(join(dir, 'users.jsonl')).map((l) => l._airbyte_data.id)).toEqual([1, 2, 3, 4]);
    expect(readdirSync(dir)).toEqual(['users.jsonl']);
    // A new generation starts from scratch.
    const third = await write(
      dir,
      configuredCatalog(['users'], { destinationSyncMode: 'overwrite', generationId: 8 }),
      rec('users', 9),
    );
    expect(third.code).toBe(0);
    expect(lines(join(dir, 'users.jsonl')).map((l) => l._airbyte_data.id)).toEqual([9]);
  });

  it('has the records on disk before it echoes the state that covers them', async () => {
    const dir = fresh();
    const child = spawn(
      process.execPath,
      [
        BIN,
        'write',
        '--config',
        files.json('live.json', { destination_path: dir }),
        '--catalog',
        files.json('live-cat.json', configuredCatalog(['users'])),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    const done = collect(child);
    const echoed = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('"STATE"')) resolve();
      });
    });
    child.stdin.write(`${[rec('users', 1), rec('users', 2), st(2)].join('\n')}\n`);
    await echoed;
    // The process is still running: what the echo promises must already be in the file.
    expect(lines(join(dir, 'users.jsonl')).map((l) => l._airbyte_data.id)).toEqual([1, 2]);
    child.stdin.end();
    expect((await done).code).toBe(0);
  });

  it('rejects unsupported sync modes and colliding file names', async () => {
    const dedup = await write(
      fresh(),
      configuredCatalog(['users'], { destinationSyncMode: 'append_dedup' }),
      '',
    );
    expect(dedup.code).toBe(1);
    expect(traceErrors(dedup.messages)[0]).toMatchObject({
      failure_type: 'config_error',
      message:
        'stream "users" asks for destination sync mode "append_dedup"; this destination supports overwrite and append',
    });
    const clash = await write(fresh(), configuredCatalog(['a/b', 'a_b']), '');
    expect(traceErrors(clash.messages)[0]?.message).toBe(
      'streams "a/b" and "a_b" would both write a_b.jsonl',
    );
  });

  for (const sockets of [1, 4]) {
    it(`writes faker's users and purchases received over ${sockets} socket(s)`, async () => {
      const dir = fresh();
      const paths = Array.from({ length: sockets }, (_, i) => join(files.dir, `lj${sockets}-${i}.sock`));
      const env = { PATH: process.env.PATH ?? '', ...socketEnv(paths) };
      const catalog = files.json(
        `sock${sockets}.json`,
        configuredCatalog(['users', 'purchases'], { destinationSyncMode: 'overwrite', generationId: 1 }),
      );
      const dest = spawn(
        process.execPath,
        [
          BIN,
          'write',
          '--config',
          files.json(`sd${sockets}.json`, { destination_path: dir }),
          '--catalog',
          catalog,
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env,
        },
      );
      const source = spawn(
        process.execPath,
        [
          FAKER,
          'read',
          '--config',
          files.json(`sf${sockets}.json`, { count: 3000, seed: 9, records_per_slice: 400 }),
          '--catalog',
          catalog,
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env,
        },
      );
      const [dst, src] = await Promise.all([collect(dest), collect(source)]);
      expect(src.code).toBe(0);
      expect(dst.code, dst.stdout).toBe(0);
      const users = lines(join(dir, 'users.jsonl')).map((l) => l._airbyte_data.id);
      expect(users.sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
      const purchases = lines(join(dir, 'purchases.jsonl')).map((l) => l._airbyte_data.id);
      expect(new Set(purchases).size).toBe(purchases.length);
      const echoes = byType(dst.messages, 'STATE').map((m) => m.state);
      expect(echoes.map((s) => s.id)).toEqual(Array.from({ length: echoes.length }, (_, i) => i + 1));
      expect(echoes.reduce((k, s) => k + s.destinationStats.recordCount, 0)).toBe(3000 + purchases.length);
      expect(existsSync(join(dir, '.users.jsonl.gen-1.staging'))).toBe(false);
    });
  }
});
