// The quickstart's demo: signs in as the admin the web server created, gives the CLI a token,
// applies examples/quickstart.yaml (faker → Postgres) and runs one sync through the platform,
// then counts the rows that landed. Everything goes through the public API and the CLI.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = `http://127.0.0.1:${process.env.SLUICE_PORT ?? '3000'}`;
const api = `${base}/api/trpc`;
const demoDb = process.env.SLUICE_DEMO_DATABASE ?? 'sluice_demo';
let cookie = '';

async function call(kind, path, input) {
  const url =
    kind === 'query'
      ? `${api}/${path}?input=${encodeURIComponent(JSON.stringify(input ?? {}))}`
      : `${api}/${path}`;
  const res = await fetch(url, {
    method: kind === 'query' ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    ...(kind === 'mutation' ? { body: JSON.stringify(input ?? {}) } : {}),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${path}: ${body?.error?.message ?? res.status}`);
  const setCookie = res.headers.getSetCookie?.() ?? [];
  if (setCookie.length) cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
  return body.result.data;
}

function cli(args, input) {
  const r = spawnSync(process.execPath, [join(root, 'packages/cli/bin/sluice.js'), ...args], {
    stdio: [input === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
    input,
    env: process.env,
  });
  if (r.status !== 0) throw new Error(`sluice ${args[0]} failed (exit ${r.status})`);
}

const adminUrl = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/sluice');
const admin = new pg.Client({ connectionString: adminUrl.toString() });
await admin.connect();
const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [demoDb]);
if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${demoDb.replaceAll('"', '""')}"`);
await admin.end();

await call('mutation', 'auth.login', {
  email: process.env.SLUICE_ADMIN_EMAIL,
  password: process.env.SLUICE_ADMIN_PASSWORD,
});
const { token } = await call('mutation', 'workspace.tokens.create', {
  name: `quickstart ${new Date().toISOString()}`,
});
cli(['login', '--url', base, '--token', '-'], token);

Object.assign(process.env, {
  SLUICE_DEMO_PGHOST: adminUrl.hostname,
  SLUICE_DEMO_PGPORT: adminUrl.port || '5432',
  SLUICE_DEMO_PGUSER: decodeURIComponent(adminUrl.username || 'postgres'),
  SLUICE_DEMO_DATABASE: demoDb,
});
// The local server trusts loopback connections; a password would go in the YAML as
// `password: ${SLUICE_DEMO_PGPASSWORD}` (stored encrypted, never shown again).
cli(['apply', '-f', join(root, 'examples/quickstart.yaml')]);
cli(['sync', 'Demo faker to Postgres', '--wait']);

const target = new URL(adminUrl);
target.pathname = `/${demoDb}`;
const client = new pg.Client({ connectionString: target.toString() });
await client.connect();
const counts = [];
for (const table of ['users', 'products', 'purchases']) {
  const r = await client.query(`SELECT count(*)::int AS n FROM public."${table}"`);
  counts.push(`${table}=${r.rows[0].n}`);
}
await client.end();
console.log(`\n  rows in ${demoDb}: ${counts.join(', ')}`);
