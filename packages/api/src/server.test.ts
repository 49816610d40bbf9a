import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCaller } from './auth/caller';
import { issueToken } from './auth/tokens';
import { type ApiHarness, createTestUser, startApiHarness } from './testing/harness';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('API server', () => {
  it('answers a public procedure over HTTP', async () => {
    await expect(h.client().health.check.query()).resolves.toMatchObject({ ok: true });
  });

  it('refuses unknown paths with 404 JSON', async () => {
    const res = await fetch(h.server.url.replace('/api/trpc', '/nope'));
    expect(res.status).toBe(404);
  });
});

describe('resolveCaller', () => {
  it('recognises user tokens, dataplane tokens and rejects revoked or unknown ones', async () => {
    const ws = await h.db.workspace.create({ data: { name: 'W', slug: `w-${Date.now()}` } });
    const { user, token } = await createTestUser(h.db, { workspaceId: ws.id });
    const headers = (t: string) => new Headers({ authorization: `Bearer ${t}` });

    await expect(resolveCaller(h.db, headers(token))).resolves.toMatchObject({
      kind: 'user',
      userId: user.id,
    });

    const dp = issueToken('dataplane');
    await h.db.dataplaneToken.create({
      data: { name: 'dp', dataplaneGroup: 'eu', tokenHash: dp.hash, tokenPrefix: dp.displayPrefix },
    });
    await expect(resolveCaller(h.db, headers(dp.token))).resolves.toMatchObject({
      kind: 'dataplane',
      dataplaneGroup: 'eu',
    });

    await h.db.apiToken.updateMany({ where: { userId: user.id }, data: { revokedAt: new Date() } });
    await expect(resolveCaller(h.db, headers(token))).resolves.toEqual({ kind: 'anonymous' });
    await expect(resolveCaller(h.db, headers('sluice_pat_unknown'))).resolves.toEqual({ kind: 'anonymous' });
    await expect(resolveCaller(h.db, headers('garbage'))).resolves.toEqual({ kind: 'anonymous' });
  });
});
