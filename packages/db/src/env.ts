import { parseEnv } from '@sluice/shared';
import { z } from 'zod';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/sluice';

/**
 * Decodes SLUICE_SECRET_KEY: exactly 32 bytes given as 64 hex characters or as base64
 * (standard or url-safe, padding optional). Returns null when malformed. The key's value
 * never appears in an error message.
 */
export function decodeSecretKey(value: string): Buffer | null {
  const v = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) return null;
  const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 32 ? bytes : null;
}

const SecretKey = z
  .string({ error: 'is required (32 random bytes, base64 or hex; e.g. `openssl rand -base64 32`)' })
  .transform((value, ctx) => {
    const key = decodeSecretKey(value);
    if (!key) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be 32 bytes encoded as 64 hex characters or as base64',
      });
      return z.NEVER;
    }
    return key;
  });

const DatabaseUrl = z
  .string()
  .default(DEFAULT_DATABASE_URL)
  .refine((url) => {
    try {
      const u = new URL(url);
      return (u.protocol === 'postgresql:' || u.protocol === 'postgres:') && u.pathname.length > 1;
    } catch {
      return false;
    }
  }, 'must be a postgresql:// URL that names a database');

export const DbEnv = z.object({
  DATABASE_URL: DatabaseUrl,
  SLUICE_SECRET_KEY: SecretKey,
});
export type DbEnv = z.infer<typeof DbEnv>;

/** Reads the variables this package needs; throws EnvError naming every bad variable. */
export function loadDbEnv(source: Record<string, string | undefined> = process.env): DbEnv {
  return parseEnv(DbEnv, source);
}

/** DATABASE_URL alone, for tools that need no secret key (tests, migrations). */
export function databaseUrlFromEnv(source: Record<string, string | undefined> = process.env): string {
  return parseEnv(z.object({ DATABASE_URL: DatabaseUrl }), source).DATABASE_URL;
}

/** Server to create test databases on; tests run against a local PostgreSQL by default. */
export function testAdminUrlFromEnv(source: Record<string, string | undefined> = process.env): string {
  return source.SLUICE_TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

/**
 * The environment connector processes run with: enough to find programs and format text,
 * and nothing of the platform's (database URL, keys, tokens).
 */
export function connectorProcessEnv(
  source: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TZ']) {
    const value = source[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}
