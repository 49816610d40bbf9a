import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@sluice/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleScript,
  FIXTURE_CONNECTOR_JS,
  processExists,
  readEnviron,
  readJsonIfExists,
  waitFor,
} from '../test-support';
import type { ConnectorProgram, LaunchPlan } from '../types';
import { PID_FILE, PidRecord, ProcessRuntime } from './process-runtime';
import { childConnectorStdio, spawnConnector } from './spawn-connector';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SECRET_KEY = 'sk-process-runtime-test-secret';
const DATABASE_URL = 'postgres://sluice:hunter2@127.0.0.1:5432/secret';
const BASE_KEYS = ['HOME', 'LANG', 'PATH', 'TZ'];

let root: string;
let middlewareJs: string;
let runtime: ProcessRuntime;
const savedEnv = { ...process.env };

beforeAll(async () => {
  // The launcher's own secrets: none may reach a workload's programs.
  process.env.SLUICE_SECRET_KEY = SECRET_KEY;
  process.env.DATABASE_URL = DATABASE_URL;
  process.env.NODE_OPTIONS = '--max-old-space-size=300';
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-process-runtime-'));
  middlewareJs = await bundleScript(
    path.join(HERE, 'test-fixtures/middleware.ts'),
    path.join(root, 'middleware.mjs'),
  );
  runtime = new ProcessRuntime({
    workloadsRoot: path.join(root, 'workloads'),
    // Room for a loaded machine: the stop test tells SIGTERM from SIGKILL by this grace period.
    graceMs: 5_000,
    logger: createLogger('test', { level: 'warn' }),
  });
  await fsp.mkdir(path.join(root, 'workloads'));
});

afterAll(async () => {
  for (const id of await runtime.list()) await runtime.stop(id, { graceMs: 200 });
  await fsp.rm(root, { recursive: true, force: true });
  process.env = savedEnv;
});

function sourceProgram(env: Record<string, string>): ConnectorProgram {
  return {
    role: 'source',
    stdin: false,
    command: [process.execPath, FIXTURE_CONNECTOR_JS],
    args: ['read', '--config', 'source/connectorConfig.json'],
    env,
    network: 'none',
  };
}

/** Prepares a working directory as the launcher would, and returns its plan. */
async function preparePlan(
  workloadId: string,
  mode: 'run' | 'linger' | 'ignore-term',
  config: Record<string, unknown>,
  middlewareEnv: Record<string, string> = {},
): Promise<LaunchPlan> {
  const workDir = path.join(root, 'workloads', workloadId);
  await fsp.mkdir(path.join(workDir, 'source'), { recursive: true });
  await fsp.writeFile(path.join(workDir, 'source/connectorConfig.json'), JSON.stringify(config));
  const source = sourceProgram({ CONNECTOR_VAR: 'c' });
  const plan: LaunchPlan = {
    workloadId,
    workDir,
    middleware: {
      command: [process.execPath, middlewareJs],
      args: [mode],
      env: { SLUICE_WORKLOAD_ID: workloadId, ...middlewareEnv },
      network: 'host',
    },
    connectors: [source],
  };
  await fsp.writeFile(path.join(workDir, 'plan.json'), JSON.stringify(plan));
  return plan;
}

async function pidRecord(plan: LaunchPlan): Promise<PidRecord> {
  return PidRecord.parse(JSON.parse(await fsp.readFile(path.join(plan.workDir, PID_FILE), 'utf8')));
}

async function connectorPid(plan: LaunchPlan): Promise<number> {
  const text = await waitFor(
    () => readJsonIfExists<number>(path.join(plan.workDir, 'source.pid')),
    'connector pid',
  );
  return Number(text);
}

describe('ProcessRuntime', () => {
  it('starts the middleware detached, which runs the connectors in its process group', async () => {
    const plan = await preparePlan(
      'wl-run',
      'linger',
      { count: 250, sleepMs: 60_000 },
      { NODE_OPTIONS: '--no-warnings' },
    );
    expect(await runtime.launch(plan)).toEqual({ started: true });

    const rec = await pidRecord(plan);
    expect(rec).toMatchObject({ workloadId: 'wl-run', workDir: plan.workDir, pgid: rec.pid });
    expect(rec.startTime).toMatch(/^\d+$/);
    const mwStat = fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    // Own process group, not the launcher's.
    expect(Number(mwStat.slice(mwStat.lastIndexOf(')') + 2).split(' ')[2])).toBe(rec.pid);
    expect(rec.pid).not.toBe(process.pid);

    const cPid = await connectorPid(plan);
    const cStat = fs.readFileSync(`/proc/${cPid}/stat`, 'utf8');
    expect(Number(cStat.slice(cStat.lastIndexOf(')') + 2).split(' ')[2])).toBe(rec.pid);

    // stdout goes to a log file in the working directory, not to the launcher.
    await waitFor(
      () =>
        fs.readFileSync(path.join(plan.workDir, 'middleware.stdout.log'), 'utf8').includes('linger mode') ||
        undefined,
      'middleware log',
    );
    expect(await runtime.isRunning('wl-run')).toBe(true);
    expect(await runtime.list()).toContain('wl-run');
  });

  it('gives the middleware and connectors exactly the plan env plus a minimal base', async () => {
    const plan = JSON.parse(
      await fsp.readFile(path.join(root, 'workloads/wl-run/plan.json'), 'utf8'),
    ) as LaunchPlan;
    const rec = await pidRecord(plan);
    const mwEnv = readEnviron(rec.pid!);
    expect(Object.keys(mwEnv).sort()).toEqual([...BASE_KEYS, 'NODE_OPTIONS', 'SLUICE_WORKLOAD_ID'].sort());
    expect(mwEnv.NODE_OPTIONS).toBe('--no-warnings'); // the plan's, not the launcher's
    expect(mwEnv.HOME).toBe(plan.workDir);

    const cEnv = readEnviron(await connectorPid(plan));
    expect(Object.keys(cEnv).sort()).toEqual([...BASE_KEYS, 'CONNECTOR_VAR'].sort());
    for (const env of [mwEnv, cEnv]) {
      const all = Object.entries(env).join('\n');
      expect(all).not.toContain(SECRET_KEY);
      expect(all).not.toContain(DATABASE_URL);
      expect(env.SLUICE_SECRET_KEY).toBeUndefined();
      expect(env.DATABASE_URL).toBeUndefined();
    }
  });

  it('does not start a launched workload again', async () => {
    const plan = JSON.parse(
      await fsp.readFile(path.join(root, 'workloads/wl-run/plan.json'), 'utf8'),
    ) as LaunchPlan;
    const before = await pidRecord(plan);
    expect(await runtime.launch(plan)).toEqual({ started: false });
    expect(await pidRecord(plan)).toEqual(before);
    expect(await runtime.launch(plan)).toEqual({ started: false });
  });

  it('stop kills the whole process group and removes the working directory', async () => {
    const plan = JSON.parse(
      await fsp.readFile(path.join(root, 'workloads/wl-run/plan.json'), 'utf8'),
    ) as LaunchPlan;
    const rec = await pidRecord(plan);
    const cPid = await connectorPid(plan);
    const t0 = Date.now();
    await runtime.stop('wl-run');
    expect(Date.now() - t0).toBeLessThan(5_000); // SIGTERM was enough (within the grace period)
    expect(processExists(rec.pid!)).toBe(false);
    expect(processExists(cPid)).toBe(false);
    expect(fs.existsSync(plan.workDir)).toBe(false);
    expect(await runtime.isRunning('wl-run')).toBe(false);
    expect(await runtime.list()).not.toContain('wl-run');
    await runtime.stop('wl-run'); // idempotent
  });

  it('kills a group that ignores SIGTERM after the grace period', async () => {
    const plan = await preparePlan('wl-stubborn', 'ignore-term', { count: 1, sleepMs: 60_000 });
    await runtime.launch(plan);
    const rec = await pidRecord(plan);
    const cPid = await connectorPid(plan);
    // Wait until the middleware installed its SIGTERM handler (it logs right after).
    await waitFor(
      () =>
        fs.readFileSync(path.join(plan.workDir, 'middleware.stdout.log'), 'utf8').includes('starting') ||
        undefined,
      'middleware start',
    );
    const t0 = Date.now();
    await runtime.stop('wl-stubborn', { graceMs: 400 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(processExists(rec.pid!)).toBe(false);
    expect(processExists(cPid)).toBe(false);
    expect(fs.existsSync(plan.workDir)).toBe(false);
  });

  it('reports an ended workload as not running and still never restarts it', async () => {
    const plan = await preparePlan('wl-done', 'run', { count: 1234 });
    await runtime.launch(plan);
    const result = await waitFor(
      () =>
        readJsonIfExists<Record<string, { records: number; code: number }>>(
          path.join(plan.workDir, 'result.json'),
        ),
      'result.json',
    );
    expect(result).toEqual({ source: { records: 1234, code: 0 } });
    await waitFor(async () => !(await runtime.isRunning('wl-done')) || undefined, 'middleware exit');
    expect(await runtime.list()).toContain('wl-done');
    expect(await runtime.launch(plan)).toEqual({ started: false });
    await runtime.stop('wl-done');
    expect(await runtime.list()).not.toContain('wl-done');
  });

  it('sweeps workloads that are no longer active', async () => {
    const a = await preparePlan('wl-keep', 'linger', { count: 1, sleepMs: 60_000 });
    const b = await preparePlan('wl-gone', 'linger', { count: 1, sleepMs: 60_000 });
    await runtime.launch(a);
    await runtime.launch(b);
    const bPid = (await pidRecord(b)).pid!;
    expect(await runtime.sweep(['wl-keep'], { graceMs: 1_000 })).toEqual(['wl-gone']);
    expect(processExists(bPid)).toBe(false);
    expect(await runtime.list()).toEqual(['wl-keep']);
    expect(await runtime.isRunning('wl-keep')).toBe(true);
    await runtime.stop('wl-keep');
  });

  it('does not mistake a recycled pid for the middleware', async () => {
    const plan = await preparePlan('wl-recycled', 'run', { count: 1 });
    // A pid file naming a live process (this test) with another start time: not ours.
    const fake: PidRecord = {
      workloadId: 'wl-recycled',
      workDir: plan.workDir,
      pid: process.pid,
      pgid: process.pid,
      startTime: '1',
      launchedAt: new Date().toISOString(),
    };
    await fsp.writeFile(path.join(plan.workDir, PID_FILE), JSON.stringify(fake));
    expect(await runtime.isRunning('wl-recycled')).toBe(false);
    await runtime.stop('wl-recycled', { graceMs: 100 }); // must not signal this process
    expect(fs.existsSync(plan.workDir)).toBe(false);
  });

  it('rejects bad plans with clear errors and leaves no pid file', async () => {
    const plan = await preparePlan('wl-bad', 'run', { count: 1 });
    await expect(
      runtime.launch({
        ...plan,
        middleware: { ...plan.middleware, command: ['/nonexistent/sluice-middleware'] },
      }),
    ).rejects.toThrow(
      /cannot start the middleware of workload wl-bad \(\/nonexistent\/sluice-middleware\): .*ENOENT/,
    );
    expect(fs.existsSync(path.join(plan.workDir, PID_FILE))).toBe(false);

    await expect(runtime.launch({ ...plan, workDir: path.join(root, 'elsewhere') })).rejects.toThrow(
      /must be a direct child of the workloads root/,
    );
    await expect(runtime.launch({ ...plan, workloadId: '../escape' })).rejects.toThrow(
      /invalid launch plan: workloadId/,
    );
    const { command: _omit, ...noCommand } = plan.middleware;
    await expect(runtime.launch({ ...plan, middleware: noCommand })).rejects.toThrow(/no command/);
    await runtime.stop('wl-bad');
  });
});

describe('spawnConnector', () => {
  it('runs a connector with the minimal env, wires stdin, and reports signals as 128+N', async () => {
    const cwd = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-spawn-'));
    try {
      const program: ConnectorProgram = {
        role: 'destination',
        stdin: true,
        command: [process.execPath, FIXTURE_CONNECTOR_JS],
        args: ['write'],
        env: { DEST_VAR: '1' },
        network: 'none',
      };
      const io = childConnectorStdio(spawnConnector(program, cwd));
      let out = '';
      io.stdout.on('data', (d) => {
        out += d;
      });
      io.stderr.resume();
      for (let n = 0; n < 3; n++) io.stdin!.write(`${JSON.stringify({ type: 'RECORD', record: { n } })}\n`);
      io.stdin!.end(`${JSON.stringify({ type: 'STATE', state: { data: { n: 3 } } })}\n`);
      expect(await io.exit).toBe(0);
      expect(out).toContain('received 3 records');
      expect(out).toContain('"type":"STATE"');

      const sleeper = spawnConnector(
        { ...program, stdin: false, command: ['/bin/sh', '-c', 'kill -TERM $$; sleep 5'], args: [] },
        cwd,
      );
      expect(await childConnectorStdio(sleeper).exit).toBe(128 + os.constants.signals.SIGTERM);

      expect(() => spawnConnector({ ...program, command: undefined }, cwd)).toThrow(/has no command/);
    } finally {
      await fsp.rm(cwd, { recursive: true, force: true });
    }
  });
});
