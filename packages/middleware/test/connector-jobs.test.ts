import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attemptLog,
  type ConnectorSetup,
  connectorBin,
  fixture,
  type MiddlewareHarness,
  outputOf,
  prepareConnectorJob,
  runMiddleware,
  startHarness,
} from './harness';

let mh: MiddlewareHarness;
beforeAll(async () => {
  mh = await startHarness();
});
afterAll(async () => {
  await mh?.close();
});

async function run(type: 'spec' | 'check' | 'discover', connector: ConnectorSetup) {
  const w = await prepareConnectorJob(mh, type, connector);
  const result = await runMiddleware(mh, w.id, w.workDir).done;
  const workload = await mh.svc.get(w.id);
  return { ...w, result, workload, output: outputOf(workload) };
}

const faker = (config: Record<string, unknown> = {}) => ({ command: connectorBin('source-faker'), config });

describe('spec, check and discover workloads', () => {
  it('reports a spec', async () => {
    const r = await run('spec', faker());
    expect(r.workload.status).toBe('success');
    expect(r.output).toMatchObject({
      type: 'spec',
      spec: { connectionSpecification: { title: 'Faker Source Spec' } },
    });
  });

  it('reports a check, passed or failed, as a result', async () => {
    const ok = await run('check', faker({ count: 10 }));
    expect(ok.workload.status).toBe('success');
    expect(ok.output).toEqual({ type: 'check', connectionStatus: { status: 'SUCCEEDED' } });
    const failed = await run('check', faker({ count: 0 }));
    expect(failed.workload.status).toBe('success');
    expect(failed.output).toMatchObject({
      type: 'check',
      connectionStatus: { status: 'FAILED', message: expect.stringMatching(/count/) },
    });
    const refused = await run('check', { command: fixture('source.mjs'), config: { fail_check: true } });
    expect(refused.output).toEqual({
      type: 'check',
      connectionStatus: { status: 'FAILED', message: 'cannot connect' },
    });
    expect(await attemptLog(mh, refused.fixtures.attempt.id)).toContain('connector > INFO checking');
    // A connector that cannot even try reports an error trace: a failed check with its type.
    const trace = await run('check', { command: fixture('source.mjs'), config: { fail_check: 'trace' } });
    expect(trace.workload.status).toBe('success');
    expect(trace.output).toEqual({
      type: 'check',
      connectionStatus: { status: 'FAILED', message: 'the password is wrong' },
      failureType: 'config_error',
    });
    expect(await attemptLog(mh, trace.fixtures.attempt.id)).toContain(
      'connector > ERROR config_error: the password is wrong',
    );
  });

  it('reports a discovered catalog, and a crash as the failure', async () => {
    const r = await run('discover', faker({ count: 10 }));
    expect(r.workload.status).toBe('success');
    expect((r.output.catalog as { streams: Array<{ name: string }> }).streams.map((s) => s.name)).toEqual([
      'users',
      'products',
      'purchases',
    ]);
    const crash = await run('discover', { command: fixture('source.mjs'), config: { crash_discover: true } });
    expect(crash.result.code).toBe(1);
    expect(crash.workload.status).toBe('failure');
    expect(crash.workload.terminationReason).toBe(
      'Failure in the source (system_error): discover exited with code 3',
    );
    expect(crash.output.failures?.[0]).toMatchObject({ internalMessage: 'discover blew up' });
    expect(await attemptLog(mh, crash.fixtures.attempt.id)).toContain('connector > discover blew up');
  });
});
