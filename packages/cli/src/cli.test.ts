// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the sluice.yaml placeholder syntax under test
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { configDifferences, streamDifferences, summarize } from './apply/apply';
import { coerceToSpec } from './apply/coerce';
import { interpolate } from './apply/interpolate';
import { loadSluiceFile } from './commands/apply';
import { normalizeUrl } from './config';
import { type Io, main } from './index';
import { RateMeter, renderBar } from './progress';

function io(env: Record<string, string> = {}): Io & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
  });
  stderr.on('data', (d) => {
    err += d;
  });
  return {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env,
    sleep: async () => {},
    out: () => out,
    err: () => err,
  };
}

describe('sluice.yaml', () => {
  it('fills ${VAR} from the environment, keeps Sluice placeholders and $${escapes}, names a missing variable', () => {
    const env = { PW: 's3cret', HOST: 'db' };
    expect(
      interpolate(
        { a: ['${HOST}:5432', { pw: '${PW}' }], ns: '${SOURCE_NAMESPACE}_raw', lit: '$${PW}' },
        env,
      ),
    ).toEqual({ a: ['db:5432', { pw: 's3cret' }], ns: '${SOURCE_NAMESPACE}_raw', lit: '${PW}' });
    expect(() => interpolate({ sources: [{ config: { password: '${DB_PASSWORD}' } }] }, env)).toThrow(
      'environment variable DB_PASSWORD is not set (used in sources[0].config.password)',
    );
    expect(() => interpolate({ x: '${EMPTY}' }, { EMPTY: '' })).toThrow(
      'environment variable EMPTY is empty (used in x)',
    );
  });

  it('validates the file and names the field at fault', () => {
    expect(() => loadSluiceFile('sources: [{ name: a }]', 'f.yaml', {})).toThrow(
      /f\.yaml: sources\[0\]\.connector: /,
    );
    expect(() => loadSluiceFile('sources:\n  - name: a\n    conector: x\n', 'f.yaml', {})).toThrow(
      /sources\[0\]/,
    );
    expect(() => loadSluiceFile('a: [', 'f.yaml', {})).toThrow(/^f\.yaml: /);
    const file = loadSluiceFile(
      'connections:\n  - { name: c, source: s, destination: d, schedule: manual, streams: [{ name: u, cursorField: meta.at, primaryKey: [id, region] }] }',
      'f.yaml',
      {},
    );
    expect(file.connections[0]).toMatchObject({
      schedule: { type: 'manual' },
      status: 'active',
      streams: [{ name: 'u', cursorField: ['meta', 'at'], primaryKey: [['id'], ['region']] }],
    });
  });

  it('turns text from the environment into the numbers and booleans the spec asks for', () => {
    const schema = {
      properties: {
        port: { type: 'integer' },
        ratio: { type: ['null', 'number'] },
        ssl: { type: 'boolean' },
        name: { type: 'string' },
        tunnel: { oneOf: [{ properties: { port: { type: 'integer' } } }] },
      },
    };
    expect(
      coerceToSpec(
        { port: '5432', ratio: '0.5', ssl: 'true', name: '123', tunnel: { port: '22' }, other: '7' },
        schema,
      ),
    ).toEqual({ port: 5432, ratio: 0.5, ssl: true, name: '123', tunnel: { port: 22 }, other: '7' });
  });

  it('compares configs field by field, treating stored secrets as unknown', () => {
    const stored = { host: 'db', password: '**********', nested: { key: '**********', n: 1 } };
    expect(configDifferences({ host: 'db', password: 'x', nested: { key: 'y', n: 1 } }, stored)).toEqual([]);
    expect(configDifferences({ host: 'db2', password: 'x', nested: { key: 'y', n: 2 } }, stored)).toEqual([
      'config.host',
      'config.nested.n',
    ]);
    expect(configDifferences({ host: 'db', password: 'x' }, stored)).toEqual(['config.nested']);
    expect(
      configDifferences({ host: 'db', password: 'x', nested: { key: 'y', n: 1 } }, stored, 'config', true),
    ).toEqual(['config.nested.key', 'config.password']);
  });

  it('compares selected streams', () => {
    const s = (name: string, extra: object = {}) => ({
      stream: { name },
      selected: true,
      syncMode: 'full_refresh' as const,
      destinationSyncMode: 'overwrite' as const,
      ...extra,
    });
    expect(streamDifferences([s('a')], [s('a'), { ...s('b'), selected: false }])).toEqual([]);
    expect(streamDifferences([s('a', { destinationSyncMode: 'append' }), s('c')], [s('a'), s('b')])).toEqual([
      'streams.a',
      'streams.c (added)',
      'streams.b (removed)',
    ]);
  });

  it('summarizes a plan', () => {
    const c = (action: 'create' | 'update' | 'unchanged') => ({
      kind: 'source' as const,
      name: 'x',
      action,
      details: [],
    });
    expect(summarize([c('unchanged'), c('unchanged')], false)).toBe(
      'No changes: 2 objects already match the file.',
    );
    expect(summarize([c('create'), c('update'), c('unchanged')], false)).toBe(
      'Applied: 1 created, 1 updated, 1 unchanged.',
    );
    expect(summarize([c('create')], true)).toBe(
      'Plan: 1 to create, 0 to update, 0 unchanged (dry run: nothing changed).',
    );
  });
});

describe('output', () => {
  it('draws a progress bar with the estimate, or a moving block without one', () => {
    const s = { status: 'running', records: 1234, committed: 1000, bytes: 2_500_000, elapsedMs: 65_000 };
    expect(renderBar({ ...s, estimated: 2468 }, 456.2, 0)).toBe(
      '[##############..............]  50%  1,234/2,468 records  2.5 MB  456 rows/s  01:05  running',
    );
    expect(renderBar({ ...s, estimated: null }, null, 3)).toBe(
      '[...####.....................] 1,234 records  2.5 MB  - rows/s  01:05  running',
    );
    const meter = new RateMeter(10_000);
    expect(meter.add(0, 0)).toBeNull();
    expect(meter.add(2000, 400)).toBe(200);
  });

  it('normalizes server URLs', () => {
    expect(normalizeUrl('http://localhost:3000/')).toBe('http://localhost:3000');
    expect(normalizeUrl('https://sluice.example.com/api/trpc')).toBe('https://sluice.example.com');
    expect(() => normalizeUrl('localhost:3000')).toThrow(/only http and https|not a URL/);
  });

  it('prints usage errors and missing configuration in words, with exit codes', async () => {
    const a = io({ HOME: '/nonexistent-home' });
    expect(await main(['jobs'], a)).toBe(1);
    expect(a.err()).toBe(
      'sluice: no Sluice server: run `sluice login --url <url> --token <token>` or set SLUICE_URL\n',
    );
    const b = io({ HOME: '/nonexistent-home', SLUICE_URL: 'http://localhost:1' });
    expect(await main(['sync'], b)).toBe(1);
    expect(b.err()).toContain("missing required argument 'connection'");
    const c = io({ SLUICE_URL: 'not a url' });
    expect(await main(['jobs'], c)).toBe(1);
    expect(c.err()).toContain('SLUICE_URL: must be a URL');
    const d = io();
    expect(await main(['--help'], d)).toBe(0);
    expect(d.out()).toContain('apply [options]');
    const e = io({ HOME: '/nonexistent-home', SLUICE_URL: 'http://localhost:1' });
    expect(await main(['login', '--token', 'abc'], e)).toBe(1);
    expect(e.err()).toContain('that is not a Sluice API token');
  });
});
