import { parseEnv } from '@sluice/shared';
import * as z from 'zod';

/**
 * The middleware's environment, set by the runtime from the launcher's plan. The token reaches
 * the middleware only here (never in middleware.json or plan.json).
 */
export const MiddlewareEnv = z.object({
  /** The tRPC endpoint, e.g. http://127.0.0.1:3000/api/trpc */
  SLUICE_API_URL: z.url(),
  SLUICE_DATAPLANE_TOKEN: z.string().min(1),
  SLUICE_WORKLOAD_ID: z.string().min(1),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});
export type MiddlewareEnv = z.infer<typeof MiddlewareEnv>;

export function loadMiddlewareEnv(env: Record<string, string | undefined> = process.env): MiddlewareEnv {
  return parseEnv(MiddlewareEnv, env);
}
