import { randomBytes } from 'node:crypto';
import type { DbOrTx, Workspace, WorkspaceRole } from '@sluice/db';
import { z } from 'zod';
import type { UserCaller } from '../auth/caller';
import { ApiError, notFound } from '../errors';
import { iso, onConflict, slugify } from './util';

export const WorkspaceRoleInput = z.enum(['admin', 'editor', 'reader']);
export const Slug = z
  .string()
  .min(2)
  .max(48)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'lower-case letters, digits and single dashes');

export function presentWorkspace(w: Workspace, role: WorkspaceRole) {
  return {
    id: w.id,
    name: w.name,
    slug: w.slug,
    dataplaneGroup: w.dataplaneGroup,
    /** The caller's role in it. */
    role,
    createdAt: iso(w.createdAt)!,
    updatedAt: iso(w.updatedAt)!,
  };
}

/** The caller's workspaces: memberships; every workspace for instance admins; one for a scoped token. */
export async function listMyWorkspaces(db: DbOrTx, caller: UserCaller) {
  const memberships = await db.workspaceMembership.findMany({
    where: { userId: caller.userId },
    include: { workspace: true },
  });
  const roles = new Map(memberships.map((m) => [m.workspaceId, m.role]));
  let workspaces: Workspace[];
  if (caller.isInstanceAdmin) {
    workspaces = await db.workspace.findMany({
      where: caller.tokenWorkspaceId ? { id: caller.tokenWorkspaceId } : {},
      orderBy: { name: 'asc' },
    });
    return workspaces.map((w) => presentWorkspace(w, 'admin'));
  }
  workspaces = memberships.map((m) => m.workspace);
  if (caller.tokenWorkspaceId) workspaces = workspaces.filter((w) => w.id === caller.tokenWorkspaceId);
  return workspaces
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((w) => presentWorkspace(w, roles.get(w.id) ?? 'reader'));
}

export async function getWorkspace(db: DbOrTx, id: string, role: WorkspaceRole) {
  const w = await db.workspace.findUnique({ where: { id } });
  if (!w) throw notFound('workspace', id);
  return presentWorkspace(w, role);
}

/** Creates a workspace whose admin is its creator. A taken slug is a CONFLICT when given, else suffixed. */
export async function createWorkspace(
  db: DbOrTx,
  userId: string,
  input: { name: string; slug?: string | undefined },
) {
  const base = input.slug ?? slugify(input.name);
  for (let i = 0; ; i++) {
    const slug = input.slug || i === 0 ? base : `${base.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
    try {
      const w = await onConflict(
        () =>
          db.workspace.create({
            data: { name: input.name, slug, memberships: { create: { userId, role: 'admin' } } },
          }),
        `the slug ${slug} is taken`,
      );
      return presentWorkspace(w, 'admin');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CONFLICT' && !input.slug && i < 5) continue;
      throw err;
    }
  }
}

export async function updateWorkspace(
  db: DbOrTx,
  id: string,
  role: WorkspaceRole,
  patch: { name?: string | undefined; slug?: string | undefined; dataplaneGroup?: string | undefined },
) {
  const w = await onConflict(
    () =>
      db.workspace.update({
        where: { id },
        data: {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.slug !== undefined ? { slug: patch.slug } : {}),
          ...(patch.dataplaneGroup !== undefined ? { dataplaneGroup: patch.dataplaneGroup } : {}),
        },
      }),
    `the slug ${patch.slug} is taken`,
  );
  return presentWorkspace(w, role);
}

/** Deletes a workspace and everything in it; returns its live connections to unschedule. */
export async function deleteWorkspace(db: DbOrTx, id: string): Promise<string[]> {
  const connections = await db.connection.findMany({
    where: { workspaceId: id, status: { not: 'deprecated' } },
    select: { id: true },
  });
  await db.workspace.delete({ where: { id } });
  return connections.map((c) => c.id);
}

// ---------------------------------------------------------------------------------------------
// Members

export async function listMembers(db: DbOrTx, workspaceId: string) {
  const rows = await db.workspaceMembership.findMany({
    where: { workspaceId },
    include: { user: true },
    orderBy: { createdAt: 'asc' },
  });
  return rows.map((m) => ({
    userId: m.userId,
    email: m.user.email,
    name: m.user.name,
    role: m.role,
    disabled: m.user.disabledAt !== null,
    addedAt: iso(m.createdAt)!,
  }));
}

async function assertAnotherAdmin(db: DbOrTx, workspaceId: string, userId: string) {
  const admins = await db.workspaceMembership.count({
    where: { workspaceId, role: 'admin', userId: { not: userId } },
  });
  if (admins === 0) throw new ApiError('PRECONDITION_FAILED', 'a workspace needs at least one admin');
}

export async function addMember(db: DbOrTx, workspaceId: string, email: string, role: WorkspaceRole) {
  const user = await db.user.findUnique({ where: { email: email.trim().toLowerCase() } });
  if (!user) {
    throw new ApiError(
      'NOT_FOUND',
      `no user with the email ${email}; an instance administrator creates users (auth.createUser)`,
      {
        path: 'email',
      },
    );
  }
  await onConflict(
    () => db.workspaceMembership.create({ data: { workspaceId, userId: user.id, role } }),
    `${user.email} is already a member`,
  );
  return (await listMembers(db, workspaceId)).find((m) => m.userId === user.id)!;
}

export async function updateMemberRole(db: DbOrTx, workspaceId: string, userId: string, role: WorkspaceRole) {
  const m = await db.workspaceMembership.findUnique({
    where: { workspaceId_userId: { workspaceId, userId } },
  });
  if (!m) throw notFound('member', userId);
  if (m.role === 'admin' && role !== 'admin') await assertAnotherAdmin(db, workspaceId, userId);
  await db.workspaceMembership.update({ where: { id: m.id }, data: { role } });
  return (await listMembers(db, workspaceId)).find((x) => x.userId === userId)!;
}

export async function removeMember(db: DbOrTx, workspaceId: string, userId: string) {
  const m = await db.workspaceMembership.findUnique({
    where: { workspaceId_userId: { workspaceId, userId } },
  });
  if (!m) throw notFound('member', userId);
  if (m.role === 'admin') await assertAnotherAdmin(db, workspaceId, userId);
  await db.workspaceMembership.delete({ where: { id: m.id } });
  // Tokens scoped to the workspace are useless now; revoke them so they do not revive on re-add.
  await db.apiToken.updateMany({
    where: { userId, workspaceId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return { userId, removed: true as const };
}
