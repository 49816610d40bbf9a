import { z } from 'zod';
import { requireObjectRole, requireWorkspaceRole } from '../access';
import { ApiError } from '../errors';
import {
  ActorName,
  ConfigObject,
  createActor,
  definitionFor,
  deleteActor,
  getActor,
  listActors,
  prepareConfig,
  presentActor,
  updateActor,
} from '../services/actors';
import { runCheckJob } from '../services/connector-jobs';
import { readProcedure, router, writeProcedure } from '../trpc';
import { dataplaneGroupOf, Id, notifyOrchestrator } from './helpers';

const DestinationRef = z.object({ destinationId: Id });

export const destinationRouter = router({
  list: readProcedure
    .input(z.object({ workspaceId: Id, definitionId: Id.optional() }))
    .query(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      return listActors(ctx.db, 'destination', input.workspaceId, input);
    }),

  /** Secret fields come back as `**********`. */
  get: readProcedure.input(DestinationRef).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'destination', input.destinationId, 'reader');
    return presentActor(await getActor(ctx.db, 'destination', input.destinationId));
  }),

  create: writeProcedure
    .input(z.object({ workspaceId: Id, definitionId: Id, name: ActorName, config: ConfigObject }))
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
      const created = await createActor(ctx.db, ctx.box, 'destination', input);
      ctx.logger.info(
        { destinationId: created.id, workspaceId: input.workspaceId, userId: ctx.caller.userId },
        'destination created',
      );
      return created;
    }),

  /** Secrets sent back as `**********` keep their stored value. */
  update: writeProcedure
    .input(z.object({ destinationId: Id, name: ActorName.optional(), config: ConfigObject.optional() }))
    .mutation(async ({ ctx, input }) => {
      await requireObjectRole(ctx, 'destination', input.destinationId, 'editor');
      const updated = await updateActor(ctx.db, ctx.box, 'destination', input.destinationId, input);
      const connections = await ctx.db.connection.findMany({
        where: { destinationId: input.destinationId, status: { not: 'deprecated' } },
        select: { id: true },
      });
      await notifyOrchestrator(
        ctx,
        'updated',
        connections.map((c) => c.id),
      );
      ctx.logger.info({ destinationId: updated.id, userId: ctx.caller.userId }, 'destination updated');
      return updated;
    }),

  delete: writeProcedure.input(DestinationRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'destination', input.destinationId, 'editor');
    const connections = await deleteActor(ctx.db, 'destination', input.destinationId);
    await notifyOrchestrator(ctx, 'deleted', connections);
    ctx.logger.info({ destinationId: input.destinationId, userId: ctx.caller.userId }, 'destination deleted');
    return { id: input.destinationId, deleted: true as const, connectionsDeleted: connections.length };
  }),

  check: writeProcedure.input(DestinationRef).mutation(async ({ ctx, input }) => {
    const { workspaceId } = await requireObjectRole(ctx, 'destination', input.destinationId, 'editor');
    const destination = await getActor(ctx.db, 'destination', input.destinationId);
    return runCheckJob(ctx, {
      workspaceId,
      dataplaneGroup: await dataplaneGroupOf(ctx.db, workspaceId),
      definition: destination.definition,
      storedConfig: destination.config,
      destinationId: destination.id,
    });
  }),

  checkConfig: writeProcedure
    .input(
      z.object({ workspaceId: Id, definitionId: Id, config: ConfigObject, destinationId: Id.optional() }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
      let stored: unknown = {};
      if (input.destinationId) {
        const scope = await requireObjectRole(ctx, 'destination', input.destinationId, 'editor');
        if (scope.workspaceId !== input.workspaceId) {
          throw new ApiError('NOT_FOUND', `destination ${input.destinationId} not found`);
        }
        stored = (await getActor(ctx.db, 'destination', input.destinationId)).config;
      }
      const def = await definitionFor(ctx.db, 'destination', input.workspaceId, input.definitionId);
      if (input.destinationId) {
        const saved = await getActor(ctx.db, 'destination', input.destinationId);
        // Secrets of a saved destination are only ever handed to its own connector.
        if (saved.definitionId !== def.id) {
          throw new ApiError('BAD_REQUEST', "definitionId must be the destination's own definition", {
            path: 'definitionId',
          });
        }
      }
      return runCheckJob(ctx, {
        workspaceId: input.workspaceId,
        dataplaneGroup: await dataplaneGroupOf(ctx.db, input.workspaceId),
        definition: def,
        storedConfig: prepareConfig(ctx.box, def, input.config, stored),
        destinationId: input.destinationId,
      });
    }),
});
