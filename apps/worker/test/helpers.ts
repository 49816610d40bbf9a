import { createHash, randomBytes } from 'node:crypto';
import { SecretBox } from '@sluice/api';
import { canonicalJson, type Db, type Prisma } from '@sluice/db';
import type { AirbyteCatalog } from '@sluice/protocol';
import { createLogger } from '@sluice/shared';
import { Redis } from 'ioredis';
import type { RunningWorker } from '../src';
import {
  type ExecutionContext,
  type ExecutionResult,
  type ScriptedLauncher,
  startScriptedLauncher,
  type WorkloadExecutor,
} from './scripted-launcher';

/** Stored JSON in assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions walk stored JSON of any shape
export type Loose = any;

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const quiet = createLogger('worker.test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export const uniquePrefix = (tag: string) => `wkt-${tag}-${randomBytes(4).toString('hex')}`;

export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // The test's own Redis may be gone already.
  } finally {
    r.disconnect();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const testKey = () => randomBytes(32);
export const testBox = (key = testKey()) => new SecretBox(key);

export const SOURCE_SPEC = {
  connectionSpecification: {
    type: 'object',
    required: ['host'],
    properties: { host: { type: 'string' }, api_key: { type: 'string', airbyte_secret: true } },
  },
};
export const DESTINATION_SPEC = {
  supported_destination_sync_modes: ['overwrite', 'append', 'append_dedup'],
  connectionSpecification: { type: 'object', properties: { path: { type: 'string' } } },
};

export function testCatalog(opts: { withProducts?: boolean; usersFields?: string[] } = {}): AirbyteCatalog {
  const fields = opts.usersFields ?? ['id', 'updated_at', 'name'];
  const props = Object.fromEntries(fields.map((f) => [f, { type: f === 'id' ? 'integer' : 'string' }]));
  const streams: AirbyteCatalog['streams'] = [
    {
      name: 'users',
      json_schema: { type: 'object', properties: props },
      supported_sync_modes: ['full_refresh', 'incremental'],
      source_defined_cursor: true,
      default_cursor_field: ['updated_at'],
      source_defined_primary_key: [['id']],
    },
  ];
  if (opts.withProducts !== false) {
    streams.push({
      name: 'products',
      json_schema: { type: 'object', properties: { id: { type: 'integer' }, title: { type: 'string' } } },
      supported_sync_modes: ['full_refresh'],
    });
  }
  return { streams };
}

export const connectionCatalog = (withProducts = true) => ({
  streams: [
    {
      stream: { name: 'users' },
      selected: true,
      syncMode: 'incremental',
      destinationSyncMode: 'append_dedup',
      cursorField: ['updated_at'],
      primaryKey: [['id']],
    },
    ...(withProducts
      ? [
          {
            stream: { name: 'products' },
            selected: true,
            syncMode: 'full_refresh',
            destinationSyncMode: 'overwrite',
          },
        ]
      : []),
  ],
});

export async function storeCatalog(db: Db, sourceId: string, catalog: AirbyteCatalog): Promise<string> {
  const catalogHash = createHash('sha256').update(canonicalJson(catalog)).digest('hex');
  const row = await db.actorCatalog.upsert({
    where: { catalogHash },
    create: { catalog: catalog as Prisma.InputJsonValue, catalogHash },
    update: {},
  });
  await db.actorCatalogFetchEvent.create({
    data: { actorCatalogId: row.id, sourceId, configHash: 'test', connectorVersion: '0.1.0' },
  });
  return row.id;
}

export interface Fixture {
  workspaceId: string;
  sourceId: string;
  destinationId: string;
  sourceDefinitionId: string;
  destinationDefinitionId: string;
}

/** A workspace with a source and a destination (definitions with specs), once per test file. */
export async function createFixture(db: Db, box: SecretBox): Promise<Fixture> {
  const s = randomBytes(4).toString('hex');
  const ws = await db.workspace.create({ data: { name: `W ${s}`, slug: `w-${s}` } });
  const def = (kind: 'source' | 'destination', spec: object) =>
    db.connectorDefinition.create({
      data: {
        name: `${kind}-test-${s}`,
        displayName: `Test ${kind}`,
        kind,
        version: '0.1.0',
        image: `sluice/${kind}-test:dev`,
        command: ['/bin/true'],
        spec: spec as Prisma.InputJsonValue,
        resources: { memoryLimitMb: 256 },
      },
    });
  const sd = await def('source', SOURCE_SPEC);
  const dd = await def('destination', DESTINATION_SPEC);
  const source = await db.source.create({
    data: {
      workspaceId: ws.id,
      definitionId: sd.id,
      name: 'src',
      config: { host: 'h', api_key: box.seal('secret-key-value') } as Prisma.InputJsonValue,
    },
  });
  const destination = await db.destination.create({
    data: { workspaceId: ws.id, definitionId: dd.id, name: 'dst', config: { path: '/tmp/x' } },
  });
  return {
    workspaceId: ws.id,
    sourceId: source.id,
    destinationId: destination.id,
    sourceDefinitionId: sd.id,
    destinationDefinitionId: dd.id,
  };
}

export async function createConnection(
  db: Db,
  f: Fixture,
  opts: {
    catalog?: AirbyteCatalog;
    schedule?: Partial<Prisma.ConnectionUncheckedCreateInput>;
    withProducts?: boolean;
    status?: 'active' | 'inactive';
    nonBreakingChangesPreference?: 'ignore' | 'disable' | 'propagate_columns' | 'propagate_fully';
    prefix?: string;
  } = {},
): Promise<string> {
  const catalogId = await storeCatalog(db, f.sourceId, opts.catalog ?? testCatalog());
  const c = await db.connection.create({
    data: {
      workspaceId: f.workspaceId,
      name: `conn-${randomBytes(3).toString('hex')}`,
      sourceId: f.sourceId,
      destinationId: f.destinationId,
      catalog: connectionCatalog(opts.withProducts ?? true) as Prisma.InputJsonValue,
      sourceCatalogId: catalogId,
      status: opts.status ?? 'active',
      nonBreakingChangesPreference: opts.nonBreakingChangesPreference ?? 'ignore',
      prefix: opts.prefix ?? '',
      ...(opts.schedule ?? {}),
    },
  });
  return c.id;
}

export type Script = (ctx: ExecutionContext) => Promise<ExecutionResult>;

/**
 * An executor whose behaviour tests choose per workload type. Defaults: discover returns the
 * catalog `catalog()` gives; a sync commits one state per stream and succeeds.
 */
export function scriptedExecutor(
  opts: {
    catalog?: () => AirbyteCatalog;
    sync?: Script;
    discover?: Script;
    check?: Script;
    spec?: Script;
  } = {},
) {
  const executed: { id: string; type: string; start: number; end: number; input: Record<string, unknown> }[] =
    [];
  const executor: WorkloadExecutor = {
    async execute(ctx) {
      const start = Date.now();
      try {
        const type = ctx.workload.type;
        const script = opts[type as 'sync' | 'discover' | 'check' | 'spec'];
        if (script) return await script(ctx);
        if (type === 'discover')
          return { status: 'success', output: { catalog: (opts.catalog ?? (() => testCatalog()))() } };
        if (type === 'sync') return await commitAll(ctx);
        if (type === 'check')
          return { status: 'success', output: { connectionStatus: { status: 'SUCCEEDED' } } };
        return { status: 'success', output: { spec: SOURCE_SPEC } };
      } finally {
        executed.push({
          id: ctx.workload.id,
          type: ctx.workload.type,
          start,
          end: Date.now(),
          input: ctx.input,
        });
      }
    },
  };
  return { executor, executed };
}

/** A sync that commits one state per configured stream (a counter one above the input's) and records. */
export async function commitAll(ctx: ExecutionContext, records = 10): Promise<ExecutionResult> {
  const catalog = ctx.input.catalog as { streams: { stream: { name: string; namespace?: string } }[] };
  const previous = new Map<string, number>();
  for (const s of (ctx.input.state as {
    stream?: { stream_descriptor: { name: string }; stream_state: { n?: number } };
  }[]) ?? []) {
    if (s.stream) previous.set(s.stream.stream_descriptor.name, s.stream.stream_state.n ?? 0);
  }
  const states = catalog.streams.map((s) => ({
    type: 'STREAM',
    stream: {
      stream_descriptor: { name: s.stream.name },
      stream_state: { n: (previous.get(s.stream.name) ?? 0) + 1 },
    },
  }));
  if (states.length > 0) await ctx.reportState(states);
  ctx.setStats(
    catalog.streams.map((s) => ({
      stream: { name: s.stream.name },
      recordsEmitted: records,
      bytesEmitted: records * 100,
      recordsCommitted: records,
      bytesCommitted: records * 100,
    })),
  );
  return { status: 'success', output: { ok: true } };
}

/** Waits until the signal aborts (a cancelled workload), then reports failure. */
export function untilAborted(onStart?: () => void): Script {
  return (ctx) =>
    new Promise<ExecutionResult>((resolve) => {
      onStart?.();
      if (ctx.signal.aborted) resolve({ status: 'failure', reason: 'aborted' });
      ctx.signal.addEventListener('abort', () => resolve({ status: 'failure', reason: 'aborted' }), {
        once: true,
      });
    });
}

export async function jobsOf(db: Db, connectionId: string) {
  return db.job.findMany({
    where: { connectionId },
    orderBy: { createdAt: 'asc' },
    include: { attempts: { orderBy: { attemptNumber: 'asc' } } },
  });
}

export async function waitForJobs(db: Db, connectionId: string, n: number, timeoutMs = 20_000) {
  return waitFor(
    `${n} finished jobs of ${connectionId}`,
    async () => {
      const jobs = await jobsOf(db, connectionId);
      const done = jobs.filter((j) => ['succeeded', 'failed', 'cancelled'].includes(j.status));
      return done.length >= n ? jobs : null;
    },
    timeoutMs,
  );
}

/** The scripted dataplane next to a worker in this process, on the worker's Workload service. */
export async function startScripted(
  worker: RunningWorker,
  executor: WorkloadExecutor,
  opts: { prefix: string; redis?: string; heartbeatIntervalMs?: number; concurrency?: number },
): Promise<ScriptedLauncher> {
  const launcher = startScriptedLauncher({
    service: worker.service,
    connection: opts.redis ?? REDIS_URL,
    prefix: opts.prefix,
    executor,
    concurrency: opts.concurrency ?? 4,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 200,
    logger: quiet,
  });
  await launcher.waitUntilReady();
  return launcher;
}
