import type { ActorType } from '@sluice/db';
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
import { readProcedure, writeProcedure } from '../trpc';
import { dataplaneGroupOf, Id, notifyOrchestrator } from './helpers';

/**
 * The procedures sources and destinations share. Each kind names its id field after itself
 * (`sourceId`, `destinationId`), as clients and Airbyte's API do, so the shapes are built from
 * the kind and stay exact in the routers' types.
 */
/** What an update may change besides the id. */
interface ActorPatch {
  name?: string | undefined;
  config?: Record<string, unknown> | undefined;
}

interface CheckConfigInput {
  workspaceId: string;
  definitionId: string;
  config: Record<string, unknown>;
}

export function actorProcedures<K extends ActorType>(kind: K) {
  type IdKey = `${K}Id`;
  const idKey = `${kind}Id` as IdKey;
  // Inside this generic function tRPC's input types stay unresolved conditional types; the
  // schema has already guaranteed the field, and callers see the exact type per kind.
  const idOf = (input: unknown): string => (input as Record<IdKey, string>)[idKey];
  const refShape = { [idKey]: Id } as Record<IdKey, typeof Id>;
  const optionalRefShape = { [idKey]: Id.optional() } as Record<IdKey, z.ZodOptional<typeof Id>>;
  const Ref = z.object(refShape);
  // Connections and check jobs name the actor by its own column.
  const byActor = (id: string) => (kind === 'source' ? { sourceId: id } : { destinationId: id });

  return {
    list: readProcedure
      .input(z.object({ workspaceId: Id, definitionId: Id.optional() }))
      .query(async ({ ctx, input }) => {
        await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
        return listActors(ctx.db, kind, input.workspaceId, input);
      }),

    /** Secret fields come back as `**********`. */
    get: readProcedure.input(Ref).query(async ({ ctx, input }) => {
      const id = idOf(input);
      await requireObjectRole(ctx, kind, id, 'reader');
      return presentActor(await getActor(ctx.db, kind, id));
    }),

    /** The config is validated against the definition's spec; `airbyte_secret` fields are encrypted. */
    create: writeProcedure
      .input(z.object({ workspaceId: Id, definitionId: Id, name: ActorName, config: ConfigObject }))
      .mutation(async ({ ctx, input }) => {
        await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
        const created = await createActor(ctx.db, ctx.box, kind, input);
        ctx.logger.info(
          { [idKey]: created.id, workspaceId: input.workspaceId, userId: ctx.caller.userId },
          `${kind} created`,
        );
        return created;
      }),

    /** Secrets sent back as `**********` keep their stored value. */
    update: writeProcedure
      .input(z.object({ ...refShape, name: ActorName.optional(), config: ConfigObject.optional() }))
      .mutation(async ({ ctx, input }) => {
        const id = idOf(input);
        await requireObjectRole(ctx, kind, id, 'editor');
        const updated = await updateActor(ctx.db, ctx.box, kind, id, input as ActorPatch);
        const connections = await ctx.db.connection.findMany({
          where: { ...byActor(id), status: { not: 'deprecated' } },
          select: { id: true },
        });
        await notifyOrchestrator(
          ctx,
          'updated',
          connections.map((c) => c.id),
        );
        ctx.logger.info({ [idKey]: updated.id, userId: ctx.caller.userId }, `${kind} updated`);
        return updated;
      }),

    /** Deletes the actor and its connections (job history stays). */
    delete: writeProcedure.input(Ref).mutation(async ({ ctx, input }) => {
      const id = idOf(input);
      await requireObjectRole(ctx, kind, id, 'editor');
      const connections = await deleteActor(ctx.db, kind, id);
      await notifyOrchestrator(ctx, 'deleted', connections);
      ctx.logger.info({ [idKey]: id, userId: ctx.caller.userId }, `${kind} deleted`);
      return { id, deleted: true as const, connectionsDeleted: connections.length };
    }),

    /** Runs the connector's check with the saved config, as a check job. */
    check: writeProcedure.input(Ref).mutation(async ({ ctx, input }) => {
      const id = idOf(input);
      const { workspaceId } = await requireObjectRole(ctx, kind, id, 'editor');
      const actor = await getActor(ctx.db, kind, id);
      return runCheckJob(ctx, {
        workspaceId,
        dataplaneGroup: await dataplaneGroupOf(ctx.db, workspaceId),
        definition: actor.definition,
        storedConfig: actor.config,
        ...byActor(actor.id),
      });
    }),

    /**
     * Checks a config before saving it (the "test" button of a form). With the actor's id,
     * masked secrets are taken from that saved actor.
     */
    checkConfig: writeProcedure
      .input(z.object({ workspaceId: Id, definitionId: Id, config: ConfigObject, ...optionalRefShape }))
      .mutation(async ({ ctx, input: raw }) => {
        const input = raw as CheckConfigInput;
        await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
        const id = (raw as Partial<Record<IdKey, string>>)[idKey];
        let saved: Awaited<ReturnType<typeof getActor>> | undefined;
        if (id) {
          const scope = await requireObjectRole(ctx, kind, id, 'editor');
          if (scope.workspaceId !== input.workspaceId)
            throw new ApiError('NOT_FOUND', `${kind} ${id} not found`);
          saved = await getActor(ctx.db, kind, id);
        }
        const def = await definitionFor(ctx.db, kind, input.workspaceId, input.definitionId);
        // Secrets of a saved actor are only ever handed to its own connector.
        if (saved && saved.definitionId !== def.id) {
          throw new ApiError('BAD_REQUEST', `definitionId must be the ${kind}'s own definition`, {
            path: 'definitionId',
          });
        }
        const stored: unknown = saved?.config ?? {};
        return runCheckJob(ctx, {
          workspaceId: input.workspaceId,
          dataplaneGroup: await dataplaneGroupOf(ctx.db, input.workspaceId),
          definition: def,
          storedConfig: prepareConfig(ctx.box, def, input.config, stored),
          ...(id ? byActor(id) : {}),
        });
      }),
  };
}
