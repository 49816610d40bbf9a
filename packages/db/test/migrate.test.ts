import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '@sluice/shared';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationError, migrate, readMigrations } from '../src/migrate';
import { createTestDatabase, type TestDatabase } from '../src/testing';
import { copyDir, migrationsDir } from './helpers';

const logger = createLogger('test', { level: 'silent' });

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

describe('migrate', () => {
  const dbs: TestDatabase[] = [];
  const dirs: string[] = [];
  const emptyDb = async () => {
    const t = await createTestDatabase({ migrate: false, poolMax: 1 });
    dbs.push(t);
    return t;
  };
  const migrationsCopy = async () => {
    const dir = await copyDir(migrationsDir);
    dirs.push(dir);
    return dir;
  };
  let files: Awaited<ReturnType<typeof readMigrations>>;
  let main: TestDatabase;

  beforeAll(async () => {
    files = await readMigrations(migrationsDir);
    main = await emptyDb();
  });

  afterAll(async () => {
    await Promise.all(dbs.map((t) => t.drop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('applies every migration and records it in _prisma_migrations as Prisma does', async () => {
    expect(files.length).toBeGreaterThan(0);
    const result = await migrate(main.url, { logger });
    expect(result).toEqual({ applied: files.map((f) => f.name), alreadyApplied: 0, unknown: [] });

    const rows = await query<MigrationRow>(
      main.url,
      'SELECT * FROM "_prisma_migrations" ORDER BY "migration_name"',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    for (const row of rows) {
      const sql = await readFile(join(migrationsDir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }

    // Prisma's own table definition, so `prisma migrate deploy` can take over.
    const columns = await query<{ column_name: string; data_type: string; is_nullable: string }>(
      main.url,
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type} ${c.is_nullable}`)).toEqual([
      'id character varying NO',
      'checksum character varying NO',
      'finished_at timestamp with time zone YES',
      'migration_name character varying NO',
      'logs text YES',
      'rolled_back_at timestamp with time zone YES',
      'started_at timestamp with time zone NO',
      'applied_steps_count integer NO',
    ]);
  });

  it('is a no-op when run again', async () => {
    const before = await query<MigrationRow>(
      main.url,
      'SELECT * FROM "_prisma_migrations" ORDER BY "migration_name"',
    );
    const result = await migrate(main.url, { logger });
    expect(result).toEqual({ applied: [], alreadyApplied: files.length, unknown: [] });
    const after = await query<MigrationRow>(
      main.url,
      'SELECT * FROM "_prisma_migrations" ORDER BY "migration_name"',
    );
    expect(after).toEqual(before);
  });

  it('applies only new migrations, and rolls a failing one back entirely', async () => {
    const dir = await migrationsCopy();
    await mkdir(join(dir, '20990101000000_add_widgets'));
    await writeFile(
      join(dir, '20990101000000_add_widgets', 'migration.sql'),
      '-- CreateTable\nCREATE TABLE "widgets" ("id" INTEGER NOT NULL, CONSTRAINT "widgets_pkey" PRIMARY KEY ("id"));\n',
    );
    expect((await migrate(main.url, { migrationsDir: dir, logger })).applied).toEqual([
      '20990101000000_add_widgets',
    ]);

    await mkdir(join(dir, '20990102000000_broken'));
    await writeFile(
      join(dir, '20990102000000_broken', 'migration.sql'),
      'CREATE TABLE "half_done" ("id" INTEGER);\nINSERT INTO "widgets" VALUES (1);\nSELECT 1 / 0;\n',
    );
    const failure = migrate(main.url, { migrationsDir: dir, logger });
    await expect(failure).rejects.toThrow(MigrationError);
    await expect(failure).rejects.toThrow(
      /Migration 20990102000000_broken failed.*division by zero.*rolled back/,
    );

    const leftovers = await query(main.url, `SELECT 1 FROM pg_class WHERE relname = 'half_done'`);
    expect(leftovers).toHaveLength(0);
    expect(await query(main.url, 'SELECT * FROM "widgets"')).toHaveLength(0);
    const names = await query<{ migration_name: string }>(
      main.url,
      'SELECT "migration_name" FROM "_prisma_migrations"',
    );
    expect(names.map((r) => r.migration_name)).not.toContain('20990102000000_broken');

    // Fixed, it applies on the next start.
    await writeFile(
      join(dir, '20990102000000_broken', 'migration.sql'),
      'CREATE TABLE "half_done" ("id" INTEGER);\n',
    );
    expect((await migrate(main.url, { migrationsDir: dir, logger })).applied).toEqual([
      '20990102000000_broken',
    ]);

    // The original folder does not know these two: reported, not fatal (an older release).
    const older = await migrate(main.url, { logger });
    expect(older.unknown).toEqual(['20990101000000_add_widgets', '20990102000000_broken']);
  });

  it('refuses to start when an applied migration was modified, and accepts CRLF line endings', async () => {
    const t = await emptyDb();
    const dir = await migrationsCopy();
    await migrate(t.url, { migrationsDir: dir, logger });
    const first = files[0]!.name;
    const file = join(dir, first, 'migration.sql');
    const original = await readFile(file, 'utf8');

    await writeFile(file, original.replace(/\n/g, '\r\n'));
    expect((await migrate(t.url, { migrationsDir: dir, logger })).applied).toEqual([]);

    await appendFile(file, '\n-- an innocent-looking edit\n');
    const refused = migrate(t.url, { migrationsDir: dir, logger });
    await expect(refused).rejects.toThrow(MigrationError);
    await expect(refused).rejects.toThrow(
      new RegExp(
        `Migration ${first} was modified after it was applied: its checksum is [0-9a-f]{64}, the database recorded [0-9a-f]{64}`,
      ),
    );
  });

  it('refuses to start after a migration that Prisma recorded as failed, until it is rolled back', async () => {
    const t = await emptyDb();
    const dir = await migrationsCopy();
    await migrate(t.url, { migrationsDir: dir, logger });
    await mkdir(join(dir, '20990103000000_next'));
    await writeFile(
      join(dir, '20990103000000_next', 'migration.sql'),
      'CREATE TABLE "next_thing" ("id" INTEGER);\n',
    );
    await query(
      t.url,
      `INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "logs", "applied_steps_count")
       VALUES (gen_random_uuid()::text, 'x', '20990103000000_next', 'error: boom', 0)`,
    );
    await expect(migrate(t.url, { migrationsDir: dir, logger })).rejects.toThrow(
      /Migration 20990103000000_next failed or is still running/,
    );
    await query(
      t.url,
      `UPDATE "_prisma_migrations" SET "rolled_back_at" = now() WHERE "migration_name" = '20990103000000_next'`,
    );
    expect((await migrate(t.url, { migrationsDir: dir, logger })).applied).toEqual(['20990103000000_next']);
  });

  it('serialises concurrent migrators: five at once leave one row per migration', async () => {
    const t = await emptyDb();
    const results = await Promise.all(Array.from({ length: 5 }, () => migrate(t.url, { logger })));
    const applied = results.flatMap((r) => r.applied).sort();
    expect(applied).toEqual(files.map((f) => f.name));
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    const rows = await query<{ migration_name: string; n: string }>(
      t.url,
      'SELECT "migration_name", count(*) AS n FROM "_prisma_migrations" GROUP BY 1 ORDER BY 1',
    );
    expect(rows).toEqual(files.map((f) => ({ migration_name: f.name, n: '1' })));
  });

  it('names a migration folder without migration.sql', async () => {
    const t = await emptyDb();
    const dir = await migrationsCopy();
    await mkdir(join(dir, '20990104000000_empty'));
    await expect(migrate(t.url, { migrationsDir: dir, logger })).rejects.toThrow(
      'Migration folder 20990104000000_empty has no migration.sql',
    );
  });
});
