import { z } from 'zod';
import { requireObjectRole, requireWorkspaceRole } from '../access';
import {
  applySchemaChange,
  assertStreamsConfigured,
  assertSyncable,
  ConnectionCreate,
  ConnectionUpdate,
  createConnection,
  deleteConnection,
  getConnection,
  listConnections,
  readState,
  setConnectionStatus,
  updateConnection,
} from '../services/connections';
import { readProcedure, router, writeProcedure } from '../trpc';
import { ConnectionCatalog, StreamDescriptor } from '../validation/catalog';
import { Id, notifyOrchestrator, requireOrchestrator } from './helpers';

const ConnectionRef = z.object({ connectionId: Id });

export const connectionRouter = router({
  list: readProcedure
    .input(z.object({ workspaceId: Id, sourceId: Id.optional(), destinationId: Id.optional() }))
    .query(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      return listConnections(ctx.db, input);
    }),

  get: readProcedure.input(ConnectionRef).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'reader');
    return getConnection(ctx.db, input.connectionId);
  }),

  /**
   * Stream choices are validated against the source's discovered catalog (run source.discover
   * first); without `catalog`, every stream syncs with default modes.
   */
  create: writeProcedure.input(ConnectionCreate).mutation(async ({ ctx, input }) => {
    await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
    const connection = await createConnection(ctx.db, input);
    ctx.logger.info(
      { connectionId: connection.id, workspaceId: input.workspaceId, userId: ctx.caller.userId },
      'connection created',
    );
    await notifyOrchestrator(ctx, 'created', connection.id);
    return connection;
  }),

  update: writeProcedure.input(ConnectionUpdate).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
    const connection = await updateConnection(ctx.db, input);
    await notifyOrchestrator(ctx, 'updated', connection.id);
    return connection;
  }),

  enable: writeProcedure.input(ConnectionRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
    const { connection, changed } = await setConnectionStatus(ctx.db, input.connectionId, 'active');
    if (changed) await notifyOrchestrator(ctx, 'enabled', connection.id);
    return connection;
  }),

  disable: writeProcedure.input(ConnectionRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
    const { connection, changed } = await setConnectionStatus(ctx.db, input.connectionId, 'inactive');
    if (changed) await notifyOrchestrator(ctx, 'disabled', connection.id);
    return connection;
  }),

  /** Soft delete: the connection stops and disappears; its jobs stay readable. */
  delete: writeProcedure.input(ConnectionRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
    const result = await deleteConnection(ctx.db, input.connectionId);
    ctx.logger.info({ connectionId: input.connectionId, userId: ctx.caller.userId }, 'connection deleted');
    await notifyOrchestrator(ctx, 'deleted', input.connectionId);
    return result;
  }),

  /** Starts a sync now (queued behind a running one). Needs the worker's scheduler. */
  syncNow: writeProcedure.input(ConnectionRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
    const orchestrator = requireOrchestrator(ctx);
    const connection = await getConnection(ctx.db, input.connectionId);
    assertSyncable(connection, 'sync');
    return orchestrator.syncNow(connection.id);
  }),

  /** Cancels the running sync or reset. */
  cancel: writeProcedure.input(ConnectionRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
    return requireOrchestrator(ctx).cancel(input.connectionId);
  }),

  /** Clears the state of all streams (or the given ones) and re-syncs them from scratch. */
  reset: writeProcedure
    .input(z.object({ connectionId: Id, streams: z.array(StreamDescriptor).min(1).optional() }))
    .mutation(async ({ ctx, input }) => {
      await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
      const orchestrator = requireOrchestrator(ctx);
      const connection = await getConnection(ctx.db, input.connectionId);
      if (input.streams) assertStreamsConfigured(connection, input.streams);
      return orchestrator.reset(connection.id, input.streams);
    }),

  /** The schema change found by the latest discover, awaiting review (null when none). */
  schemaChange: readProcedure.input(ConnectionRef).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'reader');
    const c = await getConnection(ctx.db, input.connectionId);
    return {
      breakingChange: c.breakingChange,
      schemaChange: c.schemaChange,
      detectedAt: c.schemaChangeDetectedAt,
    };
  }),

  /**
   * Adopts the newly discovered catalog: current choices carried over, or the given `catalog`
   * (needed when the change is breaking, e.g. a removed cursor).
   */
  applySchemaChange: writeProcedure
    .input(z.object({ connectionId: Id, catalog: ConnectionCatalog.optional() }))
    .mutation(async ({ ctx, input }) => {
      await requireObjectRole(ctx, 'connection', input.connectionId, 'editor');
      const connection = await applySchemaChange(ctx.db, input.connectionId, input.catalog);
      await notifyOrchestrator(ctx, 'updated', connection.id);
      return connection;
    }),

  /** The committed state, as the next sync will start from. */
  state: readProcedure.input(ConnectionRef).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'connection', input.connectionId, 'reader');
    return readState(ctx.db, input.connectionId);
  }),
});
