import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  persistConnectionState,
  readConnectionState,
  resetConnectionState,
  StaleStateError,
} from '../src/state';
import { createTestDatabase, type TestDatabase } from '../src/testing';

describe('connection state', () => {
  let t: TestDatabase;
  let connectionId: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    const db = t.db;
    const workspace = await db.workspace.create({ data: { name: 'w', slug: 'w' } });
    const def = await db.connectorDefinition.create({
      data: { name: 'd', displayName: 'd', kind: 'source', version: '1', image: 'd' },
    });
    const source = await db.source.create({
      data: { workspaceId: workspace.id, definitionId: def.id, name: 's', config: {} },
    });
    const destination = await db.destination.create({
      data: { workspaceId: workspace.id, definitionId: def.id, name: 'd', config: {} },
    });
    connectionId = (
      await db.connection.create({
        data: {
          workspaceId: workspace.id,
          name: 'c',
          sourceId: source.id,
          destinationId: destination.id,
          catalog: {},
        },
      })
    ).id;
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('keeps per-stream state, updating only the streams written', async () => {
    expect(await readConnectionState(t.db, connectionId)).toEqual([]);
    const v1 = await persistConnectionState(t.db, {
      connectionId,
      generation: 0,
      state: {
        type: 'STREAM',
        streams: [
          { descriptor: { name: 'users', namespace: 'public' }, state: { cursor: 1 } },
          { descriptor: { name: 'orders' }, state: { cursor: 'a' } },
        ],
      },
    });
    const v2 = await persistConnectionState(t.db, {
      connectionId,
      generation: 0,
      state: {
        type: 'STREAM',
        streams: [{ descriptor: { name: 'users', namespace: 'public' }, state: { cursor: 2 } }],
      },
    });
    expect(v2).toBeGreaterThan(v1);
    expect(await readConnectionState(t.db, connectionId)).toEqual([
      { type: 'STREAM', stream: { stream_descriptor: { name: 'orders' }, stream_state: { cursor: 'a' } } },
      {
        type: 'STREAM',
        stream: { stream_descriptor: { name: 'users', namespace: 'public' }, stream_state: { cursor: 2 } },
      },
    ]);
  });

  it('refuses state from before a reset, so state never regresses', async () => {
    const generation = await resetConnectionState(t.db, { connectionId, streams: [{ name: 'orders' }] });
    expect(generation).toBe(1);
    const stale = persistConnectionState(t.db, {
      connectionId,
      generation: 0,
      state: { type: 'STREAM', streams: [{ descriptor: { name: 'orders' }, state: { cursor: 'z' } }] },
    });
    await expect(stale).rejects.toThrow(StaleStateError);
    await expect(stale).rejects.toThrow(/generation 0, but the connection is at generation 1/);
    expect(await readConnectionState(t.db, connectionId)).toEqual([
      {
        type: 'STREAM',
        stream: { stream_descriptor: { name: 'users', namespace: 'public' }, stream_state: { cursor: 2 } },
      },
    ]);
  });

  it('stores GLOBAL state as a shared row plus per-stream rows, replacing another type', async () => {
    await persistConnectionState(t.db, {
      connectionId,
      generation: 1,
      state: {
        type: 'GLOBAL',
        sharedState: { lsn: 42 },
        streams: [{ descriptor: { name: 'users' }, state: { done: true } }],
      },
    });
    expect(await readConnectionState(t.db, connectionId)).toEqual([
      {
        type: 'GLOBAL',
        global: {
          shared_state: { lsn: 42 },
          stream_states: [{ stream_descriptor: { name: 'users' }, stream_state: { done: true } }],
        },
      },
    ]);
    await persistConnectionState(t.db, {
      connectionId,
      generation: 1,
      state: { type: 'LEGACY', state: { blob: [1, 2] } },
    });
    expect(await readConnectionState(t.db, connectionId)).toEqual([
      { type: 'LEGACY', data: { blob: [1, 2] } },
    ]);
    expect(await t.db.connectionState.count()).toBe(1);
  });

  it('serialises concurrent writers and stamps each write with a higher version', async () => {
    const versions = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        persistConnectionState(t.db, {
          connectionId,
          generation: 1,
          state: { type: 'LEGACY', state: { i } },
        }),
      ),
    );
    expect(new Set(versions).size).toBe(5);
    const row = await t.db.connectionState.findFirstOrThrow({ where: { connectionId } });
    const connection = await t.db.connection.findUniqueOrThrow({ where: { id: connectionId } });
    expect(row.version).toBe(connection.stateVersion);
    expect(row.version).toBe([...versions].sort((a, b) => Number(a - b)).at(-1));
  });

  it('works inside a caller transaction and a full reset clears everything', async () => {
    await t.db.$transaction(async (tx) => {
      await persistConnectionState(tx, {
        connectionId,
        generation: 1,
        state: { type: 'LEGACY', state: { in: 'tx' } },
      });
    });
    expect(await readConnectionState(t.db, connectionId)).toEqual([{ type: 'LEGACY', data: { in: 'tx' } }]);
    expect(await resetConnectionState(t.db, { connectionId })).toBe(2);
    expect(await readConnectionState(t.db, connectionId)).toEqual([]);
  });
});
