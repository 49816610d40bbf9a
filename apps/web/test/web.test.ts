import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AppRouter } from '@sluice/api';
import { createTestUser } from '@sluice/api/testing';
import { createTestDatabase, type TestDatabase } from '@sluice/db';
import { createTRPCClient, httpLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild, freePort, WEB_DIR } from './support/stack';

// The built app (`next build`, run by ensureWebBuild when its sources changed) started with
// `next start` on a free port against a fresh database: the route handler, the deps built from
// env.ts and one authenticated call through /api/trpc.
const appDir = WEB_DIR;
const nextBin = join(appDir, '..', '..', 'node_modules', 'next', 'dist', 'bin', 'next');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startNext(port: number, env: Record<string, string>): Started {
  let output = '';
  const child = spawn(process.execPath, [nextBin, 'start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NEXT_TELEMETRY_DISABLED: '1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function stop(s: Started | undefined) {
  if (!s || s.child.exitCode !== null || !s.child.pid) return;
  process.kill(-s.child.pid, 'SIGTERM');
}

let db: TestDatabase;
let app: Started | undefined;
let url: string;

beforeAll(async () => {
  ensureWebBuild();
  db = await createTestDatabase();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  app = startNext(port, { DATABASE_URL: db.url, SLUICE_SECRET_KEY: randomBytes(32).toString('base64') });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (app.child.exitCode !== null) throw new Error(`next start exited:\n${app.output()}`);
    try {
      if ((await fetch(`${url}/api/trpc/health.check`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`next start did not answer within 60 s:\n${app.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  stop(app);
  await app?.exited;
  await db?.drop();
});

describe('apps/web', () => {
  it('serves the dashboard: a titled page, the login page, and a not-found page in words', async () => {
    const home = await fetch(url);
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain('<title>Sluice</title>');
    expect(html).toContain('/api/trpc');
    const login = await fetch(`${url}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toMatch(/<label[^>]*for="email"/);
    const missing = await fetch(`${url}/no/such/page`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('Page not found');
  });

  it('mounts the tRPC API at /api/trpc: health and an authenticated procedure', async () => {
    const ws = await db.db.workspace.create({ data: { name: 'Web', slug: 'web' } });
    const { token, user } = await createTestUser(db.db, { workspaceId: ws.id, role: 'editor' });
    const client = (t?: string) =>
      createTRPCClient<AppRouter>({
        links: [httpLink({ url: `${url}/api/trpc`, headers: t ? { authorization: `Bearer ${t}` } : {} })],
      });
    await expect(client().health.check.query()).resolves.toMatchObject({ ok: true });
    await expect(client(token).auth.me.query()).resolves.toMatchObject({
      user: { email: user.email },
      memberships: [{ workspaceId: ws.id, role: 'editor' }],
    });
    await expect(client().auth.me.query()).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });

  it('refuses to start without a valid SLUICE_SECRET_KEY, naming it', async () => {
    const bad = startNext(await freePort(), { DATABASE_URL: db.url, SLUICE_SECRET_KEY: 'too-short' });
    try {
      const code = await Promise.race([
        bad.exited,
        new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000)),
      ]);
      expect(code).not.toBe('running');
      expect(code).not.toBe(0);
      expect(bad.output()).toMatch(/SLUICE_SECRET_KEY: must be 32 bytes/);
      expect(bad.output()).not.toContain('too-short');
    } finally {
      stop(bad);
    }
  });
});
