import { z } from 'zod';
import { clearedSessionCookie, sessionCookie } from '../auth/session';
import {
  changePassword,
  createUser,
  Email,
  listUsers,
  login,
  logout,
  me,
  NewPassword,
} from '../services/auth';
import { instanceAdminProcedure, publicProcedure, router, userProcedure } from '../trpc';

export const authRouter = router({
  /** Email + password → a session cookie (HttpOnly, SameSite=Lax, Secure on https). */
  login: publicProcedure
    .input(z.object({ email: Email, password: z.string().min(1).max(1000) }))
    .mutation(async ({ ctx, input }) => {
      const session = await login(ctx.db, {
        email: input.email,
        password: input.password,
        userAgent: ctx.request.userAgent,
        ip: ctx.request.ip,
      });
      ctx.resHeaders.append('set-cookie', sessionCookie(session.token, { secure: ctx.request.secure }));
      ctx.logger.info({ userId: session.user.id }, 'signed in');
      return {
        ...(await me(ctx.db, {
          kind: 'user',
          userId: session.user.id,
          email: session.user.email,
          isInstanceAdmin: session.user.isInstanceAdmin,
          via: 'session',
          tokenWorkspaceId: null,
          sessionId: null,
        })),
        expiresAt: session.expiresAt.toISOString(),
      };
    }),

  /** Ends the current session (a no-op for API tokens: revoke those instead). */
  logout: userProcedure.mutation(async ({ ctx }) => {
    await logout(ctx.db, ctx.caller.sessionId);
    ctx.resHeaders.append('set-cookie', clearedSessionCookie({ secure: ctx.request.secure }));
    return { loggedOut: true as const };
  }),

  /** The caller, and the workspaces it can act in. */
  me: userProcedure.query(({ ctx }) => me(ctx.db, ctx.caller)),

  changePassword: userProcedure
    .input(z.object({ currentPassword: z.string().min(1).max(1000), newPassword: NewPassword }))
    .mutation(({ ctx, input }) => changePassword(ctx.db, ctx.caller, input)),

  /** Instance administration: users log in with a password; workspace admins then add them by email. */
  createUser: instanceAdminProcedure
    .input(
      z.object({
        email: Email,
        name: z.string().max(200).optional(),
        password: NewPassword.optional(),
        isInstanceAdmin: z.boolean().default(false),
      }),
    )
    .mutation(({ ctx, input }) => createUser(ctx.db, input)),

  listUsers: instanceAdminProcedure.query(({ ctx }) => listUsers(ctx.db)),
});
