/**
 * The `pg-to-pg` benchmark (run through `npm run bench -- pg-to-pg`): a 3M-row, 16-column table
 * (~320 bytes a row, primary key) synced Postgres → Postgres with source-postgres and
 * destination-postgres (full refresh, overwrite), in stdio and in socket mode, and in the same
 * run a raw `psql COPY … TO STDOUT | psql COPY … FROM STDIN` pipe into a table of the same
 * kind (the destination's typed columns, the primary key, logged). Every target is checked
 * equal to the source with an ordered checksum. Peak RSS of every process is sampled from /proc.
 *
 * --path platform (default): the middleware CLI (packages/middleware/dist/cli.js) drives both
 *   connectors in a working directory prepared as the launcher prepares it, reporting to a real
 *   Workload API on a test database (the middleware's own bench harness).
 * --path direct: no platform: source stdout piped into destination stdin (stdio), and both
 *   connectors given the same socket paths (socket mode), as the middleware would.
 *
 * Flags: --rows N (default 3,000,000), --sockets N (default 2), --modes stdio,socket,raw,
 * --path platform|direct, --keep (keep the database: a second run skips loading), --no-build,
 * --cpu-prof DIR (V8 CPU profiles of every Node.js process, one file each, written to DIR).
 * CPU time per row of every process (from /proc/<pid>/stat), the Postgres backends included,
 * is reported beside the rates: it does not depend on what else runs on the machine.
 * Uses the database sluice_bench_pg_to_pg, dropped at the end unless --keep.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
const PKG = path.resolve(here, '..');
const ROOT = path.resolve(PKG, '../..');
const SOURCE_BIN = path.join(ROOT, 'connectors/source-postgres/bin/source-postgres.js');
const DEST_BIN = path.join(PKG, 'bin/destination-postgres.js');

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] ?? fallback);
};
const ROWS = Number(opt('rows', '3000000'));
const SOCKETS = Number(opt('sockets', '2'));
const MODES = opt('modes', 'stdio,socket,raw').split(',');
const PATH_KIND = opt('path', 'platform') as 'platform' | 'direct';
const KEEP = args.includes('--keep');
const CPU_PROF = opt('cpu-prof', '');
const DB = 'sluice_bench_pg_to_pg';
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const log = (m: string) => process.stderr.write(`${m}\n`);

if (!args.includes('--no-build')) {
  log('building destination-postgres');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/tsup/dist/cli-default.js'), '--silent'], {
    cwd: PKG,
    stdio: 'inherit',
  });
}
for (const [what, file] of [
  ['connectors/source-postgres', path.join(ROOT, 'connectors/source-postgres/dist/index.js')],
  ...(PATH_KIND === 'platform'
    ? [['packages/middleware', path.join(ROOT, 'packages/middleware/dist/cli.js')]]
    : []),
] as const) {
  if (!fs.existsSync(file)) throw new Error(`${what} is not built (${file} missing): run npx tsup there`);
}

// ---------------------------------------------------------------------------------------------
// The source table

const admin = new pg.Client({ ...PG, database: 'postgres' });
await admin.connect();
const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB])).rowCount! > 0;
if (!exists) await admin.query(`CREATE DATABASE ${DB}`);
await admin.end();
const db = new pg.Client({ ...PG, database: DB });
await db.connect();
await db.query("SET TimeZone = 'UTC'");

const loaded = await db
  .query(
    `SELECT (SELECT count(*)::int FROM src.wide16) AS n,
            (SELECT count(*)::int FROM pg_attribute WHERE attrelid = 'src.wide16'::regclass AND attnum > 0 AND NOT attisdropped) AS cols`,
  )
  .then((r) => (r.rows[0].cols === 16 ? (r.rows[0].n as number) : -1))
  .catch(() => -1);
if (loaded !== ROWS) {
  const t0 = Date.now();
  await db.query('DROP SCHEMA IF EXISTS src CASCADE; CREATE SCHEMA src');
  await db.query(`CREATE TABLE src.wide16 (
    id bigint PRIMARY KEY, user_id integer, amount numeric(12,2), score double precision,
    active boolean, name text, email varchar(200), city text, country char(2),
    created_at timestamptz, updated_at timestamp, birthday date, token uuid,
    tags text, note text, counter bigint)`);
  // Loaded in slices so the server's memory stays flat.
  for (let from = 1; from <= ROWS; from += 500_000) {
    const to = Math.min(ROWS, from + 499_999);
    await db.query(`INSERT INTO src.wide16 SELECT g, g % 100000, (g % 100000) / 100.0, g * 0.001,
        g % 2 = 0, 'user number ' || g || ' ' || md5(g::text), 'user' || g || '@example.com', 'City ' || (g % 500), 'FR',
        '2024-01-01'::timestamptz + g * interval '1.5 second', '2024-01-01'::timestamp + g * interval '1 minute',
        '1990-01-01'::date + (g % 10000), md5(g::text)::uuid, 'alpha,beta,gamma,delta,epsilon,' || (g % 97),
        'note ' || md5((g * 31)::text) || ' ' || md5((g * 17)::text) || ' ' || left(md5((g * 13)::text), 24), g * 7
      FROM generate_series(${from}, ${to}) g`);
  }
  await db.query('VACUUM ANALYZE src.wide16');
  log(`loaded ${ROWS} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const rowBytes = Number(
  (await db.query('SELECT avg(pg_column_size(t.*))::int AS b FROM (SELECT * FROM src.wide16 LIMIT 10000) t'))
    .rows[0].b,
);
log(`source: ${ROWS} rows, ~${rowBytes} bytes a row`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pg2pg-'));
const writeJson = (name: string, value: unknown) => {
  const file = path.join(work, name);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
};
const sourceConfig = {
  host: PG.host,
  port: PG.port,
  database: DB,
  username: PG.user,
  schemas: ['src'],
  ssl_mode: { mode: 'disable' },
};
const destConfig = (schema: string) => ({
  host: PG.host,
  port: PG.port,
  database: DB,
  username: PG.user,
  schema,
  ssl_mode: { mode: 'disable' },
});

/** The discovered stream, configured full refresh / overwrite with its primary key, in `namespace`. */
function configuredCatalog() {
  const out = execFileSync(
    process.execPath,
    [SOURCE_BIN, 'discover', '--config', writeJson('discover.json', sourceConfig)],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const msg = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((m) => m.type === 'CATALOG');
  const stream = msg?.catalog.streams.find((s: { name: string }) => s.name === 'wide16');
  if (!stream) throw new Error(`source-postgres discover did not list src.wide16:\n${out.slice(-2000)}`);
  return {
    streams: [
      {
        stream,
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
        primary_key: [['id']],
        generation_id: 1,
        minimum_generation_id: 1,
        sync_id: 1,
      },
    ],
  };
}
const catalog = configuredCatalog();
/** The destination writes the stream into its config's schema: the platform's "destination default" namespace. */
const mapping = {
  streams: [{ source: { name: 'wide16', namespace: 'src' }, destination: { name: 'wide16' } }],
};
const destCatalog = {
  streams: catalog.streams.map((s) => {
    const { namespace: _ns, ...stream } = s.stream as Record<string, unknown>;
    return { ...s, stream };
  }),
};

// ---------------------------------------------------------------------------------------------
// Process sampling: peak RSS and CPU time per role, Postgres backends included

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}
/** Busy and total jiffies of the whole machine (every core), from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}
function descendants(pid: number): number[] {
  let kids: number[] = [];
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const t = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (t) kids = kids.concat(t.split(/\s+/).map(Number));
    }
  } catch {
    return [];
  }
  return kids.flatMap((k) => [k, ...descendants(k)]);
}
const cmdline = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};
const parentOf = (pid: number) => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
};
/** The postmaster: the parent of this bench's own backend. */
const postmaster = parentOf(Number((await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
const AUX = /postgres: .*(checkpointer|background writer|walwriter|autovacuum|walsender)/;

interface Sampled {
  peak: Record<string, number>;
  /** CPU seconds per role during the run. */
  cpu: Record<string, number>;
  /** Cores the whole machine kept busy on average (other tenants included). */
  machineCores: number;
}

/**
 * Samples every 100 ms: peak RSS and CPU per role of the processes under `roots` (classified
 * from each command line), the Postgres backends of the bench database (classified by
 * `backendRole` from pg_stat_activity) and the server's auxiliary processes (`pg_aux`: WAL
 * writer, checkpointer, background writer, autovacuum).
 */
function sampler(
  roots: ChildProcess[],
  roleOf: (cmd: string, isRoot: boolean) => string | undefined,
  backendRole: (app: string, query: string) => string | undefined,
) {
  const peak: Record<string, number> = {};
  const role = new Map<number, string>();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const machine0 = machineJiffies();
  const track = (pid: number, r: string, existedBefore: boolean) => {
    if (!role.has(pid)) {
      role.set(pid, r);
      first.set(pid, existedBefore ? (cpuSeconds(pid) ?? 0) : 0);
    }
  };
  const aux = () => {
    for (const pid of descendants(postmaster)) if (AUX.test(cmdline(pid))) track(pid, 'pg_aux', true);
  };
  aux();
  let querying = false;
  const tick = () => {
    for (const root of roots) {
      if (!root.pid) continue;
      for (const pid of [root.pid, ...descendants(root.pid)]) {
        const r = role.get(pid) ?? roleOf(cmdline(pid), pid === root.pid);
        if (!r) continue;
        track(pid, r, false);
        const rss = rssMb(pid);
        if (rss !== undefined) peak[r] = Math.max(peak[r] ?? 0, rss);
      }
    }
    aux();
    for (const pid of role.keys()) {
      const c = cpuSeconds(pid);
      if (c !== undefined) last.set(pid, c);
    }
    if (querying) return;
    querying = true;
    db.query(
      `SELECT pid, application_name AS app, query FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      [DB],
    )
      .then((res) => {
        for (const b of res.rows as Array<{ pid: number; app: string; query: string }>) {
          if (role.has(b.pid)) continue;
          const r = backendRole(b.app ?? '', b.query ?? '');
          if (r) track(b.pid, r, false);
        }
      })
      .catch(() => {})
      .finally(() => {
        querying = false;
      });
  };
  const timer = setInterval(tick, 100);
  return {
    peak,
    stop: (): Sampled => {
      clearInterval(timer);
      tick();
      const machine1 = machineJiffies();
      const cpu: Record<string, number> = {};
      for (const [pid, r] of role)
        cpu[r] = (cpu[r] ?? 0) + Math.max(0, (last.get(pid) ?? 0) - first.get(pid)!);
      const cores = os.cpus().length;
      const machineCores =
        machine1.total > machine0.total
          ? ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * cores
          : 0;
      return { peak, cpu, machineCores };
    },
  };
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    c.exitCode !== null ? resolve(c.exitCode) : c.on('close', resolve),
  );

interface Run extends Sampled {
  seconds: number;
}

/** Backends of the synced connectors, by the application_name each connector sets. */
const connectorBackend = (app: string) =>
  app.startsWith('sluice-source-postgres')
    ? 'source_pg'
    : app.startsWith('sluice-destination-postgres')
      ? 'destination_pg'
      : undefined;

/** Extra node flags for the connectors (and the middleware): --cpu-prof DIR profiles each. */
const nodeFlags = (name: string): string[] => {
  if (!CPU_PROF) return [];
  fs.mkdirSync(CPU_PROF, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`, `--cpu-prof-name=${name}-\${pid}.cpuprofile`];
};

const connectorRole = (cmd: string) =>
  cmd.includes('source-postgres')
    ? 'source'
    : cmd.includes('destination-postgres')
      ? 'destination'
      : undefined;

// ---------------------------------------------------------------------------------------------
// Runs

async function dropTargets(schema: string) {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS airbyte_internal CASCADE`);
}

/** source → destination without the platform: a pipe in stdio mode, shared socket paths otherwise. */
async function runDirect(mode: 'stdio' | 'socket', schema: string): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  const destEnv: Record<string, string> = { SLUICE_STREAM_MAPPING: writeJson('mapping.json', mapping) };
  if (mode === 'socket') {
    const paths = Array.from({ length: SOCKETS }, (_, i) => path.join(work, `s${i}.sock`));
    Object.assign(env, {
      DATA_CHANNEL_MEDIUM: 'SOCKET',
      DATA_CHANNEL_FORMAT: 'JSONL',
      DATA_CHANNEL_SOCKET_PATHS: paths.join(','),
    });
  }
  const started = process.hrtime.bigint();
  const dest = spawn(
    process.execPath,
    [
      ...nodeFlags(`destination-${mode}`),
      DEST_BIN,
      'write',
      '--config',
      writeJson(`dest-${mode}.json`, destConfig(schema)),
      '--catalog',
      writeJson('dest-catalog.json', destCatalog),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...env, ...destEnv } },
  );
  const source = spawn(
    process.execPath,
    [
      ...nodeFlags(`source-${mode}`),
      SOURCE_BIN,
      'read',
      '--config',
      writeJson('source.json', sourceConfig),
      '--catalog',
      writeJson('catalog.json', catalog),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  );
  const s = sampler([source, dest], connectorRole, connectorBackend);
  let destOut = '';
  dest.stdout!.on('data', (d) => {
    destOut = (destOut + d).slice(-4000);
  });
  if (mode === 'stdio') source.stdout!.pipe(dest.stdin!);
  else {
    // The platform's part in socket mode: forward the source's stream statuses to the destination.
    let pending = '';
    source.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l.includes('"STREAM_STATUS"')) dest.stdin!.write(`${l}\n`);
    });
    source.on('close', () => dest.stdin!.end());
  }
  const [sc, dc] = await Promise.all([exited(source), exited(dest)]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sampled = s.stop();
  if (sc !== 0 || dc !== 0)
    throw new Error(`direct ${mode}: source exited ${sc}, destination ${dc}: ${destOut}`);
  return { seconds, ...sampled };
}

/** source → middleware → destination, as a sync workload runs on the platform. */
async function runPlatform(mode: 'stdio' | 'socket', schema: string): Promise<Run> {
  const h = await harness();
  const node = (script: string, name: string) => [process.execPath, ...nodeFlags(name), script];
  const w = await h.prepareSync(h.mh, {
    source: { command: node(SOURCE_BIN, `source-${mode}`), config: sourceConfig },
    destination: { command: node(DEST_BIN, `destination-${mode}`), config: destConfig(schema) },
    catalog,
    mapping,
    ...(mode === 'socket' ? { socketCount: SOCKETS } : {}),
    middleware: { stateFlushMs: 2_000, logFlushMs: 1_000 },
  });
  const started = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags(`middleware-${mode}`),
      path.join(ROOT, 'packages/middleware/dist/cli.js'),
      '--workdir',
      w.workDir,
    ],
    {
      cwd: w.workDir,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SLUICE_API_URL: h.mh.api.server.url,
        SLUICE_DATAPLANE_TOKEN: h.mh.token,
        SLUICE_WORKLOAD_ID: w.id,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const s = sampler([child], (cmd, isRoot) => (isRoot ? 'middleware' : connectorRole(cmd)), connectorBackend);
  const code = await exited(child);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sampled = s.stop();
  const workload = await h.mh.svc.get(w.id);
  const output = (workload.output ?? {}) as Record<string, unknown>;
  if (code !== 0 || workload.status !== 'success') {
    throw new Error(
      `platform ${mode}: middleware exited ${code}, workload ${workload.status}: ${workload.terminationReason} ${JSON.stringify(output.failures ?? '')}`,
    );
  }
  if (output.recordsCommitted !== ROWS) {
    throw new Error(
      `platform ${mode}: ${String(output.recordsCommitted)} records committed, expected ${ROWS}`,
    );
  }
  return { seconds, ...sampled };
}

// The middleware's own bench harness (a real API on a test database), loaded only when used.
type Harness = typeof import('../../../packages/middleware/test/harness');
let harnessState:
  | { mh: Awaited<ReturnType<Harness['startHarness']>>; prepareSync: Harness['prepareSync'] }
  | undefined;
async function harness() {
  if (!harnessState) {
    const h: Harness = await import('../../../packages/middleware/test/harness');
    harnessState = { mh: await h.startHarness(), prepareSync: h.prepareSync };
  }
  return harnessState;
}

/** The raw baseline: psql COPY out piped into psql COPY in, into a table like the destination's. */
async function runRaw(schema: string, like: string): Promise<Run> {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  // The destination's typed columns for these fields (meta columns aside), the key, logged.
  const cols = (
    await db.query(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname NOT LIKE '\\_airbyte\\_%' ORDER BY attnum`,
      [like],
    )
  ).rows as Array<{ name: string; type: string }>;
  if (cols.length !== 16)
    throw new Error(`expected the destination's table ${like} to have 16 data columns, found ${cols.length}`);
  await db.query(
    `CREATE TABLE ${schema}.wide16 (${cols.map((c) => `"${c.name}" ${c.type}`).join(', ')}, PRIMARY KEY (id))`,
  );
  const list = cols.map((c) => `"${c.name}"`).join(', ');
  const psql = `psql -h ${PG.host} -p ${PG.port} -U ${PG.user} -d ${DB} -qX -v ON_ERROR_STOP=1`;
  const started = process.hrtime.bigint();
  const pipe = spawn(
    'bash',
    [
      '-o',
      'pipefail',
      '-c',
      `${psql} -c "COPY src.wide16 (${list}) TO STDOUT" | ${psql} -c "COPY ${schema}.wide16 (${list}) FROM STDIN"`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const s = sampler(
    [pipe],
    (cmd, isRoot) => {
      // Debian's psql is a wrapper script that execs the real binary: match either.
      if (isRoot || !/(^|\/)psql /.test(cmd)) return undefined;
      return cmd.includes('TO STDOUT') ? 'copy_out' : 'copy_in';
    },
    (app, query) =>
      app !== 'psql'
        ? undefined
        : query.includes('TO STDOUT')
          ? 'copy_out_pg'
          : query.includes('FROM STDIN')
            ? 'copy_in_pg'
            : undefined,
  );
  const code = await exited(pipe);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sampled = s.stop();
  if (code !== 0) throw new Error(`the raw COPY pipe exited ${code}`);
  return { seconds, ...sampled };
}

/**
 * An ordered checksum over the 16 columns, canonical across the source's and the targets'
 * types (numbers compared as exact decimals, everything else as text).
 */
async function checksum(table: string): Promise<string> {
  const cols = (
    await db.query(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = 'src.wide16'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    )
  ).rows as Array<{ name: string; type: string }>;
  const exprs = cols.map((c) =>
    /^(numeric|double precision|real|integer|bigint|smallint)/.test(c.type)
      ? `coalesce(trim_scale("${c.name}"::text::numeric)::text, '∅')`
      : `coalesce("${c.name}"::text, '∅')`,
  );
  const r = await db.query(
    `SELECT count(*) AS n, md5(string_agg(h, '' ORDER BY b)) AS digest FROM (
       SELECT id / 100000 AS b, md5(string_agg(concat_ws('|', ${exprs.join(', ')}), E'\\n' ORDER BY id)) AS h
         FROM ${table} GROUP BY 1) chunks`,
  );
  return `${r.rows[0].digest}`;
}

const usPerRow = (seconds: number) => (seconds / ROWS) * 1e6;
const totalCpu = (r: Run) => Object.values(r.cpu).reduce((a, b) => a + b, 0);
/** Peak RSS, CPU µs per row of each process kind, and how many cores the run kept busy. */
function describe(r: Run): string {
  const mb = Object.entries(r.peak).map(([k, v]) => `${k} ${Math.round(v)} MB`);
  const cpu = Object.entries(r.cpu)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${usPerRow(v).toFixed(2)}`);
  return (
    `peak RSS ${mb.join(', ')}; CPU µs/row ${cpu.join(', ')} (total ${usPerRow(totalCpu(r)).toFixed(2)}); ` +
    `cores busy: ours ${(totalCpu(r) / r.seconds).toFixed(2)}, machine ${r.machineCores.toFixed(2)}`
  );
}

const results: Record<string, Run> = {};
let expected: string | undefined;
try {
  expected = await checksum('src.wide16');
  for (const mode of ['stdio', 'socket'] as const) {
    if (!MODES.includes(mode)) continue;
    const schema = `dst_${mode}`;
    await dropTargets(schema);
    log(`${mode}: syncing ${ROWS} rows (${PATH_KIND})`);
    const r = PATH_KIND === 'platform' ? await runPlatform(mode, schema) : await runDirect(mode, schema);
    const sum = await checksum(`${schema}.wide16`);
    if (sum !== expected)
      throw new Error(`${mode}: the target's checksum ${sum} differs from the source's ${expected}`);
    results[mode] = r;
    log(
      `${mode}: ${(ROWS / r.seconds).toFixed(0)} rows/s in ${r.seconds.toFixed(1)} s, checksum equal; ${describe(r)}`,
    );
  }
  if (MODES.includes('raw')) {
    const like = results.stdio ? 'dst_stdio.wide16' : results.socket ? 'dst_socket.wide16' : undefined;
    if (!like)
      throw new Error('the raw baseline copies the destination table layout: run stdio or socket too');
    const r = await runRaw('dst_raw', like);
    const sum = await checksum('dst_raw.wide16');
    if (sum !== expected)
      throw new Error(`raw: the target's checksum ${sum} differs from the source's ${expected}`);
    results.raw = r;
    log(
      `raw COPY: ${(ROWS / r.seconds).toFixed(0)} rows/s in ${r.seconds.toFixed(1)} s, checksum equal; ${describe(r)}`,
    );
  }
} finally {
  if (harnessState) await harnessState.mh.close();
  await db.end();
  fs.rmSync(work, { recursive: true, force: true });
  if (!KEEP) {
    const a = new pg.Client({ ...PG, database: 'postgres' });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await a.end();
  }
}

const bench = 'pg-to-pg';
const emit = (metric: string, value: number, unit: string) =>
  console.log(JSON.stringify({ bench, metric, value, unit }));
const rate = (r: Run | undefined) => (r ? Math.round(ROWS / r.seconds) : undefined);
emit('rows', ROWS, 'rows');
emit('row_bytes', rowBytes, 'bytes');
const stdio = rate(results.stdio);
const socket = rate(results.socket);
const raw = rate(results.raw);
if (stdio !== undefined) emit('stdio_rows_per_s', stdio, 'rows/s');
if (socket !== undefined) emit('socket_rows_per_s', socket, 'rows/s');
if (raw !== undefined) emit('raw_copy_rows_per_s', raw, 'rows/s');
const best = Math.max(stdio ?? 0, socket ?? 0);
if (raw !== undefined && best > 0) emit('ratio', Number((best / raw).toFixed(3)), 'x');
for (const [name, r] of Object.entries(results)) {
  for (const [role, mb] of Object.entries(r.peak)) emit(`${name}_${role}_peak_rss_mb`, Math.round(mb), 'MB');
  for (const [role, sec] of Object.entries(r.cpu))
    emit(`${name}_${role}_cpu_us_per_row`, Number(usPerRow(sec).toFixed(2)), 'µs');
  emit(`${name}_total_cpu_us_per_row`, Number(usPerRow(totalCpu(r)).toFixed(2)), 'µs');
  emit(`${name}_cores_busy`, Number((totalCpu(r) / r.seconds).toFixed(2)), 'cores');
  emit(`${name}_machine_cores_busy`, Number(r.machineCores.toFixed(2)), 'cores');
}
emit(`path_${PATH_KIND}`, 1, 'flag');
