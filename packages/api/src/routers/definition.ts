import type { ConnectorDefinition } from '@sluice/db';
import { z } from 'zod';
import { requireWorkspaceRole } from '../access';
import { ApiError } from '../errors';
import {
  CommandArgv,
  CustomDefinitionInput,
  createCustomDefinition,
  DefinitionKind,
  DefinitionUpdate,
  deleteDefinition,
  getVisibleDefinition,
  listDefinitions,
  presentDefinition,
  refreshDefinitionSpec,
  updateDefinition,
} from '../services/definitions';
import { slugify } from '../services/util';
import { instanceAdminProcedure, readProcedure, router, type UserContext, writeProcedure } from '../trpc';
import { Id } from './helpers';

const Ref = z.object({ workspaceId: Id, definitionId: Id });

/**
 * A definition the caller may change: its workspace's own custom definition (editor), or, for
 * instance administrators, instance-wide ones and any that run a command on the platform's hosts.
 */
async function changeable(
  ctx: UserContext,
  workspaceId: string,
  definitionId: string,
): Promise<ConnectorDefinition> {
  await requireWorkspaceRole(ctx, workspaceId, 'editor');
  const def = await getVisibleDefinition(ctx.db, workspaceId, definitionId);
  if (def.builtIn)
    throw new ApiError('FORBIDDEN', `${def.displayName} is built in: the bootloader manages it`);
  const adminOnly = def.workspaceId === null || def.command.length > 0 || def.network === 'host';
  if (adminOnly && !ctx.caller.isInstanceAdmin) {
    throw new ApiError(
      'FORBIDDEN',
      def.workspaceId === null
        ? 'only instance administrators may change an instance-wide connector definition'
        : 'this definition runs a program on the platform hosts: only instance administrators may change it',
    );
  }
  return def;
}

export const definitionRouter = router({
  /** Built-in and instance-wide definitions plus the workspace's custom ones. */
  list: readProcedure
    .input(z.object({ workspaceId: Id, kind: DefinitionKind.optional() }))
    .query(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      return listDefinitions(ctx.db, input.workspaceId, input.kind);
    }),

  /** With the connector's spec (null until fetched). */
  get: readProcedure.input(Ref).query(async ({ ctx, input }) => {
    await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
    return presentDefinition(await getVisibleDefinition(ctx.db, input.workspaceId, input.definitionId), {
      withSpec: true,
    });
  }),

  /**
   * A custom connector the workspace runs from an image. Its spec is fetched through the
   * connector runner when it can run images; until then `spec` stays null (and `specError`
   * says why), and sources/destinations cannot be created from it.
   */
  createCustom: writeProcedure
    .input(CustomDefinitionInput.extend({ workspaceId: Id }))
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'editor');
      return createCustomDefinition(ctx.db, ctx.runner, input);
    }),

  /**
   * A connector run by a command on the platform's hosts: instance administrators only. The
   * spec is fetched by running it; a failure refuses the definition. Without `workspaceId` the
   * definition is instance-wide. `network: host` gives its containers the host's network.
   */
  createCommand: instanceAdminProcedure
    .input(
      CustomDefinitionInput.extend({
        workspaceId: Id.optional(),
        command: CommandArgv,
        image: CustomDefinitionInput.shape.image.optional(),
        network: z.enum(['none', 'host']).default('none'),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      if (input.workspaceId) await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      return createCustomDefinition(ctx.db, ctx.runner, {
        ...input,
        image: input.image ?? `sluice/${slugify(input.displayName)}:${input.version.toLowerCase()}`,
        workspaceId: input.workspaceId ?? null,
      });
    }),

  /** New version, image, command (instance admins) or metadata; a new version re-fetches the spec. */
  update: writeProcedure
    .input(
      DefinitionUpdate.extend({
        workspaceId: Id,
        definitionId: Id,
        command: CommandArgv.optional(),
        network: z.enum(['none', 'host']).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const def = await changeable(ctx, input.workspaceId, input.definitionId);
      if ((input.command !== undefined || input.network === 'host') && !ctx.caller.isInstanceAdmin) {
        throw new ApiError('FORBIDDEN', 'only instance administrators may set a command or host networking', {
          path: input.command !== undefined ? 'command' : 'network',
        });
      }
      const { workspaceId: _w, definitionId: _d, ...patch } = input;
      return updateDefinition(ctx.db, ctx.runner, def, patch);
    }),

  /** Runs the connector's `spec` again and stores the answer. */
  refreshSpec: writeProcedure.input(Ref).mutation(async ({ ctx, input }) => {
    const def = await changeable(ctx, input.workspaceId, input.definitionId);
    return refreshDefinitionSpec(ctx.db, ctx.runner, def);
  }),

  /** Tombstones a custom definition that no source or destination uses. */
  delete: writeProcedure.input(Ref).mutation(async ({ ctx, input }) => {
    const def = await changeable(ctx, input.workspaceId, input.definitionId);
    return deleteDefinition(ctx.db, def);
  }),
});
