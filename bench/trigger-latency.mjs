#!/usr/bin/env node
// trigger-latency: from the moment a `connection.syncNow` call returns until (a) the source
// process starts and (b) the destination receives its first record, on the process and docker
// runtimes.
//
//   npm run bench -- trigger-latency [--n 30] [--warmup 3] [--runtimes process,docker]
//                                    [--modes discover,recent] [--records 10] [--gap-ms 300]
//                                    [--log-level silent]   (launcher/worker/API logs on stderr)
//                                    [--trace]   (each run also lists the worker's steps, ms after t0)
//                                    [--standby 1]   (process runtime: standby middleware
//                                                    processes, as SLUICE_MIDDLEWARE_STANDBY; 0: none)
//
// Everything is the real platform, in this one process, on a throw-away database and a unique
// Redis prefix: the Config + Workload API over HTTP (`startApiServer` of @sluice/api with the
// `createPlatformServices` deps, as apps/web wires it), a worker (`startWorker` of @sluice/worker:
// connection managers, sync jobs, sweeps), a launcher (`startLauncher` of @sluice/launcher) and the
// middleware, bundled from packages/middleware/src (for docker, an image of that bundle). The
// connector is one small program that timestamps itself: the source logs its process start
// (`performance.timeOrigin`), the destination logs when it parsed its first record; both clocks
// are the host's (containers share it) and the stamps reach us through the attempt log. The
// definitions, source, destination and connection are made through the API (an instance admin's
// `definition.createCommand` runs the connector's spec as a workload). t0 is the moment
// `connection.syncNow` returned to the HTTP client.
//
// Two modes per runtime, each with its own worker:
//   discover — the worker's default (`discoverMaxAgeMs` 0): every sync attempt runs a discover
//              workload first, then the sync workload;
//   recent   — `discoverMaxAgeMs` 24 h (Airbyte refreshes the schema before a sync only when the
//              last refresh is older than that): the sync workload starts right away.
//
// Each run prints its timeline to stderr (job started, discover and sync workloads created,
// claimed, launched, running, the stamps); at the end, p50/p99 as JSON lines:
//   <runtime>_p50_first_record_ms, <runtime>_p99_source_start_ms, …              (discover mode)
//   <runtime>_recent_catalog_p50_first_record_ms, …                               (recent mode)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

function options() {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? fallback : args[i + 1];
  };
  const o = {
    n: Number(opt('n', 30)),
    warmup: Number(opt('warmup', 3)),
    records: Number(opt('records', 10)),
    gapMs: Number(opt('gap-ms', 300)),
    runtimes: String(opt('runtimes', 'process,docker')).split(','),
    modes: String(opt('modes', 'discover,recent')).split(','),
    logLevel: String(opt('log-level', 'silent')),
    trace: args.includes('--trace'),
    standby: Number(opt('standby', 1)),
  };
  for (const r of o.runtimes)
    if (!['process', 'docker'].includes(r)) throw new Error(`unknown runtime "${r}" (process or docker)`);
  for (const m of o.modes)
    if (!MODES[m]) throw new Error(`unknown mode "${m}" (${Object.keys(MODES).join(' or ')})`);
  return o;
}

/** Worker configuration and metric-name infix of each mode. */
const MODES = {
  discover: { label: 'discover before every sync (default)', infix: '', discoverMaxAgeMs: 0 },
  recent: {
    label: 'recent catalog (discoverMaxAgeMs 24 h, as Airbyte)',
    infix: 'recent_catalog_',
    discoverMaxAgeMs: 24 * 3600_000,
  },
};

const say = (msg) => process.stderr.write(`[trigger-latency] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const BENCH_IMAGE = 'sluice/bench-latency-connector:dev';
const BENCH_MIDDLEWARE_IMAGE = 'sluice/bench-middleware:dev';

// A connector that timestamps itself, in one file (it runs as a process and in an image).
const CONNECTOR_JS = `
import fs from 'node:fs';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
const [cmd, ...rest] = process.argv.slice(2);
const configFile = rest[rest.indexOf('--config') + 1];
const emit = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const log = (message) => emit({ type: 'LOG', log: { level: 'INFO', message } });
const stream = { name: 'ticks', json_schema: { type: 'object', properties: { n: { type: 'integer' } } }, supported_sync_modes: ['full_refresh'] };
if (cmd === 'spec') emit({ type: 'SPEC', spec: { connectionSpecification: { type: 'object', properties: { records: { type: 'integer' } } } } });
else if (cmd === 'check') emit({ type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED' } });
else if (cmd === 'discover') emit({ type: 'CATALOG', catalog: { streams: [stream] } });
else if (cmd === 'read') {
  log('sluice-bench source-start ' + performance.timeOrigin.toFixed(3));
  const count = JSON.parse(fs.readFileSync(configFile, 'utf8')).records ?? 10;
  for (let n = 1; n <= count; n++) emit({ type: 'RECORD', record: { stream: 'ticks', data: { n }, emitted_at: Date.now() } });
  emit({ type: 'STATE', state: { type: 'STREAM', stream: { stream_descriptor: { name: 'ticks' }, stream_state: { n: count } } } });
} else if (cmd === 'write') {
  let first = false;
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const m = JSON.parse(line);
    if (m.type === 'RECORD' && !first) {
      first = true;
      log('sluice-bench first-record ' + (performance.timeOrigin + performance.now()).toFixed(3));
    } else if (m.type === 'STATE') emit(m);
  }
} else { process.stderr.write('unknown command ' + cmd + '\\n'); process.exit(2); }
`;

function percentile(values, q) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}
const round1 = (v) => (v === null ? null : Math.round(v * 10) / 10);

async function main() {
  const opts = options();
  const { createTestDatabase } = await import('@sluice/db');
  const { SecretBox, startApiServer } = await import('@sluice/api');
  const { createTestUser } = await import('@sluice/api/testing');
  const { createPlatformServices } = await import('@sluice/platform');
  const { createDataplaneToken } = await import('@sluice/workload');
  const { startLauncher } = await import('@sluice/launcher');
  const { startWorker } = await import('@sluice/worker');
  const { createLogger } = await import('@sluice/shared');
  const { createTRPCClient, httpLink } = await import('@trpc/client');
  const { build } = await import('esbuild');
  const images = await import('../infra/images/build.mjs');

  const logger = (name) => createLogger(name, { level: opts.logLevel }, process.stderr);
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sl-bench-'));
  const prefix = `bench-latency-${randomBytes(4).toString('hex')}`;
  const redisUrl = 'redis://127.0.0.1:6379';
  const testDb = await createTestDatabase({ poolMax: 16 });
  const db = testDb.db;
  const box = new SecretBox(randomBytes(32));

  // The middleware as it is in the tree now, bundled like its tsup build.
  const mwDir = path.join(tmp, 'middleware');
  await build({
    entryPoints: [path.join(ROOT, 'packages/middleware/src/cli.ts')],
    outfile: path.join(mwDir, 'cli.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['sluice-source'],
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
  });
  const connectorDir = path.join(tmp, 'connector');
  await fsp.mkdir(connectorDir);
  await fsp.writeFile(path.join(connectorDir, 'index.js'), CONNECTOR_JS);
  if (opts.runtimes.includes('docker')) await buildImages(images, connectorDir, mwDir);

  // The API process: the Config and Workload APIs with the platform's services (no workflow
  // runs here; the worker below runs them).
  const web = createPlatformServices({ db, redis: redisUrl, prefix, logger: logger('platform') });
  const server = await startApiServer({
    db,
    box,
    logger: logger('api'),
    runner: web.connectorRunner,
    connections: web.orchestrator,
    workload: web.workload,
  });
  const { token: dataplaneToken } = await createDataplaneToken(db, {
    name: 'bench',
    dataplaneGroup: 'default',
  });

  let worker = null;
  let launcher = null;
  let launcherKind = null;
  /** Each runtime used, for removing a failed run's leftover programs. */
  const runtimes = new Map();
  const startWorkerFor = async (mode) => {
    if (worker) await worker.close(5_000);
    worker = null;
    worker = await startWorker({
      db,
      redis: redisUrl,
      prefix,
      box,
      logger: logger('worker'),
      config: { discoverMaxAgeMs: MODES[mode].discoverMaxAgeMs },
      metricsPort: null,
      ...(opts.trace ? { faults: stepTracer } : {}),
    });
  };
  const startLauncherFor = async (runtime) => {
    if (launcher) await launcher.stop({ timeoutMs: 5_000 });
    launcher = null;
    launcher = await startLauncher({
      apiUrl: server.url,
      dataplaneToken,
      redisUrl,
      queuePrefix: prefix,
      runtime,
      workloadsRoot: path.join(tmp, `w-${runtime}`),
      metricsPort: null,
      logger: logger('launcher'),
      middlewareLogLevel: opts.logLevel === 'silent' ? 'warn' : opts.logLevel,
      ...(runtime === 'process'
        ? {
            middlewareCommand: [process.execPath, path.join(mwDir, 'cli.js')],
            middlewareStandby: opts.standby,
          }
        : { middlewareImage: BENCH_MIDDLEWARE_IMAGE }),
    });
    launcherKind = runtime;
    runtimes.set(runtime, launcher.runtime);
  };

  // --trace: when each step of the worker's workflows began and ended its side effect.
  let steps = [];
  const stepTracer = {
    beforeStep: (p) => void steps.push({ step: p.step, at: now(), phase: 'begin' }),
    afterStep: (p) => void steps.push({ step: p.step, at: now(), phase: 'end' }),
  };
  const results = [];
  const jobIds = new Set();
  const loads = [os.loadavg()[0]];
  try {
    const ws = await db.workspace.create({ data: { name: 'Bench', slug: `bench-${prefix}` } });
    const client = (token) =>
      createTRPCClient({
        links: [httpLink({ url: server.url, headers: () => ({ authorization: `Bearer ${token}` }) })],
      });
    const api = client((await createTestUser(db, { workspaceId: ws.id, role: 'admin' })).token);
    const admin = client((await createTestUser(db, { isInstanceAdmin: true })).token);

    // Definitions, source, destination and connection through the API; their spec and the
    // source's catalog come from workloads, so a worker and a launcher run first.
    await startWorkerFor(opts.modes[0]);
    await startLauncherFor('process');
    const define = async (kind) =>
      (
        await admin.definition.createCommand.mutate({
          kind,
          displayName: `Bench ticks ${kind}`,
          version: '1.0.0',
          command: [process.execPath, path.join(connectorDir, 'index.js')],
          image: BENCH_IMAGE,
        })
      ).definition;
    const sourceDef = await define('source');
    const destinationDef = await define('destination');
    const source = await api.source.create.mutate({
      workspaceId: ws.id,
      definitionId: sourceDef.id,
      name: 'Ticks',
      config: { records: opts.records },
    });
    const destination = await api.destination.create.mutate({
      workspaceId: ws.id,
      definitionId: destinationDef.id,
      name: 'Stamps',
      config: {},
    });
    const discovered = await api.source.discover.mutate({ sourceId: source.id });
    if (discovered.failure) throw new Error(`discover failed: ${JSON.stringify(discovered.failure)}`);
    const connection = await api.connection.create.mutate({
      workspaceId: ws.id,
      sourceId: source.id,
      destinationId: destination.id,
      catalog: {
        streams: [
          {
            stream: { name: 'ticks' },
            selected: true,
            syncMode: 'full_refresh',
            destinationSyncMode: 'append',
          },
        ],
      },
    });

    for (const runtime of opts.runtimes) {
      if (launcherKind !== runtime) await startLauncherFor(runtime);
      for (const mode of opts.modes) {
        if (worker.config.discoverMaxAgeMs !== MODES[mode].discoverMaxAgeMs) await startWorkerFor(mode);
        say(`${runtime}, ${MODES[mode].label}: ${opts.warmup} warm-up + ${opts.n} measured syncs`);
        for (let i = 0; i < opts.warmup + opts.n; i++) {
          steps = [];
          const before = now();
          const { jobId } = await api.connection.syncNow.mutate({ connectionId: connection.id });
          const t0 = now();
          jobIds.add(jobId);
          const row = await measure({ db, worker, jobId, t0, runtime, mode });
          const warm = i < opts.warmup;
          say(`${runtime}/${mode} #${i}${warm ? ' (warm-up)' : ''}: ${timeline(row)}`);
          if (opts.trace) {
            const first = steps.findIndex((s) => s.at >= before);
            say(
              `  syncNow took ${(t0 - before).toFixed(0)} ms; steps: ${steps
                .slice(Math.max(0, first))
                .map((s) => `${s.phase === 'begin' ? '+' : '-'}${s.step} ${(s.at - t0).toFixed(0)}`)
                .join(', ')}`,
            );
          }
          if (!warm) results.push(row);
          await sleep(opts.gapMs);
        }
        loads.push(os.loadavg()[0]);
      }
    }
  } finally {
    await launcher?.stop({ timeoutMs: 5_000 }).catch(() => {});
    await worker?.close(5_000).catch(() => {});
    // A failed run's leftover programs; only this benchmark's (other programs may share the engine).
    const ours = (id) => [...jobIds].some((j) => id.startsWith(`${j}_`));
    for (const rt of runtimes.values())
      for (const id of await rt.list().catch(() => []))
        if (ours(id)) await rt.stop(id, { graceMs: 0 }).catch(() => {});
    await server.close();
    await web.close();
    const redis = new (await import('ioredis')).Redis(redisUrl);
    for (let cursor = '0'; ; ) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
    await redis.quit();
    await testDb.drop();
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  say('start point: connection.syncNow returned to its HTTP client');
  const lines = [];
  const metric = (name, value, unit) => lines.push({ bench: 'trigger-latency', metric: name, value, unit });
  for (const runtime of opts.runtimes) {
    for (const mode of opts.modes) {
      const rows = results.filter((r) => r.runtime === runtime && r.mode === mode);
      const name = `${runtime}_${MODES[mode].infix}`;
      for (const [stage, key] of [
        ['source_start', 'sourceStart'],
        ['first_record', 'firstRecord'],
      ]) {
        for (const q of [0.5, 0.99])
          metric(
            `${name}p${Math.round(q * 100)}_${stage}_ms`,
            round1(
              percentile(
                rows.map((r) => r[key]),
                q,
              ),
            ),
            'ms',
          );
      }
      metric(`${name}runs`, rows.length, 'count');
      const p50 = (k) =>
        round1(
          percentile(
            rows.map((r) => r[k]),
            0.5,
          ),
        );
      say(
        `${runtime}, ${MODES[mode].label}: p50 ${timeline(Object.fromEntries(TIMELINE.map(([k]) => [k, p50(k)])))}`,
      );
    }
  }
  // Other work on the host inflates every figure: say how busy it was.
  const load = Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 10) / 10;
  say(`host: ${os.cpus().length} cores, 1-minute load average ${loads.map((l) => l.toFixed(1)).join(' → ')}`);
  metric('host_loadavg_1m', load, 'load');
  for (const l of lines) process.stdout.write(`${JSON.stringify(l)}\n`);
  process.exit(0);
}

/** The timeline of a run (ms after t0), in the order things happen. */
const TIMELINE = [
  ['jobStarted', 'job started'],
  ['discoverCreated', 'discover created'],
  ['discoverClaimed', 'claimed'],
  ['discoverLaunched', 'launched'],
  ['discoverRunning', 'running'],
  ['discoverEnded', 'ended'],
  ['syncCreated', 'sync created'],
  ['syncClaimed', 'claimed'],
  ['syncLaunched', 'launched'],
  ['syncRunning', 'running'],
  ['sourceStart', 'source started'],
  ['firstRecord', 'FIRST RECORD'],
];
function timeline(row) {
  return TIMELINE.filter(([k]) => row[k] !== null && row[k] !== undefined)
    .map(([k, label]) => `${label} ${row[k].toFixed(0)}`)
    .join(', ');
}

/** Waits for the job to end, then reads its timeline from Postgres and the attempt log. */
async function measure({ db, worker, jobId, t0, runtime, mode }) {
  const deadline = Date.now() + (runtime === 'docker' ? 180_000 : 60_000);
  let job;
  for (;;) {
    job = await db.job.findUnique({ where: { id: jobId }, select: { status: true, startedAt: true } });
    if (job && ['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not end in time (status ${job?.status})`);
    await sleep(25);
  }
  const attempts = await db.attempt.findMany({ where: { jobId }, orderBy: { attemptNumber: 'asc' } });
  if (job.status !== 'succeeded') {
    throw new Error(
      `${runtime} job ${jobId} ended ${job.status}: ${JSON.stringify(attempts.map((a) => a.failureSummary))}`,
    );
  }
  if (attempts.length !== 1) throw new Error(`${runtime} job ${jobId} took ${attempts.length} attempts`);
  const attempt = attempts[0];
  const workloads = await db.workload.findMany({ where: { attemptId: attempt.id } });
  const ms = (d) => (d ? d.getTime() - t0 : null);
  const discover = workloads.find((w) => w.type === 'discover');
  const sync = workloads.find((w) => w.type === 'sync');
  if (!sync) throw new Error(`${runtime} job ${jobId}: no sync workload`);
  if (MODES[mode].discoverMaxAgeMs === 0 && !discover) throw new Error(`job ${jobId}: no discover ran`);
  const { entries } = await worker.service.readAttemptLog(attempt.id, { limit: 10_000 });
  const log = entries.map((e) => e.text).join('');
  const stamp = (what) => {
    const m = log.match(new RegExp(`sluice-bench ${what} (\\d+(?:\\.\\d+)?)`));
    if (!m) throw new Error(`${runtime} job ${jobId}: no "${what}" stamp in the attempt log:\n${log}`);
    return Number(m[1]) - t0;
  };
  return {
    runtime,
    mode,
    jobStarted: ms(job.startedAt),
    discoverCreated: ms(discover?.createdAt),
    discoverClaimed: ms(discover?.claimedAt),
    discoverLaunched: ms(discover?.launchedAt),
    discoverRunning: ms(discover?.runningAt),
    discoverEnded: ms(discover?.endedAt),
    syncCreated: ms(sync.createdAt),
    syncClaimed: ms(sync.claimedAt),
    syncLaunched: ms(sync.launchedAt),
    syncRunning: ms(sync.runningAt),
    sourceStart: stamp('source-start'),
    firstRecord: stamp('first-record'),
  };
}

async function buildImages(images, connectorDir, mwDir) {
  say('building images (cached by their inputs)');
  await images.buildBaseImage({ log: say });
  const image = async (context, tag, file, target, entrypoint) => {
    const lines = [
      `ARG BASE_IMAGE=${images.BASE_IMAGE}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile variable
      'FROM ${BASE_IMAGE}',
      `COPY ${file} ${target}`,
      ...entrypoint,
      '',
    ];
    await fsp.writeFile(path.join(context, 'Dockerfile'), lines.join('\n'));
    await images.buildDockerfileImage({ context, tag, log: say });
  };
  await image(connectorDir, BENCH_IMAGE, 'index.js', '/airbyte/integration_code/index.js', [
    'ENV AIRBYTE_ENTRYPOINT="node /airbyte/integration_code/index.js"',
    'ENTRYPOINT ["node", "/airbyte/integration_code/index.js"]',
  ]);
  await image(mwDir, BENCH_MIDDLEWARE_IMAGE, 'cli.js', '/opt/sluice/middleware/cli.js', [
    'ENTRYPOINT ["node", "/opt/sluice/middleware/cli.js"]',
  ]);
}

// Workspace packages are TypeScript: run again with tsx and their source export condition.
if (!process.execArgv.includes('--conditions=sluice-source')) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=sluice-source',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', cwd: path.join(ROOT, 'apps/worker') },
  );
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
} else {
  await main();
}
