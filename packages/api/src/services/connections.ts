import {
  type Connection,
  type ConnectorDefinition,
  type DbOrTx,
  type Destination,
  type Job,
  type Prisma,
  ResourceRequirements,
  type Source,
} from '@sluice/db';
import { z } from 'zod';
import { ApiError, notFound } from '../errors';
import {
  ConnectionCatalog,
  carryOverCatalog,
  SchemaChange,
  type StreamDescriptor,
  streamKey,
  streamLabel,
  validateConnectionCatalog,
} from '../validation/catalog';
import { validateCronSchedule } from '../validation/cron';
import { CLEARED, catalogById, catalogOfSource, destinationSyncModes, latestCatalog } from './catalogs';
import { asJson, iso, jsonOrNull } from './util';

export const ConnectionSchedule = z.discriminatedUnion('type', [
  z.object({ type: z.literal('manual') }),
  z.object({
    type: z.literal('basic'),
    units: z.int().min(1).max(10_000),
    timeUnit: z.enum(['minutes', 'hours', 'days', 'weeks', 'months']),
  }),
  z.object({
    type: z.literal('cron'),
    /** Quartz syntax, as Airbyte: `0 0 12 * * ?` (see validation/cron.ts). */
    expression: z.string().trim().min(1).max(200),
    timeZone: z.string().trim().min(1).max(64).default('UTC'),
  }),
]);
export type ConnectionSchedule = z.infer<typeof ConnectionSchedule>;

export const NamespaceDefinition = z.enum(['source', 'destination', 'customformat']);
export const NonBreakingChangesPreference = z.enum([
  'ignore',
  'disable',
  'propagate_columns',
  'propagate_fully',
]);

export const ResourceOverrides = z
  .object({
    source: ResourceRequirements.optional(),
    destination: ResourceRequirements.optional(),
    orchestrator: ResourceRequirements.optional(),
  })
  .strict();
export type ResourceOverrides = z.infer<typeof ResourceOverrides>;

/** Settings shared by create and update (all optional on update). */
export const ConnectionSettings = z.object({
  name: z.string().trim().min(1).max(200),
  catalog: ConnectionCatalog,
  /** The discovered catalog the choices refer to; defaults to the source's latest. */
  sourceCatalogId: z.uuid(),
  namespaceDefinition: NamespaceDefinition,
  /** For `customformat`: `${SOURCE_NAMESPACE}` is replaced by the stream's namespace. */
  namespaceFormat: z.string().max(200).nullable(),
  /** Prepended to every destination stream name. */
  prefix: z.string().max(100),
  schedule: ConnectionSchedule,
  resourceOverrides: ResourceOverrides.nullable(),
  nonBreakingChangesPreference: NonBreakingChangesPreference,
  notifySchemaChanges: z.boolean(),
});

export const ConnectionCreate = ConnectionSettings.partial({
  name: true,
  catalog: true,
  sourceCatalogId: true,
  namespaceDefinition: true,
  namespaceFormat: true,
  prefix: true,
  schedule: true,
  resourceOverrides: true,
  nonBreakingChangesPreference: true,
  notifySchemaChanges: true,
}).extend({
  workspaceId: z.uuid(),
  sourceId: z.uuid(),
  destinationId: z.uuid(),
  status: z.enum(['active', 'inactive']).default('active'),
});
export type ConnectionCreate = z.infer<typeof ConnectionCreate>;

export const ConnectionUpdate = ConnectionSettings.partial().extend({ connectionId: z.uuid() });
export type ConnectionUpdate = z.infer<typeof ConnectionUpdate>;

type ConnectionRow = Connection & {
  source: Source & { definition: ConnectorDefinition };
  destination: Destination & { definition: ConnectorDefinition };
  jobs?: Job[];
};

const include = {
  source: { include: { definition: true } },
  destination: { include: { definition: true } },
  jobs: { where: { type: { in: ['sync', 'reset'] } }, orderBy: { createdAt: 'desc' }, take: 1 },
} satisfies Prisma.ConnectionInclude;

function scheduleOf(c: Connection): ConnectionSchedule {
  if (c.scheduleType === 'basic' && c.scheduleUnits && c.scheduleTimeUnit) {
    return { type: 'basic', units: c.scheduleUnits, timeUnit: c.scheduleTimeUnit };
  }
  if (c.scheduleType === 'cron' && c.cronExpression) {
    return { type: 'cron', expression: c.cronExpression, timeZone: c.cronTimeZone ?? 'UTC' };
  }
  return { type: 'manual' };
}

function scheduleColumns(s: ConnectionSchedule) {
  return {
    scheduleType: s.type,
    scheduleUnits: s.type === 'basic' ? s.units : null,
    scheduleTimeUnit: s.type === 'basic' ? s.timeUnit : null,
    cronExpression: s.type === 'cron' ? s.expression : null,
    cronTimeZone: s.type === 'cron' ? s.timeZone : null,
  };
}

export function presentConnection(c: ConnectionRow) {
  const job = c.jobs?.[0];
  const schemaChange = c.schemaChange ? SchemaChange.safeParse(c.schemaChange) : null;
  return {
    id: c.id,
    workspaceId: c.workspaceId,
    name: c.name,
    status: c.status,
    sourceId: c.sourceId,
    destinationId: c.destinationId,
    source: { id: c.source.id, name: c.source.name, definitionName: c.source.definition.displayName },
    destination: {
      id: c.destination.id,
      name: c.destination.name,
      definitionName: c.destination.definition.displayName,
    },
    catalog: ConnectionCatalog.parse(c.catalog),
    sourceCatalogId: c.sourceCatalogId,
    namespaceDefinition: c.namespaceDefinition,
    namespaceFormat: c.namespaceFormat,
    prefix: c.prefix,
    schedule: scheduleOf(c),
    resourceOverrides: (c.resourceOverrides as ResourceOverrides | null) ?? null,
    nonBreakingChangesPreference: c.nonBreakingChangesPreference,
    notifySchemaChanges: c.notifySchemaChanges,
    /** A breaking schema change awaits review: syncs are refused until applySchemaChange. */
    breakingChange: c.breakingChange,
    schemaChange: schemaChange?.success ? schemaChange.data : null,
    schemaChangeDetectedAt: iso(c.schemaChangeDetectedAt),
    latestSyncJob: job
      ? {
          id: job.id,
          type: job.type,
          status: job.status,
          createdAt: iso(job.createdAt)!,
          endedAt: iso(job.endedAt),
        }
      : null,
    createdAt: iso(c.createdAt)!,
    updatedAt: iso(c.updatedAt)!,
  };
}
export type ConnectionView = ReturnType<typeof presentConnection>;

function validateNamespace(definition: string | undefined, format: string | null | undefined) {
  if (definition !== 'customformat') return;
  if (!format?.trim()) {
    throw new ApiError(
      'BAD_REQUEST',
      'namespaceFormat is required when namespaceDefinition is customformat',
      {
        path: 'namespaceFormat',
      },
    );
  }
  const unknown = [...format.matchAll(/\$\{([^}]*)\}/g)]
    .map((m) => m[1])
    .filter((v) => v !== 'SOURCE_NAMESPACE');
  if (unknown.length > 0) {
    throw new ApiError(
      'BAD_REQUEST',
      `namespaceFormat: unknown placeholder \${${unknown[0]}} (only \${SOURCE_NAMESPACE})`,
      {
        path: 'namespaceFormat',
      },
    );
  }
}

function validateSchedule(schedule: ConnectionSchedule | undefined) {
  if (schedule?.type === 'cron') validateCronSchedule(schedule);
}

export async function listConnections(
  db: DbOrTx,
  filter: { workspaceId: string; sourceId?: string | undefined; destinationId?: string | undefined },
) {
  const rows = await db.connection.findMany({
    where: {
      workspaceId: filter.workspaceId,
      status: { not: 'deprecated' },
      ...(filter.sourceId ? { sourceId: filter.sourceId } : {}),
      ...(filter.destinationId ? { destinationId: filter.destinationId } : {}),
    },
    include,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
  return rows.map(presentConnection);
}

export async function getConnectionRow(db: DbOrTx, id: string): Promise<ConnectionRow> {
  const row = await db.connection.findFirst({ where: { id, status: { not: 'deprecated' } }, include });
  if (!row) throw notFound('connection', id);
  return row;
}

export async function getConnection(db: DbOrTx, id: string) {
  return presentConnection(await getConnectionRow(db, id));
}

export async function createConnection(db: DbOrTx, input: ConnectionCreate) {
  const source = await db.source.findFirst({
    where: { id: input.sourceId, workspaceId: input.workspaceId, tombstone: false },
  });
  if (!source) throw new ApiError('NOT_FOUND', `source ${input.sourceId} not found`, { path: 'sourceId' });
  const destination = await db.destination.findFirst({
    where: { id: input.destinationId, workspaceId: input.workspaceId, tombstone: false },
    include: { definition: true },
  });
  if (!destination) {
    throw new ApiError('NOT_FOUND', `destination ${input.destinationId} not found`, {
      path: 'destinationId',
    });
  }
  const discovered = input.sourceCatalogId
    ? await catalogOfSource(db, source.id, input.sourceCatalogId)
    : await latestCatalog(db, source.id);
  if (!discovered) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      `source ${source.name} has no discovered schema yet: run source.discover first`,
      { path: 'sourceId' },
    );
  }
  const destModes = destinationSyncModes(destination);
  // Without choices, every stream is synced with Airbyte's default modes.
  const choices = input.catalog ?? carryOverCatalog({ streams: [] }, discovered.catalog, destModes, true);
  const catalog = validateConnectionCatalog(choices, discovered.catalog, {
    supportedDestinationSyncModes: destModes,
  });
  validateNamespace(input.namespaceDefinition, input.namespaceFormat);
  const schedule = input.schedule ?? { type: 'manual' };
  validateSchedule(schedule);
  const row = await db.connection.create({
    data: {
      workspaceId: input.workspaceId,
      name: input.name ?? `${source.name} → ${destination.name}`,
      sourceId: source.id,
      destinationId: destination.id,
      status: input.status,
      catalog: asJson(catalog),
      sourceCatalogId: discovered.catalogId,
      namespaceDefinition: input.namespaceDefinition ?? 'destination',
      namespaceFormat: input.namespaceDefinition === 'customformat' ? (input.namespaceFormat ?? null) : null,
      prefix: input.prefix ?? '',
      ...scheduleColumns(schedule),
      resourceOverrides: jsonOrNull(input.resourceOverrides),
      nonBreakingChangesPreference: input.nonBreakingChangesPreference ?? 'ignore',
      notifySchemaChanges: input.notifySchemaChanges ?? true,
    },
    include,
  });
  return presentConnection(row);
}

/** Applies a partial update; catalog choices are re-validated against the (possibly new) discovered catalog. */
export async function updateConnection(db: DbOrTx, input: ConnectionUpdate) {
  const current = await getConnectionRow(db, input.connectionId);
  const data: Prisma.ConnectionUpdateInput = {};
  if (input.name !== undefined) data.name = input.name;

  const catalogChanged =
    input.sourceCatalogId !== undefined && input.sourceCatalogId !== current.sourceCatalogId;
  if (input.catalog !== undefined || catalogChanged) {
    const discovered = input.sourceCatalogId
      ? await catalogOfSource(db, current.sourceId, input.sourceCatalogId)
      : current.sourceCatalogId
        ? await catalogById(db, current.sourceCatalogId)
        : await latestCatalog(db, current.sourceId);
    if (!discovered) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        'the source has no discovered schema: run source.discover first',
      );
    }
    const catalog = validateConnectionCatalog(
      input.catalog ?? ConnectionCatalog.parse(current.catalog),
      discovered.catalog,
      {
        supportedDestinationSyncModes: destinationSyncModes(current.destination),
      },
    );
    data.catalog = asJson(catalog);
    data.sourceCatalog = { connect: { id: discovered.catalogId } };
    // Moving to the catalog a pending schema change pointed at settles that change.
    const pending = current.schemaChange ? SchemaChange.safeParse(current.schemaChange) : null;
    if (pending?.success && pending.data.catalogId === discovered.catalogId) Object.assign(data, CLEARED);
  }
  const namespaceDefinition = input.namespaceDefinition ?? current.namespaceDefinition;
  const namespaceFormat =
    input.namespaceFormat !== undefined ? input.namespaceFormat : current.namespaceFormat;
  if (input.namespaceDefinition !== undefined || input.namespaceFormat !== undefined) {
    validateNamespace(namespaceDefinition, namespaceFormat);
    data.namespaceDefinition = namespaceDefinition;
    data.namespaceFormat = namespaceDefinition === 'customformat' ? namespaceFormat : null;
  }
  if (input.prefix !== undefined) data.prefix = input.prefix;
  if (input.schedule !== undefined) {
    validateSchedule(input.schedule);
    Object.assign(data, scheduleColumns(input.schedule));
  }
  if (input.resourceOverrides !== undefined) data.resourceOverrides = jsonOrNull(input.resourceOverrides);
  if (input.nonBreakingChangesPreference !== undefined) {
    data.nonBreakingChangesPreference = input.nonBreakingChangesPreference;
  }
  if (input.notifySchemaChanges !== undefined) data.notifySchemaChanges = input.notifySchemaChanges;
  const row = await db.connection.update({ where: { id: current.id }, data, include });
  return presentConnection(row);
}

export async function setConnectionStatus(db: DbOrTx, id: string, status: 'active' | 'inactive') {
  const current = await getConnectionRow(db, id);
  if (status === 'active' && current.breakingChange) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      'this connection has a breaking schema change to review first (connection.applySchemaChange)',
    );
  }
  const row = await db.connection.update({ where: { id }, data: { status }, include });
  return { connection: presentConnection(row), changed: current.status !== status };
}

/** Soft delete: the connection is deprecated and kept for its job history. */
export async function deleteConnection(db: DbOrTx, id: string) {
  await getConnectionRow(db, id);
  await db.connection.update({ where: { id }, data: { status: 'deprecated' } });
  return { id, deleted: true as const };
}

/** A sync, cancel or reset needs a connection that may sync. */
export function assertSyncable(c: ConnectionView, action: string) {
  if (c.breakingChange) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      `cannot ${action}: a breaking schema change awaits review (connection.applySchemaChange)`,
    );
  }
}

/** Streams to reset must be configured streams of the connection. */
export function assertStreamsConfigured(c: ConnectionView, streams: StreamDescriptor[]) {
  const configured = new Set(c.catalog.streams.map((s) => streamKey(s.stream)));
  streams.forEach((s, i) => {
    if (!configured.has(streamKey(s))) {
      throw new ApiError('BAD_REQUEST', `stream ${streamLabel(s)} is not part of this connection`, {
        path: `streams[${i}]`,
      });
    }
  });
}

/**
 * Adopts the catalog a pending schema change points at. Without `catalog`, the current
 * choices carry over (removed streams and fields dropped, new streams added unselected);
 * with it, the caller's choices are validated against the new catalog. A breaking change
 * usually needs the caller's choices (a new cursor or key).
 */
export async function applySchemaChange(db: DbOrTx, id: string, catalog: ConnectionCatalog | undefined) {
  const current = await getConnectionRow(db, id);
  const pending = current.schemaChange ? SchemaChange.safeParse(current.schemaChange) : null;
  if (!pending?.success)
    throw new ApiError('PRECONDITION_FAILED', 'this connection has no schema change to review');
  const discovered = await catalogById(db, pending.data.catalogId);
  const destModes = destinationSyncModes(current.destination);
  const choices =
    catalog ??
    carryOverCatalog(ConnectionCatalog.parse(current.catalog), discovered.catalog, destModes, false);
  let valid: ConnectionCatalog;
  try {
    valid = validateConnectionCatalog(choices, discovered.catalog, {
      supportedDestinationSyncModes: destModes,
    });
  } catch (err) {
    if (err instanceof ApiError && !catalog) {
      throw new ApiError(
        'BAD_REQUEST',
        `the current choices do not fit the new schema (${err.message}); pass catalog with new choices`,
        { path: 'catalog' },
      );
    }
    throw err;
  }
  const row = await db.connection.update({
    where: { id },
    data: { catalog: asJson(valid), sourceCatalogId: discovered.catalogId, ...CLEARED },
    include,
  });
  return presentConnection(row);
}

/** The committed state per stream (and GLOBAL's shared state), as the next sync starts from. */
export async function readState(db: DbOrTx, connectionId: string) {
  const [connection, rows] = await Promise.all([
    db.connection.findUniqueOrThrow({
      where: { id: connectionId },
      select: { stateVersion: true, stateGeneration: true },
    }),
    db.connectionState.findMany({
      where: { connectionId },
      orderBy: [{ streamNamespace: 'asc' }, { streamName: 'asc' }],
    }),
  ]);
  const shared = rows.find((r) => r.streamName === '' && r.streamNamespace === '');
  return {
    connectionId,
    /** STREAM, GLOBAL or LEGACY; null before the first committed state. */
    type: rows[0]?.type ?? null,
    sharedState: shared ? shared.state : null,
    streams: rows
      .filter((r) => r.streamName !== '')
      .map((r) => ({
        name: r.streamName,
        namespace: r.streamNamespace || null,
        state: r.state,
        updatedAt: iso(r.updatedAt)!,
      })),
    version: Number(connection.stateVersion),
    generation: connection.stateGeneration,
  };
}
