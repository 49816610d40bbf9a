import { randomBytes } from 'node:crypto';
import { isAbsolute } from 'node:path';
import {
  type ActorType,
  type ConnectorDefinition,
  type DbOrTx,
  type Prisma,
  ResourceRequirements,
} from '@sluice/db';
import { ConnectorSpecification } from '@sluice/protocol';
import { z } from 'zod';
import { ApiError, notFound } from '../errors';
import {
  ConnectorRunError,
  type ConnectorRunner,
  type RunnableDefinition,
  RunnerUnsupportedError,
} from '../runner/types';
import { iso, jsonOrNull, onConflict, slugify } from './util';

export const DefinitionKind = z.enum(['source', 'destination']);
export type DefinitionKind = z.infer<typeof DefinitionKind>;

/** An OCI image reference: `[registry/]name[:tag][@digest]`. */
export const ImageRef = z
  .string()
  .min(1)
  .max(255)
  .regex(
    /^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/,
    'must be an image reference such as my-org/source-x:1.2.0',
  );

/** argv of a local process; the program path is absolute because connectors get a minimal PATH. */
export const CommandArgv = z
  .array(z.string().min(1).max(4096))
  .min(1)
  .max(64)
  .refine((argv) => isAbsolute(argv[0] ?? ''), 'command[0] must be an absolute path to the program');

export const Version = z.string().min(1).max(100);

/** Definitions a workspace can use: built-in and instance-wide ones, plus its own custom ones. */
export function visibleTo(workspaceId: string): Prisma.ConnectorDefinitionWhereInput {
  return { tombstone: false, OR: [{ workspaceId: null }, { workspaceId }] };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function toRunnable(def: ConnectorDefinition): RunnableDefinition {
  const spec = def.spec ? ConnectorSpecification.safeParse(def.spec) : null;
  return {
    id: def.id,
    name: def.name,
    kind: def.kind,
    version: def.version,
    image: def.image,
    command: def.command,
    spec: spec?.success ? spec.data : null,
    supportsSocket: def.supportsSocket,
    network: def.network,
    resources: isRecord(def.resources) ? def.resources : null,
  };
}

export function presentDefinition(def: ConnectorDefinition, opts: { withSpec?: boolean } = {}) {
  return {
    id: def.id,
    name: def.name,
    displayName: def.displayName,
    kind: def.kind,
    version: def.version,
    image: def.image,
    command: def.command,
    /** `process` when the definition has a command (runs on the platform's hosts), else `image`. */
    runsAs: def.command.length > 0 ? ('process' as const) : ('image' as const),
    documentationUrl: def.documentationUrl,
    supportsSocket: def.supportsSocket,
    network: def.network,
    resources: (def.resources as ResourceRequirements | null) ?? null,
    builtIn: def.builtIn,
    custom: def.custom,
    /** Null for built-in and instance-wide definitions. */
    workspaceId: def.workspaceId,
    hasSpec: def.spec !== null,
    specFetchedAt: iso(def.specFetchedAt),
    createdAt: iso(def.createdAt)!,
    updatedAt: iso(def.updatedAt)!,
    ...(opts.withSpec ? { spec: (def.spec as ConnectorSpecification | null) ?? null } : {}),
  };
}
export type DefinitionView = ReturnType<typeof presentDefinition>;

export async function listDefinitions(db: DbOrTx, workspaceId: string, kind?: ActorType) {
  const rows = await db.connectorDefinition.findMany({
    where: { ...visibleTo(workspaceId), ...(kind ? { kind } : {}) },
    orderBy: [{ builtIn: 'desc' }, { displayName: 'asc' }],
  });
  return rows.map((d) => presentDefinition(d));
}

/** A definition the workspace may use, or NOT_FOUND. */
export async function getVisibleDefinition(db: DbOrTx, workspaceId: string, id: string) {
  const def = await db.connectorDefinition.findFirst({ where: { id, ...visibleTo(workspaceId) } });
  if (!def) throw notFound('connector definition', id);
  return def;
}

/** The definition's connector spec, or PRECONDITION_FAILED when it was never fetched. */
export function requireSpec(def: ConnectorDefinition): ConnectorSpecification {
  const parsed = def.spec ? ConnectorSpecification.safeParse(def.spec) : null;
  if (!parsed?.success) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      `connector definition ${def.name} has no spec yet: fetch it with definition.refreshSpec once the platform can run it`,
    );
  }
  return parsed.data;
}

export const CustomDefinitionInput = z.object({
  kind: DefinitionKind,
  displayName: z.string().min(1).max(200),
  version: Version,
  image: ImageRef,
  documentationUrl: z.url().max(2000).optional(),
  resources: ResourceRequirements.optional(),
  supportsSocket: z.boolean().default(false),
});
export type CustomDefinitionInput = z.infer<typeof CustomDefinitionInput>;

/**
 * Fetches the spec through the runner. `required`: a failure is an error (a command
 * definition must answer `spec`); otherwise a runner that cannot run the definition yet
 * leaves the spec empty with a note.
 */
async function fetchSpec(
  runner: ConnectorRunner | undefined,
  def: RunnableDefinition,
  required: boolean,
): Promise<{ spec: ConnectorSpecification | null; specError: string | null }> {
  if (!runner?.canRun(def)) {
    const why = runner
      ? 'this installation cannot run connector images yet'
      : 'no connector runner is configured';
    if (required) throw new ApiError('PRECONDITION_FAILED', `cannot fetch the spec of ${def.name}: ${why}`);
    return { spec: null, specError: `spec not fetched: ${why}` };
  }
  try {
    return { spec: await runner.spec(def), specError: null };
  } catch (err) {
    if (err instanceof ConnectorRunError || err instanceof RunnerUnsupportedError) {
      if (required)
        throw new ApiError('BAD_REQUEST', `the connector's spec could not be read: ${err.message}`);
      return { spec: null, specError: err.message };
    }
    throw err;
  }
}

function uniqueName(displayName: string): string {
  return `custom-${slugify(displayName).slice(0, 40)}-${randomBytes(4).toString('hex')}`;
}

export async function createCustomDefinition(
  db: DbOrTx,
  runner: ConnectorRunner | undefined,
  input: CustomDefinitionInput & {
    workspaceId: string | null;
    command?: string[];
    network?: 'none' | 'host';
    name?: string;
  },
) {
  const name = input.name ?? uniqueName(input.displayName);
  const command = input.command ?? [];
  // The row is written only once the spec is known, so the spec run gets the definition's launch
  // data itself (no id: nothing to look up, and no half-made row if the connector cannot answer).
  const draft: RunnableDefinition = {
    id: null,
    name,
    kind: input.kind,
    version: input.version,
    image: input.image,
    command,
    spec: null,
    supportsSocket: input.supportsSocket,
    network: input.network ?? 'none',
    resources: input.resources ?? null,
  };
  const { spec, specError } = await fetchSpec(runner, draft, command.length > 0);
  const def = await onConflict(
    () =>
      db.connectorDefinition.create({
        data: {
          name,
          displayName: input.displayName,
          kind: input.kind,
          version: input.version,
          image: input.image,
          command,
          spec: jsonOrNull(spec),
          specFetchedAt: spec ? new Date() : null,
          documentationUrl: input.documentationUrl ?? spec?.documentationUrl ?? null,
          supportsSocket: input.supportsSocket,
          network: input.network ?? 'none',
          resources: jsonOrNull(input.resources),
          custom: true,
          builtIn: false,
          workspaceId: input.workspaceId,
        },
      }),
    `a connector definition named ${name} already exists`,
  );
  return { definition: presentDefinition(def, { withSpec: true }), specError };
}

export const DefinitionUpdate = z.object({
  displayName: z.string().min(1).max(200).optional(),
  version: Version.optional(),
  image: ImageRef.optional(),
  documentationUrl: z.url().max(2000).nullable().optional(),
  resources: ResourceRequirements.nullable().optional(),
  supportsSocket: z.boolean().optional(),
});
export type DefinitionUpdate = z.infer<typeof DefinitionUpdate>;

/**
 * Updates a custom definition; a new version, image or command re-fetches the spec (Airbyte
 * does the same on upgrade). Sources and destinations keep their configs: a config that no
 * longer matches the new spec is refused at its next update, as in Airbyte.
 */
export async function updateDefinition(
  db: DbOrTx,
  runner: ConnectorRunner | undefined,
  def: ConnectorDefinition,
  patch: DefinitionUpdate & { command?: string[]; network?: 'none' | 'host' },
) {
  if (def.builtIn) {
    throw new ApiError('FORBIDDEN', `${def.name} is built in: the bootloader manages its version and image`);
  }
  // The spec run uses the patched launch settings too (a new command may need host networking).
  const next: RunnableDefinition = {
    ...toRunnable(def),
    ...pick(patch, ['version', 'image', 'command', 'supportsSocket', 'network']),
    ...(patch.resources !== undefined ? { resources: patch.resources ?? null } : {}),
  };
  const runChanged =
    next.version !== def.version ||
    next.image !== def.image ||
    next.command.join('\0') !== def.command.join('\0');
  let specData: { spec?: Prisma.InputJsonValue | typeof Prisma.DbNull; specFetchedAt?: Date | null } = {};
  let specError: string | null = null;
  if (runChanged) {
    const fetched = await fetchSpec(runner, next, next.command.length > 0);
    specError = fetched.specError;
    // A spec we could not refresh is kept: it is the best description of the connector we have.
    if (fetched.spec) specData = { spec: jsonOrNull(fetched.spec), specFetchedAt: new Date() };
  }
  const updated = await db.connectorDefinition.update({
    where: { id: def.id },
    data: {
      ...pick(patch, ['displayName', 'version', 'image', 'command', 'supportsSocket', 'network']),
      ...(patch.documentationUrl !== undefined ? { documentationUrl: patch.documentationUrl } : {}),
      ...(patch.resources !== undefined ? { resources: jsonOrNull(patch.resources) } : {}),
      ...specData,
    },
  });
  return { definition: presentDefinition(updated, { withSpec: true }), specError };
}

export async function refreshDefinitionSpec(
  db: DbOrTx,
  runner: ConnectorRunner | undefined,
  def: ConnectorDefinition,
) {
  const { spec } = await fetchSpec(runner, toRunnable(def), true);
  const updated = await db.connectorDefinition.update({
    where: { id: def.id },
    data: { spec: jsonOrNull(spec), specFetchedAt: new Date() },
  });
  return presentDefinition(updated, { withSpec: true });
}

/** Tombstones a custom definition no live source or destination uses. */
export async function deleteDefinition(db: DbOrTx, def: ConnectorDefinition) {
  if (def.builtIn) throw new ApiError('FORBIDDEN', `${def.name} is built in and cannot be deleted`);
  const where = { definitionId: def.id, tombstone: false };
  const [sources, destinations] = await Promise.all([
    db.source.count({ where }),
    db.destination.count({ where }),
  ]);
  if (sources + destinations > 0) {
    throw new ApiError(
      'CONFLICT',
      `${def.displayName} is used by ${sources} source(s) and ${destinations} destination(s); delete them first`,
    );
  }
  await db.connectorDefinition.update({ where: { id: def.id }, data: { tombstone: true } });
  return { id: def.id, deleted: true as const };
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
