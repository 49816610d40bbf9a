/**
 * What the middleware's tests share: a real API server on a test database, a real workload row
 * created through the Workload service (the worker's side), a working directory prepared as the
 * launcher prepares it, and the built CLI run as a process, as the process runtime runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openConfig, sealConfig } from '@sluice/api';
import { type ApiHarness, startApiHarness } from '@sluice/api/testing';
import type { Workload } from '@sluice/db';
import type { AirbyteStateMessage, ConfiguredAirbyteCatalog, StreamMappingFile } from '@sluice/protocol';
import type { ConnectorProgram, LaunchPlan } from '@sluice/runtime/io';
import { createLogger } from '@sluice/shared';
import { createDataplaneToken, WorkloadService, type WorkloadTimeouts } from '@sluice/workload';
import {
  createWorkloadFixtures,
  syncWorkload,
  testWorkloadId,
  type WorkloadFixtures,
} from '@sluice/workload/testing';
import { mapConfiguredCatalog, STREAM_MAPPING_FILE } from '../src/plan-support';

export const PKG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(PKG_DIR, '../..');
export const CLI = path.join(PKG_DIR, 'dist', 'cli.js');
export const FIXTURES = path.join(PKG_DIR, 'test', 'fixtures');

export const node = (script: string) => [process.execPath, script];
export const fixture = (name: string) => node(path.join(FIXTURES, name));
export function connectorBin(name: string): string[] {
  const bin = path.join(REPO_ROOT, 'connectors', name, 'bin', `${name}.js`);
  if (!fs.existsSync(path.join(REPO_ROOT, 'connectors', name, 'dist', 'index.js'))) {
    throw new Error(`connectors/${name} is not built (dist/index.js missing): run npx tsup there`);
  }
  return node(bin);
}

/** Middleware processes still running: killed (with their connectors) when the harness closes,
 * so a failed test never leaves a workload's programs behind. */
const running = new Set<ChildProcess>();

export const TEST_TIMEOUTS: Partial<WorkloadTimeouts> = {
  heartbeatIntervalMs: 300,
  heartbeatTimeoutMs: 6_000,
};

export interface MiddlewareHarness {
  api: ApiHarness;
  svc: WorkloadService;
  token: string;
  root: string;
  close(): Promise<void>;
}

export async function startHarness(): Promise<MiddlewareHarness> {
  const api = await startApiHarness({ deps: { workload: { timeouts: TEST_TIMEOUTS } } });
  const box = api.deps.box;
  const svc = new WorkloadService({
    db: api.db,
    secrets: { open: (s) => openConfig(s, box), seal: (spec, c) => sealConfig(spec, c, box) },
    logger: createLogger('worker.test', { level: 'silent' }),
    timeouts: TEST_TIMEOUTS,
  });
  const { token } = await createDataplaneToken(api.db, {
    name: 'middleware tests',
    dataplaneGroup: 'default',
  });
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'mw-'));
  return {
    api,
    svc,
    token,
    root,
    close: async () => {
      for (const child of running) killGroup(child);
      running.clear();
      await api.close();
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
}

export interface ConnectorSetup {
  command: string[];
  config: Record<string, unknown>;
  env?: Record<string, string>;
}

export interface SyncSetup {
  source: ConnectorSetup;
  destination: ConnectorSetup;
  catalog: ConfiguredAirbyteCatalog;
  /** The destination's catalog; by default the source's under the mapping's names. */
  destinationCatalog?: ConfiguredAirbyteCatalog;
  mapping?: StreamMappingFile;
  socketCount?: number;
  middleware?: Record<string, unknown>;
  /** Reuse fixtures (same connection: its committed state carries over). */
  fixtures?: WorkloadFixtures;
  attemptNumber?: number;
}

export interface PreparedWorkload {
  id: string;
  workDir: string;
  fixtures: WorkloadFixtures;
  inputState: AirbyteStateMessage[];
}

/** The worker creates the workload; a launcher claims it, prepares its directory, launches it. */
export async function prepareSync(mh: MiddlewareHarness, setup: SyncSetup): Promise<PreparedWorkload> {
  const f = setup.fixtures ?? (await createWorkloadFixtures(mh.api.db));
  const attempt =
    setup.attemptNumber !== undefined
      ? await mh.api.db.attempt.create({ data: { jobId: f.job.id, attemptNumber: setup.attemptNumber } })
      : f.attempt;
  const id = testWorkloadId('mw');
  await mh.svc.create(syncWorkload(f, { id, attemptId: attempt.id }));
  const claim = await mh.svc.claim({ id, launcherId: 'test-launcher' });
  if (claim.outcome !== 'claimed') throw new Error(`could not claim ${id}: ${JSON.stringify(claim)}`);
  const { input } = await mh.svc.input({ id });
  const inputState = (input.state ?? []) as AirbyteStateMessage[];
  const workDir = path.join(mh.root, id);
  await writeSyncWorkdir(workDir, id, setup, inputState, input.stateGeneration as number);
  await mh.svc.launched({ id, launcherId: 'test-launcher' });
  return { id, workDir, fixtures: f, inputState };
}

export async function writeSyncWorkdir(
  workDir: string,
  id: string,
  setup: SyncSetup,
  inputState: AirbyteStateMessage[],
  stateGeneration: number,
): Promise<void> {
  for (const d of ['source', 'destination', 'sockets'])
    await fsp.mkdir(path.join(workDir, d), { recursive: true, mode: 0o700 });
  const file = (rel: string) => path.join(workDir, rel);
  const write = (rel: string, v: unknown) => fsp.writeFile(file(rel), JSON.stringify(v), { mode: 0o600 });
  await write('source/connectorConfig.json', setup.source.config);
  await write('source/catalog.json', setup.catalog);
  await write('destination/connectorConfig.json', setup.destination.config);
  const destCatalog =
    setup.destinationCatalog ??
    (setup.mapping ? mapConfiguredCatalog(setup.catalog, setup.mapping) : setup.catalog);
  await write('destination/catalog.json', destCatalog);
  if (setup.mapping) await write(STREAM_MAPPING_FILE, setup.mapping);
  const readArgs = [
    'read',
    '--config',
    file('source/connectorConfig.json'),
    '--catalog',
    file('source/catalog.json'),
  ];
  if (inputState.length > 0) {
    await write('source/inputState.json', inputState);
    readArgs.push('--state', file('source/inputState.json'));
  }
  const program = (role: 'source' | 'destination', c: ConnectorSetup, args: string[]): ConnectorProgram => ({
    role,
    command: c.command,
    args,
    env: c.env ?? {},
    network: 'none',
    stdin: role === 'destination',
  });
  const plan: LaunchPlan = {
    workloadId: id,
    workDir,
    middleware: { command: node(CLI), args: ['--workdir', workDir], env: {}, network: 'host' },
    connectors: [
      program('source', setup.source, readArgs),
      program('destination', setup.destination, [
        'write',
        '--config',
        file('destination/connectorConfig.json'),
        '--catalog',
        file('destination/catalog.json'),
      ]),
    ],
  };
  await write('plan.json', plan);
  await write('middleware.json', {
    workloadId: id,
    type: 'sync',
    runtime: 'process',
    connectorIo: 'spawn',
    stateGeneration,
    stateFlushMs: 200,
    logFlushMs: 200,
    stopGraceMs: 2_000,
    ...(setup.socketCount ? { socketCount: setup.socketCount } : {}),
    ...setup.middleware,
  });
}

export interface MiddlewareRun {
  child: ChildProcess;
  /** Resolves with the exit code and the middleware's own output. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Runs the built CLI as the process runtime does: own process group, minimal environment. */
export function runMiddleware(
  mh: MiddlewareHarness,
  id: string,
  workDir: string,
  apiUrl = mh.api.server.url,
): MiddlewareRun {
  const child = spawn(process.execPath, [CLI, '--workdir', workDir], {
    cwd: workDir,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SLUICE_API_URL: apiUrl,
      SLUICE_DATAPLANE_TOKEN: mh.token,
      SLUICE_WORKLOAD_ID: id,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('close', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Kills the middleware and its connectors (one process group), like a lost host. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

export async function runSync(mh: MiddlewareHarness, setup: SyncSetup) {
  const w = await prepareSync(mh, setup);
  const run = runMiddleware(mh, w.id, w.workDir);
  const result = await run.done;
  const workload = await mh.svc.get(w.id);
  return { ...w, result, workload };
}

export async function connectionState(mh: MiddlewareHarness, connectionId: string) {
  return mh.api.db.connectionState.findMany({
    where: { connectionId },
    orderBy: [{ streamNamespace: 'asc' }, { streamName: 'asc' }],
  });
}

export async function attemptLog(mh: MiddlewareHarness, attemptId: string): Promise<string> {
  const rows = await mh.api.db.attemptLogChunk.findMany({
    where: { attemptId },
    orderBy: { sequence: 'asc' },
  });
  return rows.map((r) => r.text).join('');
}

export async function streamStats(mh: MiddlewareHarness, attemptId: string) {
  return mh.api.db.streamStats.findMany({ where: { attemptId }, orderBy: { streamName: 'asc' } });
}

export type Output = Record<string, unknown> & {
  status?: string;
  failures?: Array<{ failureOrigin: string; failureType: string; externalMessage: string }>;
};
export const outputOf = (w: Workload) => (w.output ?? {}) as Output;

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function catalogOf(
  streams: Array<{ name: string; namespace?: string }>,
  mode: { sync?: 'full_refresh' | 'incremental'; dest?: 'overwrite' | 'append' } = {},
): ConfiguredAirbyteCatalog {
  return {
    streams: streams.map((s) => ({
      stream: {
        name: s.name,
        ...(s.namespace ? { namespace: s.namespace } : {}),
        json_schema: { type: 'object' },
        supported_sync_modes: ['full_refresh', 'incremental'],
        source_defined_cursor: true,
      },
      sync_mode: mode.sync ?? 'full_refresh',
      destination_sync_mode: mode.dest ?? 'append',
    })),
  };
}

/** VmRSS of a process in MB, or undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function readJsonl(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** A spec, check or discover workload, claimed and launched with its working directory. */
export async function prepareConnectorJob(
  mh: MiddlewareHarness,
  type: 'spec' | 'check' | 'discover',
  connector: ConnectorSetup,
  actorType: 'source' | 'destination' = 'source',
): Promise<{ id: string; workDir: string; fixtures: WorkloadFixtures }> {
  const f = await createWorkloadFixtures(mh.api.db);
  const id = testWorkloadId(type);
  await mh.svc.create({
    id,
    type,
    input: {
      connector: { actorType, ...(type === 'spec' ? {} : { config: connector.config }) },
    },
    dataplaneGroup: f.workspace.dataplaneGroup,
    attemptId: f.attempt.id,
  });
  const claim = await mh.svc.claim({ id, launcherId: 'test-launcher' });
  if (claim.outcome !== 'claimed') throw new Error(`could not claim ${id}`);
  const workDir = path.join(mh.root, id);
  await fsp.mkdir(path.join(workDir, 'connector'), { recursive: true, mode: 0o700 });
  const configFile = path.join(workDir, 'connector', 'connectorConfig.json');
  await fsp.writeFile(configFile, JSON.stringify(connector.config), { mode: 0o600 });
  const plan: LaunchPlan = {
    workloadId: id,
    workDir,
    middleware: { command: node(CLI), args: ['--workdir', workDir], env: {}, network: 'host' },
    connectors: [
      {
        role: 'connector',
        command: connector.command,
        args: type === 'spec' ? ['spec'] : [type, '--config', configFile],
        env: connector.env ?? {},
        network: 'none',
        stdin: false,
      },
    ],
  };
  await fsp.writeFile(path.join(workDir, 'plan.json'), JSON.stringify(plan));
  await fsp.writeFile(
    path.join(workDir, 'middleware.json'),
    JSON.stringify({
      workloadId: id,
      type,
      runtime: 'process',
      connectorIo: 'spawn',
      actorType,
      logFlushMs: 100,
    }),
  );
  await mh.svc.launched({ id, launcherId: 'test-launcher' });
  return { id, workDir, fixtures: f };
}
