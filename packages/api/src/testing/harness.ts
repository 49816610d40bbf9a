import { randomBytes } from 'node:crypto';
import { createTestDatabase, type Db, type TestDatabase } from '@sluice/db';
import { createLogger, type Logger } from '@sluice/shared';
import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import { issueToken } from '../auth/tokens';
import type { ApiDeps } from '../context';
import type { AppRouter } from '../root';
import { LocalConnectorRunner } from '../runner/local';
import { SecretBox } from '../secrets';
import { type ApiServer, startApiServer } from '../server';

export interface ApiHarness {
  testDb: TestDatabase;
  db: Db;
  deps: ApiDeps;
  server: ApiServer;
  /** A tRPC client sending the given bearer token (or none), or a session cookie. */
  client(token?: string | HarnessClientOptions): TRPCClient<AppRouter>;
  /** Every response body the harness's clients received, in order (for leak checks). */
  responseBodies: string[];
  close(): Promise<void>;
}

export interface HarnessClientOptions {
  token?: string;
  cookie?: string;
}

/**
 * A real API over HTTP on a fresh database: what every router test and the CLI's tests use.
 * `logger` lets a test capture everything the API logs (to prove secrets never reach it).
 */
export async function startApiHarness(
  opts: { logger?: Logger; deps?: Partial<ApiDeps> } = {},
): Promise<ApiHarness> {
  const testDb = await createTestDatabase();
  const box = opts.deps?.box ?? new SecretBox(randomBytes(32));
  const deps: ApiDeps = {
    db: testDb.db,
    box,
    logger: opts.logger ?? createLogger('api.test', { level: 'silent' }),
    runner: new LocalConnectorRunner({ box, timeoutsMs: { spec: 20_000, check: 20_000, discover: 20_000 } }),
    ...opts.deps,
  };
  const server = await startApiServer(deps);
  const responseBodies: string[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    responseBodies.push(await res.clone().text());
    return res;
  };
  return {
    testDb,
    db: testDb.db,
    deps,
    server,
    responseBodies,
    client: (auth) => {
      const { token, cookie } = typeof auth === 'string' ? { token: auth, cookie: undefined } : (auth ?? {});
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (cookie) headers.cookie = cookie;
      return createTRPCClient<AppRouter>({
        links: [httpLink({ url: server.url, headers: () => headers, fetch: recordingFetch })],
      });
    },
    close: async () => {
      await server.close();
      await testDb.drop();
    },
  };
}

/** A user with a membership and an API token, for tests. */
export async function createTestUser(
  db: Db,
  opts: {
    workspaceId?: string;
    role?: 'admin' | 'editor' | 'reader';
    isInstanceAdmin?: boolean;
    email?: string;
  } = {},
) {
  const email = opts.email ?? `user-${randomBytes(4).toString('hex')}@example.test`;
  const user = await db.user.create({ data: { email, isInstanceAdmin: opts.isInstanceAdmin ?? false } });
  if (opts.workspaceId) {
    await db.workspaceMembership.create({
      data: { workspaceId: opts.workspaceId, userId: user.id, role: opts.role ?? 'admin' },
    });
  }
  const issued = issueToken('user');
  await db.apiToken.create({
    data: { userId: user.id, name: 'test', tokenHash: issued.hash, tokenPrefix: issued.displayPrefix },
  });
  return { user, token: issued.token };
}
