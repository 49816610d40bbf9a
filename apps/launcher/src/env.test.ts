import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MIDDLEWARE_CLI, loadLauncherEnv, REPO_ROOT } from './env';
import { launcherOptionsFromEnv } from './launcher';

const TOKEN = 'sluice_dp_abcdefghijklmnopqrstuvwxyz0123456789';
const base = { SLUICE_API_URL: 'http://127.0.0.1:3000/api/trpc', SLUICE_DATAPLANE_TOKEN: TOKEN };

describe('launcher environment', () => {
  it('applies defaults', () => {
    const env = loadLauncherEnv(base);
    expect(env).toMatchObject({
      SLUICE_DATAPLANE_GROUP: 'default',
      REDIS_URL: 'redis://127.0.0.1:6379',
      SLUICE_QUEUE_PREFIX: 'sluice',
      SLUICE_RUNTIME: 'process',
      SLUICE_WORKLOADS_ROOT: path.join(os.tmpdir(), 'sluice', 'workloads'),
      SLUICE_LAUNCHER_CONCURRENCY: 4,
      SLUICE_METRICS_PORT: 9465,
      SLUICE_MIDDLEWARE_IMAGE: 'sluice/middleware:dev',
      SLUICE_SOCKET_MODE: 'auto',
    });
    expect(DEFAULT_MIDDLEWARE_CLI).toBe(path.join(REPO_ROOT, 'packages/middleware/dist/cli.js'));
    const opts = launcherOptionsFromEnv(env);
    expect(opts).toMatchObject({ apiUrl: base.SLUICE_API_URL, dataplaneToken: TOKEN, runtime: 'process' });
    expect(opts).not.toHaveProperty('launcherId');
    expect(opts).not.toHaveProperty('middlewareCommand');
    expect(opts.middlewareNodeFlags).toEqual(['--max-semi-space-size=4']);
    expect(opts.middlewareStandby).toBe(1);
    expect(
      launcherOptionsFromEnv(loadLauncherEnv({ ...base, SLUICE_MIDDLEWARE_STANDBY: '0' })).middlewareStandby,
    ).toBe(0);
    expect(
      launcherOptionsFromEnv(loadLauncherEnv({ ...base, SLUICE_MIDDLEWARE_NODE_FLAGS: 'none' }))
        .middlewareNodeFlags,
    ).toEqual([]);
  });

  it('parses overrides, commands as JSON or words, and treats empty values as unset', () => {
    const env = loadLauncherEnv({
      ...base,
      SLUICE_RUNTIME: 'docker',
      SLUICE_LAUNCHER_CONCURRENCY: '12',
      SLUICE_LAUNCHER_ID: 'pod-a',
      SLUICE_MIDDLEWARE_COMMAND: '["/usr/bin/node", "/opt/mw cli.js"]',
      SLUICE_MIDDLEWARE_IMAGE_COMMAND: 'node /opt/cli.js',
      SLUICE_DATAPLANE_GROUP: '',
    });
    expect(env.SLUICE_MIDDLEWARE_COMMAND).toEqual(['/usr/bin/node', '/opt/mw cli.js']);
    expect(env.SLUICE_MIDDLEWARE_IMAGE_COMMAND).toEqual(['node', '/opt/cli.js']);
    expect(env.SLUICE_DATAPLANE_GROUP).toBe('default');
    expect(launcherOptionsFromEnv(env)).toMatchObject({
      runtime: 'docker',
      concurrency: 12,
      launcherId: 'pod-a',
    });
  });

  it('names every bad variable without echoing values', () => {
    let message = '';
    try {
      loadLauncherEnv({
        SLUICE_API_URL: 'not a url',
        SLUICE_DATAPLANE_TOKEN: 'sk-wrong-secret-value',
        SLUICE_RUNTIME: 'kubernetes-ish',
        SLUICE_MIDDLEWARE_COMMAND: '[1,2]',
      });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const v of [
      'SLUICE_API_URL',
      'SLUICE_DATAPLANE_TOKEN',
      'SLUICE_RUNTIME',
      'SLUICE_MIDDLEWARE_COMMAND',
    ]) {
      expect(message).toContain(v);
    }
    expect(message).not.toContain('sk-wrong-secret-value');
  });
});
