import { createHash } from 'node:crypto';
import { canonicalJson, type DbOrTx, type Destination, Prisma } from '@sluice/db';
import { AirbyteCatalog, type ConnectorSpecification, type DestinationSyncMode } from '@sluice/protocol';
import { notFound } from '../errors';
import {
  ConnectionCatalog,
  carryOverCatalog,
  diffCatalogs,
  SchemaChange,
  validateConnectionCatalog,
} from '../validation/catalog';
import { asJson, iso } from './util';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Hash of a stored config (secrets sealed): the discover cache key, with the connector version. */
export const configHash = (storedConfig: unknown) => sha256(canonicalJson(storedConfig));

/** Stores a discovered catalog once per distinct content and records the fetch. */
export async function storeDiscoveredCatalog(
  db: DbOrTx,
  input: { sourceId: string; catalog: AirbyteCatalog; configHash: string; connectorVersion: string },
): Promise<string> {
  const catalogHash = sha256(canonicalJson(input.catalog));
  const row = await db.actorCatalog.upsert({
    where: { catalogHash },
    create: { catalog: asJson(input.catalog), catalogHash },
    update: {},
    select: { id: true },
  });
  await db.actorCatalogFetchEvent.create({
    data: {
      actorCatalogId: row.id,
      sourceId: input.sourceId,
      configHash: input.configHash,
      connectorVersion: input.connectorVersion,
    },
  });
  return row.id;
}

export function presentCatalog(row: { id: string; catalog: unknown; createdAt: Date }, fetchedAt?: Date) {
  return {
    catalogId: row.id,
    catalog: AirbyteCatalog.parse(row.catalog),
    fetchedAt: iso(fetchedAt ?? row.createdAt)!,
  };
}

/** The source's most recently discovered catalog, or null when it was never discovered. */
export async function latestCatalog(
  db: DbOrTx,
  sourceId: string,
  match?: { configHash: string; connectorVersion: string },
) {
  const event = await db.actorCatalogFetchEvent.findFirst({
    where: { sourceId, ...(match ?? {}) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    include: { actorCatalog: true },
  });
  return event ? presentCatalog(event.actorCatalog, event.createdAt) : null;
}

/** A catalog this source produced, or NOT_FOUND (a client may not borrow another source's). */
export async function catalogOfSource(db: DbOrTx, sourceId: string, catalogId: string) {
  const event = await db.actorCatalogFetchEvent.findFirst({
    where: { sourceId, actorCatalogId: catalogId },
    include: { actorCatalog: true },
  });
  if (!event) throw notFound('discovered catalog', catalogId);
  return presentCatalog(event.actorCatalog, event.createdAt);
}

export async function catalogById(db: DbOrTx, catalogId: string) {
  const row = await db.actorCatalog.findUnique({ where: { id: catalogId } });
  if (!row) throw notFound('discovered catalog', catalogId);
  return presentCatalog(row);
}

export function destinationSyncModes(
  destination: Destination & { definition: { spec: unknown } },
): DestinationSyncMode[] | undefined {
  return (destination.definition.spec as ConnectorSpecification | null)?.supported_destination_sync_modes;
}

export interface SchemaChangeOutcome {
  connectionId: string;
  action: 'recorded' | 'disabled' | 'propagated' | 'cleared';
  breaking: boolean;
}

/** What `applyDiscoveredSchema` needs of a connection. */
export const SCHEMA_CONNECTION_INCLUDE = {
  sourceCatalog: true,
  destination: { include: { definition: true } },
} satisfies Prisma.ConnectionInclude;
export type SchemaConnection = Prisma.ConnectionGetPayload<{ include: typeof SCHEMA_CONNECTION_INCLUDE }>;

export interface AppliedSchema {
  connectionId: string;
  /**
   * `unchanged`: nothing to review (the same catalog, or a difference no choice depends on,
   * adopted silently); `cleared`: a change awaiting review went away; `recorded`: kept for review
   * (breaking ones stop syncs); `disabled`: recorded and the connection disabled (its
   * preference); `propagated`: the connection's catalog follows the source (its preference).
   */
  action: 'unchanged' | SchemaChangeOutcome['action'];
  breaking: boolean;
  /** The change, unless `unchanged` or `cleared`. */
  change: SchemaChange | null;
  /** An earlier discover recorded this same change already (its notifications went out then). */
  alreadyRecorded: boolean;
  /** `propagated`: the connection's new catalog. */
  catalog: ConnectionCatalog | null;
}

/**
 * Compares one connection with its source's newly discovered catalog (already stored as
 * `catalogId`) and acts as Airbyte does. A breaking change is always kept for review
 * (`breakingChange`: syncs stop). A non-breaking one follows the connection's preference:
 * `ignore` records it for review, `disable` also disables the connection, `propagate_columns` /
 * `propagate_fully` apply it (fully: new streams selected too) when the result is still a valid
 * configuration, else it is recorded. Give it a transaction to make further writes atomic with it.
 */
export async function applyDiscoveredSchema(
  db: DbOrTx,
  c: SchemaConnection,
  catalogId: string,
  catalog: AirbyteCatalog,
): Promise<AppliedSchema> {
  const result = (
    action: AppliedSchema['action'],
    extra: Partial<Omit<AppliedSchema, 'connectionId' | 'action'>> = {},
  ): AppliedSchema => ({
    connectionId: c.id,
    action,
    breaking: false,
    change: null,
    alreadyRecorded: false,
    catalog: null,
    ...extra,
  });
  if (c.sourceCatalogId === catalogId) {
    if (c.schemaChange === null) return result('unchanged');
    await db.connection.update({ where: { id: c.id }, data: CLEARED });
    return result('cleared');
  }
  const previous = AirbyteCatalog.safeParse(c.sourceCatalog?.catalog);
  if (!previous.success) {
    // Nothing to compare with: the new catalog becomes the reference.
    await db.connection.update({ where: { id: c.id }, data: { sourceCatalogId: catalogId } });
    return result('unchanged');
  }
  const configured = ConnectionCatalog.parse(c.catalog);
  const diff = diffCatalogs(previous.data, catalog, configured);
  if (diff.streams.length === 0) {
    // Same streams and fields (descriptions or ordering changed): adopt silently.
    await db.connection.update({ where: { id: c.id }, data: { sourceCatalogId: catalogId, ...CLEARED } });
    return result(c.schemaChange === null ? 'unchanged' : 'cleared');
  }
  const recorded = SchemaChange.safeParse(c.schemaChange);
  const alreadyRecorded =
    recorded.success && recorded.data.catalogId === catalogId && recorded.data.breaking === diff.breaking;
  const change: SchemaChange = alreadyRecorded
    ? recorded.data!
    : {
        catalogId,
        previousCatalogId: c.sourceCatalogId,
        breaking: diff.breaking,
        streams: diff.streams,
        detectedAt: new Date().toISOString(),
      };
  const pref = c.nonBreakingChangesPreference;
  if (!diff.breaking && (pref === 'propagate_columns' || pref === 'propagate_fully')) {
    const destModes = destinationSyncModes(c.destination);
    let valid: ConnectionCatalog | null = null;
    try {
      valid = validateConnectionCatalog(
        carryOverCatalog(configured, catalog, destModes, pref === 'propagate_fully'),
        catalog,
        { supportedDestinationSyncModes: destModes },
      );
    } catch {
      valid = null;
    }
    if (valid) {
      await db.connection.update({
        where: { id: c.id },
        data: { catalog: asJson(valid), sourceCatalogId: catalogId, ...CLEARED },
      });
      return result('propagated', { change, catalog: valid });
    }
  }
  const disable = !diff.breaking && pref === 'disable' && c.status === 'active';
  if (!alreadyRecorded || disable || c.breakingChange !== diff.breaking) {
    await db.connection.update({
      where: { id: c.id },
      data: {
        ...(alreadyRecorded
          ? {}
          : { schemaChange: asJson(change), schemaChangeDetectedAt: new Date(change.detectedAt) }),
        breakingChange: diff.breaking,
        ...(disable ? { status: 'inactive' } : {}),
      },
    });
  }
  return result(disable ? 'disabled' : 'recorded', { breaking: diff.breaking, change, alreadyRecorded });
}

/** After a discover: `applyDiscoveredSchema` on each of the source's connections. */
export async function detectSchemaChanges(
  db: DbOrTx,
  sourceId: string,
  catalogId: string,
  catalog: AirbyteCatalog,
): Promise<SchemaChangeOutcome[]> {
  const connections = await db.connection.findMany({
    where: { sourceId, status: { not: 'deprecated' } },
    include: SCHEMA_CONNECTION_INCLUDE,
  });
  const outcomes: SchemaChangeOutcome[] = [];
  for (const c of connections) {
    const applied = await applyDiscoveredSchema(db, c, catalogId, catalog);
    if (applied.action !== 'unchanged')
      outcomes.push({ connectionId: c.id, action: applied.action, breaking: applied.breaking });
  }
  return outcomes;
}

/** No change awaiting review. */
export const CLEARED = { schemaChange: Prisma.DbNull, breakingChange: false, schemaChangeDetectedAt: null };
