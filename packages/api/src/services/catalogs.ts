import { createHash } from 'node:crypto';
import { type Connection, canonicalJson, type DbOrTx, type Destination, Prisma } from '@sluice/db';
import { AirbyteCatalog, type ConnectorSpecification, type DestinationSyncMode } from '@sluice/protocol';
import { notFound } from '../errors';
import {
  ConnectionCatalog,
  carryOverCatalog,
  diffCatalogs,
  type SchemaChange,
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

/**
 * After a discover: compares each of the source's connections with the new catalog and acts
 * on its non-breaking-changes preference, as Airbyte does. A breaking change is always kept
 * for review (`breakingChange`: syncs stop). Otherwise `ignore` records the change for review,
 * `disable` also disables the connection, and `propagate_columns` / `propagate_fully` apply it
 * (fully: new streams selected too) when the result is still a valid configuration.
 */
export async function detectSchemaChanges(
  db: DbOrTx,
  sourceId: string,
  catalogId: string,
  catalog: AirbyteCatalog,
): Promise<SchemaChangeOutcome[]> {
  const connections = await db.connection.findMany({
    where: { sourceId, status: { not: 'deprecated' } },
    include: { sourceCatalog: true, destination: { include: { definition: true } } },
  });
  const outcomes: SchemaChangeOutcome[] = [];
  for (const c of connections) {
    if (!c.sourceCatalog || c.sourceCatalogId === catalogId) {
      if (c.schemaChange !== null && c.sourceCatalogId === catalogId) {
        await clearSchemaChange(db, c);
        outcomes.push({ connectionId: c.id, action: 'cleared', breaking: false });
      }
      continue;
    }
    const configured = ConnectionCatalog.parse(c.catalog);
    const previous = AirbyteCatalog.parse(c.sourceCatalog.catalog);
    const diff = diffCatalogs(previous, catalog, configured);
    const destModes = destinationSyncModes(c.destination);
    if (diff.streams.length === 0) {
      // Same streams and fields (descriptions or ordering changed): adopt silently.
      await db.connection.update({ where: { id: c.id }, data: { sourceCatalogId: catalogId, ...CLEARED } });
      continue;
    }
    const change: SchemaChange = {
      catalogId,
      previousCatalogId: c.sourceCatalogId,
      breaking: diff.breaking,
      streams: diff.streams,
      detectedAt: new Date().toISOString(),
    };
    const pref = c.nonBreakingChangesPreference;
    if (!diff.breaking && (pref === 'propagate_columns' || pref === 'propagate_fully')) {
      const next = carryOverCatalog(configured, catalog, destModes, pref === 'propagate_fully');
      let valid: ConnectionCatalog | null = null;
      try {
        valid = validateConnectionCatalog(next, catalog, { supportedDestinationSyncModes: destModes });
      } catch {
        valid = null;
      }
      if (valid) {
        await db.connection.update({
          where: { id: c.id },
          data: {
            catalog: asJson(valid),
            sourceCatalogId: catalogId,
            ...CLEARED,
          },
        });
        outcomes.push({ connectionId: c.id, action: 'propagated', breaking: false });
        continue;
      }
    }
    const disable = !diff.breaking && pref === 'disable' && c.status === 'active';
    await db.connection.update({
      where: { id: c.id },
      data: {
        schemaChange: asJson(change),
        schemaChangeDetectedAt: new Date(),
        breakingChange: diff.breaking,
        ...(disable ? { status: 'inactive' } : {}),
      },
    });
    outcomes.push({ connectionId: c.id, action: disable ? 'disabled' : 'recorded', breaking: diff.breaking });
  }
  return outcomes;
}

/** No change awaiting review. */
export const CLEARED = { schemaChange: Prisma.DbNull, breakingChange: false, schemaChangeDetectedAt: null };

async function clearSchemaChange(db: DbOrTx, c: Connection) {
  await db.connection.update({ where: { id: c.id }, data: CLEARED });
}
