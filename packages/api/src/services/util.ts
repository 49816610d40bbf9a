import { Prisma } from '@sluice/db';
import { ApiError } from '../errors';

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/**
 * Counters are bigint in Postgres; the API speaks plain JSON (no transformer), so they are
 * numbers. Exact up to 2^53 (9 petabytes, 9 quadrillion records): enough for one job.
 */
export const num = (b: bigint | number | null | undefined): number | null =>
  b === null || b === undefined ? null : Number(b);

export const asJson = (v: unknown): Prisma.InputJsonValue => v as Prisma.InputJsonValue;
export const jsonOrNull = (v: unknown): Prisma.InputJsonValue | typeof Prisma.DbNull =>
  v === null || v === undefined ? Prisma.DbNull : (v as Prisma.InputJsonValue);

/** Keyset pagination over (createdAt desc, id desc): stable while rows are inserted. */
export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || typeof id !== 'string') throw new Error('bad');
    return { createdAt, id };
  } catch {
    throw new ApiError('BAD_REQUEST', 'cursor is not one this API returned', { path: 'cursor' });
  }
}

export function keysetWhere(cursor: string | undefined | null) {
  if (!cursor) return {};
  const { createdAt, id } = decodeCursor(cursor);
  return { OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] };
}

/** A url-safe slug: lower-case letters, digits and dashes. */
export function slugify(text: string): string {
  return (
    text
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48) || 'workspace'
  );
}

/** Unique-constraint violations become CONFLICT; anything else propagates. */
export async function onConflict<T>(fn: () => Promise<T>, message: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      throw new ApiError('CONFLICT', message);
    }
    throw err;
  }
}
