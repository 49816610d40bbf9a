import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, type Logger } from '@sluice/shared';
import type pg from 'pg';
import { checkServerVersion, withPgClient } from './database';
import { defaultMigrationsDir } from './paths';

/**
 * Applies the SQL migrations in Prisma's folder layout and records them in Prisma's
 * `_prisma_migrations` table exactly as `prisma migrate deploy` does (same columns, same
 * sha256 checksums, same advisory lock key), so either tool can take over from the other.
 * Unlike Prisma, each migration runs in a transaction together with its bookkeeping row: a
 * failed migration leaves nothing behind and the next start simply retries it. Statements
 * that cannot run in a transaction (CREATE INDEX CONCURRENTLY) therefore do not belong here.
 */

/** The key `prisma migrate` locks, so the two never run concurrently on one database. */
export const MIGRATION_ADVISORY_LOCK = 72707369;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  migrationsDir?: string;
  logger?: Logger;
  /** Give up waiting for another migrator after this long. */
  lockTimeoutMs?: number;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
  /** Recorded in the database but absent here: this code is older than the database. */
  unknown: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Prisma's checksum: sha256 of the migration.sql bytes, hex-encoded. */
export function migrationChecksum(sql: string | Buffer): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Prisma accepts a script whose line endings were converted by git; so do we. */
function checksumMatches(sql: string, recorded: string): boolean {
  return (
    migrationChecksum(sql) === recorded ||
    migrationChecksum(sql.replace(/\r\n/g, '\n')) === recorded ||
    migrationChecksum(sql.replace(/\r?\n/g, '\r\n')) === recorded
  );
}

export async function readMigrations(dir: string = defaultMigrationsDir): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrations: MigrationFile[] = [];
  for (const name of names) {
    let sql: string;
    try {
      sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
    } catch {
      throw new MigrationError(`Migration folder ${name} has no migration.sql`);
    }
    migrations.push({ name, sql, checksum: migrationChecksum(sql) });
  }
  return migrations;
}

// Prisma's own definition of the table (PostgreSQL flavour).
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

async function acquireLock(client: pg.Client, key: number, timeoutMs: number, log: Logger): Promise<void> {
  const start = Date.now();
  let announced = false;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
    if (rows[0]?.ok) return;
    if (!announced) {
      log.info('another process is migrating this database; waiting');
      announced = true;
    }
    if (Date.now() - start > timeoutMs) {
      throw new MigrationError(`Timed out after ${timeoutMs} ms waiting for the migration lock`);
    }
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 150));
  }
}

/** Compares recorded migrations with the files; throws on any inconsistency. */
function plan(files: MigrationFile[], rows: AppliedRow[]): { pending: MigrationFile[]; unknown: string[] } {
  const byName = new Map(files.map((f) => [f.name, f]));
  const applied = new Set<string>();
  for (const row of rows) {
    if (row.rolled_back_at) continue;
    if (!row.finished_at) {
      throw new MigrationError(
        `Migration ${row.migration_name} failed or is still running according to _prisma_migrations ` +
          '(finished_at is empty). Fix the database by hand, then mark it rolled back or applied ' +
          '(`prisma migrate resolve`) before starting again.',
      );
    }
    const file = byName.get(row.migration_name);
    if (file && !checksumMatches(file.sql, row.checksum)) {
      throw new MigrationError(
        `Migration ${row.migration_name} was modified after it was applied: its checksum is ` +
          `${file.checksum}, the database recorded ${row.checksum}. Applied migrations must never ` +
          'change; restore the file and put the change in a new migration.',
      );
    }
    applied.add(row.migration_name);
  }
  return {
    pending: files.filter((f) => !applied.has(f.name)),
    unknown: [...applied].filter((name) => !byName.has(name)).sort(),
  };
}

async function applyOne(client: pg.Client, migration: MigrationFile): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count")
       VALUES ($1, $2, $3, now(), 0)`,
      [id, migration.checksum, migration.name],
    );
    // No parameters: pg uses the simple query protocol, which runs a multi-statement script.
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET "finished_at" = clock_timestamp(), "applied_steps_count" = 1 WHERE "id" = $1`,
      [id],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    const pgErr = err as { message?: string; position?: string; code?: string };
    const where = pgErr.position ? ` at character ${pgErr.position}` : '';
    throw new MigrationError(
      `Migration ${migration.name} failed${where}: ${pgErr.message ?? String(err)}` +
        (pgErr.code ? ` (SQLSTATE ${pgErr.code})` : '') +
        '. It was rolled back; nothing was recorded.',
    );
  }
}

/** Applies pending migrations to the database at `url` (which must exist). */
export async function migrate(url: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.logger ?? createLogger('db.migrate');
  const files = await readMigrations(options.migrationsDir);
  return withPgClient(url, async (client) => {
    await checkServerVersion(client);
    await acquireLock(client, MIGRATION_ADVISORY_LOCK, options.lockTimeoutMs ?? 300_000, log);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const { rows } = await client.query<AppliedRow>(
        `SELECT "migration_name", "checksum", "finished_at", "rolled_back_at"
           FROM "_prisma_migrations" ORDER BY "started_at", "migration_name"`,
      );
      const { pending, unknown } = plan(files, rows);
      if (unknown.length > 0) {
        log.warn({ unknown }, 'database has migrations this code does not know (is this an older version?)');
      }
      const applied: string[] = [];
      for (const migration of pending) {
        const started = Date.now();
        await applyOne(client, migration);
        applied.push(migration.name);
        log.info({ migration: migration.name, ms: Date.now() - started }, 'applied migration');
      }
      return { applied, alreadyApplied: files.length - pending.length, unknown };
    } finally {
      // Ending the session releases the lock too, so a failed unlock is harmless.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_ADVISORY_LOCK]).catch(() => {});
    }
  });
}
