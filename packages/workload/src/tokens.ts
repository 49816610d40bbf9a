import { randomBytes } from 'node:crypto';
import { type DataplaneToken, type Db, type DbOrTx, hashToken } from '@sluice/db';
import { DATAPLANE_TOKEN_PREFIX, DataplaneGroup } from './types';

export { DATAPLANE_TOKEN_PREFIX };

const MIN_TOKEN_LENGTH = DATAPLANE_TOKEN_PREFIX.length + 24;

export class DataplaneTokenError extends Error {
  override name = 'DataplaneTokenError';
}

/** A listing row: never the hash. */
export type DataplaneTokenInfo = Omit<DataplaneToken, 'tokenHash'>;

const infoSelect = {
  id: true,
  name: true,
  dataplaneGroup: true,
  tokenPrefix: true,
  createdById: true,
  expiresAt: true,
  lastUsedAt: true,
  revokedAt: true,
  createdAt: true,
} as const;

const displayPrefix = (token: string) => token.slice(0, DATAPLANE_TOKEN_PREFIX.length + 6);

/** Issues a new token for a dataplane group; the plain token is returned once and never stored. */
export async function createDataplaneToken(
  db: DbOrTx,
  args: { name: string; dataplaneGroup: string; createdById?: string | null; expiresAt?: Date | null },
): Promise<{ token: string; info: DataplaneTokenInfo }> {
  const group = DataplaneGroup.parse(args.dataplaneGroup);
  const token = DATAPLANE_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const info = await db.dataplaneToken.create({
    data: {
      name: args.name,
      dataplaneGroup: group,
      tokenHash: hashToken(token),
      tokenPrefix: displayPrefix(token),
      createdById: args.createdById ?? null,
      expiresAt: args.expiresAt ?? null,
    },
    select: infoSelect,
  });
  return { token, info };
}

/**
 * For deployments that configure the token by environment (`SLUICE_DATAPLANE_TOKEN` on both
 * the API and the launchers): makes sure that token authenticates for `group`. Idempotent; a
 * token configured for another group is moved to this one. A revoked token stays revoked: the
 * start fails so the operator configures a new one instead of silently undoing the revocation.
 */
export async function ensureDataplaneToken(
  db: Db,
  args: { token: string; group: string; name?: string },
): Promise<{ id: string; created: boolean }> {
  if (!args.token.startsWith(DATAPLANE_TOKEN_PREFIX) || args.token.length < MIN_TOKEN_LENGTH) {
    throw new DataplaneTokenError(
      `a dataplane token must start with "${DATAPLANE_TOKEN_PREFIX}" and be at least ${MIN_TOKEN_LENGTH} characters long`,
    );
  }
  const group = DataplaneGroup.parse(args.group);
  const tokenHash = hashToken(args.token);
  const name = args.name ?? `environment (${group})`;
  const existing = await db.dataplaneToken.findUnique({ where: { tokenHash } });
  if (existing?.revokedAt) {
    throw new DataplaneTokenError(
      `the configured dataplane token (${existing.tokenPrefix}…) was revoked; configure a new one`,
    );
  }
  if (existing) {
    if (existing.dataplaneGroup !== group || existing.expiresAt) {
      await db.dataplaneToken.update({
        where: { id: existing.id },
        data: { dataplaneGroup: group, expiresAt: null },
      });
    }
    return { id: existing.id, created: false };
  }
  const row = await db.dataplaneToken.upsert({
    where: { tokenHash },
    create: { name, dataplaneGroup: group, tokenHash, tokenPrefix: displayPrefix(args.token) },
    update: {},
    select: { id: true },
  });
  return { id: row.id, created: true };
}

export function listDataplaneTokens(
  db: DbOrTx,
  args: { group?: string } = {},
): Promise<DataplaneTokenInfo[]> {
  return db.dataplaneToken.findMany({
    where: args.group ? { dataplaneGroup: args.group } : {},
    orderBy: { createdAt: 'asc' },
    select: infoSelect,
  });
}

/** Revokes a token (idempotent); returns false when it does not exist. */
export async function revokeDataplaneToken(db: DbOrTx, id: string, now = new Date()): Promise<boolean> {
  const exists = await db.dataplaneToken.findUnique({ where: { id }, select: { revokedAt: true } });
  if (!exists) return false;
  if (!exists.revokedAt) await db.dataplaneToken.update({ where: { id }, data: { revokedAt: now } });
  return true;
}
