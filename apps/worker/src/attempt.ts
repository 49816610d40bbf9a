import {
  applyDiscoveredSchema,
  configHash,
  SCHEMA_CONNECTION_INCLUDE,
  storeDiscoveredCatalog,
} from '@sluice/api';
import type { ConnectorDefinition, Prisma } from '@sluice/db';
import {
  connectionMutexKey,
  type FailureReason,
  type JobSnapshot,
  platformFailure,
  streamLabel,
  WORKLOAD_SIGNAL,
  type WorkloadOutcome,
  workloadIdFor,
} from '@sluice/platform';
import { AirbyteCatalog } from '@sluice/protocol';
import type { ConnectorInput, CreateWorkload, WorkloadInput } from '@sluice/workload';
import { configuredCatalogFor } from './catalog';
import type { WorkflowDeps } from './deps';
import { readJobConfig } from './jobs';
import { notify, schemaEventPayload } from './notifications';

const asJson = (v: unknown) => v as Prisma.InputJsonValue;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export type Prepared =
  | { kind: 'created'; workloadId: string; outcome: WorkloadOutcome | null }
  | { kind: 'failed'; failures: FailureReason[] };

export interface AttemptRef {
  jobId: string;
  attemptId: string;
  attemptNumber: number;
  /** The workflow the completion signal goes to. */
  workflowId: string;
}

function configError(message: string, origin: FailureReason['failureOrigin'] = 'platform'): Prepared {
  return {
    kind: 'failed',
    failures: [{ ...platformFailure(message, 'config_error', false), failureOrigin: origin }],
  };
}

function resources(def: ConnectorDefinition, override: unknown): Record<string, unknown> | null {
  const base = isObject(def.resources) ? def.resources : {};
  const extra = isObject(override) ? override : {};
  const merged = { ...base, ...extra };
  return Object.keys(merged).length > 0 ? merged : null;
}

function connectorInput(
  role: 'source' | 'destination',
  actor: { id: string; definitionId: string; config: unknown },
  def: ConnectorDefinition,
  override: unknown,
): ConnectorInput {
  return {
    actorId: actor.id,
    actorType: role,
    definitionId: actor.definitionId,
    image: def.image,
    ...(def.command.length > 0 ? { command: def.command } : {}),
    version: def.version,
    supportsSocket: def.supportsSocket,
    network: def.network,
    resources: resources(def, override),
    config: (actor.config ?? {}) as Record<string, unknown>,
  };
}

const overrideOf = (snapshot: JobSnapshot, role: 'source' | 'destination') =>
  isObject(snapshot.connection.resourceOverrides) ? snapshot.connection.resourceOverrides[role] : undefined;

/** Whether this attempt runs discover first (the source's catalog is older than the configured age). */
export async function shouldDiscover(deps: WorkflowDeps, jobId: string): Promise<boolean> {
  if (deps.config.discoverMaxAgeMs <= 0) return true;
  const { snapshot } = await readJobConfig(deps.db, jobId);
  const recent = await deps.db.actorCatalogFetchEvent.findFirst({
    where: {
      sourceId: snapshot.source.actorId,
      createdAt: { gt: new Date(Date.now() - deps.config.discoverMaxAgeMs) },
    },
    select: { id: true },
  });
  return recent === null;
}

export async function createDiscoverWorkload(deps: WorkflowDeps, a: AttemptRef): Promise<Prepared> {
  const { snapshot } = await readJobConfig(deps.db, a.jobId);
  const source = await deps.db.source.findUnique({
    where: { id: snapshot.source.actorId },
    include: { definition: true },
  });
  if (!source || source.tombstone) return configError("the connection's source was deleted", 'source');
  const input: WorkloadInput = {
    jobId: a.jobId,
    attemptNumber: a.attemptNumber,
    workspaceId: snapshot.connection.workspaceId,
    connector: connectorInput('source', source, source.definition, overrideOf(snapshot, 'source')),
  };
  const id = workloadIdFor(a.jobId, a.attemptNumber, 'discover');
  const args: CreateWorkload = {
    id,
    type: 'discover',
    input,
    dataplaneGroup: snapshot.connection.dataplaneGroup,
    attemptId: a.attemptId,
    signalInput: { workflowId: a.workflowId, signalName: WORKLOAD_SIGNAL },
  };
  return { kind: 'created', workloadId: id, outcome: await deps.workloads.create(args) };
}

export async function createSyncWorkload(deps: WorkflowDeps, a: AttemptRef): Promise<Prepared> {
  const { config, snapshot, type } = await readJobConfig(deps.db, a.jobId);
  const c = await deps.db.connection.findUnique({
    where: { id: snapshot.connection.id },
    include: {
      sourceCatalog: true,
      source: { include: { definition: true } },
      destination: { include: { definition: true } },
    },
  });
  if (!c) return configError('the connection no longer exists');
  if (c.source.tombstone) return configError("the connection's source was deleted", 'source');
  if (c.destination.tombstone) return configError("the connection's destination was deleted", 'destination');
  const discovered = AirbyteCatalog.safeParse(c.sourceCatalog?.catalog);
  if (!discovered.success)
    return configError('the connection has no discovered source schema: run discover on its source');
  const catalog = configuredCatalogFor({
    catalog: snapshot.catalog,
    discovered: discovered.data,
    resetStreams: type === 'reset' ? snapshot.streams : null,
    generations: snapshot.streamGenerations,
    syncId: snapshot.syncId,
  });
  if (catalog.streams.length === 0) {
    return configError(
      type === 'reset'
        ? 'none of the streams to reset is part of the connection any more'
        : 'the connection has no selected stream to sync',
    );
  }
  const input: WorkloadInput = {
    jobId: a.jobId,
    attemptNumber: a.attemptNumber,
    workspaceId: snapshot.connection.workspaceId,
    connectionId: snapshot.connection.id,
    jobType: type,
    trigger: config.trigger ?? 'manual',
    source: connectorInput('source', c.source, c.source.definition, overrideOf(snapshot, 'source')),
    destination: connectorInput(
      'destination',
      c.destination,
      c.destination.definition,
      overrideOf(snapshot, 'destination'),
    ),
    catalog,
    namespaceDefinition: snapshot.connection.namespaceDefinition,
    namespaceFormat: snapshot.connection.namespaceFormat,
    prefix: snapshot.connection.prefix,
    syncId: snapshot.syncId,
    ...(isObject(snapshot.connection.resourceOverrides) && snapshot.connection.resourceOverrides.orchestrator
      ? { orchestratorResources: snapshot.connection.resourceOverrides.orchestrator }
      : {}),
  };
  const id = workloadIdFor(a.jobId, a.attemptNumber, 'sync');
  const outcome = await deps.workloads.create({
    id,
    type: 'sync',
    input,
    dataplaneGroup: snapshot.connection.dataplaneGroup,
    mutexKey: connectionMutexKey(snapshot.connection.id),
    attemptId: a.attemptId,
    signalInput: { workflowId: a.workflowId, signalName: WORKLOAD_SIGNAL },
  });
  return { kind: 'created', workloadId: id, outcome };
}

// ---------------------------------------------------------------------------------------------
// Schema changes found by the discover that starts an attempt

export type SchemaOutcome =
  | { action: 'unchanged' | 'propagated' | 'recorded' }
  | { action: 'disabled' | 'breaking'; reason: string }
  | { action: 'failed'; failures: FailureReason[] };

/**
 * Stores the catalog the discover returned and compares it with the one the connection was
 * configured from, through the API's `applyDiscoveredSchema` (the same rules as a discover from
 * the Config API): a breaking change (a selected stream gone, its cursor or a primary-key field
 * gone, its sync mode unsupported) is recorded for review and fails the job; a non-breaking one
 * is ignored (recorded), propagated — into this job's snapshot too — or disables the connection
 * (the job ends cancelled), as the connection's preference says. Notifications follow.
 */
export async function applyDiscoveredCatalog(
  deps: WorkflowDeps,
  a: AttemptRef,
  workloadId: string,
): Promise<SchemaOutcome> {
  const { db } = deps;
  const output = await deps.workloads.output(workloadId);
  const parsed = AirbyteCatalog.safeParse(isObject(output) ? output.catalog : undefined);
  if (!parsed.success) {
    return {
      action: 'failed',
      failures: [
        { ...platformFailure('discover finished without a valid catalog'), failureOrigin: 'source' },
      ],
    };
  }
  const next = parsed.data;
  const { snapshot } = await readJobConfig(db, a.jobId);
  const c = await db.connection.findUnique({
    where: { id: snapshot.connection.id },
    include: { ...SCHEMA_CONNECTION_INCLUDE, source: { include: { definition: true } } },
  });
  if (!c)
    return {
      action: 'failed',
      failures: [platformFailure('the connection no longer exists', 'config_error', false)],
    };
  const catalogId = await storeDiscoveredCatalog(db, {
    sourceId: c.sourceId,
    catalog: next,
    configHash: configHash(c.source.config),
    connectorVersion: c.source.definition.version,
  });
  const applied = await db.$transaction(async (tx) => {
    const r = await applyDiscoveredSchema(tx, c, catalogId, next);
    if (r.action === 'propagated' && r.catalog) {
      // The running job syncs the propagated catalog too.
      const job = await tx.job.findUniqueOrThrow({ where: { id: a.jobId }, select: { config: true } });
      const config = job.config as Record<string, unknown>;
      await tx.job.update({
        where: { id: a.jobId },
        data: {
          config: asJson({
            ...config,
            snapshot: { ...(config.snapshot as object), catalog: r.catalog, sourceCatalogId: catalogId },
          }),
        },
      });
    }
    return r;
  });
  const change = applied.change;
  if (applied.action === 'unchanged' || applied.action === 'cleared' || !change)
    return { action: 'unchanged' };

  const describe = change.streams
    .slice(0, 10)
    .map((s) => `${streamLabel(s.stream)} ${s.breakingReason ?? s.change}`)
    .join('; ');
  const event = async (
    name: 'non_breaking_schema_change' | 'breaking_schema_change' | 'sync_disabled',
    reason: string,
  ) => {
    if (applied.alreadyRecorded || (name !== 'sync_disabled' && !c.notifySchemaChanges)) return;
    const eventId = `${a.jobId}:${a.attemptNumber}:${name}`;
    const payload = await schemaEventPayload(db, {
      eventId,
      event: name,
      connectionId: c.id,
      reason,
      schemaChange: change,
    });
    if (payload) await notify(deps, { eventId, workspaceId: c.workspaceId, event: name, payload });
  };

  if (applied.breaking) {
    const reason = `breaking schema change: ${change.streams
      .filter((s) => s.breakingReason)
      .map((s) => `stream ${streamLabel(s.stream)}: ${s.breakingReason}`)
      .join('; ')}; review it (connection.applySchemaChange) before the next sync`;
    await event('breaking_schema_change', reason);
    return { action: 'breaking', reason };
  }
  if (applied.action === 'propagated') {
    await event('non_breaking_schema_change', `propagated: ${describe}`);
    return { action: 'propagated' };
  }
  if (applied.action === 'disabled') {
    const reason = `the source schema changed (${describe}) and the connection is set to be disabled on schema changes`;
    await event('non_breaking_schema_change', describe);
    await event('sync_disabled', reason);
    return { action: 'disabled', reason };
  }
  await event('non_breaking_schema_change', describe);
  return { action: 'recorded' };
}
