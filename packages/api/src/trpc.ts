import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { DataplaneCaller, UserCaller } from './auth/caller';
import type { Context } from './context';
import { ApiError } from './errors';

/**
 * Every procedure declares who may call it. The workspace-isolation test reads this from the
 * router at test time, so a new procedure without a declared access level fails the suite.
 * - public: anyone (login, health).
 * - user: any signed-in user; the procedure scopes itself (e.g. lists only own workspaces).
 * - read / write / admin: the procedure acts on one workspace's objects and checks the
 *   caller's role there (reader, editor, admin).
 * - instanceAdmin: instance-wide administration.
 * - dataplane: launchers and workload middleware, with a dataplane token.
 */
export type Access = 'public' | 'user' | 'read' | 'write' | 'admin' | 'instanceAdmin' | 'dataplane';

export interface Meta {
  access: Access;
}

function zodMessage(error: ZodError): { message: string; path?: string } {
  const issue = error.issues[0];
  if (!issue) return { message: 'invalid input' };
  // Same notation as ApiError paths: `catalog.streams[0].syncMode`.
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  return { message: path ? `${path}: ${issue.message}` : issue.message, ...(path ? { path } : {}) };
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      const details = cause instanceof ApiError ? cause.details : undefined;
      const zod = cause instanceof ZodError ? zodMessage(cause) : undefined;
      return {
        ...shape,
        message: zod?.message ?? shape.message,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          // Never the stack: it can carry values from inside a failing query.
          ...(details?.path || zod?.path ? { fieldPath: details?.path ?? zod?.path } : {}),
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const mergeRouters = t.mergeRouters;

/**
 * Services throw ApiError; anything else is a bug whose message may hold data (a failing
 * SQL statement's parameters, a connector's output), so the caller gets a generic message and
 * the log gets the detail.
 */
const errors = t.middleware(async ({ ctx, next, path, type }) => {
  const result = await next();
  if (result.ok) return result;
  const cause = result.error.cause;
  if (cause instanceof ApiError) return { ...result, error: cause.toTRPC() };
  if (result.error.code === 'INTERNAL_SERVER_ERROR' && !(cause instanceof ZodError)) {
    ctx.logger.error({ err: cause ?? result.error, path, type }, 'procedure failed');
    return {
      ...result,
      error: new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: `internal error (request ${ctx.requestId})`,
      }),
    };
  }
  return result;
});

const base = t.procedure.use(errors);

export const publicProcedure = base.meta({ access: 'public' });

const requireUser = t.middleware(({ ctx, next }) => {
  if (ctx.caller.kind !== 'user') {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in or send a valid API token' });
  }
  return next({ ctx: { ...ctx, caller: ctx.caller as UserCaller } });
});

const requireDataplane = t.middleware(({ ctx, next }) => {
  if (ctx.caller.kind !== 'dataplane') {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a dataplane token is required' });
  }
  return next({ ctx: { ...ctx, caller: ctx.caller as DataplaneCaller } });
});

const requireInstanceAdmin = t.middleware(({ ctx, next }) => {
  if (ctx.caller.kind !== 'user' || !ctx.caller.isInstanceAdmin) {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'only instance administrators may do this' });
  }
  return next();
});

const userBase = base.use(requireUser);

/** Signed-in user; the procedure scopes what it returns to the caller. */
export const userProcedure = userBase.meta({ access: 'user' });
/** Workspace objects: the procedure must call `requireWorkspaceRole(ctx, id, 'reader')`. */
export const readProcedure = userBase.meta({ access: 'read' });
/** Workspace objects: the procedure must call `requireWorkspaceRole(ctx, id, 'editor')`. */
export const writeProcedure = userBase.meta({ access: 'write' });
/** Workspace administration: `requireWorkspaceRole(ctx, id, 'admin')`. */
export const adminProcedure = userBase.meta({ access: 'admin' });
export const instanceAdminProcedure = userBase.use(requireInstanceAdmin).meta({ access: 'instanceAdmin' });
export const dataplaneProcedure = base.use(requireDataplane).meta({ access: 'dataplane' });

export type UserContext = Context & { caller: UserCaller };
export type DataplaneContext = Context & { caller: DataplaneCaller };
