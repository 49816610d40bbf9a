import { z } from 'zod';
import { requireObjectRole, requireWorkspaceRole } from '../access';
import { ApiError } from '../errors';
import { createApiToken, listApiTokens, revokeApiToken } from '../services/tokens';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  presentWebhook,
  updateWebhook,
  WebhookFields,
} from '../services/webhooks';
import {
  addMember,
  createWorkspace,
  deleteWorkspace,
  getWorkspace,
  listMembers,
  listMyWorkspaces,
  removeMember,
  Slug,
  updateMemberRole,
  updateWorkspace,
  WorkspaceRoleInput,
} from '../services/workspaces';
import { adminProcedure, readProcedure, router, userProcedure } from '../trpc';
import { Id, notifyOrchestrator } from './helpers';

const WorkspaceId = z.object({ workspaceId: Id });

const membersRouter = router({
  list: readProcedure.input(WorkspaceId).query(async ({ ctx, input }) => {
    await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
    return listMembers(ctx.db, input.workspaceId);
  }),
  /** Adds an existing user by email. */
  add: adminProcedure
    .input(z.object({ workspaceId: Id, email: z.email().max(320), role: WorkspaceRoleInput }))
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'admin');
      return addMember(ctx.db, input.workspaceId, input.email, input.role);
    }),
  updateRole: adminProcedure
    .input(z.object({ workspaceId: Id, userId: Id, role: WorkspaceRoleInput }))
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'admin');
      return updateMemberRole(ctx.db, input.workspaceId, input.userId, input.role);
    }),
  remove: adminProcedure.input(z.object({ workspaceId: Id, userId: Id })).mutation(async ({ ctx, input }) => {
    await requireWorkspaceRole(ctx, input.workspaceId, 'admin');
    return removeMember(ctx.db, input.workspaceId, input.userId);
  }),
});

/**
 * The caller's own API tokens. A token limited to a workspace acts only there; one created
 * with a workspace-scoped token is limited to the same workspace.
 */
const tokensRouter = router({
  list: userProcedure
    .input(z.object({ workspaceId: Id.optional() }).default({}))
    .query(async ({ ctx, input }) => {
      // A workspace the caller cannot see (or outside its token's scope) is NOT_FOUND.
      if (input.workspaceId) await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      const scope = input.workspaceId ?? ctx.caller.tokenWorkspaceId ?? null;
      return listApiTokens(ctx.db, ctx.caller.userId, scope);
    }),
  /** The token is in this answer only: the server keeps its hash. */
  create: userProcedure
    .input(
      z.object({
        name: z.string().trim().min(1).max(200),
        /** Limit the token to one workspace (recommended for automation). */
        workspaceId: Id.optional(),
        expiresInDays: z.int().min(1).max(3650).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      if (input.workspaceId) await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      if (ctx.caller.tokenWorkspaceId && input.workspaceId !== ctx.caller.tokenWorkspaceId) {
        throw new ApiError(
          'FORBIDDEN',
          'a workspace-scoped token can only create tokens for its own workspace',
          {
            path: 'workspaceId',
          },
        );
      }
      return createApiToken(ctx.db, ctx.caller.userId, {
        name: input.name,
        workspaceId: input.workspaceId ?? null,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
      });
    }),
  revoke: userProcedure
    .input(z.object({ tokenId: Id }))
    .mutation(({ ctx, input }) =>
      revokeApiToken(ctx.db, ctx.caller.userId, input.tokenId, ctx.caller.tokenWorkspaceId),
    ),
});

const webhooksRouter = router({
  list: readProcedure.input(WorkspaceId).query(async ({ ctx, input }) => {
    await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
    return listWebhooks(ctx.db, input.workspaceId);
  }),
  get: readProcedure.input(z.object({ webhookId: Id })).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'webhook', input.webhookId, 'reader');
    return presentWebhook(await getWebhook(ctx.db, input.webhookId));
  }),
  create: adminProcedure
    .input(
      WebhookFields.partial({ secretHeaderName: true, secretHeaderValue: true, enabled: true }).extend({
        workspaceId: Id,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'admin');
      return createWebhook(ctx.db, ctx.box, input.workspaceId, {
        ...input,
        secretHeaderName: input.secretHeaderName ?? null,
        secretHeaderValue: input.secretHeaderValue ?? null,
        enabled: input.enabled ?? true,
      });
    }),
  /** Send `secretHeaderValue: "**********"` (or leave it out) to keep the stored value. */
  update: adminProcedure
    .input(WebhookFields.partial().extend({ webhookId: Id }))
    .mutation(async ({ ctx, input }) => {
      await requireObjectRole(ctx, 'webhook', input.webhookId, 'admin');
      const { webhookId, ...patch } = input;
      return updateWebhook(ctx.db, ctx.box, webhookId, patch);
    }),
  delete: adminProcedure.input(z.object({ webhookId: Id })).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'webhook', input.webhookId, 'admin');
    return deleteWebhook(ctx.db, input.webhookId);
  }),
});

export const workspaceRouter = router({
  /** Workspaces the caller belongs to (all of them for instance admins). */
  list: userProcedure.query(({ ctx }) => listMyWorkspaces(ctx.db, ctx.caller)),

  get: readProcedure.input(WorkspaceId).query(async ({ ctx, input }) => {
    const role = await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
    return getWorkspace(ctx.db, input.workspaceId, role);
  }),

  /** The creator becomes its admin. */
  create: userProcedure
    .input(z.object({ name: z.string().trim().min(1).max(200), slug: Slug.optional() }))
    .mutation(({ ctx, input }) => {
      if (ctx.caller.tokenWorkspaceId) {
        throw new ApiError('FORBIDDEN', 'a workspace-scoped token cannot create workspaces');
      }
      return createWorkspace(ctx.db, ctx.caller.userId, input);
    }),

  update: adminProcedure
    .input(
      z.object({
        workspaceId: Id,
        name: z.string().trim().min(1).max(200).optional(),
        slug: Slug.optional(),
        /** Which launchers run its workloads: instance administrators only. */
        dataplaneGroup: z
          .string()
          .min(1)
          .max(100)
          .regex(/^[a-z0-9][a-z0-9-]*$/)
          .optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const role = await requireWorkspaceRole(ctx, input.workspaceId, 'admin');
      if (input.dataplaneGroup !== undefined && !ctx.caller.isInstanceAdmin) {
        throw new ApiError(
          'FORBIDDEN',
          'only instance administrators may move a workspace to another dataplane group',
          {
            path: 'dataplaneGroup',
          },
        );
      }
      return updateWorkspace(ctx.db, input.workspaceId, role, input);
    }),

  /** Deletes the workspace with its sources, destinations, connections and job history. */
  delete: adminProcedure.input(WorkspaceId).mutation(async ({ ctx, input }) => {
    await requireWorkspaceRole(ctx, input.workspaceId, 'admin');
    const connections = await deleteWorkspace(ctx.db, input.workspaceId);
    await notifyOrchestrator(ctx, 'deleted', connections);
    return { id: input.workspaceId, deleted: true as const };
  }),

  members: membersRouter,
  tokens: tokensRouter,
  webhooks: webhooksRouter,
});
