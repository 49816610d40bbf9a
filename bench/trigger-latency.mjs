#!/usr/bin/env node
// trigger-latency: how long from "sync now" returning until (a) the source process starts and
// (b) the destination receives its first record, on the process and docker runtimes.
//
//   npm run bench -- trigger-latency [--n 30] [--runtimes process,docker] [--warmup 2] [--records 10]
//                                    [--launcher-log-level info]   (per-step launch timings on stderr)
//
// Start point: the worker (which turns `connection.syncNow` into a sync workload) does not exist
// yet, so t0 is the moment `WorkloadService.create()` returns for a sync workload, created exactly
// as the worker will create it (Postgres row + BullMQ job on the dataplane group's queue). To
// measure from the real call later, implement `triggerViaSyncNow` below and pass `--from sync-now`.
//
// Everything else is real: Postgres (a throw-away database), Redis, the API server (Workload API
// over HTTP with a dataplane token), a launcher (`startLauncher` of @sluice/launcher), the
// middleware (bundled from packages/middleware/src; for docker, an image of it) and a connector
// that timestamps itself: the source logs its process start (`performance.timeOrigin`), the
// destination logs when it parsed its first record. Both clocks are the host's (containers share
// it). The stamps reach us through the attempt log, after the workload succeeded.
//
// Prints each run to stderr, then p50/p99 per runtime and stage as JSON lines.
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
  return {
    n: Number(opt('n', 30)),
    warmup: Number(opt('warmup', 2)),
    records: Number(opt('records', 10)),
    runtimes: String(opt('runtimes', 'process,docker')).split(','),
    from: String(opt('from', 'create')),
    launcherLogLevel: String(opt('launcher-log-level', 'silent')),
  };
}

const say = (msg) => process.stderr.write(`[trigger-latency] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

async function main() {
  const opts = options();
  const { createTestDatabase } = await import('@sluice/db');
  const { SecretBox, openConfig, sealConfig, startApiServer } = await import('@sluice/api');
  const { WorkloadQueue, WorkloadService, ensureDataplaneToken } = await import('@sluice/workload');
  const { createWorkloadFixtures } = await import('@sluice/workload/testing');
  const { startLauncher } = await import('@sluice/launcher');
  const { createLogger } = await import('@sluice/shared');
  const { build } = await import('esbuild');
  const images = await import('../infra/images/build.mjs');

  const silent = createLogger('bench', { level: 'silent' });
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sl-bench-'));
  const prefix = `bench-latency-${randomBytes(4).toString('hex')}`;
  const redisUrl = 'redis://127.0.0.1:6379';
  const testDb = await createTestDatabase();
  const queue = new WorkloadQueue({ connection: redisUrl, prefix });
  const box = new SecretBox(randomBytes(32));
  const server = await startApiServer({ db: testDb.db, box, logger: silent, workload: { dispatch: queue } });
  const svc = new WorkloadService({
    db: testDb.db,
    dispatch: queue,
    secrets: { open: (s) => openConfig(s, box), seal: (spec, c) => sealConfig(spec, c, box) },
    logger: silent,
  });
  const token = `sluice_dp_${randomBytes(32).toString('base64url')}`;
  await ensureDataplaneToken(testDb.db, { token, group: 'default' });
  const f = await createWorkloadFixtures(testDb.db);

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
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
  });
  const connectorDir = path.join(tmp, 'connector');
  await fsp.mkdir(connectorDir);
  await fsp.writeFile(path.join(connectorDir, 'index.js'), CONNECTOR_JS);

  const results = [];
  const launchers = [];
  const loads = [os.loadavg()[0]];
  try {
    for (const runtime of opts.runtimes) {
      let connector;
      let launcherOpts = {};
      if (runtime === 'process') {
        connector = { command: [process.execPath, path.join(connectorDir, 'index.js')] };
        launcherOpts = { middlewareCommand: [process.execPath, path.join(mwDir, 'cli.js')] };
      } else if (runtime === 'docker') {
        say('building images (cached by their inputs)');
        await images.buildBaseImage({ log: say });
        const dockerfile = (copy, entry) =>
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile variable
          [`ARG BASE_IMAGE=${images.BASE_IMAGE}`, 'FROM ${BASE_IMAGE}', copy, entry, ''].join('\n');
        await fsp.writeFile(
          path.join(connectorDir, 'Dockerfile'),
          dockerfile(
            'COPY index.js /airbyte/integration_code/index.js',
            'ENV AIRBYTE_ENTRYPOINT="node /airbyte/integration_code/index.js"\nENTRYPOINT ["node", "/airbyte/integration_code/index.js"]',
          ),
        );
        await images.buildDockerfileImage({ context: connectorDir, tag: BENCH_IMAGE, log: say });
        await fsp.writeFile(
          path.join(mwDir, 'Dockerfile'),
          dockerfile(
            'COPY cli.js /opt/sluice/middleware/cli.js',
            'ENTRYPOINT ["node", "/opt/sluice/middleware/cli.js"]',
          ),
        );
        await images.buildDockerfileImage({ context: mwDir, tag: BENCH_MIDDLEWARE_IMAGE, log: say });
        connector = { image: BENCH_IMAGE, network: 'none' };
        launcherOpts = { middlewareImage: BENCH_MIDDLEWARE_IMAGE };
      } else {
        throw new Error(`unknown runtime "${runtime}" (process or docker)`);
      }

      const launcher = await startLauncher({
        apiUrl: server.url,
        dataplaneToken: token,
        redisUrl,
        queuePrefix: prefix,
        runtime,
        workloadsRoot: path.join(tmp, `w-${runtime}`),
        metricsPort: null,
        logger: createLogger('launcher', { level: opts.launcherLogLevel }, process.stderr),
        middlewareLogLevel: 'warn',
        ...launcherOpts,
      });
      launchers.push(launcher);

      const input = {
        connectionId: f.connection.id,
        workspaceId: f.workspace.id,
        source: { actorType: 'source', ...connector, config: { records: opts.records } },
        destination: { actorType: 'destination', ...connector, config: {} },
        catalog: {
          streams: [
            {
              stream: {
                name: 'ticks',
                json_schema: { type: 'object' },
                supported_sync_modes: ['full_refresh'],
              },
              sync_mode: 'full_refresh',
              destination_sync_mode: 'append',
            },
          ],
        },
      };
      say(`${runtime}: ${opts.warmup} warm-up + ${opts.n} measured syncs`);
      for (let i = 0; i < opts.warmup + opts.n; i++) {
        const job = await testDb.db.job.create({
          data: { workspaceId: f.workspace.id, connectionId: f.connection.id, type: 'sync', config: {} },
        });
        const attempt = await testDb.db.attempt.create({ data: { jobId: job.id, attemptNumber: 0 } });
        const id = `bench-${runtime}-${i}-${randomBytes(3).toString('hex')}`;
        const t0 = await trigger(opts.from, () =>
          svc.create({
            id,
            type: 'sync',
            input: { ...input, jobId: job.id, attemptNumber: 0 },
            attemptId: attempt.id,
            mutexKey: `connection:${f.connection.id}`,
          }),
        );
        const w = await waitEnded(testDb.db, id, runtime === 'docker' ? 120_000 : 60_000);
        if (w.status !== 'success')
          throw new Error(`${runtime} sync ${id} ended ${w.status}: ${w.terminationReason}`);
        const { entries } = await svc.readAttemptLog(attempt.id, { limit: 10_000 });
        const log = entries.map((e) => e.text).join('');
        const stamp = (what) => {
          const m = log.match(new RegExp(`sluice-bench ${what} (\\d+(?:\\.\\d+)?)`));
          if (!m) throw new Error(`${runtime} sync ${id}: no "${what}" stamp in the attempt log:\n${log}`);
          return Number(m[1]);
        };
        const row = {
          runtime,
          sourceStart: stamp('source-start') - t0,
          firstRecord: stamp('first-record') - t0,
          claimed: w.claimedAt.getTime() - t0,
          launched: w.launchedAt.getTime() - t0,
          running: w.runningAt.getTime() - t0,
        };
        const warm = i < opts.warmup;
        say(
          `${runtime} #${i}${warm ? ' (warm-up)' : ''}: claimed ${row.claimed} ms, launched ${row.launched} ms, running ${row.running} ms, source started ${row.sourceStart.toFixed(1)} ms, first record ${row.firstRecord.toFixed(1)} ms`,
        );
        if (!warm) results.push(row);
        await sleep(100);
      }
      await launcher.stop({ timeoutMs: 5_000 });
      loads.push(os.loadavg()[0]);
    }
  } finally {
    for (const l of launchers) await l.stop({ timeoutMs: 2_000 }).catch(() => {});
    for (const l of launchers)
      for (const id of await l.runtime.list().catch(() => [])) {
        if (id.startsWith('bench-')) await l.runtime.stop(id, { graceMs: 0 }).catch(() => {});
      }
    const keys = await queue.redis.keys(`${prefix}:*`);
    if (keys.length) await queue.redis.del(...keys);
    await queue.close();
    await server.close();
    await testDb.drop();
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  const from = opts.from === 'create' ? 'create' : 'sync_now';
  say(
    `start point: ${opts.from === 'create' ? 'WorkloadService.create() returned (the worker does not exist yet)' : 'connection.syncNow returned'}`,
  );
  const lines = [];
  for (const runtime of opts.runtimes) {
    const rows = results.filter((r) => r.runtime === runtime);
    for (const [stage, key] of [
      ['source_start', 'sourceStart'],
      ['first_record', 'firstRecord'],
    ]) {
      for (const q of [0.5, 0.99]) {
        lines.push({
          bench: 'trigger-latency',
          metric: `${runtime}.${from}_to_${stage}.p${Math.round(q * 100)}`,
          value:
            Math.round(
              percentile(
                rows.map((r) => r[key]),
                q,
              ) * 10,
            ) / 10,
          unit: 'ms',
        });
      }
    }
    for (const key of ['claimed', 'launched', 'running']) {
      say(
        `${runtime}: p50 ${from} → ${key} ${percentile(
          rows.map((r) => r[key]),
          0.5,
        )} ms`,
      );
    }
    lines.push({ bench: 'trigger-latency', metric: `${runtime}.runs`, value: rows.length, unit: 'count' });
  }
  // Other work on the host inflates every figure: say how busy it was.
  const load = Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 10) / 10;
  say(`host: ${os.cpus().length} cores, 1-minute load average ${loads.map((l) => l.toFixed(1)).join(' → ')}`);
  lines.push({ bench: 'trigger-latency', metric: 'host.loadavg_1m', value: load, unit: 'load' });
  for (const l of lines) process.stdout.write(`${JSON.stringify(l)}\n`);
  process.exit(0);
}

/** Runs the trigger and returns the moment it returned (epoch ms, sub-ms precision). */
async function trigger(from, createWorkload) {
  if (from === 'create') {
    await createWorkload();
    return performance.timeOrigin + performance.now();
  }
  if (from === 'sync-now') return triggerViaSyncNow();
  throw new Error(`--from must be "create" or "sync-now", not "${from}"`);
}

/**
 * The real start point, once the worker exists: call `connection.syncNow` through the API with a
 * user token, take the time it returned, and wait for the worker to create the job's sync workload
 * (then read its attempt log as above).
 */
async function triggerViaSyncNow() {
  throw new Error('--from sync-now needs the worker (apps/worker), which does not run syncs yet');
}

async function waitEnded(db, id, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const w = await db.workload.findUnique({ where: { id } });
    if (w && ['success', 'failure', 'cancelled'].includes(w.status)) return w;
    if (Date.now() > deadline)
      throw new Error(`workload ${id} did not end within ${timeoutMs} ms (status ${w?.status})`);
    await sleep(20);
  }
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
    { stdio: 'inherit', cwd: path.join(ROOT, 'apps/launcher') },
  );
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
} else {
  await main();
}
