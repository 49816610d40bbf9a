import type { Db, DbOrTx, Tx } from './client';
import type { Prisma } from './generated/prisma/client';

/**
 * Committed connector state per connection. Rows: STREAM has one row per stream; GLOBAL a row
 * with empty names holding shared_state plus one row per stream; LEGACY one row with empty
 * names. Every write bumps `connections.state_version` and stamps the rows it touches; a write
 * carrying a generation older than `connections.state_generation` (a reset happened since its
 * sync started) is refused, so persisted state never moves backwards.
 */

export interface StreamDescriptor {
  name: string;
  namespace?: string | null;
}

export interface StreamStateInput {
  descriptor: StreamDescriptor;
  state: unknown;
}

export type ConnectionStateInput =
  | { type: 'STREAM'; streams: StreamStateInput[] }
  | { type: 'GLOBAL'; sharedState: unknown; streams: StreamStateInput[] }
  | { type: 'LEGACY'; state: unknown };

/** The saved state as Airbyte protocol STATE messages, ready for a source's --state file. */
export type ProtocolStateMessage =
  | {
      type: 'STREAM';
      stream: { stream_descriptor: { name: string; namespace?: string }; stream_state: unknown };
    }
  | {
      type: 'GLOBAL';
      global: {
        shared_state?: unknown;
        stream_states: { stream_descriptor: { name: string; namespace?: string }; stream_state: unknown }[];
      };
    }
  | { type: 'LEGACY'; data: unknown };

export class StaleStateError extends Error {
  override name = 'StaleStateError';
}

/** Runs `fn` in a transaction, or inside the caller's transaction when given one. */
export function withTransaction<T>(db: DbOrTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return '$transaction' in db ? (db as Db).$transaction(fn) : fn(db as Tx);
}

const ns = (d: StreamDescriptor) => d.namespace ?? '';
const json = (v: unknown) => (v ?? {}) as Prisma.InputJsonValue;

/**
 * Persists committed state for a connection. `generation` is the connection's
 * state_generation read when the sync started. Returns the new state version.
 */
export function persistConnectionState(
  db: DbOrTx,
  args: { connectionId: string; generation: number; state: ConnectionStateInput },
): Promise<bigint> {
  const { connectionId, generation, state } = args;
  return withTransaction(db, async (tx) => {
    // The row lock taken here also serialises concurrent writers of one connection.
    const bumped = await tx.$queryRaw<{ state_version: bigint }[]>`
      UPDATE "connections" SET "state_version" = "state_version" + 1
       WHERE "id" = ${connectionId}::uuid AND "state_generation" = ${generation}
       RETURNING "state_version"`;
    const version = bumped[0]?.state_version;
    if (version === undefined) {
      const exists = await tx.connection.findUnique({
        where: { id: connectionId },
        select: { stateGeneration: true },
      });
      throw new StaleStateError(
        exists
          ? `state for connection ${connectionId} was written for generation ${generation}, but the connection is at generation ${exists.stateGeneration} (it was reset); the state was discarded`
          : `connection ${connectionId} does not exist`,
      );
    }

    // A connection's state has one type; switching type (e.g. LEGACY → STREAM) replaces it.
    await tx.connectionState.deleteMany({ where: { connectionId, type: { not: state.type } } });

    const rows: { namespace: string; name: string; value: unknown }[] =
      state.type === 'LEGACY'
        ? [{ namespace: '', name: '', value: state.state }]
        : state.streams.map((s) => ({
            namespace: ns(s.descriptor),
            name: s.descriptor.name,
            value: s.state,
          }));
    if (state.type === 'GLOBAL') rows.push({ namespace: '', name: '', value: state.sharedState });

    for (const row of rows) {
      await tx.connectionState.upsert({
        where: {
          connectionId_streamNamespace_streamName: {
            connectionId,
            streamNamespace: row.namespace,
            streamName: row.name,
          },
        },
        create: {
          connectionId,
          type: state.type,
          streamNamespace: row.namespace,
          streamName: row.name,
          state: json(row.value),
          generation,
          version,
        },
        update: { type: state.type, state: json(row.value), generation, version },
      });
    }
    return version;
  });
}

/** The connection's committed state as protocol messages (empty when it has none). */
export async function readConnectionState(db: DbOrTx, connectionId: string): Promise<ProtocolStateMessage[]> {
  const rows = await db.connectionState.findMany({
    where: { connectionId },
    orderBy: [{ streamNamespace: 'asc' }, { streamName: 'asc' }],
  });
  const descriptor = (r: { streamName: string; streamNamespace: string }) =>
    r.streamNamespace ? { name: r.streamName, namespace: r.streamNamespace } : { name: r.streamName };
  const type = rows[0]?.type;
  if (!type) return [];
  if (type === 'LEGACY') return [{ type: 'LEGACY', data: rows[0]?.state }];
  const perStream = rows.filter((r) => r.streamName !== '');
  if (type === 'STREAM') {
    return perStream.map((r) => ({
      type: 'STREAM',
      stream: { stream_descriptor: descriptor(r), stream_state: r.state },
    }));
  }
  const shared = rows.find((r) => r.streamName === '' && r.streamNamespace === '');
  return [
    {
      type: 'GLOBAL',
      global: {
        ...(shared ? { shared_state: shared.state } : {}),
        stream_states: perStream.map((r) => ({ stream_descriptor: descriptor(r), stream_state: r.state })),
      },
    },
  ];
}

/**
 * Clears state (all of it, or some streams') and starts a new generation, so state still in
 * flight from a sync that started before the reset is refused. Returns the new generation.
 */
export function resetConnectionState(
  db: DbOrTx,
  args: { connectionId: string; streams?: StreamDescriptor[] },
): Promise<number> {
  return withTransaction(db, async (tx) => {
    const { stateGeneration } = await tx.connection.update({
      where: { id: args.connectionId },
      data: { stateGeneration: { increment: 1 } },
      select: { stateGeneration: true },
    });
    if (!args.streams) {
      await tx.connectionState.deleteMany({ where: { connectionId: args.connectionId } });
    } else {
      for (const s of args.streams) {
        await tx.connectionState.deleteMany({
          where: { connectionId: args.connectionId, streamNamespace: ns(s), streamName: s.name },
        });
      }
    }
    return stateGeneration;
  });
}
