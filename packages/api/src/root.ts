import { authRouter } from './routers/auth';
import { connectionRouter } from './routers/connection';
import { definitionRouter } from './routers/definition';
import { destinationRouter } from './routers/destination';
import { healthRouter } from './routers/health';
import { jobRouter } from './routers/job';
import { sourceRouter } from './routers/source';
import { workloadRouter } from './routers/workload';
import { workspaceRouter } from './routers/workspace';
import { router } from './trpc';

/** One router per domain (DESIGN §6); apps, the CLI and the launcher import `AppRouter`'s type. */
export const appRouter = router({
  health: healthRouter,
  auth: authRouter,
  workspace: workspaceRouter,
  definition: definitionRouter,
  source: sourceRouter,
  destination: destinationRouter,
  connection: connectionRouter,
  job: jobRouter,
  workload: workloadRouter,
});

export type AppRouter = typeof appRouter;
