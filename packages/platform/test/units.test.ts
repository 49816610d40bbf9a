import { randomBytes } from 'node:crypto';
import { SecretBox } from '@sluice/api';
import { describe, expect, it } from 'vitest';
import {
  configSecrets,
  DEFAULT_PLATFORM_CONFIG,
  failuresOf,
  isRetryable,
  JobConfig,
  managerWorkflowId,
  platformFailure,
  resolvePlatformConfig,
  workloadIdFor,
} from '../src';

describe('platform configuration', () => {
  it('fills the connector timeouts it was not given from the defaults', () => {
    const c = resolvePlatformConfig({ connectorTimeoutsMs: { check: 1000 } });
    expect(c.connectorTimeoutsMs).toEqual({ ...DEFAULT_PLATFORM_CONFIG.connectorTimeoutsMs, check: 1000 });
    expect(c.defaultDataplaneGroup).toBe('default');
  });
});

describe('ids and job configs', () => {
  it('derives workflow and workload ids from their subject, so a replay finds the same one', () => {
    expect(managerWorkflowId('c1')).toBe('connection-manager:c1');
    expect(workloadIdFor('j1', 2, 'sync')).toBe('j1_2_sync');
  });

  it('keeps fields of a job config it does not know (the worker adds its own)', () => {
    const parsed = JobConfig.parse({ trigger: 'reset', resetStreams: [{ name: 'users' }], extra: 1 });
    expect(parsed).toMatchObject({ trigger: 'reset', resetStreams: [{ name: 'users' }], extra: 1 });
    expect(() => JobConfig.parse({ trigger: 'sometimes' })).toThrow();
  });
});

describe('config secrets', () => {
  it('seals the fields the spec marks secret and opens them again', () => {
    const secrets = configSecrets(new SecretBox(randomBytes(32)));
    const spec = {
      type: 'object',
      properties: { host: { type: 'string' }, password: { type: 'string', airbyte_secret: true } },
    };
    const sealed = secrets.seal(spec, { host: 'db', password: 'hunter2' }) as Record<string, unknown>;
    expect(sealed.host).toBe('db');
    expect(sealed.password).not.toBe('hunter2');
    expect(JSON.stringify(sealed)).not.toContain('hunter2');
    expect(secrets.open(sealed)).toEqual({ host: 'db', password: 'hunter2' });
  });
});

describe('failures of a workload', () => {
  it('keeps what the middleware reported, else explains the termination', () => {
    const outcome = {
      id: 'w',
      status: 'failure' as const,
      terminationReason: 'no heartbeat for 5m0s: …',
      terminationSource: 'sweeper',
    };
    expect(failuresOf(outcome, null)[0]).toMatchObject({
      failureOrigin: 'platform',
      failureType: 'heartbeat_timeout',
    });
    const reported = failuresOf(outcome, {
      failures: [
        {
          failureOrigin: 'source',
          failureType: 'config_error',
          externalMessage: 'bad key',
          streamDescriptor: { name: 'u' },
        },
        { junk: 1 },
      ],
    });
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({
      failureOrigin: 'source',
      failureType: 'config_error',
      streamDescriptor: { name: 'u' },
    });
  });

  it('does not retry configuration errors and breaking schema changes', () => {
    expect(isRetryable([platformFailure('flaky network', 'transient_error')])).toBe(true);
    expect(isRetryable([platformFailure('bad password', 'config_error')])).toBe(false);
    expect(isRetryable([platformFailure('schema changed', 'refresh_schema')])).toBe(false);
    expect(isRetryable([platformFailure('no', 'system_error', false)])).toBe(false);
  });
});
