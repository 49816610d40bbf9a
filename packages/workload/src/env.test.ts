import { describe, expect, it } from 'vitest';
import { loadWorkloadEnv } from './env';
import { formatDuration } from './timeouts';

describe('workload environment', () => {
  it('reads the dataplane token, group and timeouts', () => {
    const token = `sluice_dp_${'a'.repeat(30)}`;
    expect(
      loadWorkloadEnv({
        SLUICE_DATAPLANE_TOKEN: token,
        SLUICE_DATAPLANE_GROUP: 'eu-west',
        SLUICE_WORKLOAD_HEARTBEAT_TIMEOUT_MS: '120000',
      }),
    ).toEqual({
      dataplaneToken: token,
      dataplaneGroup: 'eu-west',
      timeouts: { heartbeatTimeoutMs: 120_000 },
    });
    expect(loadWorkloadEnv({})).toEqual({
      dataplaneToken: undefined,
      dataplaneGroup: 'default',
      timeouts: {},
    });
  });

  it('names a bad variable without echoing its value', () => {
    const bad = () =>
      loadWorkloadEnv({ SLUICE_DATAPLANE_TOKEN: 'sluice_pat_leaked-value', SLUICE_DATAPLANE_GROUP: 'a:b' });
    expect(bad).toThrow(/SLUICE_DATAPLANE_TOKEN: must start with "sluice_dp_"/);
    expect(bad).toThrow(/SLUICE_DATAPLANE_GROUP/);
    expect(bad).not.toThrow(/leaked-value/);
  });

  it('formats durations the way failure reasons show them', () => {
    expect([250, 30_000, 300_000, 3_600_000, 5_430_000].map(formatDuration)).toEqual([
      '250ms',
      '30s',
      '5m0s',
      '1h0m0s',
      '1h30m30s',
    ]);
  });
});
