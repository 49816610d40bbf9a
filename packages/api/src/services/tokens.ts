import type { ApiToken, DbOrTx } from '@sluice/db';
import { issueToken } from '../auth/tokens';
import { notFound } from '../errors';
import { iso } from './util';

function presentToken(t: ApiToken) {
  return {
    id: t.id,
    name: t.name,
    /** Enough to recognise the token, never enough to use it. */
    prefix: t.tokenPrefix,
    workspaceId: t.workspaceId,
    expiresAt: iso(t.expiresAt),
    lastUsedAt: iso(t.lastUsedAt),
    revokedAt: iso(t.revokedAt),
    createdAt: iso(t.createdAt)!,
  };
}

/** Issues an API token for the user; the token itself is in this answer only (stored hashed). */
export async function createApiToken(
  db: DbOrTx,
  userId: string,
  input: { name: string; workspaceId: string | null; expiresAt: Date | null },
) {
  const issued = issueToken('user');
  const row = await db.apiToken.create({
    data: {
      userId,
      name: input.name,
      workspaceId: input.workspaceId,
      tokenHash: issued.hash,
      tokenPrefix: issued.displayPrefix,
      expiresAt: input.expiresAt,
    },
  });
  return { ...presentToken(row), token: issued.token };
}

export async function listApiTokens(db: DbOrTx, userId: string, workspaceId: string | null) {
  const rows = await db.apiToken.findMany({
    where: { userId, ...(workspaceId ? { workspaceId } : {}) },
    orderBy: { createdAt: 'desc' },
  });
  return rows.map(presentToken);
}

export async function revokeApiToken(db: DbOrTx, userId: string, tokenId: string, scope: string | null) {
  const row = await db.apiToken.findFirst({
    where: { id: tokenId, userId, ...(scope ? { workspaceId: scope } : {}) },
  });
  if (!row) throw notFound('API token', tokenId);
  const updated = row.revokedAt
    ? row
    : await db.apiToken.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
  return presentToken(updated);
}
