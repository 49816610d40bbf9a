import { type Db, hashToken } from '@sluice/db';
import { tokenKind } from './tokens';

export const SESSION_COOKIE = 'sluice_session';

export type Caller =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      userId: string;
      email: string;
      isInstanceAdmin: boolean;
      via: 'session' | 'token';
      /** A workspace-scoped API token acts in that workspace only. */
      tokenWorkspaceId: string | null;
      sessionId: string | null;
    }
  | { kind: 'dataplane'; tokenId: string; dataplaneGroup: string };

export type UserCaller = Extract<Caller, { kind: 'user' }>;
export type DataplaneCaller = Extract<Caller, { kind: 'dataplane' }>;

const ANONYMOUS: Caller = { kind: 'anonymous' };

export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function bearer(header: string | null | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return m?.[1];
}

/**
 * Who is calling: a bearer token (user API token or dataplane token, told apart by prefix)
 * or, for the dashboard, a session cookie. Unknown, revoked or expired credentials give the
 * anonymous caller; procedures then refuse with UNAUTHORIZED.
 */
export async function resolveCaller(db: Db, headers: Headers): Promise<Caller> {
  const now = new Date();
  const token = bearer(headers.get('authorization'));
  if (token) {
    const kind = tokenKind(token);
    const hash = hashToken(token);
    if (kind === 'dataplane') {
      const row = await db.dataplaneToken.findUnique({ where: { tokenHash: hash } });
      if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return ANONYMOUS;
      return { kind: 'dataplane', tokenId: row.id, dataplaneGroup: row.dataplaneGroup };
    }
    if (kind === 'user') {
      const row = await db.apiToken.findUnique({ where: { tokenHash: hash }, include: { user: true } });
      if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now) || row.user.disabledAt)
        return ANONYMOUS;
      // Touch at most once a minute: a busy CLI must not turn every call into a write.
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
        await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
      }
      return {
        kind: 'user',
        userId: row.userId,
        email: row.user.email,
        isInstanceAdmin: row.user.isInstanceAdmin,
        via: 'token',
        tokenWorkspaceId: row.workspaceId,
        sessionId: null,
      };
    }
    return ANONYMOUS;
  }
  const sessionToken = readCookie(headers.get('cookie'), SESSION_COOKIE);
  if (sessionToken && tokenKind(sessionToken) === 'session') {
    const row = await db.session.findUnique({
      where: { tokenHash: hashToken(sessionToken) },
      include: { user: true },
    });
    if (!row || row.expiresAt <= now || row.user.disabledAt) return ANONYMOUS;
    return {
      kind: 'user',
      userId: row.userId,
      email: row.user.email,
      isInstanceAdmin: row.user.isInstanceAdmin,
      via: 'session',
      tokenWorkspaceId: null,
      sessionId: row.id,
    };
  }
  return ANONYMOUS;
}
