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
import { latestCatalog } from '../services/catalogs';
import { runCheckJob, runDiscoverJob } from '../services/connector-jobs';
import { readProcedure, router, writeProcedure } from '../trpc';
import { dataplaneGroupOf, Id, notifyOrchestrator } from './helpers';

const SourceRef = z.object({ sourceId: Id });

export const sourceRouter = router({
  list: readProcedure
    .input(z.object({ workspaceId: Id, definitionId: Id.optional() }))
    .query(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      return listActors(ctx.db, 'source', input.workspaceId, input);
    }),

  /** Secret fields come back as `**********`. */
  get: readProcedure.input(SourceRef).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'source', input.sourceId, 'reader');
    return presentActor(await getActor(ctx.db, 'source', input.sourceId));
  }),

  /** The config is validated against the definition's spec; `airbyte_secret` fields are encrypted. */
  create: writeProcedure
    .input(z.object({ workspaceId: Id, definitionId: Id, name: ActorName, config: ConfigObject }))
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
      const created = await createActor(ctx.db, ctx.box, 'source', input);
      ctx.logger.info(
        { sourceId: created.id, workspaceId: input.workspaceId, userId: ctx.caller.userId },
        'source created',
      );
      return created;
    }),

  /** Secrets sent back as `**********` keep their stored value. */
  update: writeProcedure
    .input(z.object({ sourceId: Id, name: ActorName.optional(), config: ConfigObject.optional() }))
    .mutation(async ({ ctx, input }) => {
      await requireObjectRole(ctx, 'source', input.sourceId, 'editor');
      const updated = await updateActor(ctx.db, ctx.box, 'source', input.sourceId, input);
      const connections = await ctx.db.connection.findMany({
        where: { sourceId: input.sourceId, status: { not: 'deprecated' } },
        select: { id: true },
      });
      await notifyOrchestrator(
        ctx,
        'updated',
        connections.map((c) => c.id),
      );
      ctx.logger.info({ sourceId: updated.id, userId: ctx.caller.userId }, 'source updated');
      return updated;
    }),

  /** Deletes the source and its connections (job history stays). */
  delete: writeProcedure.input(SourceRef).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'source', input.sourceId, 'editor');
    const connections = await deleteActor(ctx.db, 'source', input.sourceId);
    await notifyOrchestrator(ctx, 'deleted', connections);
    ctx.logger.info({ sourceId: input.sourceId, userId: ctx.caller.userId }, 'source deleted');
    return { id: input.sourceId, deleted: true as const, connectionsDeleted: connections.length };
  }),

  /** Runs the connector's check with the saved config, as a check job. */
  check: writeProcedure.input(SourceRef).mutation(async ({ ctx, input }) => {
    const { workspaceId } = await requireObjectRole(ctx, 'source', input.sourceId, 'editor');
    const source = await getActor(ctx.db, 'source', input.sourceId);
    return runCheckJob(ctx, {
      workspaceId,
      dataplaneGroup: await dataplaneGroupOf(ctx.db, workspaceId),
      definition: source.definition,
      storedConfig: source.config,
      sourceId: source.id,
    });
  }),

  /**
   * Checks a config before saving it (the "test" button of a form). With `sourceId`, masked
   * secrets are taken from that saved source.
   */
  checkConfig: writeProcedure
    .input(z.object({ workspaceId: Id, definitionId: Id, config: ConfigObject, sourceId: Id.optional() }))
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
      let stored: unknown = {};
      if (input.sourceId) {
        const scope = await requireObjectRole(ctx, 'source', input.sourceId, 'editor');
        if (scope.workspaceId !== input.workspaceId)
          throw new ApiError('NOT_FOUND', `source ${input.sourceId} not found`);
        stored = (await getActor(ctx.db, 'source', input.sourceId)).config;
      }
      const def = await definitionFor(ctx.db, 'source', input.workspaceId, input.definitionId);
      if (input.sourceId) {
        const saved = await getActor(ctx.db, 'source', input.sourceId);
        // Secrets of a saved source are only ever handed to its own connector.
        if (saved.definitionId !== def.id) {
          throw new ApiError('BAD_REQUEST', "definitionId must be the source's own definition", {
            path: 'definitionId',
          });
        }
      }
      return runCheckJob(ctx, {
        workspaceId: input.workspaceId,
        dataplaneGroup: await dataplaneGroupOf(ctx.db, input.workspaceId),
        definition: def,
        storedConfig: prepareConfig(ctx.box, def, input.config, stored),
        sourceId: input.sourceId,
      });
    }),

  /**
   * Discovers the source's schema as a discover job and stores the catalog. A catalog already
   * discovered with the same config and connector version is reused unless `disableCache`.
   * Connections of the source get a schema-change review (or the change applied, per their
   * preference).
   */
  discover: writeProcedure
    .input(z.object({ sourceId: Id, disableCache: z.boolean().default(false) }))
    .mutation(async ({ ctx, input }) => {
      const { workspaceId } = await requireObjectRole(ctx, 'source', input.sourceId, 'editor');
      const source = await getActor(ctx.db, 'source', input.sourceId);
      const result = await runDiscoverJob(
        ctx,
        {
          workspaceId,
          dataplaneGroup: await dataplaneGroupOf(ctx.db, workspaceId),
          definition: source.definition,
          storedConfig: source.config,
          sourceId: source.id,
        },
        { disableCache: input.disableCache },
      );
      for (const change of result.schemaChanges) {
        await notifyOrchestrator(
          ctx,
          change.action === 'disabled' ? 'disabled' : 'updated',
          change.connectionId,
        );
      }
      return result;
    }),

  /** The last discovered catalog, without running anything; null when never discovered. */
  latestCatalog: readProcedure.input(SourceRef).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'source', input.sourceId, 'reader');
    return latestCatalog(ctx.db, input.sourceId);
  }),
});
