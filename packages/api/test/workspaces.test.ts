import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_MASK, SecretBox } from '../src/secrets';
import { type ApiHarness, createTestUser, startApiHarness } from '../src/testing/harness';
import { createWorkspaceWithUsers, expectTrpcError } from './helpers';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('workspaces', () => {
  it('creates a workspace whose creator is admin, lists mine, updates and deletes', async () => {
    const alice = await createTestUser(h.db);
    const bob = await createTestUser(h.db);
    const c = h.client(alice.token);
    const ws = await c.workspace.create.mutate({ name: 'Data Team' });
    expect(ws).toMatchObject({
      name: 'Data Team',
      slug: 'data-team',
      role: 'admin',
      dataplaneGroup: 'default',
    });
    const second = await c.workspace.create.mutate({ name: 'Data Team' });
    expect(second.slug).toMatch(/^data-team-[0-9a-f]{6}$/);
    await expectTrpcError(c.workspace.create.mutate({ name: 'x', slug: 'data-team' }), 'CONFLICT');
    await expectTrpcError(c.workspace.create.mutate({ name: 'x', slug: 'Bad Slug' }), 'BAD_REQUEST', {
      fieldPath: 'slug',
    });
    expect((await c.workspace.list.query()).map((w) => w.id).sort()).toEqual([ws.id, second.id].sort());
    expect(await h.client(bob.token).workspace.list.query()).toEqual([]);
    await expectTrpcError(h.client(bob.token).workspace.get.query({ workspaceId: ws.id }), 'NOT_FOUND');

    await expect(c.workspace.update.mutate({ workspaceId: ws.id, name: 'Analytics' })).resolves.toMatchObject(
      { name: 'Analytics' },
    );
    await expectTrpcError(
      c.workspace.update.mutate({ workspaceId: ws.id, dataplaneGroup: 'eu' }),
      'FORBIDDEN',
      {
        fieldPath: 'dataplaneGroup',
      },
    );
    const root = await createTestUser(h.db, { isInstanceAdmin: true });
    await expect(
      h.client(root.token).workspace.update.mutate({ workspaceId: ws.id, dataplaneGroup: 'eu' }),
    ).resolves.toMatchObject({
      dataplaneGroup: 'eu',
    });
    expect((await h.client(root.token).workspace.list.query()).length).toBeGreaterThanOrEqual(2);

    await expect(c.workspace.delete.mutate({ workspaceId: second.id })).resolves.toMatchObject({
      deleted: true,
    });
    await expectTrpcError(c.workspace.get.query({ workspaceId: second.id }), 'NOT_FOUND');
  });

  it('manages members by email; only admins; never without an admin', async () => {
    const { ws, admin, editor, reader } = await createWorkspaceWithUsers(h.db, 'Members');
    const newcomer = await createTestUser(h.db, { email: 'newcomer@example.test' });
    const a = h.client(admin.token);
    const added = await a.workspace.members.add.mutate({
      workspaceId: ws.id,
      email: 'NewComer@example.test',
      role: 'reader',
    });
    expect(added).toMatchObject({ userId: newcomer.user.id, role: 'reader' });
    await expectTrpcError(
      a.workspace.members.add.mutate({ workspaceId: ws.id, email: 'newcomer@example.test', role: 'reader' }),
      'CONFLICT',
    );
    await expectTrpcError(
      a.workspace.members.add.mutate({ workspaceId: ws.id, email: 'ghost@example.test', role: 'reader' }),
      'NOT_FOUND',
      {
        fieldPath: 'email',
      },
    );
    await expect(h.client(newcomer.token).workspace.get.query({ workspaceId: ws.id })).resolves.toMatchObject(
      { role: 'reader' },
    );
    await expect(
      a.workspace.members.updateRole.mutate({ workspaceId: ws.id, userId: newcomer.user.id, role: 'editor' }),
    ).resolves.toMatchObject({ role: 'editor' });
    expect((await h.client(reader.token).workspace.members.list.query({ workspaceId: ws.id })).length).toBe(
      4,
    );

    await expectTrpcError(
      h
        .client(editor.token)
        .workspace.members.add.mutate({ workspaceId: ws.id, email: 'x@example.test', role: 'admin' }),
      'FORBIDDEN',
    );
    await expectTrpcError(
      a.workspace.members.updateRole.mutate({ workspaceId: ws.id, userId: admin.user.id, role: 'editor' }),
      'PRECONDITION_FAILED',
    );
    await expectTrpcError(
      a.workspace.members.remove.mutate({ workspaceId: ws.id, userId: admin.user.id }),
      'PRECONDITION_FAILED',
    );

    const scoped = await h
      .client(newcomer.token)
      .workspace.tokens.create.mutate({ name: 'ci', workspaceId: ws.id });
    await a.workspace.members.remove.mutate({ workspaceId: ws.id, userId: newcomer.user.id });
    await expectTrpcError(h.client(newcomer.token).workspace.get.query({ workspaceId: ws.id }), 'NOT_FOUND');
    const revoked = await h.db.apiToken.findUniqueOrThrow({ where: { id: scoped.id } });
    expect(revoked.revokedAt).not.toBeNull();
  });
});

describe('API tokens', () => {
  it('shows a token once, lists it by prefix, scopes it, and revokes it', async () => {
    const { ws, editor } = await createWorkspaceWithUsers(h.db, 'Tokens');
    const other = await createWorkspaceWithUsers(h.db, 'Elsewhere');
    await h.db.workspaceMembership.create({
      data: { workspaceId: other.ws.id, userId: editor.user.id, role: 'editor' },
    });
    const c = h.client(editor.token);
    const issued = await c.workspace.tokens.create.mutate({
      name: 'automation',
      workspaceId: ws.id,
      expiresInDays: 30,
    });
    expect(issued.token).toMatch(/^sluice_pat_/);
    expect(issued.token.startsWith(issued.prefix)).toBe(true);
    const listed = await c.workspace.tokens.list.query({});
    const entry = listed.find((t) => t.id === issued.id)!;
    expect(entry).toMatchObject({
      name: 'automation',
      prefix: issued.prefix,
      workspaceId: ws.id,
      revokedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(issued.token);

    // The scoped token acts in its workspace only, and can only mint tokens for it.
    const scoped = h.client(issued.token);
    await expect(scoped.workspace.get.query({ workspaceId: ws.id })).resolves.toMatchObject({ id: ws.id });
    await expectTrpcError(scoped.workspace.get.query({ workspaceId: other.ws.id }), 'NOT_FOUND');
    expect((await scoped.workspace.list.query()).map((w) => w.id)).toEqual([ws.id]);
    await expectTrpcError(scoped.workspace.tokens.create.mutate({ name: 'escalate' }), 'FORBIDDEN');
    await expectTrpcError(scoped.workspace.create.mutate({ name: 'new' }), 'FORBIDDEN');
    await expect(
      scoped.workspace.tokens.create.mutate({ name: 'child', workspaceId: ws.id }),
    ).resolves.toMatchObject({
      workspaceId: ws.id,
    });

    await expect(c.workspace.tokens.revoke.mutate({ tokenId: issued.id })).resolves.toMatchObject({
      revokedAt: expect.any(String),
    });
    await expectTrpcError(scoped.workspace.get.query({ workspaceId: ws.id }), 'UNAUTHORIZED');
    const stranger = await createTestUser(h.db);
    await expectTrpcError(
      h.client(stranger.token).workspace.tokens.revoke.mutate({ tokenId: issued.id }),
      'NOT_FOUND',
    );
  });
});

describe('notification webhooks', () => {
  it('stores the secret header encrypted, masks it, and keeps it on a masked update', async () => {
    const { ws, admin, editor, reader } = await createWorkspaceWithUsers(h.db, 'Hooks');
    const a = h.client(admin.token);
    const hook = await a.workspace.webhooks.create.mutate({
      workspaceId: ws.id,
      name: 'Slack relay',
      url: 'https://hooks.example.test/in',
      events: ['sync_failure', 'breaking_schema_change'],
      secretHeaderName: 'Authorization',
      secretHeaderValue: 'Bearer hook-secret-42',
    });
    expect(hook).toMatchObject({
      secretHeaderName: 'Authorization',
      secretHeaderValue: SECRET_MASK,
      enabled: true,
    });
    const row = await h.db.notificationWebhook.findUniqueOrThrow({ where: { id: hook.id } });
    expect(SecretBox.isSealed(row.secretHeaderValue)).toBe(true);
    expect(h.deps.box.open(row.secretHeaderValue!)).toBe('Bearer hook-secret-42');

    const updated = await a.workspace.webhooks.update.mutate({
      webhookId: hook.id,
      url: 'https://hooks.example.test/v2',
      secretHeaderValue: SECRET_MASK,
    });
    expect(updated).toMatchObject({ url: 'https://hooks.example.test/v2', secretHeaderValue: SECRET_MASK });
    const after = await h.db.notificationWebhook.findUniqueOrThrow({ where: { id: hook.id } });
    expect(after.secretHeaderValue).toBe(row.secretHeaderValue);

    expect(await h.client(reader.token).workspace.webhooks.list.query({ workspaceId: ws.id })).toHaveLength(
      1,
    );
    await expect(
      h.client(reader.token).workspace.webhooks.get.query({ webhookId: hook.id }),
    ).resolves.toMatchObject({
      secretHeaderValue: SECRET_MASK,
    });
    await expectTrpcError(
      h.client(editor.token).workspace.webhooks.delete.mutate({ webhookId: hook.id }),
      'FORBIDDEN',
    );
    await expectTrpcError(
      a.workspace.webhooks.create.mutate({
        workspaceId: ws.id,
        name: 'x',
        url: 'ftp://x.test',
        events: ['sync_success'],
      }),
      'BAD_REQUEST',
      { fieldPath: 'url' },
    );
    await expectTrpcError(
      a.workspace.webhooks.create.mutate({
        workspaceId: ws.id,
        name: 'x',
        url: 'https://x.test',
        events: ['sync_success'],
        secretHeaderName: 'X-Token',
      }),
      'BAD_REQUEST',
      { fieldPath: 'secretHeaderValue' },
    );
    await expectTrpcError(
      a.workspace.webhooks.create.mutate({
        workspaceId: ws.id,
        name: 'x',
        url: 'https://x.test',
        events: ['sync_success'],
        secretHeaderName: 'X-Token',
        secretHeaderValue: SECRET_MASK,
      }),
      'BAD_REQUEST',
      { fieldPath: 'secretHeaderValue' },
    );
    await expect(
      a.workspace.webhooks.update.mutate({
        webhookId: hook.id,
        secretHeaderName: null,
        secretHeaderValue: null,
      }),
    ).resolves.toMatchObject({ secretHeaderName: null, secretHeaderValue: null });
    await expect(a.workspace.webhooks.delete.mutate({ webhookId: hook.id })).resolves.toMatchObject({
      deleted: true,
    });
    await expectTrpcError(a.workspace.webhooks.get.query({ webhookId: hook.id }), 'NOT_FOUND');
  });
});
