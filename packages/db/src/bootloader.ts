import { createLogger, type Logger } from '@sluice/shared';
import { createDb, type Db } from './client';
import { type ConnectorProblem, type SeedReport, seedConnectorDefinitions } from './connectors';
import { decryptSecret, encryptSecret, SecretDecryptionError } from './crypto';
import { ensureDatabase, redactUrl } from './database';
import { loadDbEnv } from './env';
import { type MigrateResult, migrate } from './migrate';

export interface BootloaderOptions {
  /** Environment to validate; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Directory holding connector workspaces; defaults to `<repo root>/connectors`. */
  connectorsRoot?: string;
  migrationsDir?: string;
  /** Seed connector definitions (default true). */
  seedConnectors?: boolean;
  specTimeoutMs?: number;
  logger?: Logger;
}

export interface BootReport {
  /** The database URL without its password. */
  database: string;
  databaseCreated: boolean;
  migrations: MigrateResult;
  connectors: SeedReport | null;
}

export class BootError extends Error {
  override name = 'BootError';
}

const KEY_CHECK_SETTING = 'secretKeyCheck';
const KEY_CHECK_PLAINTEXT = 'sluice secret key check';

/**
 * Proves SLUICE_SECRET_KEY is the key this database's secrets were written with: the first
 * boot stores a value encrypted with it, later boots must decrypt that value.
 */
async function checkSecretKey(db: Db, key: Buffer): Promise<void> {
  const candidate = encryptSecret(key, KEY_CHECK_PLAINTEXT);
  // Insert-if-absent keeps concurrent first boots from overwriting each other's value.
  await db.$executeRaw`
    INSERT INTO "instance_settings" ("key", "value") VALUES (${KEY_CHECK_SETTING}, to_jsonb(${candidate}::text))
    ON CONFLICT ("key") DO NOTHING`;
  const row = await db.instanceSetting.findUnique({ where: { key: KEY_CHECK_SETTING } });
  try {
    if (typeof row?.value !== 'string' || decryptSecret(key, row.value) !== KEY_CHECK_PLAINTEXT) {
      throw new SecretDecryptionError('mismatch');
    }
  } catch {
    throw new BootError(
      'SLUICE_SECRET_KEY is not the key this database was set up with: stored secrets could not be ' +
        'decrypted. Start with the original key.',
    );
  }
}

/**
 * Run by every app at start: validates the environment, creates the database if needed,
 * applies pending migrations, checks the secret key and seeds or upgrades the built-in
 * connector definitions. Idempotent and safe to run from many processes at once.
 * Throws EnvError, MigrationError or BootError when the app must not start; a connector
 * whose spec fails is only reported (in the result and the log).
 */
export async function runBootloader(options: BootloaderOptions = {}): Promise<BootReport> {
  const log = options.logger ?? createLogger('bootloader');
  const env = loadDbEnv(options.env);
  const url = env.DATABASE_URL;
  const started = Date.now();

  let databaseCreated: boolean;
  try {
    databaseCreated = await ensureDatabase(url);
  } catch (err) {
    throw new BootError(`Cannot reach the database at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  if (databaseCreated) log.info({ database: redactUrl(url) }, 'created database');

  const migrations = await migrate(url, { migrationsDir: options.migrationsDir, logger: log });

  const db = createDb({ url, poolMax: 2 });
  try {
    await checkSecretKey(db, env.SLUICE_SECRET_KEY);
    const connectors =
      options.seedConnectors === false
        ? null
        : await seedConnectorDefinitions(db, {
            connectorsRoot: options.connectorsRoot,
            specTimeoutMs: options.specTimeoutMs,
            logger: log,
          });
    log.info(
      {
        ms: Date.now() - started,
        migrationsApplied: migrations.applied.length,
        connectors: connectors && {
          created: connectors.created.length,
          upgraded: connectors.upgraded.length,
          unchanged: connectors.unchanged.length,
          failed: connectors.failed.map((f: ConnectorProblem) => f.name),
        },
      },
      'bootloader finished',
    );
    return { database: redactUrl(url), databaseCreated, migrations, connectors };
  } finally {
    await db.$disconnect();
  }
}
