import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@sluice/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgramEnv } from '../program-env';
import {
  bundleScript,
  FIXTURE_CONNECTOR_JS,
  processExists,
  readEnviron,
  readJsonIfExists,
  waitFor,
} from '../test-support';
import type { LaunchPlan } from '../types';
import { readProcStat } from './proc';
import { PID_FILE, PidRecord, ProcessRuntime } from './process-runtime';
import { STANDBY_DIR_PREFIX } from './standby-handoff';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SECRET_KEY = 'sk-standby-test-secret';
const DATABASE_URL = 'postgres://sluice:hunter2@127.0.0.1:5432/standby';
const TOKEN = 'sluice_dp_standby-test-token-0123456789';
const BASE_KEYS = ['HOME', 'LANG', 'PATH', 'TZ'];

let root: string;
let workloads: string;
let middlewareJs: string;
let command: string[];
let runtime: ProcessRuntime;
const savedEnv = { ...process.env };
const quiet = createLogger('test', { level: 'warn' });

beforeAll(async () => {
  // The launcher's own secrets: a standby must hold none of them.
  process.env.SLUICE_SECRET_KEY = SECRET_KEY;
  process.env.DATABASE_URL = DATABASE_URL;
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-standby-'));
  workloads = path.join(root, 'workloads');
  await fsp.mkdir(workloads);
  middlewareJs = await bundleScript(
    path.join(HERE, 'test-fixtures/middleware.ts'),
    path.join(root, 'middleware.mjs'),
  );
  command = [process.execPath, middlewareJs];
  runtime = new ProcessRuntime({
    workloadsRoot: workloads,
    graceMs: 2_000,
    logger: quiet,
    standby: { command, count: 1 },
  });
});

afterAll(async () => {
  await runtime?.close();
  for (const id of (await runtime?.list()) ?? []) await runtime.stop(id, { graceMs: 200 });
  await fsp.rm(root, { recursive: true, force: true });
  process.env = savedEnv;
});

async function preparePlan(
  workloadId: string,
  mode: 'run' | 'linger',
  config: Record<string, unknown>,
  middlewareEnv: Record<string, string> = {},
): Promise<LaunchPlan> {
  const workDir = path.join(workloads, workloadId);
  await fsp.mkdir(path.join(workDir, 'source'), { recursive: true });
  await fsp.writeFile(path.join(workDir, 'source/connectorConfig.json'), JSON.stringify(config));
  const plan: LaunchPlan = {
    workloadId,
    workDir,
    middleware: {
      command,
      args: [mode],
      env: { SLUICE_WORKLOAD_ID: workloadId, SLUICE_DATAPLANE_TOKEN: TOKEN, ...middlewareEnv },
      network: 'host',
    },
    connectors: [
      {
        role: 'source',
        stdin: false,
        command: [process.execPath, FIXTURE_CONNECTOR_JS],
        args: ['read', '--config', 'source/connectorConfig.json'],
        env: { CONNECTOR_VAR: 'c' },
        network: 'none',
      },
    ],
  };
  await fsp.writeFile(path.join(workDir, 'plan.json'), JSON.stringify(plan));
  return plan;
}

const pidRecord = async (plan: LaunchPlan) =>
  PidRecord.parse(JSON.parse(await fsp.readFile(path.join(plan.workDir, PID_FILE), 'utf8')));
const standbyDirs = async (dir = workloads) =>
  (await fsp.readdir(dir)).filter((n) => n.startsWith(STANDBY_DIR_PREFIX));
const pgrpOf = (pid: number) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
};
const readyStandby = (rt: ProcessRuntime, not?: number) =>
  waitFor(() => rt.standbyPids().find((p) => p !== not), 'a ready standby');

describe('standby middleware', () => {
  it('is detached in its own process group and holds nothing of a workload before its handoff', async () => {
    runtime.warm();
    const pid = await readyStandby(runtime);
    expect(pid).not.toBe(process.pid);
    expect(pgrpOf(pid)).toBe(pid);
    const env = readEnviron(pid);
    expect(Object.keys(env).sort()).toEqual(BASE_KEYS);
    expect(path.basename(env.HOME!)).toMatch(/^\.standby-/);
    const all = JSON.stringify(env) + fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    for (const secret of [SECRET_KEY, DATABASE_URL, TOKEN, 'SLUICE_']) expect(all).not.toContain(secret);
    // Its output goes to files of its own directory, never to the launcher.
    expect(fs.readlinkSync(`/proc/${pid}/fd/1`)).toBe(path.join(env.HOME!, 'standby.stdout.log'));
    expect(fs.readlinkSync(`/proc/${pid}/fd/2`)).toBe(path.join(env.HOME!, 'standby.stderr.log'));
    expect(await standbyDirs()).toEqual([path.basename(env.HOME!)]);
  });

  it('runs a handed-off workload like a fresh middleware; the next launch gets a new standby', async () => {
    const first = await readyStandby(runtime);
    const plan = await preparePlan('sb-run', 'run', { count: 321 });
    expect(await runtime.launch(plan)).toEqual({ started: true, standby: true });

    const rec = await pidRecord(plan);
    expect(rec).toMatchObject({ workloadId: 'sb-run', workDir: plan.workDir, pid: first, pgid: first });
    expect(rec.startTime).toBe((await readProcStat(first))?.startTime ?? rec.startTime);
    const result = await waitFor(
      () =>
        readJsonIfExists<Record<string, { records: number; code: number }>>(
          path.join(plan.workDir, 'result.json'),
        ),
      'result.json',
    );
    expect(result).toEqual({ source: { records: 321, code: 0 } });
    // Exactly the environment a fresh spawn gets: the plan's over the minimal base.
    const env = JSON.parse(await fsp.readFile(path.join(plan.workDir, 'middleware.env.json'), 'utf8'));
    expect(env).toEqual(buildProgramEnv(plan.middleware.env, { home: plan.workDir }));
    // Its stdout is the workload's log file now.
    expect(await fsp.readFile(path.join(plan.workDir, 'middleware.stdout.log'), 'utf8')).toContain(
      `middleware ${first} starting in run mode`,
    );
    await waitFor(async () => !(await runtime.isRunning('sb-run')) || undefined, 'middleware exit');
    expect(await runtime.launch(plan)).toEqual({ started: false });
    await runtime.stop('sb-run');

    // A new standby replaced the one used, and its directory is gone.
    const second = await readyStandby(runtime, first);
    expect(second).not.toBe(first);
    expect(await standbyDirs()).toHaveLength(1);
    const lingering = await preparePlan('sb-linger', 'linger', { count: 5, sleepMs: 60_000 });
    expect(await runtime.launch(lingering)).toEqual({ started: true, standby: true });
    const rec2 = await pidRecord(lingering);
    expect(rec2.pid).toBe(second);
    const connector = Number(
      await waitFor(
        () => readJsonIfExists<number>(path.join(lingering.workDir, 'source.pid')),
        'connector pid',
      ),
    );
    expect(pgrpOf(connector)).toBe(second);
    expect(await runtime.isRunning('sb-linger')).toBe(true);
    await runtime.stop('sb-linger');
    expect(processExists(second)).toBe(false);
    expect(processExists(connector)).toBe(false);
    expect(fs.existsSync(lingering.workDir)).toBe(false);
  });

  it('spawns afresh what a standby cannot take: another command, a start-up variable', async () => {
    const standby = await readyStandby(runtime);
    const other = await preparePlan('sb-other', 'run', { count: 1 });
    other.middleware.command = [process.execPath, '--no-warnings', middlewareJs];
    const withNodeOptions = await preparePlan('sb-node-options', 'run', { count: 1 }, { NODE_OPTIONS: '' });
    for (const plan of [other, withNodeOptions]) {
      expect(await runtime.launch(plan)).toEqual({ started: true });
      expect((await pidRecord(plan)).pid).not.toBe(standby);
      await waitFor(() => fs.existsSync(path.join(plan.workDir, 'result.json')) || undefined, 'result');
      await runtime.stop(plan.workloadId);
    }
    expect(runtime.standbyPids()).toEqual([standby]);
  });

  it('stops its standby on close, which removes its directory', async () => {
    const rt = new ProcessRuntime({ workloadsRoot: workloads, logger: quiet, standby: { command } });
    rt.warm();
    const pid = await readyStandby(rt);
    const dir = readEnviron(pid).HOME!;
    await rt.close();
    expect(processExists(pid)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    expect(rt.standbyPids()).toEqual([]);
  });

  it('exits by itself when the process that started it dies, and removes its directory', async () => {
    const ownerRoot = path.join(root, 'owner');
    await fsp.mkdir(ownerRoot);
    const owner = spawn(
      process.execPath,
      [
        '--conditions=sluice-source',
        '--import',
        'tsx',
        path.join(HERE, 'test-fixtures/standby-owner.ts'),
        ownerRoot,
        ...command,
      ],
      { cwd: path.join(HERE, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    owner.stdout.on('data', (d) => {
      out += d;
    });
    try {
      const { standby } = await waitFor(() => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        return line ? (JSON.parse(line) as { standby: number }) : undefined;
      }, 'the owner to report its standby');
      expect(await standbyDirs(ownerRoot)).toHaveLength(1);
      owner.kill('SIGKILL');
      await waitFor(() => !processExists(standby) || undefined, 'the standby to exit', 10_000);
      await waitFor(async () => (await standbyDirs(ownerRoot)).length === 0 || undefined, 'its directory');
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
