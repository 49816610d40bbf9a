import type { ActorType, ConnectorDefinition, DbOrTx } from '@sluice/db';
import type { ConnectorSpecification } from '@sluice/protocol';
import { z } from 'zod';
import { ApiError, notFound } from '../errors';
import {
  formatPath,
  MaskedSecretError,
  maskConfig,
  openConfig,
  restoreMaskedSecrets,
  type SecretBox,
  sealConfig,
} from '../secrets';
import { validateConfig } from '../validation/config';
import { getVisibleDefinition, requireSpec } from './definitions';
import { asJson, iso } from './util';

export const ConfigObject = z.record(z.string(), z.unknown());
export const ActorName = z.string().trim().min(1).max(200);

interface ActorRow {
  id: string;
  workspaceId: string;
  definitionId: string;
  name: string;
  config: unknown;
  tombstone: boolean;
  createdAt: Date;
  updatedAt: Date;
  definition: ConnectorDefinition;
}

/** The two Prisma delegates have the same shape; this is the part the service uses. */
interface ActorDelegate {
  findFirst(args: object): Promise<ActorRow | null>;
  findMany(args: object): Promise<ActorRow[]>;
  create(args: object): Promise<ActorRow>;
  update(args: object): Promise<ActorRow>;
}

function actors(db: DbOrTx, type: ActorType): ActorDelegate {
  return (type === 'source' ? db.source : db.destination) as unknown as ActorDelegate;
}

const include = { definition: true } as const;

function specSchema(def: ConnectorDefinition): Record<string, unknown> {
  const spec = def.spec as ConnectorSpecification | null;
  return (spec?.connectionSpecification as Record<string, unknown> | undefined) ?? {};
}

export function presentActor(row: ActorRow) {
  const d = row.definition;
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    name: row.name,
    definitionId: row.definitionId,
    definition: {
      id: d.id,
      name: d.name,
      displayName: d.displayName,
      kind: d.kind,
      version: d.version,
      documentationUrl: d.documentationUrl,
    },
    /** Secret fields show as `**********`; send that back unchanged to keep them. */
    config: maskConfig(specSchema(d), row.config) as Record<string, unknown>,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}
export type ActorView = ReturnType<typeof presentActor>;

/**
 * Turns a config from a request into what the database stores: masks sent back are replaced
 * by the stored secrets, the result (decrypted in memory) is validated against the spec, and
 * secret fields are sealed. A mask with nothing behind it is refused, never stored.
 */
export function prepareConfig(
  box: SecretBox,
  def: ConnectorDefinition,
  incoming: Record<string, unknown>,
  stored: unknown = {},
): Record<string, unknown> {
  const spec = requireSpec(def);
  const schema = spec.connectionSpecification as Record<string, unknown>;
  let restored: unknown;
  try {
    restored = restoreMaskedSecrets(incoming, stored);
  } catch (err) {
    if (err instanceof MaskedSecretError) {
      throw new ApiError('BAD_REQUEST', `config.${err.message}`, { path: `config.${formatPath(err.path)}` });
    }
    throw err;
  }
  validateConfig(schema, openConfig(restored, box));
  return sealConfig(schema, restored, box) as Record<string, unknown>;
}

export async function listActors(
  db: DbOrTx,
  type: ActorType,
  workspaceId: string,
  filter: { definitionId?: string | undefined } = {},
) {
  const rows = await actors(db, type).findMany({
    where: {
      workspaceId,
      tombstone: false,
      ...(filter.definitionId ? { definitionId: filter.definitionId } : {}),
    },
    include,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
  return rows.map(presentActor);
}

/** A live source or destination with its definition, or NOT_FOUND. */
export async function getActor(db: DbOrTx, type: ActorType, id: string): Promise<ActorRow> {
  const row = await actors(db, type).findFirst({ where: { id, tombstone: false }, include });
  if (!row) throw notFound(type, id);
  return row;
}

/** A definition of the right kind that the workspace may use and that has a spec. */
export async function definitionFor(db: DbOrTx, type: ActorType, workspaceId: string, definitionId: string) {
  const def = await getVisibleDefinition(db, workspaceId, definitionId);
  if (def.kind !== type) {
    throw new ApiError('BAD_REQUEST', `${def.displayName} is a ${def.kind} connector, not a ${type}`, {
      path: 'definitionId',
    });
  }
  requireSpec(def);
  return def;
}

export async function createActor(
  db: DbOrTx,
  box: SecretBox,
  type: ActorType,
  input: { workspaceId: string; definitionId: string; name: string; config: Record<string, unknown> },
) {
  const def = await definitionFor(db, type, input.workspaceId, input.definitionId);
  const config = prepareConfig(box, def, input.config);
  const row = await actors(db, type).create({
    data: { workspaceId: input.workspaceId, definitionId: def.id, name: input.name, config: asJson(config) },
    include,
  });
  return presentActor(row);
}

export async function updateActor(
  db: DbOrTx,
  box: SecretBox,
  type: ActorType,
  id: string,
  patch: { name?: string | undefined; config?: Record<string, unknown> | undefined },
) {
  const row = await getActor(db, type, id);
  const data: Record<string, unknown> = {};
  if (patch.name !== undefined) data.name = patch.name;
  if (patch.config !== undefined)
    data.config = asJson(prepareConfig(box, row.definition, patch.config, row.config));
  const updated = await actors(db, type).update({ where: { id }, data, include });
  return presentActor(updated);
}

/**
 * Deletes (tombstones) a source or destination; its connections are deprecated and their ids
 * returned so the caller can stop their schedules. Job history stays.
 */
export async function deleteActor(db: DbOrTx, type: ActorType, id: string): Promise<string[]> {
  await getActor(db, type, id);
  const where = {
    [type === 'source' ? 'sourceId' : 'destinationId']: id,
    status: { not: 'deprecated' as const },
  };
  const connections = await db.connection.findMany({ where, select: { id: true } });
  await db.connection.updateMany({ where, data: { status: 'deprecated' } });
  await actors(db, type).update({ where: { id }, data: { tombstone: true } });
  return connections.map((c) => c.id);
}
