import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  socketEnv as baseSocketEnv,
  byType,
  collect,
  configuredCatalog,
  DESTINATION,
  type Message,
  run,
  SOURCE,
  scratch,
  traceErrors,
} from './helpers';

const files = scratch();
afterAll(() => files.remove());

const socketEnv = (paths: string[], extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  ...baseSocketEnv(paths, extra),
});

/** Starts the destination first (it must wait for the source's sockets), then the source. */
async function syncOverSockets(
  n: number,
  tag: string,
  opts: { sourceConfig?: object; destCatalog?: object; destEnv?: Record<string, string> } = {},
) {
  const paths = Array.from({ length: n }, (_, i) => join(files.dir, `${tag}-${i}.sock`));
  const sourceConfig = files.json(
    `${tag}-src.json`,
    opts.sourceConfig ?? { rows: 95, slice: 10, credentials: { password: 'hunter2' } },
  );
  const catalog = files.json(`${tag}-cat.json`, configuredCatalog(['numbers', 'letters']));
  const destCatalog = files.json(
    `${tag}-dcat.json`,
    opts.destCatalog ?? configuredCatalog(['numbers', 'letters']),
  );
  const destConfig = files.json(`${tag}-dst.json`, {});
  const dest = spawn(
    process.execPath,
    [DESTINATION, 'write', '--config', destConfig, '--catalog', destCatalog],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: socketEnv(paths, opts.destEnv),
    },
  );
  const destDone = collect(dest);
  await new Promise((r) => setTimeout(r, 100));
  const source = spawn(process.execPath, [SOURCE, 'read', '--config', sourceConfig, '--catalog', catalog], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: socketEnv(paths),
  });
  const [src, dst] = await Promise.all([collect(source), destDone]);
  return { src, dst };
}

function summaryOf(messages: Message[]) {
  const log = byType(messages, 'LOG').find((m) => m.log.message.startsWith('{"summary"'));
  return JSON.parse(log!.log.message).summary;
}

describe('socket mode', () => {
  for (const n of [1, 4]) {
    it(`moves records and states over ${n} socket(s), acknowledging states in id order`, async () => {
      const { src, dst } = await syncOverSockets(n, `rr${n}`);
      expect(src.code, src.stdout + src.stderr).toBe(0);
      expect(dst.code, dst.stdout + dst.stderr).toBe(0);
      // Only control messages on the source's stdout.
      expect(byType(src.messages, 'RECORD')).toHaveLength(0);
      expect(byType(src.messages, 'STATE')).toHaveLength(0);
      expect(src.messages.filter((m) => m.type === 'TRACE')).toHaveLength(4);
      expect(byType(src.messages, 'LOG').at(-1)?.log.message).toMatch(
        new RegExp(`^read finished: 190 records .* over ${n} socket`),
      );

      expect(summaryOf(dst.messages)).toMatchObject({
        counts: { numbers: 95, letters: 95 },
        medium: 'SOCKET',
        partitions: n,
      });
      const echoes = byType(dst.messages, 'STATE').map((m) => m.state);
      expect(echoes.map((s) => s.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      for (const s of echoes) {
        expect(s.partition_id).toBe((s.id - 1) % n);
        expect(s.destinationStats.recordCount).toBe(s.sourceStats.recordCount);
      }
      expect(echoes.map((s) => s.sourceStats.recordCount)).toEqual([
        ...Array(9).fill(10),
        5,
        ...Array(9).fill(10),
        5,
      ]);
    });
  }

  it('applies the stream mapping (names, namespace, selected fields) before the write handler', async () => {
    const mapping = files.json('mapping.json', {
      streams: [
        {
          source: { name: 'numbers' },
          destination: { name: 'nums', namespace: 'analytics' },
          selectedFields: ['n'],
        },
        { source: { name: 'letters' }, destination: { name: 'letters' } },
      ],
    });
    const destCatalog = {
      streams: [
        ...configuredCatalog(['nums'], { namespace: 'analytics' }).streams,
        ...configuredCatalog(['letters']).streams,
      ],
    };
    const { src, dst } = await syncOverSockets(2, 'map', {
      destCatalog,
      destEnv: { SLUICE_STREAM_MAPPING: mapping },
    });
    expect(src.code).toBe(0);
    expect(dst.code, dst.stdout).toBe(0);
    const summary = summaryOf(dst.messages);
    expect(summary.counts).toEqual({ 'analytics.nums': 95, letters: 95 });
    expect(summary.first['analytics.nums']).toEqual({ n: 1 });
    expect(summary.first.letters).toEqual({ n: 1, letter: 'b' });
    // States keep the source's stream names: the platform saves them as source state.
    const names = new Set(byType(dst.messages, 'STATE').map((m) => m.state.stream.stream_descriptor.name));
    expect(names).toEqual(new Set(['numbers', 'letters']));
  });

  it('fails clearly when a mapped record has no mapping, or the mapping file is bad', async () => {
    const mapping = files.json('partial-mapping.json', {
      streams: [{ source: { name: 'numbers' }, destination: { name: 'numbers' } }],
    });
    const { dst } = await syncOverSockets(1, 'partial', { destEnv: { SLUICE_STREAM_MAPPING: mapping } });
    expect(dst.code).toBe(1);
    expect(traceErrors(dst.messages)[0]?.message).toBe(
      'received a record for stream "letters", which the stream mapping does not list',
    );
    const badMapping = files.json('bad-mapping.json', { streams: [{ source: {} }] });
    const r = await run(
      DESTINATION,
      [
        'write',
        '--config',
        files.json('d.json', {}),
        '--catalog',
        files.json('c.json', configuredCatalog(['numbers'])),
      ],
      {
        env: { SLUICE_STREAM_MAPPING: badMapping },
      },
    );
    expect(r.code).toBe(1);
    expect(traceErrors(r.messages)[0]?.message).toMatch(
      /^the stream mapping file ".*bad-mapping.json" is invalid: streams\[0\]\.source\.name: /,
    );
  });

  it('times out clearly when the other side never shows up, and rejects other formats', async () => {
    const lonely = join(files.dir, 'lonely.sock');
    const cfg = files.json('t-src.json', { rows: 1, credentials: { password: 'hunter2' } });
    const cat = files.json('t-cat.json', configuredCatalog(['numbers']));
    const src = await run(SOURCE, ['read', '--config', cfg, '--catalog', cat], {
      env: socketEnv([lonely], { SLUICE_SOCKET_CONNECT_TIMEOUT_MS: '300' }),
    });
    expect(src.code).toBe(1);
    expect(traceErrors(src.messages)[0]?.message).toBe(
      `no destination connected to socket 0 (${lonely}) within 300 ms`,
    );
    const dst = await run(DESTINATION, ['write', '--config', files.json('t-d.json', {}), '--catalog', cat], {
      env: socketEnv([join(files.dir, 'nobody.sock')], { SLUICE_SOCKET_CONNECT_TIMEOUT_MS: '300' }),
    });
    expect(dst.code).toBe(1);
    expect(traceErrors(dst.messages)[0]?.message).toMatch(
      /^could not connect to socket 0 \(.*nobody\.sock\) after \d+ attempts: /,
    );
    const proto = await run(SOURCE, ['read', '--config', cfg, '--catalog', cat], {
      env: { ...socketEnv([lonely]), DATA_CHANNEL_FORMAT: 'PROTOBUF' },
    });
    expect(traceErrors(proto.messages)[0]?.message).toBe(
      'DATA_CHANNEL_FORMAT=PROTOBUF is not supported; this connector speaks JSONL',
    );
  });
});
