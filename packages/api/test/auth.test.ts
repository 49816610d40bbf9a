import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../src/auth/caller';
import { ensureAdminUser, loginLimiter } from '../src/services/auth';
import { type ApiHarness, createTestUser, startApiHarness } from '../src/testing/harness';
import { expectTrpcError } from './helpers';

let h: ApiHarness;
const email = 'root@example.test';
const password = 'correct horse battery';

beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.close();
});

async function rawLogin(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${h.server.url}/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('ensureAdminUser', () => {
  it('creates the first instance admin with a workspace, idempotently', async () => {
    const first = await ensureAdminUser(h.db, { email: 'Root@Example.test', password });
    expect(first.created).toBe(true);
    expect(first.workspaceId).not.toBeNull();
    const again = await ensureAdminUser(h.db, { email, password: 'a different password' });
    expect(again).toEqual({ userId: first.userId, created: false, workspaceId: first.workspaceId });
    const user = await h.db.user.findUniqueOrThrow({ where: { email } });
    expect(user.isInstanceAdmin).toBe(true);
    expect(user.passwordHash).toMatch(/^scrypt\$/);
    // The password was kept: ensure does not silently reset it.
    expect((await rawLogin({ email, password })).status).toBe(200);
    await expect(ensureAdminUser(h.db, { email: 'not-an-email', password })).rejects.toThrow();
    await expect(ensureAdminUser(h.db, { email: 'x@example.test', password: 'short' })).rejects.toThrow(
      /10 characters/,
    );
  });
});

describe('login sessions', () => {
  it('logs in with a session cookie, answers me, and logs out', async () => {
    const res = await rawLogin({ email, password }, { 'user-agent': 'vitest' });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=sluice_ses_`));
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Secure');
    const body = (await res.json()) as {
      result: { data: { user: { email: string }; memberships: unknown[] } };
    };
    expect(body.result.data.user.email).toBe(email);
    expect(body.result.data.memberships).toHaveLength(1);

    const sessionCookie = cookie.split(';')[0]!;
    const session = h.client({ cookie: sessionCookie });
    await expect(session.auth.me.query()).resolves.toMatchObject({
      via: 'session',
      user: { isInstanceAdmin: true },
    });
    // The database keeps a hash, never the cookie's token.
    const token = decodeURIComponent(sessionCookie.split('=')[1]!);
    const rows = await h.db.session.findMany();
    expect(rows.some((r) => r.tokenHash === token)).toBe(false);
    expect(rows.map((r) => r.userAgent)).toContain('vitest');

    await expect(session.auth.logout.mutate()).resolves.toEqual({ loggedOut: true });
    await expectTrpcError(session.auth.me.query(), 'UNAUTHORIZED');
  });

  it('marks the cookie Secure on https (directly or behind a proxy that says so)', async () => {
    const res = await rawLogin({ email, password }, { 'x-forwarded-proto': 'https' });
    expect(res.headers.getSetCookie()[0]).toContain('Secure');
  });

  it('refuses wrong credentials with one message, and slows down guessing', async () => {
    const wrong = await rawLogin({ email, password: 'nope nope nope' });
    expect(wrong.status).toBe(401);
    const unknown = await rawLogin({ email: 'ghost@example.test', password: 'nope nope nope' });
    expect(unknown.status).toBe(401);
    const [a, b] = (await Promise.all([wrong.json(), unknown.json()])) as Array<{
      error: { message: string };
    }>;
    expect(a!.error.message).toBe(b!.error.message);
    expect(wrong.headers.getSetCookie()).toEqual([]);

    const target = 'victim@example.test';
    for (let i = 0; i < loginLimiter.maxFailures; i++)
      await rawLogin({ email: target, password: 'guess guess guess' });
    expect((await rawLogin({ email: target, password: 'guess guess guess' })).status).toBe(429);
    expect((await rawLogin({ email, password })).status).toBe(200);
  });

  it('refuses disabled users and anonymous callers', async () => {
    await expectTrpcError(h.client().auth.me.query(), 'UNAUTHORIZED');
    await expectTrpcError(h.client('sluice_pat_nonsense').workspace.list.query(), 'UNAUTHORIZED');
    const { user, token } = await createTestUser(h.db);
    await expect(h.client(token).auth.me.query()).resolves.toMatchObject({ via: 'token' });
    await h.db.user.update({ where: { id: user.id }, data: { disabledAt: new Date() } });
    await expectTrpcError(h.client(token).auth.me.query(), 'UNAUTHORIZED');
  });

  it('changes a password and ends the other sessions', async () => {
    const res = await rawLogin({ email, password });
    const other = h.client({ cookie: res.headers.getSetCookie()[0]!.split(';')[0]! });
    const res2 = await rawLogin({ email, password });
    const current = h.client({ cookie: res2.headers.getSetCookie()[0]!.split(';')[0]! });
    await expectTrpcError(
      current.auth.changePassword.mutate({
        currentPassword: 'wrong one',
        newPassword: 'another long password',
      }),
      'UNAUTHORIZED',
      { fieldPath: 'currentPassword' },
    );
    await expectTrpcError(
      current.auth.changePassword.mutate({ currentPassword: password, newPassword: 'short' }),
      'BAD_REQUEST',
      {
        fieldPath: 'newPassword',
      },
    );
    await current.auth.changePassword.mutate({
      currentPassword: password,
      newPassword: 'another long password',
    });
    await expect(current.auth.me.query()).resolves.toMatchObject({ via: 'session' });
    await expectTrpcError(other.auth.me.query(), 'UNAUTHORIZED');
    expect((await rawLogin({ email, password: 'another long password' })).status).toBe(200);
  });
});

describe('user administration', () => {
  it('lets instance admins create and list users, and nobody else', async () => {
    const admin = await createTestUser(h.db, { isInstanceAdmin: true });
    const plain = await createTestUser(h.db);
    const created = await h.client(admin.token).auth.createUser.mutate({
      email: 'New.Person@example.test',
      password: 'a long enough password',
    });
    expect(created).toMatchObject({
      email: 'new.person@example.test',
      isInstanceAdmin: false,
      hasPassword: true,
    });
    expect(JSON.stringify(created)).not.toContain('scrypt');
    await expectTrpcError(
      h.client(admin.token).auth.createUser.mutate({ email: 'new.person@example.test' }),
      'CONFLICT',
    );
    expect((await h.client(admin.token).auth.listUsers.query()).map((u) => u.email)).toContain(
      'new.person@example.test',
    );
    await expectTrpcError(
      h.client(plain.token).auth.createUser.mutate({ email: 'x@example.test' }),
      'FORBIDDEN',
    );
    await expectTrpcError(h.client(plain.token).auth.listUsers.query(), 'FORBIDDEN');
    expect(
      (await rawLogin({ email: 'new.person@example.test', password: 'a long enough password' })).status,
    ).toBe(200);
  });
});
