import pg from 'pg';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name) throw new Error('The database URL does not name a database');
  return name;
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

export async function withPgClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // A server-side disconnect emits 'error' on the client; without a listener it would crash
  // the process instead of failing the current query.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Creates the URL's database when it does not exist (connecting through the `postgres`
 * maintenance database). Safe when several processes do it at once. Returns true if it
 * created the database.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  try {
    await withPgClient(url, async () => {});
    return false;
  } catch (err) {
    if (pgErrorCode(err) !== '3D000') throw err; // invalid_catalog_name: database missing
  }
  const name = databaseName(url);
  return withPgClient(withDatabase(url, 'postgres'), async (client) => {
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      return true;
    } catch (err) {
      // duplicate_database, or the catalog's unique index when two creators race.
      if (pgErrorCode(err) === '42P04' || pgErrorCode(err) === '23505') return false;
      throw err;
    }
  });
}

/** PostgreSQL 13+ is needed: the schema's defaults use the built-in gen_random_uuid(). */
export async function checkServerVersion(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  const version = Number(rows[0]?.v);
  if (!(version >= 130000)) {
    throw new Error(`PostgreSQL 13 or newer is required (server reports version number ${version})`);
  }
  return version;
}
