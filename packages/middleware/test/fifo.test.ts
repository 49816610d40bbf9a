import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CONNECTOR_WRAPPER, createWorkloadPipes, type LaunchPlan, PIPES_DIR } from '@sluice/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketModeEnv, socketPaths } from '../src/plan-support';
import {
  catalogOf,
  connectionState,
  connectorBin,
  fixture,
  type MiddlewareHarness,
  outputOf,
  prepareSync,
  runMiddleware,
  type SyncSetup,
  startHarness,
} from './harness';

let mh: MiddlewareHarness;
beforeAll(async () => {
  mh = await startHarness();
});
afterAll(async () => {
  await mh?.close();
});

/**
 * What a container runtime does, without containers: named pipes in `pipes/`, and each connector
 * started by the runtime's own wrapper script (stdio on the pipes, exit code in `<role>.exit`).
 */
async function runLikeContainers(setup: SyncSetup, socket: boolean) {
  const w = await prepareSync(mh, {
    ...setup,
    middleware: { connectorIo: 'fifo', ...(socket ? { socketCount: 2 } : {}) },
  });
  const planFile = path.join(w.workDir, 'plan.json');
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as LaunchPlan;
  if (socket) {
    const env = socketModeEnv(socketPaths(w.workDir, 2));
    for (const c of plan.connectors) c.env = { ...c.env, ...env };
    fs.writeFileSync(planFile, JSON.stringify(plan));
  }
  await createWorkloadPipes(w.workDir, plan.connectors);
  const connectors: ChildProcess[] = plan.connectors.map((c) =>
    spawn(
      '/bin/sh',
      [
        '-c',
        CONNECTOR_WRAPPER,
        'sluice-connector-wrapper',
        path.join(w.workDir, PIPES_DIR),
        c.role,
        c.stdin ? '1' : '0',
        ...c.command!,
        ...c.args,
      ],
      { cwd: w.workDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...c.env }, stdio: 'ignore' },
    ),
  );
  const result = await runMiddleware(mh, w.id, w.workDir).done;
  await Promise.all(
    connectors.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
  );
  return { ...w, result, workload: await mh.svc.get(w.id) };
}

describe('container runtimes (connector stdio on named pipes)', () => {
  it('routes a stdio sync through the pipes', async () => {
    const r = await runLikeContainers(
      {
        source: { command: fixture('source.mjs'), config: { records: 40, per_slice: 10 } },
        destination: { command: fixture('destination.mjs'), config: {} },
        catalog: catalogOf([{ name: 'items' }]),
      },
      false,
    );
    expect(r.result.code, r.result.stderr).toBe(0);
    expect(r.workload.status).toBe('success');
    expect((await connectionState(mh, r.fixtures.connection.id)).map((s) => s.state)).toEqual([
      { last_id: 40 },
    ]);
  });

  it('keeps the books of a socket-mode sync whose environment the plan carries', async () => {
    const r = await runLikeContainers(
      {
        source: {
          command: connectorBin('source-faker'),
          config: { count: 5_000, seed: 1, records_per_slice: 500 },
        },
        destination: { command: connectorBin('destination-dev-null'), config: {} },
        catalog: catalogOf([{ name: 'users' }], { sync: 'incremental' }),
      },
      true,
    );
    expect(r.workload.status, r.workload.terminationReason ?? r.result.stderr).toBe('success');
    expect(outputOf(r.workload)).toMatchObject({
      mode: 'socket',
      socketCount: 2,
      recordsCommitted: 5_000,
      statesCommitted: 10,
    });
  });
});
