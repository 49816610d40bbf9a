import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../src/auth/tokens';
import { appRouter } from '../src/root';
import { type ApiHarness, createTestUser, startApiHarness } from '../src/testing/harness';
import type { Access } from '../src/trpc';
import { createPipeline, createWorkspaceWithUsers, seedFixtureDefinitions, sourceConfig } from './helpers';

/**
 * Workspace isolation, proven against the router itself: every procedure is listed from
 * `appRouter` at test time with its declared access level and type. Each workspace-scoped
 * procedure (access user/read/write/admin) and each public one needs an input builder below;
 * a procedure without one fails the suite, so a new unscoped procedure cannot slip in.
 * For every procedure with a builder:
 * - an anonymous caller gets UNAUTHORIZED (public ones excepted);
 * - a member of another workspace, and a token scoped to another workspace, get NOT_FOUND
 *   for this workspace's objects (FORBIDDEN would confirm they exist), also when they pass
 *   their own workspace id with this workspace's object ids (then an empty answer is fine
 *   as long as it holds none of the objects);
 * - a reader gets FORBIDDEN from write and admin procedures, an editor from admin ones, and
 *   read procedures work for a reader.
 * instanceAdmin procedures (instance-wide by design) must refuse workspace admins with
 * FORBIDDEN; dataplane procedures must refuse user tokens with UNAUTHORIZED.
 */

interface Ids {
  workspaceId: string;
  sourceId: string;
  destinationId: string;
  connectionId: string;
  jobId: string;
  webhookId: string;
  definitionId: string;
  builtInSourceDefId: string;
  builtInDestinationDefId: string;
  tokenId: string;
  memberUserId: string;
  memberEmail: string;
}

type Builder = (ids: Ids) => Record<string, unknown> | undefined;

const BUILDERS: Record<string, Builder> = {
  'health.check': () => undefined,
  'auth.login': () => ({ email: 'nobody@example.test', password: 'x' }),
  'auth.logout': () => undefined,
  'auth.me': () => undefined,
  'auth.changePassword': () => ({ currentPassword: 'x', newPassword: 'long enough password' }),

  'workspace.list': () => undefined,
  'workspace.get': (i) => ({ workspaceId: i.workspaceId }),
  'workspace.create': () => ({ name: 'created by isolation test' }),
  'workspace.update': (i) => ({ workspaceId: i.workspaceId, name: 'hijacked' }),
  'workspace.delete': (i) => ({ workspaceId: i.workspaceId }),
  'workspace.members.list': (i) => ({ workspaceId: i.workspaceId }),
  'workspace.members.add': (i) => ({
    workspaceId: i.workspaceId,
    email: 'outsider-added@example.test',
    role: 'admin',
  }),
  'workspace.members.updateRole': (i) => ({
    workspaceId: i.workspaceId,
    userId: i.memberUserId,
    role: 'admin',
  }),
  'workspace.members.remove': (i) => ({ workspaceId: i.workspaceId, userId: i.memberUserId }),
  'workspace.tokens.list': (i) => ({ workspaceId: i.workspaceId }),
  'workspace.tokens.create': (i) => ({ name: 'sneaky', workspaceId: i.workspaceId }),
  'workspace.tokens.revoke': (i) => ({ tokenId: i.tokenId }),
  'workspace.webhooks.list': (i) => ({ workspaceId: i.workspaceId }),
  'workspace.webhooks.get': (i) => ({ webhookId: i.webhookId }),
  'workspace.webhooks.create': (i) => ({
    workspaceId: i.workspaceId,
    name: 'exfiltrate',
    url: 'https://evil.example.test',
    events: ['sync_failure'],
  }),
  'workspace.webhooks.update': (i) => ({ webhookId: i.webhookId, url: 'https://evil.example.test' }),
  'workspace.webhooks.delete': (i) => ({ webhookId: i.webhookId }),

  'definition.list': (i) => ({ workspaceId: i.workspaceId }),
  'definition.get': (i) => ({ workspaceId: i.workspaceId, definitionId: i.definitionId }),
  'definition.createCustom': (i) => ({
    workspaceId: i.workspaceId,
    kind: 'source',
    displayName: 'Intruder',
    version: '1',
    image: 'evil/intruder:1',
  }),
  'definition.update': (i) => ({
    workspaceId: i.workspaceId,
    definitionId: i.definitionId,
    image: 'evil/x:1',
  }),
  'definition.refreshSpec': (i) => ({ workspaceId: i.workspaceId, definitionId: i.definitionId }),
  'definition.delete': (i) => ({ workspaceId: i.workspaceId, definitionId: i.definitionId }),

  'source.list': (i) => ({ workspaceId: i.workspaceId }),
  'source.get': (i) => ({ sourceId: i.sourceId }),
  'source.create': (i) => ({
    workspaceId: i.workspaceId,
    definitionId: i.builtInSourceDefId,
    name: 'planted',
    config: sourceConfig(),
  }),
  'source.update': (i) => ({ sourceId: i.sourceId, name: 'renamed' }),
  'source.delete': (i) => ({ sourceId: i.sourceId }),
  'source.check': (i) => ({ sourceId: i.sourceId }),
  'source.checkConfig': (i) => ({
    workspaceId: i.workspaceId,
    definitionId: i.builtInSourceDefId,
    sourceId: i.sourceId,
    config: sourceConfig({ password: '**********' }),
  }),
  'source.discover': (i) => ({ sourceId: i.sourceId }),
  'source.latestCatalog': (i) => ({ sourceId: i.sourceId }),

  'destination.list': (i) => ({ workspaceId: i.workspaceId }),
  'destination.get': (i) => ({ destinationId: i.destinationId }),
  'destination.create': (i) => ({
    workspaceId: i.workspaceId,
    definitionId: i.builtInDestinationDefId,
    name: 'planted',
    config: { path: '/x' },
  }),
  'destination.update': (i) => ({ destinationId: i.destinationId, name: 'renamed' }),
  'destination.delete': (i) => ({ destinationId: i.destinationId }),
  'destination.check': (i) => ({ destinationId: i.destinationId }),
  'destination.checkConfig': (i) => ({
    workspaceId: i.workspaceId,
    definitionId: i.builtInDestinationDefId,
    destinationId: i.destinationId,
    config: { path: '/x', api_token: '**********' },
  }),

  'connection.list': (i) => ({ workspaceId: i.workspaceId }),
  'connection.get': (i) => ({ connectionId: i.connectionId }),
  'connection.create': (i) => ({
    workspaceId: i.workspaceId,
    sourceId: i.sourceId,
    destinationId: i.destinationId,
  }),
  'connection.update': (i) => ({ connectionId: i.connectionId, name: 'renamed' }),
  'connection.enable': (i) => ({ connectionId: i.connectionId }),
  'connection.disable': (i) => ({ connectionId: i.connectionId }),
  'connection.delete': (i) => ({ connectionId: i.connectionId }),
  'connection.syncNow': (i) => ({ connectionId: i.connectionId }),
  'connection.cancel': (i) => ({ connectionId: i.connectionId }),
  'connection.reset': (i) => ({ connectionId: i.connectionId }),
  'connection.schemaChange': (i) => ({ connectionId: i.connectionId }),
  'connection.applySchemaChange': (i) => ({ connectionId: i.connectionId }),
  'connection.state': (i) => ({ connectionId: i.connectionId }),

  'job.list': (i) => ({ workspaceId: i.workspaceId, connectionId: i.connectionId }),
  'job.get': (i) => ({ jobId: i.jobId }),
  'job.attemptLog': (i) => ({ jobId: i.jobId }),
  'job.cancel': (i) => ({ jobId: i.jobId }),
};

const SCOPED: Access[] = ['user', 'read', 'write', 'admin'];
const ROLE_GATED: Access[] = ['read', 'write', 'admin'];

interface Procedure {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  access: Access | undefined;
}

function procedures(): Procedure[] {
  const record = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { type: Procedure['type']; meta?: { access?: Access } } }
  >;
  return Object.entries(record).map(([path, p]) => ({
    path,
    type: p._def.type,
    access: p._def.meta?.access,
  }));
}

let h: ApiHarness;
let ids: Ids;
let other: Awaited<ReturnType<typeof createWorkspaceWithUsers>>;
let home: Awaited<ReturnType<typeof createWorkspaceWithUsers>>;
let scopedToOther: string;

/** Calls a procedure over HTTP the way any client would; returns the error code or the data. */
async function call(
  p: Procedure,
  input: unknown,
  token?: string,
): Promise<{ code: string | null; body: string }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const url = `${h.server.url}/${p.path}`;
  const res =
    p.type === 'query'
      ? await fetch(input === undefined ? url : `${url}?input=${encodeURIComponent(JSON.stringify(input))}`, {
          headers,
        })
      : await fetch(url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: input === undefined ? undefined : JSON.stringify(input),
        });
  const body = await res.text();
  const parsed = JSON.parse(body) as { error?: { data?: { code?: string } } };
  return { code: parsed.error ? (parsed.error.data?.code ?? 'UNKNOWN') : null, body };
}

function homeObjectIds(): string[] {
  return [
    ids.sourceId,
    ids.destinationId,
    ids.connectionId,
    ids.jobId,
    ids.webhookId,
    ids.definitionId,
    ids.tokenId,
  ];
}

beforeAll(async () => {
  h = await startApiHarness();
  const defs = await seedFixtureDefinitions(h.db);
  home = await createWorkspaceWithUsers(h.db, 'Home');
  other = await createWorkspaceWithUsers(h.db, 'Other');
  const pipeline = await createPipeline(h, home.editor.token, home.ws.id, {
    sourceDefId: defs.sourceDef.id,
    destinationDefId: defs.destinationDef.id,
  });
  const a = h.client(home.admin.token);
  const webhook = await a.workspace.webhooks.create.mutate({
    workspaceId: home.ws.id,
    name: 'ops',
    url: 'https://hooks.example.test',
    events: ['sync_failure'],
  });
  const custom = await a.definition.createCustom.mutate({
    workspaceId: home.ws.id,
    kind: 'source',
    displayName: 'Home custom',
    version: '1',
    image: 'home/custom:1',
  });
  const token = await a.workspace.tokens.create.mutate({ name: 'home admin automation' });
  ids = {
    workspaceId: home.ws.id,
    sourceId: pipeline.source.id,
    destinationId: pipeline.destination.id,
    connectionId: pipeline.connection.id,
    jobId: pipeline.discovered.jobId!,
    webhookId: webhook.id,
    definitionId: custom.definition.id,
    builtInSourceDefId: defs.sourceDef.id,
    builtInDestinationDefId: defs.destinationDef.id,
    tokenId: token.id,
    memberUserId: home.reader.user.id,
    memberEmail: home.reader.user.email,
  };
  await createTestUser(h.db, { email: 'outsider-added@example.test' });
  // A user who belongs to both workspaces, holding a token limited to the other one.
  const both = await createTestUser(h.db, { workspaceId: home.ws.id, role: 'admin' });
  await h.db.workspaceMembership.create({
    data: { workspaceId: other.ws.id, userId: both.user.id, role: 'admin' },
  });
  const issued = issueToken('user');
  await h.db.apiToken.create({
    data: {
      userId: both.user.id,
      workspaceId: other.ws.id,
      name: 'scoped',
      tokenHash: issued.hash,
      tokenPrefix: issued.displayPrefix,
    },
  });
  scopedToOther = issued.token;
});

afterAll(async () => {
  await h?.close();
});

describe('workspace isolation of every procedure', () => {
  it('every procedure declares its access level, and mutations are never read-only', () => {
    const all = procedures();
    expect(all.length).toBeGreaterThan(60);
    for (const p of all) {
      expect(p.access, `${p.path} declares no access level`).toBeDefined();
      if (p.type === 'mutation')
        expect(p.access, `${p.path} is a mutation with read access`).not.toBe('read');
    }
  });

  it('every workspace-scoped and public procedure has an input builder here', () => {
    const missing = procedures()
      .filter((p) => (p.access === 'public' || SCOPED.includes(p.access!)) && !(p.path in BUILDERS))
      .map((p) => `${p.path} (${p.access})`);
    expect(missing, 'add these procedures to BUILDERS in isolation.test.ts').toEqual([]);
    const stale = Object.keys(BUILDERS).filter((path) => !procedures().some((p) => p.path === path));
    expect(stale, 'BUILDERS lists procedures that no longer exist').toEqual([]);
  });

  it('refuses anonymous callers everywhere but public procedures', async () => {
    for (const p of procedures()) {
      if (p.access === 'public') continue;
      const input = BUILDERS[p.path]?.(ids);
      const { code } = await call(p, input);
      expect(code, p.path).toBe('UNAUTHORIZED');
    }
  });

  it("never serves or changes another workspace's objects", async () => {
    const failures: string[] = [];
    for (const p of procedures()) {
      if (!p.access || !SCOPED.includes(p.access) || p.path === 'workspace.create') continue;
      const input = BUILDERS[p.path]!(ids);
      const takesId = input !== undefined && Object.keys(input).some((k) => k.endsWith('Id'));
      if (!takesId) continue;
      for (const [who, token] of [
        ['member of another workspace', other.admin.token],
        ['token scoped to another workspace', scopedToOther],
      ] as const) {
        const { code, body } = await call(p, input, token);
        if (code !== 'NOT_FOUND')
          failures.push(`${p.path} as ${who}: ${code ?? `served ${body.slice(0, 200)}`}`);
        // The same object ids under the caller's own workspace id.
        if (
          input &&
          'workspaceId' in input &&
          Object.keys(input).filter((k) => k.endsWith('Id')).length > 1
        ) {
          const mixed = await call(p, { ...input, workspaceId: other.ws.id }, token);
          const leaked = homeObjectIds().some((id) => mixed.code === null && mixed.body.includes(id));
          if (mixed.code !== 'NOT_FOUND' && (mixed.code !== null || leaked)) {
            failures.push(
              `${p.path} as ${who} via own workspace: ${mixed.code ?? `served ${mixed.body.slice(0, 200)}`}`,
            );
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('lets readers read but not write, and editors not administer', async () => {
    const failures: string[] = [];
    for (const p of procedures()) {
      if (!p.access || !ROLE_GATED.includes(p.access)) continue;
      const input = BUILDERS[p.path]!(ids);
      if (p.access === 'read') {
        const { code, body } = await call(p, input, home.reader.token);
        if (code !== null) failures.push(`${p.path}: reader got ${code} ${body.slice(0, 200)}`);
        continue;
      }
      const asReader = await call(p, input, home.reader.token);
      if (asReader.code !== 'FORBIDDEN') failures.push(`${p.path}: reader got ${asReader.code ?? 'success'}`);
      if (p.access === 'admin') {
        const asEditor = await call(p, input, home.editor.token);
        if (asEditor.code !== 'FORBIDDEN')
          failures.push(`${p.path}: editor got ${asEditor.code ?? 'success'}`);
      }
    }
    expect(failures).toEqual([]);
    // Nothing above changed the workspace.
    await expect(
      h.client(home.admin.token).workspace.get.query({ workspaceId: home.ws.id }),
    ).resolves.toMatchObject({ name: 'Home' });
    await expect(
      h.client(home.admin.token).source.get.query({ sourceId: ids.sourceId }),
    ).resolves.toMatchObject({ name: 'Fixture DB' });
  });

  it('keeps instance administration to instance admins and the Workload API to dataplane tokens', async () => {
    for (const p of procedures()) {
      if (p.access === 'instanceAdmin') {
        expect((await call(p, {}, home.admin.token)).code, p.path).toBe('FORBIDDEN');
      } else if (p.access === 'dataplane') {
        expect((await call(p, {}, home.admin.token)).code, p.path).toBe('UNAUTHORIZED');
      }
    }
  });

  it('refuses to mix objects across workspaces inside one workspace', async () => {
    const c = h.client(other.admin.token);
    const ownSource = await c.source.create.mutate({
      workspaceId: other.ws.id,
      definitionId: ids.builtInSourceDefId,
      name: 'their own',
      config: sourceConfig(),
    });
    // Their own source with our destination.
    const mixed = await call(
      { path: 'connection.create', type: 'mutation', access: 'write' },
      { workspaceId: other.ws.id, sourceId: ownSource.id, destinationId: ids.destinationId },
      other.admin.token,
    );
    expect(mixed.code).toBe('NOT_FOUND');
    const jobs = await c.job.list.query({ workspaceId: other.ws.id, connectionId: ids.connectionId });
    expect(jobs.items).toEqual([]);
  });
});
