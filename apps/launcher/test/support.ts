/**
 * What the launcher's tests share: a real API server on a fresh database with the Workload API's
 * queue (real Redis, unique prefix), the worker's side of the Workload service, a dataplane
 * token, the middleware program (bundled once per file), and connector commands.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openConfig, sealConfig } from '@sluice/api';
import { type ApiHarness, startApiHarness } from '@sluice/api/testing';
import type { Workload } from '@sluice/db';
import type { WorkloadRuntime } from '@sluice/runtime';
import { createLogger } from '@sluice/shared';
import {
  type CreateWorkload,
  ensureDataplaneToken,
  WorkloadQueue,
  WorkloadService,
  type WorkloadTimeouts,
} from '@sluice/workload';
import { createWorkloadFixtures, type WorkloadFixtures } from '@sluice/workload/testing';
import { build } from 'esbuild';
import { BASE_IMAGE, buildAll, buildBaseImage, buildDockerfileImage } from '../../../infra/images/build.mjs';
import { type LauncherOptions, type RunningLauncher, startLauncher } from '../src/index';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../../..');
export const REDIS_URL = 'redis://127.0.0.1:6379';

export const TEST_TIMEOUTS: Partial<WorkloadTimeouts> = {
  claimedMs: 4_000,
  launchedMs: 15_000,
  heartbeatIntervalMs: 300,
  heartbeatTimeoutMs: 3_000,
  cancelGraceMs: 10_000,
  blockedRetryMs: 300,
};

export const node = process.execPath;
export const connectorBin = (name: string) => path.join(REPO, 'connectors', name, 'bin', `${name}.js`);
export const FAKER = [node, connectorBin('source-faker')];
export const LOCAL_JSONL = [node, connectorBin('destination-local-jsonl')];
export const DEV_NULL = [node, connectorBin('destination-dev-null')];
/** The Airbyte-style fixture connector of infra/images (`count`, `exitCode`, `sleepMs`). */
export const FIXTURE_CONNECTOR = path.join(
  REPO,
  'infra/images/test-fixtures/airbyte-fixture/integration_code/index.js',
);

/** Live (not zombie) processes of a process group. */
export function processGroupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export const processGroupAlive = (pgid: number) => processGroupMembers(pgid).length > 0;

const silent = createLogger('launcher.test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Stack {
  h: ApiHarness;
  queue: WorkloadQueue;
  /** The worker's side: creates workloads, runs the sweeper. */
  svc: WorkloadService;
  token: string;
  prefix: string;
  f: WorkloadFixtures;
  tmp: string;
  close(): Promise<void>;
}

export async function startStack(
  opts: { timeouts?: Partial<WorkloadTimeouts>; name?: string } = {},
): Promise<Stack> {
  const prefix = `test-launcher-${opts.name ?? 'x'}-${randomBytes(4).toString('hex')}`;
  const timeouts = { ...TEST_TIMEOUTS, ...opts.timeouts };
  const queue = new WorkloadQueue({ connection: REDIS_URL, prefix });
  const h = await startApiHarness({ deps: { workload: { dispatch: queue, timeouts } } });
  const box = h.deps.box;
  const svc = new WorkloadService({
    db: h.db,
    dispatch: queue,
    secrets: { open: (s) => openConfig(s, box), seal: (spec, c) => sealConfig(spec, c, box) },
    timeouts,
    logger: silent,
  });
  const token = `sluice_dp_${randomBytes(32).toString('base64url')}`;
  await ensureDataplaneToken(h.db, { token, group: 'default' });
  const f = await createWorkloadFixtures(h.db);
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sl-'));
  return {
    h,
    queue,
    svc,
    token,
    prefix,
    f,
    tmp,
    close: async () => {
      const keys = await queue.redis.keys(`${prefix}:*`);
      if (keys.length) await queue.redis.del(...keys);
      await queue.close();
      await h.close();
      await fsp.rm(tmp, { recursive: true, force: true });
    },
  };
}

export function launcherOptions(stack: Stack, extra: Partial<LauncherOptions> = {}): LauncherOptions {
  return {
    apiUrl: stack.h.server.url,
    dataplaneToken: stack.token,
    redisUrl: REDIS_URL,
    queuePrefix: stack.prefix,
    workloadsRoot: path.join(stack.tmp, 'w'),
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    reconcileIntervalMs: 500,
    capacityPollMs: 200,
    stopGraceMs: 2_000,
    logger: silent,
    ...extra,
  };
}

export function launch(stack: Stack, extra: Partial<LauncherOptions> = {}): Promise<RunningLauncher> {
  return startLauncher(launcherOptions(stack, extra));
}

// ---------------------------------------------------------------------------------------------
// Middleware

/**
 * The real middleware (packages/middleware/src/cli.ts) bundled into one file, or this package's
 * stand-in while the real one does not exist (or SLUICE_TEST_MIDDLEWARE=fixture).
 */
export function middlewareEntry(): { entry: string; real: boolean } {
  const real = path.join(REPO, 'packages/middleware/src/cli.ts');
  if (process.env.SLUICE_TEST_MIDDLEWARE !== 'fixture' && fs.existsSync(real))
    return { entry: real, real: true };
  return { entry: path.join(HERE, 'fixtures/middleware.ts'), real: false };
}

export async function bundleMiddleware(outDir: string): Promise<string> {
  const outfile = path.join(outDir, 'middleware', 'cli.js');
  await build({
    entryPoints: [middlewareEntry().entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['sluice-source'],
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
    },
  });
  return outfile;
}

/**
 * A connector of connectors/ bundled from its source with the workspace's current SDK (its
 * built bin/ carries the SDK of its last build): the argv to run it.
 */
export async function bundleConnector(name: string, outDir: string): Promise<string[]> {
  const outfile = path.join(outDir, 'connectors', `${name}.mjs`);
  await build({
    entryPoints: [path.join(REPO, 'connectors', name, 'src/index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['sluice-source'],
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
    },
  });
  return [process.execPath, outfile];
}

export const TEST_MIDDLEWARE_IMAGE = 'sluice/launcher-test-middleware:dev';

/** An image of the bundled middleware, as packages/middleware/Dockerfile builds it. */
export async function buildMiddlewareImage(cliJs: string): Promise<string> {
  await buildBaseImage();
  const context = path.dirname(cliJs);
  await fsp.writeFile(
    path.join(context, 'Dockerfile'),
    [
      `ARG BASE_IMAGE=${BASE_IMAGE}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile variable
      'FROM ${BASE_IMAGE}',
      'COPY cli.js /opt/sluice/middleware/cli.js',
      'ENTRYPOINT ["node", "/opt/sluice/middleware/cli.js"]',
      '',
    ].join('\n'),
  );
  await buildDockerfileImage({ context, tag: TEST_MIDDLEWARE_IMAGE });
  return TEST_MIDDLEWARE_IMAGE;
}

/** What a connector's package.json declares under `"sluice"` (its definition's runtime fields). */
export interface ConnectorImage {
  image: string;
  supportsSocket: boolean;
  network?: 'none' | 'host';
  resources?: { cpuLimit?: number; memoryLimitMb?: number };
}

/** Newest modification time (ms) of the files under `dir` (tests excluded), 0 when none. */
function newestMtime(dir: string): number {
  let newest = 0;
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) return 0;
  if (st.isFile()) return st.mtimeMs;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || /\.test\.ts$/.test(entry.name)) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * The real image of `connectors/<name>` (its Dockerfile, the tag its package.json names), built
 * through infra/images/build.mjs and cached by its inputs. The connector is compiled (`npm run
 * build`) only when its `dist/` is missing or older than its sources or those of the workspace
 * packages it bundles, so a current image never costs a compile.
 */
export async function buildConnectorImage(name: string): Promise<ConnectorImage> {
  const dir = path.join(REPO, 'connectors', name);
  const pkg = JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8'));
  const sluice = pkg.sluice as Partial<ConnectorImage> | undefined;
  if (!sluice?.image) throw new Error(`connectors/${name}/package.json names no "sluice.image"`);
  const inputs = [
    path.join(dir, 'src'),
    path.join(dir, 'package.json'),
    path.join(dir, 'tsup.config.ts'),
    path.join(REPO, 'tsup.bundle.ts'),
    ...Object.keys(pkg.dependencies ?? {})
      .filter((d) => d.startsWith('@sluice/'))
      .map((d) => path.join(REPO, 'packages', d.slice('@sluice/'.length), 'src')),
  ];
  const built = fs.statSync(path.join(dir, 'dist/index.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const compile = built < Math.max(...inputs.map(newestMtime));
  await buildAll({ only: [name], compile });
  return {
    image: sluice.image,
    supportsSocket: sluice.supportsSocket === true,
    ...(sluice.network ? { network: sluice.network } : {}),
    ...(sluice.resources ? { resources: sluice.resources } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Workloads

export const wid = (label: string) => `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** A new job attempt of the fixtures' connection, so a workload has its own attempt log. */
export async function newAttempt(stack: Stack): Promise<string> {
  const job = await stack.h.db.job.create({
    data: {
      workspaceId: stack.f.workspace.id,
      connectionId: stack.f.connection.id,
      type: 'sync',
      config: {},
    },
  });
  const attempt = await stack.h.db.attempt.create({ data: { jobId: job.id, attemptNumber: 0 } });
  return attempt.id;
}

export interface ConnectorDef {
  command?: string[];
  image?: string;
  config: Record<string, unknown>;
  supportsSocket?: boolean;
  network?: 'none' | 'host';
  resources?: Record<string, unknown>;
}

export function fakerCatalog(
  streams: { name: string; namespace?: string; selectedFields?: string[] }[] = [{ name: 'users' }],
) {
  return {
    streams: streams.map((s) => ({
      stream: {
        name: s.name,
        ...(s.namespace ? { namespace: s.namespace } : {}),
        json_schema: {
          type: 'object',
          properties: { id: { type: 'integer' }, name: { type: 'string' }, email: { type: 'string' } },
        },
        supported_sync_modes: ['full_refresh', 'incremental'],
      },
      sync_mode: 'full_refresh',
      destination_sync_mode: 'append',
      ...(s.selectedFields ? { selectedFields: s.selectedFields } : {}),
    })),
  };
}

export function syncInput(
  stack: Stack,
  source: ConnectorDef,
  destination: ConnectorDef,
  catalog: unknown,
  extra: Record<string, unknown> = {},
): CreateWorkload['input'] {
  return {
    connectionId: stack.f.connection.id,
    workspaceId: stack.f.workspace.id,
    jobId: stack.f.job.id,
    attemptNumber: 0,
    source: { actorType: 'source', ...source },
    destination: { actorType: 'destination', ...destination },
    catalog,
    ...extra,
  } as CreateWorkload['input'];
}

export async function createWorkload(
  stack: Stack,
  args: Omit<CreateWorkload, 'id'> & { id?: string; withAttempt?: boolean },
): Promise<string> {
  const { withAttempt, ...rest } = args;
  const id = rest.id ?? wid(rest.type);
  const attemptId = withAttempt === false ? null : await newAttempt(stack);
  await stack.svc.create({ ...rest, id, attemptId });
  return id;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const TERMINAL = ['success', 'failure', 'cancelled'];

export async function waitTerminal(stack: Stack, id: string, timeoutMs = 25_000): Promise<Workload> {
  try {
    return await waitFor(
      async () => {
        const w = await stack.h.db.workload.findUnique({ where: { id } });
        return w && TERMINAL.includes(w.status) ? w : undefined;
      },
      `workload ${id} to end`,
      timeoutMs,
    );
  } catch (err) {
    // Say where it got stuck: its status and what its attempt log holds.
    const w = await stack.h.db.workload.findUnique({ where: { id } });
    throw new Error(`${(err as Error).message}; status ${w?.status}; log:\n${await attemptLog(stack, id)}`);
  }
}

export async function waitStatus(
  stack: Stack,
  id: string,
  status: string,
  timeoutMs = 30_000,
): Promise<Workload> {
  return waitFor(
    async () => {
      const w = await stack.h.db.workload.findUnique({ where: { id } });
      if (w && TERMINAL.includes(w.status) && w.status !== status) {
        throw new Error(
          `workload ${id} ended ${w.status} (${w.terminationReason}) while waiting for ${status}`,
        );
      }
      return w?.status === status ? w : undefined;
    },
    `workload ${id} to be ${status}`,
    timeoutMs,
  );
}

/** The attempt log as the API stores it, one string. */
export async function attemptLog(stack: Stack, workloadId: string): Promise<string> {
  const w = await stack.h.db.workload.findUniqueOrThrow({ where: { id: workloadId } });
  if (!w.attemptId) return '';
  const { entries } = await stack.svc.readAttemptLog(w.attemptId, { limit: 10_000 });
  return entries.map((e) => `[${e.writer}] ${e.text}`).join('');
}

export async function countLines(file: string): Promise<number> {
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.trim()).length;
}

/** Whether the runtime still has anything of the workload (process group, containers). */
export async function leftovers(runtime: WorkloadRuntime, id: string): Promise<boolean> {
  return (await runtime.list()).includes(id) || (await runtime.isRunning(id));
}

export { silent };

// ---------------------------------------------------------------------------------------------
// Launcher processes

export interface LauncherProcess {
  id: string;
  child: import('node:child_process').ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * A launcher in its own process (src/main.ts through tsx, workspace packages from source), with
 * only the environment a deployment would give it.
 */
export async function spawnLauncher(
  stack: Stack,
  opts: { id: string; middleware: string; env?: Record<string, string>; entry?: string },
): Promise<LauncherProcess> {
  const { spawn } = await import('node:child_process');
  const logFile = path.join(stack.tmp, `${opts.id}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['--conditions=sluice-source', '--import', 'tsx', opts.entry ?? path.join(HERE, '../src/main.ts')],
    {
      cwd: path.join(HERE, '..'),
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        SLUICE_API_URL: stack.h.server.url,
        SLUICE_DATAPLANE_TOKEN: stack.token,
        REDIS_URL,
        SLUICE_QUEUE_PREFIX: stack.prefix,
        SLUICE_RUNTIME: 'process',
        SLUICE_WORKLOADS_ROOT: path.join(stack.tmp, 'w'),
        SLUICE_LAUNCHER_ID: opts.id,
        SLUICE_METRICS_PORT: '0',
        SLUICE_METRICS_HOST: '127.0.0.1',
        SLUICE_MIDDLEWARE_COMMAND: JSON.stringify([process.execPath, opts.middleware]),
        SLUICE_LAUNCHER_RECONCILE_INTERVAL_MS: '500',
        SLUICE_LAUNCHER_CAPACITY_POLL_MS: '200',
        SLUICE_STOP_GRACE_MS: '2000',
        SLUICE_LAUNCHER_SHUTDOWN_TIMEOUT_MS: '5000',
        LOG_LEVEL: 'info',
        ...opts.env,
      },
      stdio: ['ignore', out, out],
    },
  );
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(
    () => {
      const log = fs.readFileSync(logFile, 'utf8');
      if (child.exitCode !== null) throw new Error(`launcher ${opts.id} exited at start:\n${log}`);
      return log.includes('"msg":"launcher started"');
    },
    `launcher ${opts.id} to start`,
    30_000,
    100,
  );
  return { id: opts.id, child, logFile, exited, kill: (signal) => child.kill(signal) };
}
