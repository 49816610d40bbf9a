import type { Client, Outputs } from '../client';
import { CliError } from '../errors';
import { coerceToSpec } from './coerce';
import type { ActorSpec, ConnectionSpec, SluiceFile, StreamSpec } from './schema';

type Definition = Outputs['definition']['list'][number];
type Actor = Outputs['source']['list'][number];
type ExistingConnection = Outputs['connection']['list'][number];
/** The parts of a discovered stream the defaults need. */
interface DiscoveredStream {
  name: string;
  namespace?: string | null | undefined;
  supported_sync_modes: string[];
  source_defined_cursor?: boolean | null | undefined;
  default_cursor_field?: string[] | null | undefined;
  source_defined_primary_key?: string[][] | null | undefined;
}
type ConnectionStream = ExistingConnection['catalog']['streams'][number];
type DestMode = ConnectionStream['destinationSyncMode'];

export const MASK = '**********';

export type Action = 'create' | 'update' | 'unchanged';
export interface Change {
  kind: 'source' | 'destination' | 'connection';
  name: string;
  action: Action;
  /** What differs (field names, never values). */
  details: string[];
}

export interface ApplyOptions {
  dryRun: boolean;
  /** Secrets are write-only (the API masks them): send them even when nothing else changed. */
  updateSecrets: boolean;
  log(line: string): void;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Where a desired config differs from the stored one. A stored secret reads as the mask: any
 * desired value there counts as the same (it cannot be compared), unless `secretsDiffer`.
 */
export function configDifferences(
  desired: unknown,
  stored: unknown,
  path = 'config',
  secretsDiffer = false,
): string[] {
  if (stored === MASK && typeof desired === 'string') return secretsDiffer ? [path] : [];
  if (isObject(desired) && isObject(stored)) {
    const keys = new Set([...Object.keys(desired), ...Object.keys(stored)]);
    return [...keys]
      .sort()
      .flatMap((k) => configDifferences(desired[k], stored[k], `${path}.${k}`, secretsDiffer));
  }
  if (Array.isArray(desired) && Array.isArray(stored)) {
    if (desired.length !== stored.length) return [path];
    return desired.flatMap((d, i) => configDifferences(d, stored[i], `${path}[${i}]`, secretsDiffer));
  }
  return JSON.stringify(desired) === JSON.stringify(stored) ? [] : [path];
}

function findDefinition(
  defs: Definition[],
  kind: 'source' | 'destination',
  ref: string,
  where: string,
): Definition {
  const matches = defs.filter(
    (d) => d.kind === kind && (d.name === ref || d.displayName === ref || d.id === ref),
  );
  if (matches.length === 1) return matches[0]!;
  const known = defs.filter((d) => d.kind === kind).map((d) => d.name);
  throw new CliError(
    matches.length > 1
      ? `${where}: "${ref}" matches ${matches.length} connectors; use the name (${matches.map((m) => m.name).join(', ')})`
      : `${where}: no ${kind} connector "${ref}" (available: ${known.join(', ') || 'none'})`,
  );
}

function assertUniqueNames(items: Array<{ name: string }>, what: string) {
  const seen = new Set<string>();
  for (const i of items) {
    if (seen.has(i.name)) throw new CliError(`${what} "${i.name}" appears twice in the file`);
    seen.add(i.name);
  }
}

const keyOf = (s: { name: string; namespace?: string | null | undefined }) =>
  `${s.namespace ?? ''}\u0000${s.name}`;
const label = (s: { name: string; namespace?: string | null | undefined }) =>
  s.namespace ? `${s.namespace}.${s.name}` : s.name;

/** Airbyte's defaults, as the API uses them when a stream's modes are not given. */
function defaultModes(stream: DiscoveredStream, destModes: readonly DestMode[]) {
  const dest = destModes.length ? destModes : (['append', 'overwrite', 'append_dedup'] as const);
  const hasCursor = Boolean(stream.source_defined_cursor) || (stream.default_cursor_field?.length ?? 0) > 0;
  const hasKey = (stream.source_defined_primary_key?.length ?? 0) > 0;
  if (
    stream.supported_sync_modes.includes('incremental') &&
    hasCursor &&
    hasKey &&
    dest.includes('append_dedup')
  ) {
    return { syncMode: 'incremental' as const, destinationSyncMode: 'append_dedup' as const };
  }
  const syncMode = stream.supported_sync_modes.includes('full_refresh')
    ? ('full_refresh' as const)
    : ('incremental' as const);
  return {
    syncMode,
    destinationSyncMode:
      syncMode === 'full_refresh' && dest.includes('overwrite')
        ? ('overwrite' as const)
        : ('append' as const),
  };
}

/** The desired streams as the API's catalog input, checked against the discovered catalog. */
function desiredCatalog(
  specs: StreamSpec[],
  discovered: DiscoveredStream[],
  destModes: readonly DestMode[],
  where: string,
): ConnectionStream[] {
  const byKey = new Map(discovered.map((s) => [keyOf(s), s]));
  return specs.map((spec, i) => {
    const stream = byKey.get(keyOf(spec));
    if (!stream) {
      throw new CliError(
        `${where}.streams[${i}]: the source has no stream ${label(spec)} (it has: ${discovered.map(label).join(', ')})`,
      );
    }
    const defaults = defaultModes(stream, destModes);
    return {
      stream: { name: spec.name, ...(spec.namespace ? { namespace: spec.namespace } : {}) },
      selected: true,
      syncMode: spec.syncMode ?? defaults.syncMode,
      destinationSyncMode: spec.destinationSyncMode ?? defaults.destinationSyncMode,
      ...(spec.cursorField ? { cursorField: spec.cursorField } : {}),
      ...(spec.primaryKey ? { primaryKey: spec.primaryKey } : {}),
      ...(spec.selectedFields ? { selectedFields: spec.selectedFields } : {}),
    };
  });
}

/** Which selected streams differ between the desired and the current catalog. */
export function streamDifferences(desired: ConnectionStream[], current: ConnectionStream[]): string[] {
  const cur = new Map(current.filter((s) => s.selected).map((s) => [keyOf(s.stream), s]));
  const out: string[] = [];
  for (const d of desired) {
    const c = cur.get(keyOf(d.stream));
    cur.delete(keyOf(d.stream));
    if (!c) {
      out.push(`streams.${label(d.stream)} (added)`);
      continue;
    }
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    if (
      c.syncMode !== d.syncMode ||
      c.destinationSyncMode !== d.destinationSyncMode ||
      (d.cursorField && !same(d.cursorField, c.cursorField)) ||
      (d.primaryKey && !same(d.primaryKey, c.primaryKey)) ||
      !same(d.selectedFields, c.selectedFields)
    ) {
      out.push(`streams.${label(d.stream)}`);
    }
  }
  for (const c of cur.values()) out.push(`streams.${label(c.stream)} (removed)`);
  return out;
}

function sameSchedule(a: ConnectionSpec['schedule'], b: ExistingConnection['schedule']): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'basic' && b.type === 'basic') return a.units === b.units && a.timeUnit === b.timeUnit;
  if (a.type === 'cron' && b.type === 'cron')
    return a.expression === b.expression && a.timeZone === b.timeZone;
  return true;
}

/**
 * Makes the workspace match the file: creates what is missing, updates what differs, leaves
 * the rest. Objects are matched by name; nothing is deleted. Returns one change per object.
 */
export async function applyFile(
  client: Client,
  workspaceId: string,
  file: SluiceFile,
  opts: ApplyOptions,
): Promise<Change[]> {
  assertUniqueNames(file.sources, 'source');
  assertUniqueNames(file.destinations, 'destination');
  assertUniqueNames(file.connections, 'connection');
  const defs = await client.definition.list.query({ workspaceId });
  const changes: Change[] = [];
  const ids = { source: new Map<string, string>(), destination: new Map<string, string>() };

  for (const kind of ['source', 'destination'] as const) {
    const specs: ActorSpec[] = kind === 'source' ? file.sources : file.destinations;
    const existing: Actor[] =
      kind === 'source'
        ? await client.source.list.query({ workspaceId })
        : await client.destination.list.query({ workspaceId });
    for (const [i, spec] of specs.entries()) {
      const where = `${kind}s[${i}] (${spec.name})`;
      const def = findDefinition(defs, kind, spec.connector, where);
      const full = await client.definition.get.query({ workspaceId, definitionId: def.id });
      const config = coerceToSpec(spec.config, full.spec?.connectionSpecification) as Record<string, unknown>;
      const current = existing.filter((a) => a.name === spec.name);
      if (current.length > 1)
        throw new CliError(`${where}: ${current.length} ${kind}s have this name; rename them first`);
      const found = current[0];
      if (!found) {
        changes.push({ kind, name: spec.name, action: 'create', details: [def.name] });
        if (!opts.dryRun) {
          const input = { workspaceId, definitionId: def.id, name: spec.name, config };
          const created =
            kind === 'source'
              ? await client.source.create.mutate(input)
              : await client.destination.create.mutate(input);
          ids[kind].set(spec.name, created.id);
        }
        continue;
      }
      ids[kind].set(spec.name, found.id);
      if (found.definitionId !== def.id) {
        throw new CliError(
          `${where}: it exists with connector ${found.definition.name}, not ${def.name}; delete it or use another name`,
        );
      }
      const details = configDifferences(config, found.config, 'config', opts.updateSecrets);
      changes.push({ kind, name: spec.name, action: details.length ? 'update' : 'unchanged', details });
      if (details.length && !opts.dryRun) {
        if (kind === 'source') await client.source.update.mutate({ sourceId: found.id, config });
        else await client.destination.update.mutate({ destinationId: found.id, config });
      }
    }
  }

  const connections = await client.connection.list.query({ workspaceId });
  const allSources = await client.source.list.query({ workspaceId });
  const allDestinations = await client.destination.list.query({ workspaceId });
  const idOf = (kind: 'source' | 'destination', name: string, where: string): string | null => {
    const fromFile = ids[kind].get(name);
    if (fromFile) return fromFile;
    const pool = kind === 'source' ? allSources : allDestinations;
    const found = pool.filter((a) => a.name === name);
    if (found.length === 1) return found[0]!.id;
    // Created by this file in a dry run: no id yet.
    const planned = changes.some((c) => c.kind === kind && c.name === name && c.action === 'create');
    if (planned && opts.dryRun) return null;
    throw new CliError(`${where}: no ${kind} named "${name}" in the file or the workspace`);
  };
  const destModesOf = async (destinationId: string): Promise<DestMode[]> => {
    const dest = await client.destination.get.query({ destinationId });
    const def = await client.definition.get.query({ workspaceId, definitionId: dest.definitionId });
    return (def.spec?.supported_destination_sync_modes ?? []) as DestMode[];
  };
  const catalogOf = async (sourceId: string, where: string) => {
    const latest = await client.source.latestCatalog.query({ sourceId });
    if (latest) return { catalogId: latest.catalogId, streams: latest.catalog.streams as DiscoveredStream[] };
    const discovered = await client.source.discover.mutate({ sourceId });
    if (!discovered.catalog || !discovered.catalogId) {
      throw new CliError(
        `${where}: discovering the source's streams failed: ${discovered.failure?.message ?? 'no catalog'}`,
      );
    }
    return { catalogId: discovered.catalogId, streams: discovered.catalog.streams as DiscoveredStream[] };
  };

  for (const [i, spec] of file.connections.entries()) {
    const where = `connections[${i}] (${spec.name})`;
    const sourceId = idOf('source', spec.source, where);
    const destinationId = idOf('destination', spec.destination, where);
    const current = connections.filter((c) => c.name === spec.name);
    if (current.length > 1)
      throw new CliError(`${where}: ${current.length} connections have this name; rename them first`);
    const found = current[0];
    const settings = {
      schedule: spec.schedule,
      ...(spec.namespaceDefinition ? { namespaceDefinition: spec.namespaceDefinition } : {}),
      ...(spec.namespaceFormat !== undefined ? { namespaceFormat: spec.namespaceFormat } : {}),
      ...(spec.prefix !== undefined ? { prefix: spec.prefix } : {}),
      ...(spec.nonBreakingChangesPreference
        ? { nonBreakingChangesPreference: spec.nonBreakingChangesPreference }
        : {}),
    };
    if (!found) {
      changes.push({
        kind: 'connection',
        name: spec.name,
        action: 'create',
        details: [`${spec.source} → ${spec.destination}`],
      });
      if (opts.dryRun || !sourceId || !destinationId) continue;
      const discovered = await catalogOf(sourceId, where);
      const catalog = spec.streams
        ? {
            streams: desiredCatalog(
              spec.streams,
              discovered.streams,
              await destModesOf(destinationId),
              where,
            ),
          }
        : undefined;
      await client.connection.create.mutate({
        workspaceId,
        sourceId,
        destinationId,
        name: spec.name,
        status: spec.status,
        sourceCatalogId: discovered.catalogId,
        ...(catalog ? { catalog } : {}),
        ...settings,
      });
      continue;
    }
    if (
      (sourceId && found.sourceId !== sourceId) ||
      (destinationId && found.destinationId !== destinationId)
    ) {
      throw new CliError(
        `${where}: it connects ${found.source.name} → ${found.destination.name}; a connection cannot change its source or destination (delete it or use another name)`,
      );
    }
    const details: string[] = [];
    const patch: Record<string, unknown> = {};
    if (!sameSchedule(spec.schedule, found.schedule)) {
      details.push('schedule');
      patch.schedule = spec.schedule;
    }
    for (const key of [
      'namespaceDefinition',
      'namespaceFormat',
      'prefix',
      'nonBreakingChangesPreference',
    ] as const) {
      const want = spec[key];
      if (want !== undefined && want !== (found[key] ?? undefined)) {
        details.push(key);
        patch[key] = want;
      }
    }
    if (spec.streams) {
      const discovered = await catalogOf(found.sourceId, where);
      const desired = desiredCatalog(
        spec.streams,
        discovered.streams,
        await destModesOf(found.destinationId),
        where,
      );
      const diff = streamDifferences(desired, found.catalog.streams);
      if (diff.length) {
        details.push(...diff);
        patch.catalog = { streams: desired };
        if (discovered.catalogId !== found.sourceCatalogId) patch.sourceCatalogId = discovered.catalogId;
      }
    }
    const statusChange = spec.status !== found.status;
    if (statusChange) details.push(`status ${found.status} → ${spec.status}`);
    changes.push({
      kind: 'connection',
      name: spec.name,
      action: details.length ? 'update' : 'unchanged',
      details,
    });
    if (opts.dryRun) continue;
    if (Object.keys(patch).length)
      await client.connection.update.mutate({ connectionId: found.id, ...patch });
    if (statusChange) {
      if (spec.status === 'active') await client.connection.enable.mutate({ connectionId: found.id });
      else await client.connection.disable.mutate({ connectionId: found.id });
    }
  }
  return changes;
}

const SIGN: Record<Action, string> = { create: '+', update: '~', unchanged: '=' };

export function describeChange(c: Change): string {
  const what = `${SIGN[c.action]} ${c.kind} "${c.name}"`;
  if (c.action === 'create') return `${what}: create${c.details.length ? ` (${c.details.join(', ')})` : ''}`;
  if (c.action === 'update') return `${what}: update ${c.details.join(', ')}`;
  return `${what}: unchanged`;
}

export function summarize(changes: Change[], dryRun: boolean): string {
  const n = (a: Action) => changes.filter((c) => c.action === a).length;
  if (n('create') === 0 && n('update') === 0) {
    return `No changes: ${changes.length} object${changes.length === 1 ? '' : 's'} already match the file.`;
  }
  if (dryRun) {
    return `Plan: ${n('create')} to create, ${n('update')} to update, ${n('unchanged')} unchanged (dry run: nothing changed).`;
  }
  return `Applied: ${n('create')} created, ${n('update')} updated, ${n('unchanged')} unchanged.`;
}
