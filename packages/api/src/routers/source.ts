import { z } from 'zod';
import { requireObjectRole } from '../access';
import { getActor } from '../services/actors';
import { latestCatalog } from '../services/catalogs';
import { runDiscoverJob } from '../services/connector-jobs';
import { readProcedure, router, writeProcedure } from '../trpc';
import { actorProcedures } from './actor';
import { dataplaneGroupOf, Id, notifyOrchestrator } from './helpers';

const SourceRef = z.object({ sourceId: Id });

export const sourceRouter = router({
  ...actorProcedures('source'),

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
