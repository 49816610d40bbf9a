/**
 * schedule-lateness: N connections on a one-minute cron, workers with a no-op workload
 * service; lateness = a scheduled job row's creation time minus the cron instant it was due.
 * Prints p50_ms, p99_ms and max_ms over the measured ticks (after a warm-up tick).
 *
 * Run through `npm run bench -- schedule-lateness [--connections=1000] [--ticks=2]
 * [--processes=1] [--concurrency=1000] [--pool=20]` (bench/schedule-lateness.mjs starts this file).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SecretBox } from '@sluice/api';
import { canonicalJson, createDb, createTestDatabase, type Prisma } from '@sluice/db';
import { createPlatformServices } from '@sluice/platform';
import { createLogger } from '@sluice/shared';
import { Redis } from 'ioredis';
import { noopWorkloads, startWorker } from '../src';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, v] = a.slice(2).split('=');
      return [k, v ?? 'true'];
    }),
) as Record<string, string>;
const REDIS_URL = args.redis ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = Number(args.connections ?? 1000);
const TICKS = Number(args.ticks ?? 2);
const PROCESSES = Number(args.processes ?? 1);
const CONCURRENCY = Number(args.concurrency ?? 1000);
const log = createLogger('bench', { level: 'silent' });
const say = (m: string) => process.stderr.write(`schedule-lateness: ${m}\n`);

const catalog = {
  streams: [
    {
      name: 'users',
      json_schema: {
        type: 'object',
        properties: { id: { type: 'integer' }, updated_at: { type: 'string' } },
      },
      supported_sync_modes: ['full_refresh', 'incremental'],
      source_defined_cursor: true,
      default_cursor_field: ['updated_at'],
      source_defined_primary_key: [['id']],
    },
  ],
};

/** A worker process: the full worker with workloads that end as soon as they are created. */
async function runWorker(url: string, prefix: string, key: string): Promise<void> {
  // The worker's defaults (SLUICE_WORKER_DB_POOL, SLUICE_WORKER_CONCURRENCY).
  const db = createDb({ url, poolMax: Number(args.pool ?? 20) });
  const worker = await startWorker({
    db,
    redis: REDIS_URL,
    prefix,
    box: new SecretBox(Buffer.from(key, 'hex')),
    logger: log,
    concurrency: CONCURRENCY,
    workloads: noopWorkloads((w) => (w.type === 'discover' ? { catalog } : null)),
    sweeps: false,
    metricsPort: null,
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void worker.close(2000).then(() => db.$disconnect().then(() => process.exit(0)));
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function main(): Promise<void> {
  if (args.role === 'worker') return runWorker(args.url!, args.prefix!, args.key!);

  const prefix = `bench-lateness-${randomBytes(4).toString('hex')}`;
  const key = randomBytes(32).toString('hex');
  const t = await createTestDatabase({ poolMax: 8 });
  const children: ReturnType<typeof spawn>[] = [];
  const redis = new Redis(REDIS_URL);
  const platform = createPlatformServices({ db: t.db, redis: REDIS_URL, prefix, logger: log });
  try {
    say(`creating ${CONNECTIONS} connections on a one-minute cron`);
    const ws = await t.db.workspace.create({ data: { name: 'bench', slug: prefix } });
    const def = (kind: 'source' | 'destination') =>
      t.db.connectorDefinition.create({
        data: {
          name: `${kind}-${prefix}`,
          displayName: kind,
          kind,
          version: '1.0.0',
          image: `sluice/${kind}:bench`,
          command: ['/bin/true'],
          spec: { connectionSpecification: { type: 'object' } },
        },
      });
    const [sd, dd] = [await def('source'), await def('destination')];
    const source = await t.db.source.create({
      data: { workspaceId: ws.id, definitionId: sd.id, name: 's', config: {} },
    });
    const destination = await t.db.destination.create({
      data: { workspaceId: ws.id, definitionId: dd.id, name: 'd', config: {} },
    });
    const actorCatalog = await t.db.actorCatalog.create({
      data: {
        catalog: catalog as Prisma.InputJsonValue,
        catalogHash: createHash('sha256').update(canonicalJson(catalog)).digest('hex'),
      },
    });
    await t.db.connection.createMany({
      data: Array.from({ length: CONNECTIONS }, (_, i) => ({
        workspaceId: ws.id,
        name: `c${i}`,
        sourceId: source.id,
        destinationId: destination.id,
        sourceCatalogId: actorCatalog.id,
        catalog: {
          streams: [
            {
              stream: { name: 'users' },
              selected: true,
              syncMode: 'incremental',
              destinationSyncMode: 'append_dedup',
              cursorField: ['updated_at'],
              primaryKey: [['id']],
            },
          ],
        },
        scheduleType: 'cron' as const,
        cronExpression: '0 * * * * ?',
        cronTimeZone: 'UTC',
      })),
    });
    const ids = (await t.db.connection.findMany({ select: { id: true } })).map((c) => c.id);

    say(`starting ${PROCESSES} worker process(es), concurrency ${CONCURRENCY} each`);
    const self = fileURLToPath(import.meta.url);
    for (let i = 0; i < PROCESSES; i++) {
      const child = spawn(
        process.execPath,
        [
          ...process.execArgv,
          ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : []),
          self,
          '--role=worker',
          `--url=${t.url}`,
          `--prefix=${prefix}`,
          `--key=${key}`,
          `--concurrency=${CONCURRENCY}`,
          `--processes=${PROCESSES}`,
          `--redis=${REDIS_URL}`,
          ...(args.pool ? [`--pool=${args.pool}`] : []),
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    }

    for (let i = 0; i < ids.length; i += 100)
      await Promise.all(ids.slice(i, i + 100).map((id) => platform.orchestrator.created(id)));
    // Wait until every manager sleeps on its timer.
    for (;;) {
      const stats = await platform.engine.stats();
      if (stats.waiting + stats.sleeping >= CONNECTIONS && stats.running === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // The first instant at least 10 s away is a warm-up; the next TICKS are measured.
    const now = Date.now();
    const warmup = Math.ceil((now + 10_000) / 60_000) * 60_000;
    const measured = Array.from({ length: TICKS }, (_, i) => warmup + (i + 1) * 60_000);
    const last = measured.at(-1)!;
    say(
      `managers sleeping; warm-up tick at ${new Date(warmup).toISOString()}, measuring ${TICKS} tick(s) until ${new Date(last).toISOString()}`,
    );
    const expected = CONNECTIONS * (TICKS + 1);
    for (;;) {
      const n = await t.db.job.count({
        where: { status: 'succeeded', createdAt: { gte: new Date(warmup) } },
      });
      if (Date.now() > last && n >= expected) break;
      if (Date.now() > last + 60_000) {
        say(`only ${n} of ${expected} jobs after the last tick`);
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const jobs = await t.db.job.findMany({ select: { createdAt: true, config: true } });
    const lateness: number[] = [];
    for (const j of jobs) {
      const due = Date.parse((j.config as { scheduledFor?: string }).scheduledFor ?? '');
      if (measured.includes(due)) lateness.push(j.createdAt.getTime() - due);
    }
    lateness.sort((a, b) => a - b);
    const missed = CONNECTIONS * TICKS - lateness.length;
    const out = (metric: string, value: number, unit: string) =>
      process.stdout.write(`${JSON.stringify({ bench: 'schedule-lateness', metric, value, unit })}\n`);
    out('connections', CONNECTIONS, 'count');
    out('jobs', lateness.length, 'count');
    out('missed', missed, 'count');
    out('p50_ms', percentile(lateness, 50), 'ms');
    out('p99_ms', percentile(lateness, 99), 'ms');
    out('max_ms', lateness.at(-1) ?? Number.NaN, 'ms');
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))),
    );
    await platform.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await t.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
