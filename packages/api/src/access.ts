import type { WorkspaceRole } from '@sluice/db';
import { ApiError, notFound } from './errors';
import type { UserContext } from './trpc';

const RANK: Record<WorkspaceRole, number> = { reader: 0, editor: 1, admin: 2 };

/**
 * Checks the caller's role in a workspace. Not a member → NOT_FOUND (the workspace, and any
 * object in it, does not exist for this caller); a member with too low a role → FORBIDDEN.
 * Instance admins act as admins everywhere; a workspace-scoped token acts only in its own.
 */
export async function requireWorkspaceRole(
  ctx: UserContext,
  workspaceId: string,
  minimum: WorkspaceRole,
): Promise<WorkspaceRole> {
  const { caller } = ctx;
  if (caller.tokenWorkspaceId && caller.tokenWorkspaceId !== workspaceId)
    throw notFound('workspace', workspaceId);
  let role: WorkspaceRole;
  if (caller.isInstanceAdmin) {
    const exists = await ctx.db.workspace.findUnique({ where: { id: workspaceId }, select: { id: true } });
    if (!exists) throw notFound('workspace', workspaceId);
    role = 'admin';
  } else {
    const membership = await ctx.db.workspaceMembership.findUnique({
      where: { workspaceId_userId: { workspaceId, userId: caller.userId } },
      select: { role: true },
    });
    if (!membership) throw notFound('workspace', workspaceId);
    role = membership.role;
  }
  if (RANK[role] < RANK[minimum]) {
    throw new ApiError('FORBIDDEN', `this needs the ${minimum} role in the workspace; you are ${role}`);
  }
  return role;
}

/** Objects that belong to one workspace, by the name their procedures use. */
export type WorkspaceObject = 'source' | 'destination' | 'connection' | 'job' | 'webhook';

async function workspaceOf(ctx: UserContext, kind: WorkspaceObject, id: string): Promise<string | null> {
  const select = { workspaceId: true } as const;
  switch (kind) {
    case 'source':
      return (
        (await ctx.db.source.findFirst({ where: { id, tombstone: false }, select }))?.workspaceId ?? null
      );
    case 'destination':
      return (
        (await ctx.db.destination.findFirst({ where: { id, tombstone: false }, select }))?.workspaceId ?? null
      );
    case 'connection':
      return (
        (await ctx.db.connection.findFirst({ where: { id, status: { not: 'deprecated' } }, select }))
          ?.workspaceId ?? null
      );
    case 'job':
      return (await ctx.db.job.findUnique({ where: { id }, select }))?.workspaceId ?? null;
    case 'webhook':
      return (await ctx.db.notificationWebhook.findUnique({ where: { id }, select }))?.workspaceId ?? null;
  }
}

/**
 * Finds the workspace of an object and checks the caller's role there. An object that does
 * not exist, is deleted, or lives in a workspace the caller is not in gives the same
 * NOT_FOUND naming the object (never its workspace): ids of other workspaces stay unconfirmed.
 */
export async function requireObjectRole(
  ctx: UserContext,
  kind: WorkspaceObject,
  id: string,
  minimum: WorkspaceRole,
): Promise<{ workspaceId: string; role: WorkspaceRole }> {
  const workspaceId = await workspaceOf(ctx, kind, id);
  if (!workspaceId) throw notFound(kind, id);
  try {
    return { workspaceId, role: await requireWorkspaceRole(ctx, workspaceId, minimum) };
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_FOUND') throw notFound(kind, id);
    throw err;
  }
}
