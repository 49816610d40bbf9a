import { createHash, randomBytes } from 'node:crypto';
import { createLogger } from '@sluice/shared';
import { createDb, type Db } from './client';
import { pgErrorCode, quoteIdent, withDatabase, withPgClient } from './database';
import { testAdminUrlFromEnv } from './env';
import { migrate, readMigrations } from './migrate';
import { defaultMigrationsDir } from './paths';

export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  name: string;
  /** A client on it (small pool). */
  db: Db;
  /** Disconnects the client and drops the database. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** A URL on the server to create the database on (any existing database). */
  adminUrl?: string;
  /** Apply the migrations (default true); false gives an empty database. */
  migrate?: boolean;
  migrationsDir?: string;
  poolMax?: number;
}

const TEST_PREFIX = 'sluice_test_';
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;
const silent = createLogger('db.testing', { level: 'silent' });
const templates = new Map<string, Promise<string>>();

/** Names the template after the migrations it holds, so a changed migration set gets a new one. */
async function templateName(migrationsDir: string): Promise<string> {
  const files = await readMigrations(migrationsDir);
  const digest = createHash('sha256')
    .update(files.map((f) => `${f.name}:${f.checksum}`).join('\n'))
    .digest('hex');
  return `sluice_tmpl_${digest.slice(0, 20)}`;
}

/**
 * Builds the migrated template database once per migration set. Test processes run in
 * parallel, so creation is serialised by an advisory lock; `datistemplate` marks a template
 * as complete (a crash half-way leaves a database without the mark, which is rebuilt).
 */
async function ensureTemplate(adminUrl: string, migrationsDir: string): Promise<string> {
  const name = await templateName(migrationsDir);
  await withPgClient(adminUrl, async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    try {
      const { rows } = await client.query<{ datistemplate: boolean }>(
        'SELECT datistemplate FROM pg_database WHERE datname = $1',
        [name],
      );
      if (rows[0]?.datistemplate) return;
      if (rows.length > 0) await client.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await migrate(withDatabase(adminUrl, name), { migrationsDir, logger: silent });
      await client.query(`ALTER DATABASE ${quoteIdent(name)} IS_TEMPLATE true`);
      await dropStaleTestDatabases(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
    }
  });
  return name;
}

/** Test databases embed their creation time; drop ones a crashed run left behind. */
async function dropStaleTestDatabases(client: import('pg').Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE $1`,
    [`${TEST_PREFIX}%`],
  );
  for (const { datname } of rows) {
    const created = Number.parseInt(datname.slice(TEST_PREFIX.length).split('_')[0] ?? '', 36);
    if (Number.isFinite(created) && Date.now() - created > STALE_AFTER_MS) {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`).catch(() => {});
    }
  }
}

/**
 * Creates a fresh, uniquely named, migrated database (a copy of a template migrated once per
 * migration set) and a client on it. For tests: each test file gets its own database.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? testAdminUrlFromEnv();
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir;
  const name = `${TEST_PREFIX}${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;

  let template: string | undefined;
  if (options.migrate !== false) {
    const key = `${adminUrl}\n${migrationsDir}`;
    let pending = templates.get(key);
    if (!pending) {
      pending = ensureTemplate(adminUrl, migrationsDir);
      templates.set(key, pending);
      pending.catch(() => templates.delete(key));
    }
    template = await pending;
  }

  await withPgClient(adminUrl, async (client) => {
    const sql = `CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(sql);
        return;
      } catch (err) {
        // 55006: the template is briefly in use (another session connected to it).
        if (pgErrorCode(err) !== '55006' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });

  const url = withDatabase(adminUrl, name);
  const db = createDb({ url, poolMax: options.poolMax ?? 4 });
  return {
    url,
    name,
    db,
    async drop() {
      await db.$disconnect();
      await withPgClient(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
      );
    },
  };
}
