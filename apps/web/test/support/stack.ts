/**
 * "The running stack" for the dashboard's browser tests and the CLI's tests: the built web
 * app (`next start` on a free port) serving the API against a fresh database seeded by the
 * bootloader, an instance administrator with an API token, and — so syncs really run — a
 * worker (workflows) and a launcher (process runtime, the real middleware) on a Redis key
 * prefix of their own. Everything is stopped and removed by `close()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AppRouter, ensureAdminUser, SecretBox } from '@sluice/api';
import { createDb, createTestDatabase, type Db, runBootloader, type TestDatabase } from '@sluice/db';
import { type RunningLauncher, startLauncher } from '@sluice/launcher';
import { createLogger } from '@sluice/shared';
import { type RunningWorker, startWorker } from '@sluice/worker';
import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import { build } from 'esbuild';
import { Redis } from 'ioredis';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO = path.resolve(WEB_DIR, '../..');
export const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const VAULT_FIXTURE = path.join(WEB_DIR, 'test/fixtures/source-vault.mjs');
const NEXT_BIN = path.join(REPO, 'node_modules/next/dist/bin/next');
const BUILD_LOCK = path.join(os.tmpdir(), 'sluice-web-build.lock');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(tsx?|css|mjs)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds the web app (`next build`) when it was never built or its sources (or the
 * workspace packages compiled into it) changed since. Serialised by a lock file, so test files
 * and packages starting at once build it once.
 */
export function ensureWebBuild(): void {
  const buildId = path.join(WEB_DIR, '.next/BUILD_ID');
  const sources = [
    path.join(WEB_DIR, 'app'),
    path.join(WEB_DIR, 'src'),
    ...['api', 'db', 'shared', 'protocol', 'workload', 'workflow', 'platform'].map((p) =>
      path.join(REPO, 'packages', p, 'src'),
    ),
  ];
  const script = `
    set -e
    if [ -f "${buildId}" ] && [ "$(stat -c %Y "${buildId}")" -ge "$1" ]; then exit 0; fi
    cd "${WEB_DIR}" && NEXT_TELEMETRY_DISABLED=1 node "${NEXT_BIN}" build >&2
  `;
  const newest = Math.ceil(
    Math.max(...sources.map(newestMtime), fs.statSync(path.join(WEB_DIR, 'next.config.ts')).mtimeMs) / 1000,
  );
  try {
    execFileSync('flock', [BUILD_LOCK, 'bash', '-c', script, 'build', String(newest)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(
      `next build failed: ${e.message}\n${e.stdout?.toString() ?? ''}\n${e.stderr?.toString() ?? ''}`,
    );
  }
}

/** The real middleware (packages/middleware/src/cli.ts) bundled into one file. */
async function bundleMiddleware(outDir: string): Promise<string> {
  const outfile = path.join(outDir, 'middleware.mjs');
  await build({
    entryPoints: [path.join(REPO, 'packages/middleware/src/cli.ts')],
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

export type Client = TRPCClient<AppRouter>;

export function apiClient(apiUrl: string, token?: string): Client {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: apiUrl, headers: token ? { authorization: `Bearer ${token}` } : {} })],
  });
}

export interface Stack {
  /** http://127.0.0.1:<port> */
  url: string;
  /** url + /api/trpc */
  apiUrl: string;
  db: Db;
  databaseUrl: string;
  admin: { email: string; password: string; workspaceId: string; token: string };
  /** A tRPC client acting as the admin (API token). */
  client: Client;
  prefix: string;
  tmp: string;
  worker: RunningWorker | null;
  launcher: RunningLauncher | null;
  /** The web server's output so far (for failure messages). */
  output(): string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Names the Redis prefix and the temp directory. */
  name: string;
  /** Start a worker and a launcher (default true). */
  dataplane?: boolean;
}

const quiet = createLogger('test.stack', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited:\n${output()}`);
    try {
      if ((await fetch(`${url}/api/trpc/health.check`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`next start did not answer within 90 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  ensureWebBuild();
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep closing the rest
      }
    }
  };
  try {
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), `sluice-web-${opts.name}-`));
    cleanups.push(() => fsp.rm(tmp, { recursive: true, force: true }));
    const test: TestDatabase = await createTestDatabase({ poolMax: 4 });
    cleanups.push(() => test.drop());
    const secretKey = randomBytes(32).toString('base64');
    await runBootloader({
      env: { DATABASE_URL: test.url, SLUICE_SECRET_KEY: secretKey },
      connectorsRoot: path.join(REPO, 'connectors'),
      logger: quiet,
    });
    const email = 'admin@sluice.test';
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const { workspaceId } = await ensureAdminUser(test.db, { email, password, workspaceName: 'Default' });
    if (!workspaceId) throw new Error('ensureAdminUser created no workspace');
    const prefix = `test-web-${opts.name}-${randomBytes(4).toString('hex')}`;
    const dataplaneToken = `sluice_dp_${randomBytes(32).toString('base64url')}`;
    const dataplane = opts.dataplane !== false;

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let out = '';
    const child = spawn(process.execPath, [NEXT_BIN, 'start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: WEB_DIR,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NEXT_TELEMETRY_DISABLED: '1',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
        DATABASE_URL: test.url,
        DATABASE_POOL_MAX: '4',
        SLUICE_SECRET_KEY: secretKey,
        ...(dataplane
          ? { REDIS_URL: REDIS_URL, SLUICE_QUEUE_PREFIX: prefix, SLUICE_DATAPLANE_TOKEN: dataplaneToken }
          : { SLUICE_CONNECTOR_RUNNER: 'local' }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    cleanups.push(async () => {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
    });
    await waitForHealth(url, child, () => out);
    const apiUrl = `${url}/api/trpc`;

    let worker: RunningWorker | null = null;
    let launcher: RunningLauncher | null = null;
    if (dataplane) {
      cleanups.push(async () => {
        const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
        try {
          const keys = await redis.keys(`${prefix}:*`);
          for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
        } finally {
          redis.disconnect();
        }
      });
      const workerDb = createDb({ url: test.url, poolMax: 6 });
      cleanups.push(() => workerDb.$disconnect());
      worker = await startWorker({
        db: workerDb,
        redis: REDIS_URL,
        prefix,
        box: new SecretBox(Buffer.from(secretKey, 'base64')),
        logger: quiet,
        concurrency: 20,
        sweeps: false,
        metricsPort: null,
        // Failed attempts retry quickly and give up after two, so a failing sync ends in seconds.
        config: {
          retry: {
            completeFailureBackoffMinMs: 200,
            completeFailureBackoffMaxMs: 500,
            successiveCompleteFailureLimit: 2,
            totalCompleteFailureLimit: 2,
            successivePartialFailureLimit: 2,
            totalPartialFailureLimit: 2,
          },
        },
      });
      const running = worker;
      cleanups.push(() => running.close(5_000));
      const middleware = await bundleMiddleware(tmp);
      launcher = await startLauncher({
        apiUrl,
        dataplaneToken,
        redisUrl: REDIS_URL,
        queuePrefix: prefix,
        runtime: 'process',
        workloadsRoot: path.join(tmp, 'workloads'),
        concurrency: 4,
        metricsPort: null,
        middlewareCommand: [process.execPath, middleware],
        reconcileIntervalMs: 2_000,
        logger: quiet,
      });
      const l = launcher;
      cleanups.push(() => l.stop({ timeoutMs: 5_000 }));
    }

    // The admin signs in and makes an API token, as a user would for the CLI.
    const login = await fetch(`${apiUrl}/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (!login.ok) throw new Error(`auth.login failed: ${login.status} ${await login.text()}`);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const tokenRes = await fetch(`${apiUrl}/workspace.tokens.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ name: 'tests' }),
    });
    const token = ((await tokenRes.json()) as { result: { data: { token: string } } }).result.data.token;

    return {
      url,
      apiUrl,
      db: test.db,
      databaseUrl: test.url,
      admin: { email, password, workspaceId, token },
      client: apiClient(apiUrl, token),
      prefix,
      tmp,
      worker,
      launcher,
      output: () => out,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Registers the vault fixture connector as an instance-wide command definition through the API
 * (`definition.createCommand`), as an administrator would: with the dataplane, its spec is read
 * by a spec workload the launcher runs before the definition row exists.
 */
export async function registerVaultConnector(stack: Stack): Promise<string> {
  const { definition } = await withServerOutput(stack, () =>
    stack.client.definition.createCommand.mutate({
      kind: 'source',
      displayName: 'Vault (test fixture)',
      version: '1.0.0',
      image: 'sluice/source-vault-fixture:1.0.0',
      command: [process.execPath, VAULT_FIXTURE],
    }),
  );
  if (!definition.hasSpec) throw new Error('the vault fixture definition has no spec');
  return definition.id;
}

/** Runs an API call; on failure the error carries the tail of the server's log (internal errors). */
export async function withServerOutput<T>(stack: Stack, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- web server output ---\n${stack.output().slice(-4000)}`);
  }
}

export async function definitionId(stack: Stack, name: string): Promise<string> {
  const defs = await stack.client.definition.list.query({ workspaceId: stack.admin.workspaceId });
  const def = defs.find((d) => d.name === name);
  if (!def)
    throw new Error(`no connector definition named ${name} (have: ${defs.map((d) => d.name).join(', ')})`);
  return def.id;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
