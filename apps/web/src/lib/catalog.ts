/**
 * Stream choices of a connection, the way Airbyte's connection form makes them: one
 * "sync mode" pick per stream (source mode + destination mode), a cursor and a primary key
 * when the mode needs them and the source does not define them, field selection. Mirrors the
 * API's rules (packages/api validation/catalog.ts) so mistakes show before saving.
 */

export type SyncMode = 'full_refresh' | 'incremental';
export type DestinationSyncMode = 'append' | 'overwrite' | 'append_dedup' | 'update' | 'soft_delete';

export interface DiscoveredStream {
  name: string;
  namespace?: string | null | undefined;
  json_schema: Record<string, unknown>;
  supported_sync_modes: SyncMode[];
  source_defined_cursor?: boolean | null | undefined;
  default_cursor_field?: string[] | null | undefined;
  source_defined_primary_key?: string[][] | null | undefined;
}

export interface StreamChoice {
  stream: { name: string; namespace?: string | undefined };
  selected: boolean;
  syncMode: SyncMode;
  destinationSyncMode: DestinationSyncMode;
  cursorField?: string[] | undefined;
  primaryKey?: string[][] | undefined;
  selectedFields?: string[] | undefined;
}

export const NEEDS_PRIMARY_KEY: ReadonlySet<DestinationSyncMode> = new Set([
  'append_dedup',
  'update',
  'soft_delete',
]);

const MODE_PAIRS: Array<[SyncMode, DestinationSyncMode, string]> = [
  ['incremental', 'append_dedup', 'Incremental | Append + Deduped'],
  ['full_refresh', 'overwrite', 'Full refresh | Overwrite'],
  ['incremental', 'append', 'Incremental | Append'],
  ['full_refresh', 'append', 'Full refresh | Append'],
  ['incremental', 'update', 'Incremental | Update'],
  ['incremental', 'soft_delete', 'Incremental | Soft delete'],
];

export interface ModeOption {
  value: string;
  syncMode: SyncMode;
  destinationSyncMode: DestinationSyncMode;
  label: string;
}

export const modeValue = (s: SyncMode, d: DestinationSyncMode) => `${s}:${d}`;

export function modeLabel(s: SyncMode, d: DestinationSyncMode): string {
  return MODE_PAIRS.find(([a, b]) => a === s && b === d)?.[2] ?? `${s} | ${d}`;
}

/** Modes a stream can use with this destination (`destModes` empty: the destination did not say). */
export function modeOptions(
  stream: DiscoveredStream,
  destModes: readonly DestinationSyncMode[],
): ModeOption[] {
  return MODE_PAIRS.filter(
    ([s, d]) => stream.supported_sync_modes.includes(s) && (destModes.length === 0 || destModes.includes(d)),
  ).map(([s, d, label]) => ({ value: modeValue(s, d), syncMode: s, destinationSyncMode: d, label }));
}

export function descriptorOf(s: { name: string; namespace?: string | null | undefined }) {
  return { name: s.name, ...(s.namespace ? { namespace: s.namespace } : {}) };
}

/** Airbyte's default: incremental + dedup when the stream has a cursor and a key, else full refresh + overwrite. */
export function defaultChoice(
  stream: DiscoveredStream,
  destModes: readonly DestinationSyncMode[],
  selected = true,
): StreamChoice {
  const dest: readonly DestinationSyncMode[] = destModes.length
    ? destModes
    : ['append', 'overwrite', 'append_dedup'];
  const hasCursor = Boolean(stream.source_defined_cursor) || (stream.default_cursor_field?.length ?? 0) > 0;
  const key = stream.source_defined_primary_key?.length ? stream.source_defined_primary_key : undefined;
  if (
    stream.supported_sync_modes.includes('incremental') &&
    hasCursor &&
    key &&
    dest.includes('append_dedup')
  ) {
    return {
      stream: descriptorOf(stream),
      selected,
      syncMode: 'incremental',
      destinationSyncMode: 'append_dedup',
      cursorField: stream.default_cursor_field?.length ? stream.default_cursor_field : undefined,
      primaryKey: key,
    };
  }
  const syncMode: SyncMode = stream.supported_sync_modes.includes('full_refresh')
    ? 'full_refresh'
    : 'incremental';
  const destinationSyncMode: DestinationSyncMode =
    syncMode === 'full_refresh' && dest.includes('overwrite') ? 'overwrite' : 'append';
  return {
    stream: descriptorOf(stream),
    selected,
    syncMode,
    destinationSyncMode,
    cursorField:
      syncMode === 'incremental' && stream.default_cursor_field?.length
        ? stream.default_cursor_field
        : undefined,
    primaryKey: key,
  };
}

export function topLevelFields(stream: DiscoveredStream): string[] {
  const props = (stream.json_schema as { properties?: unknown }).properties;
  return props && typeof props === 'object' ? Object.keys(props as object) : [];
}

export const needsCursor = (c: StreamChoice, s: DiscoveredStream) =>
  c.syncMode === 'incremental' && !s.source_defined_cursor;
export const needsPrimaryKey = (c: StreamChoice, s: DiscoveredStream) =>
  NEEDS_PRIMARY_KEY.has(c.destinationSyncMode) && !(s.source_defined_primary_key?.length ?? 0);

/** Changes the mode, keeping a cursor or key the new mode can use and filling defaults. */
export function withMode(c: StreamChoice, s: DiscoveredStream, value: string): StreamChoice {
  const [syncMode, destinationSyncMode] = value.split(':') as [SyncMode, DestinationSyncMode];
  const next: StreamChoice = { ...c, syncMode, destinationSyncMode };
  if (syncMode === 'incremental') {
    next.cursorField = c.cursorField ?? (s.default_cursor_field?.length ? s.default_cursor_field : undefined);
  } else {
    next.cursorField = undefined;
  }
  if (s.source_defined_primary_key?.length) next.primaryKey = s.source_defined_primary_key;
  return next;
}

/** Problems that would make the API refuse the choices, by stream key. */
export function choiceProblems(c: StreamChoice, s: DiscoveredStream): string[] {
  if (!c.selected) return [];
  const problems: string[] = [];
  if (needsCursor(c, s) && !(c.cursorField?.length ?? 0))
    problems.push('Choose a cursor field for incremental sync.');
  if (needsPrimaryKey(c, s) && !(c.primaryKey?.length ?? 0)) {
    problems.push('Choose a primary key: this sync mode deduplicates on it.');
  }
  if (c.selectedFields) {
    const keep = new Set(c.selectedFields);
    const cursor = c.syncMode === 'incremental' ? c.cursorField?.[0] : undefined;
    if (cursor && !keep.has(cursor)) problems.push(`The cursor field ${cursor} must stay selected.`);
    for (const k of c.primaryKey ?? []) {
      if (NEEDS_PRIMARY_KEY.has(c.destinationSyncMode) && k[0] && !keep.has(k[0])) {
        problems.push(`The primary key field ${k[0]} must stay selected.`);
      }
    }
    if (c.selectedFields.length === 0) problems.push('Select at least one field.');
  }
  return problems;
}

/** The API's `catalog` input: undefined members left out. */
export function toCatalogInput(choices: StreamChoice[]) {
  return {
    streams: choices.map((c) => ({
      stream: descriptorOf(c.stream),
      selected: c.selected,
      syncMode: c.syncMode,
      destinationSyncMode: c.destinationSyncMode,
      ...(c.cursorField?.length ? { cursorField: c.cursorField } : {}),
      ...(c.primaryKey?.length ? { primaryKey: c.primaryKey } : {}),
      ...(c.selectedFields?.length ? { selectedFields: c.selectedFields } : {}),
    })),
  };
}

export const keyOf = (s: { name: string; namespace?: string | null | undefined }) =>
  `${s.namespace ?? ''}\u0000${s.name}`;

/**
 * The editor's rows: every discovered stream, with the connection's current choice when it
 * has one (new streams start unselected with defaults).
 */
export function mergeChoices(
  discovered: DiscoveredStream[],
  current: StreamChoice[] | null,
  destModes: readonly DestinationSyncMode[],
): StreamChoice[] {
  const byKey = new Map((current ?? []).map((c) => [keyOf(c.stream), c]));
  return discovered.map((s) => byKey.get(keyOf(s)) ?? defaultChoice(s, destModes, current === null));
}
