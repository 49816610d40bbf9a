import { spawn } from 'node:child_process';
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

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'destination-dev-null.js');
const FAKER = join(FAKER_DIST, 'index.js');

const files = scratchDir('sluice-devnull-');
afterAll(() => files.remove());

const catalog = files.json('catalog.json', configuredCatalog(['users', 'purchases']));
const emptyConfig = files.json('empty.json', {});

/** source-faker read → dev-null write, joined by a pipe (the OS pipe is handed over) or by sockets. */
async function pipeline(
  fakerConfig: object,
  destConfig: object,
  env: Record<string, string> = {},
  socket = false,
) {
  const base = { PATH: process.env.PATH ?? '', ...env };
  const destArgs = [
    BIN,
    'write',
    '--config',
    files.json(`d${Math.random()}.json`, destConfig),
    '--catalog',
    catalog,
  ];
  const sourceArgs = [
    FAKER,
    'read',
    '--config',
    files.json(`s${Math.random()}.json`, fakerConfig),
    '--catalog',
    catalog,
  ];
  if (socket) {
    // The destination starts first and waits for the source's sockets.
    const dest = spawn(process.execPath, destArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: base });
    const source = spawn(process.execPath, sourceArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: base });
    const [dst, src] = await Promise.all([collect(dest), collect(source)]);
    return { dst, src };
  }
  const source = spawn(process.execPath, sourceArgs, { stdio: ['ignore', 'pipe', 'inherit'], env: base });
  const dest = spawn(process.execPath, destArgs, { stdio: [source.stdout, 'pipe', 'pipe'], env: base });
  // The destination has its own copy of the pipe; this process must not hold the read end.
  source.stdout.destroy();
  const sourceExit = new Promise<number | null>((resolve) => source.on('exit', resolve));
  const dst = await collect(dest);
  // A destination that fails first leaves the source to die of a broken pipe.
  const code = await sourceExit;
  return { dst, src: { code, messages: [] } };
}

describe('destination-dev-null', () => {
  it('spec and check', async () => {
    const spec = await runConnector(BIN, ['spec']);
    expect(spec.messages[0]?.spec.connectionSpecification.properties.fail_after_records.type).toBe('integer');
    const check = await runConnector(BIN, ['check', '--config', emptyConfig]);
    expect(check.messages).toEqual([
      { type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED' } },
    ]);
    const bad = await runConnector(BIN, [
      'check',
      '--config',
      files.json('bad.json', { log_every_records: -1 }),
    ]);
    expect(bad.messages[0]?.connectionStatus.message).toBe(
      'Config validation error: log_every_records: must be >= 0',
    );
  });

  it('counts the records of a faker read and echoes every state with its record count', async () => {
    const { dst, src } = await pipeline(
      { count: 3000, seed: 1, records_per_slice: 500 },
      { log_every_records: 1000 },
    );
    expect(src.code).toBe(0);
    expect(dst.code, dst.stdout).toBe(0);
    const echoes = byType(dst.messages, 'STATE').map((m) => m.state);
    expect(echoes.length).toBeGreaterThanOrEqual(6 + 9);
    for (const s of echoes) expect(s.destinationStats.recordCount).toBe(s.sourceStats.recordCount);
    const logs = byType(dst.messages, 'LOG').map((m) => m.log.message);
    expect(logs).toContain('1000 records');
    const total = echoes.reduce((n, s) => n + s.destinationStats.recordCount, 0);
    expect(logs.at(-1)).toMatch(
      new RegExp(
        `^write finished: ${total} records, \\d+ bytes, ${echoes.length} states received, ${echoes.length} echoed`,
      ),
    );
  });

  it('fails after N records when told to, having echoed the states before', async () => {
    const { dst } = await pipeline(
      { count: 3000, seed: 1, records_per_slice: 500 },
      { fail_after_records: 1200 },
    );
    expect(dst.code).toBe(1);
    expect(byType(dst.messages, 'STATE').map((m) => m.state.stream.stream_state.id)).toEqual([500, 1000]);
    expect(traceErrors(dst.messages)[0]?.message).toBe(
      'failing after 1200 records, as configured (fail_after_records)',
    );
  });

  it('rejects a malformed line on stdin, naming it', async () => {
    const r = await runConnector(BIN, ['write', '--config', emptyConfig, '--catalog', catalog], {
      stdin: '{"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":1}}\n{"type":"RECORD",\n',
    });
    expect(r.code).toBe(1);
    expect(traceErrors(r.messages)[0]?.message).toMatch(/^stdin line 2 is not valid JSON/);
  });

  for (const n of [1, 4]) {
    it(`reads faker's records from ${n} socket(s), echoing states in id order`, async () => {
      const paths = Array.from({ length: n }, (_, i) => join(files.dir, `dn${n}-${i}.sock`));
      const { dst, src } = await pipeline(
        { count: 5000, seed: 2, records_per_slice: 250 },
        {},
        socketEnv(paths),
        true,
      );
      expect(src.code).toBe(0);
      expect(dst.code, dst.stdout).toBe(0);
      const echoes = byType(dst.messages, 'STATE').map((m) => m.state);
      expect(echoes.map((s) => s.id)).toEqual(Array.from({ length: echoes.length }, (_, i) => i + 1));
      expect(new Set(echoes.map((s) => s.partition_id))).toEqual(
        new Set(Array.from({ length: n }, (_, i) => i)),
      );
      const users = echoes.filter((s) => s.stream.stream_descriptor.name === 'users');
      expect(users.map((s) => s.stream.stream_state.id)).toEqual(
        Array.from({ length: 20 }, (_, i) => (i + 1) * 250),
      );
      for (const s of echoes) expect(s.destinationStats.recordCount).toBe(s.sourceStats.recordCount);
      const total = echoes.reduce((k, s) => k + s.destinationStats.recordCount, 0);
      expect(byType(dst.messages, 'LOG').at(-1)?.log.message).toMatch(
        new RegExp(`^write finished: ${total} records`),
      );
      expect(byType(src.messages, 'RECORD')).toHaveLength(0);
    });
  }
});
