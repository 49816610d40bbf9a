import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadWorkdir, MiddlewareConfig } from '@sluice/middleware';
import { parseLaunchPlan } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import { parseLaunchInput } from './input';
import { buildWorkloadLayout, type LayoutArgs, socketCountFor, withNodeFlags } from './layout';
import { writeWorkDir } from './workdir';

const TOKEN = 'sluice_dp_abcdefghijklmnopqrstuvwxyz0123456789';
const middleware = {
  command: ['/usr/bin/node', '/repo/packages/middleware/dist/cli.js'],
  image: 'sluice/middleware:dev',
  env: {
    SLUICE_API_URL: 'http://127.0.0.1:3000/api/trpc',
    SLUICE_DATAPLANE_TOKEN: TOKEN,
    SLUICE_WORKLOAD_ID: 'w1',
    LOG_LEVEL: 'info',
  },
};
const catalog = {
  streams: [
    {
      stream: {
        name: 'users',
        namespace: 'public',
        json_schema: { properties: { id: {}, a: {} } },
        supported_sync_modes: ['full_refresh'],
      },
      sync_mode: 'full_refresh',
      destination_sync_mode: 'append',
    },
  ],
};
const syncInput = (extra: Record<string, unknown> = {}) => ({
  jobId: 'job-1',
  attemptNumber: 2,
  source: {
    actorType: 'source',
    command: ['node', '/c/source.js'],
    image: 'sluice/source-x:dev',
    config: { password: 'hunter2' },
    resources: { cpuLimit: 2, memoryLimitMb: 512, somethingElse: true },
  },
  destination: {
    actorType: 'destination',
    command: ['node', '/c/dest.js'],
    image: 'sluice/dest-x:dev',
    config: { path: '/out' },
    network: 'none',
  },
  catalog,
  state: [
    {
      type: 'STREAM',
      stream: { stream_descriptor: { name: 'users', namespace: 'public' }, stream_state: { c: 1 } },
    },
  ],
  stateGeneration: 3,
  namespaceDefinition: 'source',
  prefix: 'x_',
  ...extra,
});

function layout(type: LayoutArgs['type'], input: unknown, extra: Partial<LayoutArgs> = {}) {
  return buildWorkloadLayout({
    workloadId: 'w1',
    type,
    input: parseLaunchInput(type, input),
    workDir: '/var/sluice/w1',
    runtime: 'process',
    middleware,
    socketMode: 'auto',
    ...extra,
  });
}

const file = (l: ReturnType<typeof layout>, p: string) => l.files.find((f) => f.path === p);

describe('buildWorkloadLayout', () => {
  it('lays out a stdio sync as Airbyte names its files, with absolute paths in the plan', () => {
    const l = layout('sync', syncInput());
    const plan = parseLaunchPlan(l.plan);
    const [source, destination] = plan.connectors;
    expect(source).toMatchObject({
      role: 'source',
      command: ['node', '/c/source.js'],
      args: [
        'read',
        '--config',
        '/var/sluice/w1/source/connectorConfig.json',
        '--catalog',
        '/var/sluice/w1/source/catalog.json',
        '--state',
        '/var/sluice/w1/source/inputState.json',
      ],
      env: { WORKER_CONNECTOR_IMAGE: 'sluice/source-x:dev', WORKER_JOB_ID: 'job-1', WORKER_JOB_ATTEMPT: '2' },
      resources: { cpuLimit: 2, memoryLimitMb: 512 },
      network: 'host',
      stdin: false,
    });
    expect(destination).toMatchObject({
      role: 'destination',
      args: [
        'write',
        '--config',
        '/var/sluice/w1/destination/connectorConfig.json',
        '--catalog',
        '/var/sluice/w1/destination/catalog.json',
      ],
      network: 'none',
      stdin: true,
    });
    expect(destination!.env).not.toHaveProperty('DATA_CHANNEL_MEDIUM');
    expect(plan.middleware).toMatchObject({
      command: middleware.command,
      args: ['--workdir', '/var/sluice/w1'],
      network: 'host',
    });

    expect(JSON.parse(file(l, 'source/connectorConfig.json')!.content)).toEqual({ password: 'hunter2' });
    expect(JSON.parse(file(l, 'source/catalog.json')!.content).streams[0].stream).toMatchObject({
      name: 'users',
      namespace: 'public',
    });
    expect(JSON.parse(file(l, 'destination/catalog.json')!.content).streams[0].stream).toMatchObject({
      name: 'x_users',
      namespace: 'public',
    });
    expect(JSON.parse(file(l, 'source/inputState.json')!.content)).toHaveLength(1);
    expect(JSON.parse(file(l, 'middleware.json')!.content)).toEqual({
      workloadId: 'w1',
      type: 'sync',
      runtime: 'process',
      connectorIo: 'spawn',
      streamMappingPath: '/var/sluice/w1/destination/streamMapping.json',
      stateGeneration: 3,
    });
    expect(MiddlewareConfig.safeParse(JSON.parse(file(l, 'middleware.json')!.content)).success).toBe(true);
    // Process runtime: everything private to the launcher's user.
    expect(l.workDirMode).toBe(0o700);
    expect(new Set(l.files.map((f) => f.mode))).toEqual(new Set([0o600]));
  });

  it('never writes the dataplane token to disk, and gives connectors nothing of the middleware', () => {
    const l = layout('sync', syncInput());
    for (const f of l.files) expect(f.content).not.toContain(TOKEN);
    expect(JSON.parse(file(l, 'plan.json')!.content).middleware.env).toEqual({
      SLUICE_API_URL: middleware.env.SLUICE_API_URL,
      SLUICE_WORKLOAD_ID: 'w1',
      LOG_LEVEL: 'info',
    });
    // The runtime still gets the token, for the middleware's environment only.
    expect(l.plan.middleware.env.SLUICE_DATAPLANE_TOKEN).toBe(TOKEN);
    for (const c of l.plan.connectors)
      expect(JSON.stringify(c.env)).not.toMatch(/SLUICE_(API|DATAPLANE)|sluice_dp_/);
  });

  it('uses socket mode when both connectors support it, with the mapping for the destination', () => {
    const input = syncInput();
    (input.source as Record<string, unknown>).supportsSocket = true;
    (input.destination as Record<string, unknown>).supportsSocket = true;
    const l = layout('sync', input);
    const [source, destination] = l.plan.connectors;
    const paths = '/var/sluice/w1/sockets/socket-0.sock';
    // The destination has no CPU limit: the source's 2 cores give 2 sockets.
    expect(source!.env).toMatchObject({
      DATA_CHANNEL_MEDIUM: 'SOCKET',
      DATA_CHANNEL_FORMAT: 'JSONL',
      DATA_CHANNEL_SOCKET_PATHS: `${paths},/var/sluice/w1/sockets/socket-1.sock`,
    });
    expect(source!.env).not.toHaveProperty('SLUICE_STREAM_MAPPING');
    expect(destination!.env).toMatchObject({
      DATA_CHANNEL_MEDIUM: 'SOCKET',
      SLUICE_STREAM_MAPPING: '/var/sluice/w1/destination/streamMapping.json',
    });
    // stdin carries the source's stream statuses in socket mode.
    expect(destination!.stdin).toBe(true);
    expect(JSON.parse(file(l, 'middleware.json')!.content).socketCount).toBe(2);
    expect(l.dirs).toContainEqual({ path: 'sockets', mode: 0o700 });
    expect(JSON.parse(file(l, 'destination/streamMapping.json')!.content).streams[0]).toEqual({
      source: { name: 'users', namespace: 'public' },
      destination: { name: 'x_users', namespace: 'public' },
    });

    // Not when the operator turned it off, or when the paths would not fit in sockaddr_un.
    expect(layout('sync', input, { socketMode: 'off' }).middlewareConfig.socketCount).toBeUndefined();
    const long = layout('sync', input, { workDir: `/${'d'.repeat(90)}/w1` });
    expect(long.middlewareConfig.socketCount).toBeUndefined();
    expect(long.notes.join()).toMatch(/socket mode skipped/);
  });

  it('derives the socket count from the CPU limits', () => {
    const c = (cpuLimit?: number) => ({
      actorType: 'source' as const,
      ...(cpuLimit ? { resources: { cpuLimit } } : {}),
    });
    expect(socketCountFor(c(), c())).toBe(2);
    expect(socketCountFor(c(4), c(2))).toBe(2);
    expect(socketCountFor(c(0.5), c())).toBe(1);
    expect(socketCountFor(c(64), c(64))).toBe(16);
  });

  it('lays out spec, check and discover with one connector', () => {
    const spec = layout('spec', { connector: { actorType: 'source', command: ['node', '/c/s.js'] } });
    expect(spec.plan.connectors).toEqual([
      expect.objectContaining({ role: 'connector', args: ['spec'], stdin: false }),
    ]);
    expect(spec.files.map((f) => f.path).sort()).toEqual(['middleware.json', 'plan.json']);
    const check = layout('check', {
      connector: { actorType: 'destination', command: ['node', '/c/d.js'], config: { a: 1 } },
    });
    expect(check.plan.connectors[0]!.args).toEqual([
      'check',
      '--config',
      '/var/sluice/w1/connector/connectorConfig.json',
    ]);
    const discover = layout('discover', {
      connector: { actorType: 'source', command: ['node', '/c/s.js'], config: {} },
    });
    expect(discover.plan.connectors[0]!.args[0]).toBe('discover');
    expect(discover.middlewareConfig).toEqual({
      workloadId: 'w1',
      type: 'discover',
      runtime: 'process',
      connectorIo: 'spawn',
      actorType: 'source',
    });
    // The middleware attributes failures without asking the API which actor it runs.
    expect(JSON.parse(file(check, 'middleware.json')!.content)).toMatchObject({ actorType: 'destination' });
    expect(JSON.parse(file(spec, 'middleware.json')!.content)).toMatchObject({ actorType: 'source' });
  });

  it("starts the middleware's node with its flags, unless the command sets them", () => {
    const flags = ['--max-semi-space-size=4'];
    expect(withNodeFlags([process.execPath, '/mw/cli.js'], flags)).toEqual([
      process.execPath,
      '--max-semi-space-size=4',
      '/mw/cli.js',
    ]);
    expect(withNodeFlags(['/usr/local/bin/node', '/mw/cli.js'], flags)).toEqual([
      '/usr/local/bin/node',
      '--max-semi-space-size=4',
      '/mw/cli.js',
    ]);
    expect(withNodeFlags(['node', '--max_semi_space_size=8', '/mw/cli.js'], flags)).toEqual([
      'node',
      '--max_semi_space_size=8',
      '/mw/cli.js',
    ]);
    expect(withNodeFlags(['/opt/sluice-middleware', '--workdir'], flags)).toEqual([
      '/opt/sluice-middleware',
      '--workdir',
    ]);
    expect(withNodeFlags(['node', '/mw/cli.js'], [])).toEqual(['node', '/mw/cli.js']);
  });

  it('lays out for docker: images, fifo io, files readable by any container user', () => {
    const l = layout('sync', syncInput(), {
      runtime: 'docker',
    });
    expect(l.plan.middleware).toMatchObject({
      image: 'sluice/middleware:dev',
      args: ['--workdir', '/var/sluice/w1'],
      network: 'host',
    });
    expect(l.plan.middleware).not.toHaveProperty('command');
    expect(l.plan.connectors.map((c) => c.image)).toEqual(['sluice/source-x:dev', 'sluice/dest-x:dev']);
    expect(l.middlewareConfig.connectorIo).toBe('fifo');
    expect(l.workDirMode).toBe(0o711);
    expect(file(l, 'source/connectorConfig.json')!.mode).toBe(0o644);
  });

  it('writes a legacy state as the bare blob Airbyte passes', () => {
    const l = layout('sync', syncInput({ state: [{ type: 'LEGACY', data: { cursor: 5 } }] }));
    expect(JSON.parse(file(l, 'source/inputState.json')!.content)).toEqual({ cursor: 5 });
    const none = layout('sync', syncInput({ state: [] }));
    expect(file(none, 'source/inputState.json')).toBeUndefined();
    expect(none.plan.connectors[0]!.args).not.toContain('--state');
  });

  it('refuses what it cannot run, naming what is wrong', () => {
    expect(() => layout('check', { connector: { actorType: 'source', image: 'x', config: {} } })).toThrow(
      'the source connector has no command to run on the process runtime',
    );
    expect(() =>
      layout(
        'check',
        { connector: { actorType: 'source', command: ['x'], config: {} } },
        { runtime: 'docker' },
      ),
    ).toThrow('the source connector has no image to run on the docker runtime');
    expect(() => parseLaunchInput('sync', { source: { actorType: 'source' } })).toThrow(
      'invalid workload input: a sync workload needs input.destination',
    );
    expect(() => parseLaunchInput('check', { connector: { actorType: 'source' } })).toThrow(
      /needs input.connector.config/,
    );
    expect(() =>
      parseLaunchInput('sync', syncInput({ catalog: { streams: [{ stream: { name: 'u' } }] } })),
    ).toThrow(/invalid workload input: catalog\.streams/);
    expect(() =>
      layout(
        'sync',
        syncInput({
          namespaceDefinition: 'destination',
          catalog: {
            streams: [
              catalog.streams[0],
              { ...catalog.streams[0], stream: { ...catalog.streams[0]!.stream, namespace: 'other' } },
            ],
          },
        }),
      ),
    ).toThrow(/invalid catalog: streams public.users and other.users would both be written/);
  });
});

describe('the working directory on disk', () => {
  it('is what the middleware reads, with the modes the layout says', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sl-layout-'));
    try {
      for (const runtime of ['process', 'docker'] as const) {
        const workDir = path.join(root, `w1-${runtime}`);
        const input = syncInput();
        (input.source as Record<string, unknown>).supportsSocket = true;
        (input.destination as Record<string, unknown>).supportsSocket = true;
        const l = buildWorkloadLayout({
          workloadId: 'w1',
          type: 'sync',
          input: parseLaunchInput('sync', input),
          workDir,
          runtime,
          middleware,
          socketMode: 'auto',
        });
        await writeWorkDir(l);
        const w = await loadWorkdir(workDir, 'w1');
        expect(w.config).toMatchObject({ type: 'sync', runtime, socketCount: 2, stateGeneration: 3 });
        expect(w.connector('source')?.args[0]).toBe('read');
        expect((await fsp.stat(workDir)).mode & 0o7777).toBe(l.workDirMode);
        expect((await fsp.stat(path.join(workDir, 'source/connectorConfig.json'))).mode & 0o777).toBe(
          runtime === 'process' ? 0o600 : 0o644,
        );
        expect((await fsp.stat(path.join(workDir, 'sockets'))).mode & 0o7777).toBe(
          runtime === 'process' ? 0o700 : 0o1777,
        );
        const mapping = JSON.parse(
          await fsp.readFile(path.join(workDir, 'destination/streamMapping.json'), 'utf8'),
        );
        expect(mapping.streams[0].destination).toEqual({ name: 'x_users', namespace: 'public' });
        // A second write replaces a half-prepared directory.
        await fsp.writeFile(path.join(workDir, 'stale'), 'x');
        await writeWorkDir(l);
        await expect(fsp.stat(path.join(workDir, 'stale'))).rejects.toThrow();
      }
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});
