import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, EnvError } from '@sluice/shared';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootError, runBootloader } from '../src/bootloader';
import { createDb, type Db } from '../src/client';
import { databaseName, quoteIdent, withDatabase } from '../src/database';
import { readMigrations } from '../src/migrate';
import { createTestDatabase } from '../src/testing';
import { copyDir, fixtureConnectorsRoot, migrationsDir, newSecretKey } from './helpers';

const logger = createLogger('test', { level: 'silent' });
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const adminUrl = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A database name nobody created yet (the bootloader creates it). */
async function unusedDatabaseUrl(): Promise<string> {
  const t = await createTestDatabase({ migrate: false, poolMax: 1 });
  await t.drop();
  return t.url;
}

async function databaseExists(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [databaseName(url)]);
    return rows.length === 1;
  } finally {
    await client.end();
  }
}

async function dropDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(databaseName(url))} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=sluice-source', '--import', 'tsx', 'src/cli.ts', ...args],
      { cwd: packageDir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
    );
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('runBootloader', () => {
  const key = newSecretKey();
  const urls: string[] = [];
  let url: string;
  let connectorsRoot: string;
  let db: Db;
  let migrationNames: string[];

  beforeAll(async () => {
    url = await unusedDatabaseUrl();
    urls.push(url);
    connectorsRoot = await copyDir(fixtureConnectorsRoot);
    migrationNames = (await readMigrations(migrationsDir)).map((m) => m.name);
  });

  afterAll(async () => {
    await db?.$disconnect();
    await Promise.all(urls.map(dropDatabase));
    await rm(connectorsRoot, { recursive: true, force: true });
  });

  it('creates the database, applies migrations and seeds one definition per connector', async () => {
    const report = await runBootloader({
      env: { DATABASE_URL: url, SLUICE_SECRET_KEY: key },
      connectorsRoot,
      logger,
    });
    expect(report.databaseCreated).toBe(true);
    expect(report.migrations.applied).toEqual(migrationNames);
    expect(report.connectors?.created).toEqual(['destination-fixture', 'source-fixture']);
    expect(report.connectors?.upgraded).toEqual([]);
    // Broken connectors are reported by name with the reason; they do not stop the others.
    const failed = Object.fromEntries(report.connectors!.failed.map((f) => [f.name, f.error]));
    expect(Object.keys(failed).sort()).toEqual(['source-bad-metadata', 'source-broken']);
    expect(failed['source-broken']).toMatch(/spec exited with code 1: cannot load configuration schema/);
    expect(failed['source-bad-metadata']).toMatch(/invalid "sluice" metadata in package\.json: kind:/);

    db = createDb({ url, poolMax: 2 });
    const defs = await db.connectorDefinition.findMany({ orderBy: { name: 'asc' } });
    expect(defs.map((d) => d.name)).toEqual(['destination-fixture', 'source-fixture']);
    const spec = JSON.parse(await readFile(join(connectorsRoot, 'source-fixture', 'spec.json'), 'utf8'));
    expect(defs[1]).toMatchObject({
      displayName: 'Fixture Source',
      kind: 'source',
      version: '1.0.0',
      image: 'sluice/source-fixture:dev',
      command: [process.execPath, join(connectorsRoot, 'source-fixture', 'bin', 'run.js')],
      spec,
      documentationUrl: 'https://example.com/docs/source-fixture',
      supportsSocket: true,
      network: 'none',
      resources: { cpuLimit: 1, memoryLimitMb: 512 },
      builtIn: true,
      custom: false,
      workspaceId: null,
      tombstone: false,
    });
    expect(defs[0]).toMatchObject({
      kind: 'destination',
      version: '0.3.0',
      command: [process.execPath, join(connectorsRoot, 'destination-fixture', 'bin', 'run.js')],
      network: 'host',
      supportsSocket: false,
      resources: null,
      documentationUrl: null,
    });
  });

  it('is idempotent', async () => {
    const before = await db.connectorDefinition.findMany({ orderBy: { name: 'asc' } });
    const report = await runBootloader({
      env: { DATABASE_URL: url, SLUICE_SECRET_KEY: key },
      connectorsRoot,
      logger,
    });
    expect(report.databaseCreated).toBe(false);
    expect(report.migrations.applied).toEqual([]);
    expect(report.connectors).toMatchObject({
      created: [],
      upgraded: [],
      unchanged: ['destination-fixture', 'source-fixture'],
    });
    expect(await db.connectorDefinition.findMany({ orderBy: { name: 'asc' } })).toEqual(before);
  });

  it('upgrades a definition whose version, image or spec changed', async () => {
    const dir = join(connectorsRoot, 'source-fixture');
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    pkg.version = '1.1.0';
    pkg.sluice.image = 'sluice/source-fixture:1.1.0';
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    const spec = JSON.parse(await readFile(join(dir, 'spec.json'), 'utf8'));
    spec.connectionSpecification.properties.region = { type: 'string', enum: ['eu', 'us'] };
    await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
    const before = await db.connectorDefinition.findUniqueOrThrow({ where: { name: 'source-fixture' } });

    const report = await runBootloader({
      env: { DATABASE_URL: url, SLUICE_SECRET_KEY: key },
      connectorsRoot,
      logger,
    });
    expect(report.connectors).toMatchObject({
      created: [],
      upgraded: ['source-fixture'],
      unchanged: ['destination-fixture'],
    });
    const after = await db.connectorDefinition.findUniqueOrThrow({ where: { name: 'source-fixture' } });
    expect(after).toMatchObject({
      id: before.id,
      version: '1.1.0',
      image: 'sluice/source-fixture:1.1.0',
      spec,
    });
    expect(after.specFetchedAt!.getTime()).toBeGreaterThan(before.specFetchedAt!.getTime());
    expect(await db.connectorDefinition.count()).toBe(2);
  });

  it('leaves a custom definition that uses a built-in name untouched', async () => {
    await db.connectorDefinition.update({
      where: { name: 'destination-fixture' },
      data: { builtIn: false, custom: true, image: 'mine' },
    });
    try {
      const report = await runBootloader({
        env: { DATABASE_URL: url, SLUICE_SECRET_KEY: key },
        connectorsRoot,
        logger,
      });
      expect(report.connectors?.failed).toContainEqual({
        name: 'destination-fixture',
        error: 'a custom connector definition already uses this name; it was left untouched',
      });
      expect(
        await db.connectorDefinition.findUniqueOrThrow({ where: { name: 'destination-fixture' } }),
      ).toMatchObject({ image: 'mine' });
    } finally {
      await db.connectorDefinition.update({
        where: { name: 'destination-fixture' },
        data: { builtIn: true, custom: false },
      });
    }
  });

  it('refuses to start with a different SLUICE_SECRET_KEY than the database was set up with', async () => {
    const other = newSecretKey('hex');
    const boot = runBootloader({
      env: { DATABASE_URL: url, SLUICE_SECRET_KEY: other },
      connectorsRoot,
      logger,
    });
    await expect(boot).rejects.toThrow(BootError);
    await expect(boot).rejects.toThrow(/SLUICE_SECRET_KEY is not the key this database was set up with/);
    await expect(boot).rejects.not.toThrow(other);
  });

  it('stops on a bad environment before touching the database, without printing the key', async () => {
    const fresh = await unusedDatabaseUrl();
    const badKey = 'c2hvcnQta2V5LW9ubHktMjAtYnl0ZXM='; // valid base64, 20 bytes
    const boot = runBootloader({
      env: { DATABASE_URL: fresh, SLUICE_SECRET_KEY: badKey },
      connectorsRoot,
      logger,
    });
    await expect(boot).rejects.toThrow(EnvError);
    await expect(boot).rejects.toThrow(/SLUICE_SECRET_KEY: must be 32 bytes/);
    await expect(boot).rejects.not.toThrow(badKey);
    await expect(runBootloader({ env: { DATABASE_URL: fresh }, logger })).rejects.toThrow(
      /SLUICE_SECRET_KEY: is required/,
    );
    await expect(
      runBootloader({ env: { DATABASE_URL: 'mysql://localhost/x', SLUICE_SECRET_KEY: key }, logger }),
    ).rejects.toThrow(/DATABASE_URL: must be a postgresql:\/\/ URL/);
    expect(await databaseExists(fresh)).toBe(false);
  });

  it('five bootloader processes started at once leave one row per migration and one definition per connector', async () => {
    const fresh = await unusedDatabaseUrl();
    urls.push(fresh);
    const runs = await Promise.all(
      Array.from({ length: 5 }, () =>
        runCli(['--connectors-root', connectorsRoot], {
          DATABASE_URL: fresh,
          SLUICE_SECRET_KEY: key,
          LOG_LEVEL: 'info',
        }),
      ),
    );
    for (const run of runs) {
      expect(run.output).toContain('bootloader finished');
      expect(run.code).toBe(0);
    }
    const check = createDb({ url: fresh, poolMax: 1 });
    try {
      const rows = await check.$queryRaw<{ migration_name: string; n: bigint }[]>`
        SELECT "migration_name", count(*) AS n FROM "_prisma_migrations" GROUP BY 1 ORDER BY 1`;
      expect(rows).toEqual(migrationNames.map((m) => ({ migration_name: m, n: 1n })));
      const defs = await check.connectorDefinition.groupBy({
        by: ['name'],
        _count: true,
        orderBy: { name: 'asc' },
      });
      expect(defs).toEqual([
        { name: 'destination-fixture', _count: 1 },
        { name: 'source-fixture', _count: 1 },
      ]);
      expect(await check.instanceSetting.count()).toBe(1);
    } finally {
      await check.$disconnect();
    }
  }, 60_000);

  it('the CLI exits non-zero with a clear message on a bad environment', async () => {
    const secretLooking = 'zz-not-a-key-but-secret-looking';
    const run = await runCli([], {
      DATABASE_URL: withDatabase(adminUrl, 'unused'),
      SLUICE_SECRET_KEY: secretLooking,
    });
    expect(run.code).toBe(1);
    expect(run.output).toContain('SLUICE_SECRET_KEY: must be 32 bytes');
    expect(run.output).not.toContain(secretLooking);
  });
});
