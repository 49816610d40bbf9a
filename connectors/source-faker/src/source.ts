import {
  type AirbyteCatalog,
  type AirbyteStream,
  assertKnownStreams,
  ConfigError,
  type ConfiguredAirbyteStream,
  defineSource,
  type ReadContext,
  type SourceOutput,
} from '@sluice/protocol';
import {
  isoSeconds,
  PRODUCT_COUNT,
  parseSeconds,
  productJson,
  purchaseCount,
  purchasesJson,
  T0,
  userJson,
} from './generator';
import { productsSchema, purchasesSchema, spec, usersSchema } from './spec';

export interface FakerConfig {
  count: number;
  seed: number;
  records_per_slice: number;
  always_updated: boolean;
  parallelism: number;
}

export const STREAM_NAMES = ['users', 'products', 'purchases'] as const;
type StreamName = (typeof STREAM_NAMES)[number];

function stream(name: StreamName, json_schema: Record<string, unknown>): AirbyteStream {
  return {
    name,
    json_schema,
    supported_sync_modes: ['full_refresh', 'incremental'],
    source_defined_cursor: true,
    default_cursor_field: ['updated_at'],
    source_defined_primary_key: [['id']],
    is_resumable: true,
  };
}

export const catalog: AirbyteCatalog = {
  streams: [
    stream('users', usersSchema),
    stream('products', productsSchema),
    stream('purchases', purchasesSchema),
  ],
};

/**
 * The cursor of every stream: `updated_at` of the last record emitted and the position
 * reached (`id` for users and products; `user_id` for purchases, plus the last purchase `id`).
 * updated_at is `base + position` seconds, so a state alone tells where to resume.
 */
interface Cursor {
  updated_at: string;
  id: number;
  user_id?: number;
}

/** Where a stream starts given its saved cursor. */
interface Start {
  /** Seconds added to the position to give updated_at. */
  base: number;
  /** First position to generate. */
  from: number;
  /** First purchase id (purchases only). */
  nextId: number;
  /** The cursor to re-emit when there is nothing new, or undefined. */
  unchanged?: Cursor;
}

function readCursor(name: StreamName, raw: Record<string, unknown> | undefined): Cursor | undefined {
  if (raw === undefined || Object.keys(raw).length === 0) return undefined;
  const { updated_at, id, user_id } = raw;
  const position = name === 'purchases' ? user_id : id;
  if (
    typeof updated_at !== 'string' ||
    Number.isNaN(parseSeconds(updated_at)) ||
    !Number.isInteger(id) ||
    !Number.isInteger(position) ||
    (position as number) < 0
  ) {
    throw new ConfigError(
      `the saved state of stream "${name}" is not a faker cursor: expected {"updated_at": ISO timestamp, "id": integer${name === 'purchases' ? ', "user_id": integer' : ''}}`,
    );
  }
  return raw as unknown as Cursor;
}

function startFrom(
  cursor: Cursor | undefined,
  total: number,
  alwaysUpdated: boolean,
  purchases: boolean,
): Start {
  if (!cursor) return { base: T0, from: 1, nextId: 1 };
  const last = parseSeconds(cursor.updated_at);
  const position = purchases ? (cursor.user_id ?? 0) : cursor.id;
  if (position < total) return { base: last - position, from: position + 1, nextId: cursor.id + 1 };
  // The previous sync went through every record: a new generation updates them all, later.
  if (alwaysUpdated) return { base: last, from: 1, nextId: 1 };
  return { base: last, from: total + 1, nextId: cursor.id + 1, unchanged: cursor };
}

async function readPositional(
  out: SourceOutput,
  name: 'users' | 'products',
  namespace: string | undefined,
  seed: number,
  total: number,
  perSlice: number,
  start: Start,
): Promise<void> {
  const make = name === 'users' ? userJson : productJson;
  let inSlice = 0;
  let stateAt = -1;
  for (let id = start.from; id <= total; id++) {
    const updated = start.base + id;
    out.recordJson(name, make(seed, id, updated), namespace);
    if (++inSlice === perSlice) {
      out.streamState(name, { updated_at: isoSeconds(updated), id }, namespace);
      inSlice = 0;
      stateAt = id;
    }
    if (out.needsDrain) await out.drain();
  }
  // Every sync ends with a state, even one that emitted nothing new.
  if (start.unchanged) out.streamState(name, { ...start.unchanged }, namespace);
  else if (stateAt !== total) {
    out.streamState(name, { updated_at: isoSeconds(start.base + total), id: total }, namespace);
  }
}

async function readPurchases(
  out: SourceOutput,
  namespace: string | undefined,
  seed: number,
  users: number,
  perSlice: number,
  start: Start,
): Promise<void> {
  let inSlice = 0;
  let nextId = start.nextId;
  let stateAt = -1;
  for (let userId = start.from; userId <= users; userId++) {
    const updated = start.base + userId;
    for (const json of purchasesJson(seed, userId, nextId, updated)) {
      out.recordJson('purchases', json, namespace);
      nextId++;
      inSlice++;
    }
    // Slices end between users, so a cursor never splits one user's purchases.
    if (inSlice >= perSlice) {
      const cursor = { updated_at: isoSeconds(updated), id: nextId - 1, user_id: userId };
      out.streamState('purchases', cursor, namespace);
      inSlice = 0;
      stateAt = userId;
    }
    if (out.needsDrain) await out.drain();
  }
  if (start.unchanged) out.streamState('purchases', { ...start.unchanged }, namespace);
  else if (stateAt !== users) {
    const cursor = { updated_at: isoSeconds(start.base + users), id: nextId - 1, user_id: users };
    out.streamState('purchases', cursor, namespace);
  }
}

/** Expected purchases of users [from, to]: exact for small ranges, sampled for large ones. */
function estimatePurchases(seed: number, from: number, to: number): number {
  const n = to - from + 1;
  if (n <= 0) return 0;
  if (n <= 10_000) {
    let sum = 0;
    for (let u = from; u <= to; u++) sum += purchaseCount(seed, u);
    return sum;
  }
  return Math.round(n * 1.5);
}

async function readStream(ctx: ReadContext<FakerConfig>, configured: ConfiguredAirbyteStream, seed: number) {
  const { config, out } = ctx;
  const name = configured.stream.name as StreamName;
  const namespace = configured.stream.namespace;
  const incremental = configured.sync_mode === 'incremental';
  const cursor = incremental ? readCursor(name, ctx.streamState(name, namespace)) : undefined;
  const perSlice = config.records_per_slice;
  out.streamStatus(name, 'STARTED', namespace);
  if (name === 'purchases') {
    const start = startFrom(cursor, config.count, config.always_updated, true);
    out.estimate(name, { rows: estimatePurchases(seed, start.from, config.count), namespace });
    out.streamStatus(name, 'RUNNING', namespace);
    await readPurchases(out, namespace, seed, config.count, perSlice, start);
  } else {
    const total = name === 'users' ? config.count : PRODUCT_COUNT;
    const start = startFrom(cursor, total, config.always_updated, false);
    out.estimate(name, { rows: Math.max(0, total - start.from + 1), namespace });
    out.streamStatus(name, 'RUNNING', namespace);
    await readPositional(out, name, namespace, seed, total, perSlice, start);
  }
  out.streamStatus(name, 'COMPLETE', namespace);
}

export const source = defineSource<FakerConfig>({
  spec,
  parseConfig: (raw) => raw as unknown as FakerConfig,
  // Nothing to connect to: a config that passed the spec's validation is usable.
  check: () => ({ status: 'SUCCEEDED' }),
  discover: () => catalog,
  async read(ctx) {
    assertKnownStreams(ctx.catalog, STREAM_NAMES);
    const seed = ctx.config.seed === -1 ? Math.floor(Math.random() * 2 ** 31) : ctx.config.seed;
    if (ctx.config.seed === -1) ctx.logger.info(`seed -1: generating with random seed ${seed}`);
    for (const configured of ctx.catalog.streams) await readStream(ctx, configured, seed);
  },
});
