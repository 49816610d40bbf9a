import { publicProcedure, router } from '../trpc';

export const healthRouter = router({
  /** Liveness plus a database round trip, for load balancers and the CLI's `login` check. */
  check: publicProcedure.query(async ({ ctx }) => {
    await ctx.db.$queryRaw`SELECT 1`;
    return { ok: true as const, time: new Date().toISOString() };
  }),
});
