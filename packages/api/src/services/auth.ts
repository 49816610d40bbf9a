import type { Db, DbOrTx, User } from '@sluice/db';
import { z } from 'zod';
import type { UserCaller } from '../auth/caller';
import { hashPassword, verifyPassword } from '../auth/passwords';
import { LoginRateLimiter } from '../auth/rate-limit';
import { SESSION_TTL_MS } from '../auth/session';
import { issueToken } from '../auth/tokens';
import { ApiError } from '../errors';
import { iso, onConflict, slugify } from './util';

export const Email = z
  .email({ error: 'must be an email address' })
  .max(320)
  .transform((e) => e.trim().toLowerCase());
/** Long enough to resist guessing; no composition rules (NIST 800-63B). */
export const NewPassword = z.string().min(10, 'must be at least 10 characters').max(1000);

export const loginLimiter = new LoginRateLimiter();

// Compared against when the email is unknown, so timing does not tell which emails exist.
let dummyHash: Promise<string> | undefined;

export function presentUser(u: User) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    isInstanceAdmin: u.isInstanceAdmin,
    disabled: u.disabledAt !== null,
    hasPassword: u.passwordHash !== null,
    lastLoginAt: iso(u.lastLoginAt),
    createdAt: iso(u.createdAt)!,
  };
}

/**
 * Checks a password and opens a session. Every failure gives the same message; repeated
 * failures for one email are slowed down (TOO_MANY_REQUESTS).
 */
export async function login(
  db: Db,
  input: { email: string; password: string; userAgent: string | null; ip: string | null },
) {
  const wait = loginLimiter.blockedFor(input.email);
  if (wait > 0) {
    throw new ApiError(
      'TOO_MANY_REQUESTS',
      `too many failed sign-ins; try again in ${Math.ceil(wait / 60_000)} min`,
    );
  }
  const user = await db.user.findUnique({ where: { email: input.email } });
  dummyHash ??= hashPassword('not a real password');
  const ok = user?.passwordHash
    ? await verifyPassword(input.password, user.passwordHash)
    : (await verifyPassword(input.password, await dummyHash)) && false;
  if (!user || !ok || user.disabledAt) {
    loginLimiter.fail(input.email);
    throw new ApiError('UNAUTHORIZED', 'the email or password is incorrect');
  }
  loginLimiter.succeed(input.email);
  const issued = issueToken('session');
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await db.$transaction([
    db.session.create({
      data: {
        userId: user.id,
        tokenHash: issued.hash,
        expiresAt,
        userAgent: input.userAgent,
        ipAddress: input.ip,
        lastSeenAt: new Date(),
      },
    }),
    db.user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } }),
    // Housekeeping: this user's expired sessions.
    db.session.deleteMany({ where: { userId: user.id, expiresAt: { lt: new Date() } } }),
  ]);
  return { user, token: issued.token, expiresAt };
}

export async function logout(db: DbOrTx, sessionId: string | null) {
  if (sessionId) await db.session.deleteMany({ where: { id: sessionId } });
}

export async function me(db: DbOrTx, caller: UserCaller) {
  const user = await db.user.findUniqueOrThrow({
    where: { id: caller.userId },
    include: { memberships: { include: { workspace: true } } },
  });
  const memberships = user.memberships
    .filter((m) => !caller.tokenWorkspaceId || m.workspaceId === caller.tokenWorkspaceId)
    .map((m) => ({
      workspaceId: m.workspaceId,
      workspaceName: m.workspace.name,
      slug: m.workspace.slug,
      role: m.role,
    }))
    .sort((a, b) => a.workspaceName.localeCompare(b.workspaceName));
  return {
    user: presentUser(user),
    via: caller.via,
    /** Set when the caller uses a token limited to one workspace. */
    tokenWorkspaceId: caller.tokenWorkspaceId,
    memberships,
  };
}

export async function changePassword(
  db: DbOrTx,
  caller: UserCaller,
  input: { currentPassword: string; newPassword: string },
) {
  const user = await db.user.findUniqueOrThrow({ where: { id: caller.userId } });
  if (!user.passwordHash || !(await verifyPassword(input.currentPassword, user.passwordHash))) {
    throw new ApiError('UNAUTHORIZED', 'the current password is incorrect', { path: 'currentPassword' });
  }
  await db.user.update({
    where: { id: user.id },
    data: { passwordHash: await hashPassword(input.newPassword) },
  });
  // Other sessions end: a password change is often a response to a leak.
  await db.session.deleteMany({
    where: { userId: user.id, ...(caller.sessionId ? { id: { not: caller.sessionId } } : {}) },
  });
  return { changed: true as const };
}

export async function createUser(
  db: DbOrTx,
  input: {
    email: string;
    name?: string | undefined;
    password?: string | undefined;
    isInstanceAdmin: boolean;
  },
) {
  const user = await onConflict(
    async () =>
      db.user.create({
        data: {
          email: input.email,
          name: input.name ?? '',
          passwordHash: input.password ? await hashPassword(input.password) : null,
          isInstanceAdmin: input.isInstanceAdmin,
        },
      }),
    `a user with the email ${input.email} already exists`,
  );
  return presentUser(user);
}

export async function listUsers(db: DbOrTx) {
  const rows = await db.user.findMany({ orderBy: { email: 'asc' } });
  return rows.map(presentUser);
}

export interface EnsureAdminResult {
  userId: string;
  created: boolean;
  workspaceId: string | null;
}

/**
 * Makes sure an instance administrator with this email exists (for the quickstart and the
 * bootloader; safe to call at every start). A new user gets the password and, unless
 * `workspaceName` is null, a first workspace it administers. An existing user is made instance
 * admin; its password changes only with `resetPassword`.
 */
export async function ensureAdminUser(
  db: Db,
  input: {
    email: string;
    password: string;
    name?: string;
    workspaceName?: string | null;
    resetPassword?: boolean;
  },
): Promise<EnsureAdminResult> {
  const email = Email.parse(input.email);
  NewPassword.parse(input.password);
  const passwordHash = await hashPassword(input.password);
  return db.$transaction(async (tx) => {
    // Serialises concurrent starts (several replicas booting at once).
    await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock(72707371)');
    let user = await tx.user.findUnique({ where: { email } });
    let created = false;
    if (!user) {
      user = await tx.user.create({
        data: { email, name: input.name ?? '', passwordHash, isInstanceAdmin: true },
      });
      created = true;
    } else if (!user.isInstanceAdmin || input.resetPassword || !user.passwordHash) {
      user = await tx.user.update({
        where: { id: user.id },
        data: {
          isInstanceAdmin: true,
          ...(input.resetPassword || !user.passwordHash ? { passwordHash } : {}),
        },
      });
    }
    let workspaceId: string | null = null;
    const membership = await tx.workspaceMembership.findFirst({
      where: { userId: user.id },
      orderBy: { createdAt: 'asc' },
    });
    if (membership) workspaceId = membership.workspaceId;
    else if (input.workspaceName !== null) {
      const name = input.workspaceName ?? 'Default';
      const taken = await tx.workspace.findUnique({ where: { slug: slugify(name) } });
      const ws = await tx.workspace.create({
        data: {
          name,
          slug: taken ? `${slugify(name)}-${user.id.slice(0, 8)}` : slugify(name),
          memberships: { create: { userId: user.id, role: 'admin' } },
        },
      });
      workspaceId = ws.id;
    }
    return { userId: user.id, created, workspaceId };
  });
}
