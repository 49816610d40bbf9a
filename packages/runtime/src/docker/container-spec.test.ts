import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseLaunchPlan } from '../plan';
import { FIXTURE_CONNECTOR_JS } from '../test-support';
import type { LaunchPlan } from '../types';
import {
  CONNECTOR_WRAPPER,
  connectorArgv,
  connectorContainerSpec,
  containerName,
  imageEntrypointOf,
  LABELS,
  middlewareContainerSpec,
} from './container-spec';

const run = promisify(execFile);

const plan: LaunchPlan = {
  workloadId: 'wl-1',
  workDir: '/var/lib/sluice/workloads/wl-1',
  middleware: {
    image: 'sluice/middleware:dev',
    args: ['--plan', '/var/lib/sluice/workloads/wl-1/plan.json'],
    env: { SLUICE_API_URL: 'http://127.0.0.1:3000' },
    network: 'host',
  },
  connectors: [
    {
      role: 'source',
      image: 'airbyte/source-faker:6',
      args: ['read', '--config', 'source/connectorConfig.json'],
      env: { DEPLOYMENT_MODE: 'OSS' },
      resources: { cpuLimit: 1.5, memoryLimitMb: 512 },
      network: 'none',
      stdin: false,
    },
    {
      role: 'destination',
      image: 'sluice/destination-dev-null:dev',
      args: ['write'],
      env: {},
      network: 'host',
      stdin: true,
    },
  ],
};

describe('image entrypoints', () => {
  it('prefers the image ENTRYPOINT, then AIRBYTE_ENTRYPOINT, and uses CMD only without args', () => {
    const python = imageEntrypointOf({
      Entrypoint: ['python', '/airbyte/integration_code/main.py'],
      Cmd: null,
      Env: ['PATH=/usr/bin', 'AIRBYTE_ENTRYPOINT=python /airbyte/integration_code/main.py'],
    });
    expect(connectorArgv(python, ['spec'], 'x')).toEqual([
      'python',
      '/airbyte/integration_code/main.py',
      'spec',
    ]);

    const envOnly = imageEntrypointOf({
      Entrypoint: null,
      Cmd: ['bash'],
      Env: ['AIRBYTE_ENTRYPOINT=/airbyte/base.sh'],
    });
    expect(connectorArgv(envOnly, ['check', '--config', 'c.json'], 'x')).toEqual([
      '/bin/sh',
      '-c',
      'exec $AIRBYTE_ENTRYPOINT "$@"',
      'airbyte-entrypoint',
      'check',
      '--config',
      'c.json',
    ]);

    const withCmd = imageEntrypointOf({ Entrypoint: ['node', 'i.js'], Cmd: ['spec'] });
    expect(connectorArgv(withCmd, [], 'x')).toEqual(['node', 'i.js', 'spec']);
    expect(imageEntrypointOf({ Entrypoint: 'node i.js' }).entrypoint).toEqual(['/bin/sh', '-c', 'node i.js']);
    expect(() => connectorArgv(imageEntrypointOf({ Cmd: ['sh'] }), ['spec'], 'busybox:1')).toThrow(
      /image "busybox:1" has neither an ENTRYPOINT nor AIRBYTE_ENTRYPOINT/,
    );
  });

  it('runs an AIRBYTE_ENTRYPOINT-only connector through the shell with its arguments', async () => {
    const argv = connectorArgv({ entrypoint: [], cmd: [], airbyteEntrypoint: 'x' }, ['spec'], 'x');
    const { stdout } = await run(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH, AIRBYTE_ENTRYPOINT: `${process.execPath} ${FIXTURE_CONNECTOR_JS}` },
    });
    expect(JSON.parse(stdout)).toMatchObject({ type: 'SPEC' });
  });
});

describe('container specs', () => {
  it('wraps a connector with its pipes, limits, network, labels and the shared working directory', () => {
    const image = imageEntrypointOf({ Entrypoint: ['python', '/airbyte/integration_code/main.py'] });
    const spec = connectorContainerSpec(plan, plan.connectors[0]!, image);
    expect(spec).toMatchObject({
      name: 'sluice-wl-1-source',
      Image: 'airbyte/source-faker:6',
      Entrypoint: ['/bin/sh', '-c', CONNECTOR_WRAPPER],
      Cmd: [
        'sluice-connector-wrapper',
        '/var/lib/sluice/workloads/wl-1/pipes',
        'source',
        '0',
        'python',
        '/airbyte/integration_code/main.py',
        'read',
        '--config',
        'source/connectorConfig.json',
      ],
      Env: ['DEPLOYMENT_MODE=OSS'],
      WorkingDir: plan.workDir,
      Labels: {
        [LABELS.managed]: 'true',
        [LABELS.workload]: 'wl-1',
        [LABELS.role]: 'source',
        [LABELS.workDir]: plan.workDir,
      },
      HostConfig: {
        Binds: [`${plan.workDir}:${plan.workDir}`],
        NetworkMode: 'none',
        NanoCpus: 1_500_000_000,
        Memory: 512 * 1024 * 1024,
        MemorySwap: 512 * 1024 * 1024,
      },
    });
    const dest = connectorContainerSpec(plan, plan.connectors[1]!, image);
    expect(dest.Cmd?.slice(2, 4)).toEqual(['destination', '1']);
    expect(dest.HostConfig).toMatchObject({ NetworkMode: 'host' });
    expect(dest.HostConfig?.Memory).toBeUndefined();
    expect(dest.HostConfig?.NanoCpus).toBeUndefined();
  });

  it("runs the middleware with its image's entrypoint or the plan's command", () => {
    const spec = middlewareContainerSpec(plan);
    expect(spec).toMatchObject({
      name: containerName('wl-1', 'middleware'),
      Image: 'sluice/middleware:dev',
      Cmd: plan.middleware.args,
      Env: ['SLUICE_API_URL=http://127.0.0.1:3000'],
      Labels: { [LABELS.role]: 'middleware' },
      HostConfig: { NetworkMode: 'host' },
    });
    expect(spec.Entrypoint).toBeUndefined();
    const withCommand = middlewareContainerSpec({
      ...plan,
      middleware: { ...plan.middleware, command: ['node', '/app/mw.js'], args: [] },
    });
    expect(withCommand.Entrypoint).toEqual(['node', '/app/mw.js']);
    expect(withCommand.Cmd).toBeUndefined();
  });
});

describe('parseLaunchPlan', () => {
  it('accepts a plan and names every bad field', () => {
    expect(parseLaunchPlan(plan)).toEqual(plan);
    expect(() =>
      parseLaunchPlan({
        ...plan,
        workloadId: 'a/b',
        workDir: 'relative',
        connectors: [plan.connectors[0], { ...plan.connectors[0], env: { 'BAD=NAME': 'x' } }],
      }),
    ).toThrow(/invalid launch plan: workloadId: .*; workDir: .*; connectors.1.env.BAD=NAME: /);
    expect(() => parseLaunchPlan({ ...plan, connectors: [plan.connectors[0], plan.connectors[0]] })).toThrow(
      /\(plan\): each connector of a plan needs its own role/,
    );
  });
});
