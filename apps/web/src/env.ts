import { DbEnv } from '@sluice/db';
import { parseEnv } from '@sluice/shared';
import { z } from 'zod';

/** The web app's environment: the only place it reads `process.env`. */
export const WebEnv = DbEnv.extend({
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(50).default(10),
  /**
   * Redis of the workflow engine and the workload queues. Set: syncs, cancels and resets go to
   * the worker's connection managers, and check/discover run as workloads. Unset: no
   * scheduler (sync now answers "no scheduler configured").
   */
  REDIS_URL: z
    .string()
    .refine((u) => /^rediss?:\/\//.test(u), 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Key prefix shared with the workers and launchers. */
  SLUICE_QUEUE_PREFIX: z
    .string()
    .regex(/^[^\s:]+$/, 'no whitespace or ":"')
    .default('sluice'),
  /**
   * How check/discover run. `auto`: as workloads when REDIS_URL is set, else `local`.
   * `workflow`: as workloads (needs REDIS_URL, a worker and a launcher). `local`: connector
   * commands as child processes of this server. `none`: unavailable.
   */
  SLUICE_CONNECTOR_RUNNER: z.enum(['auto', 'workflow', 'local', 'none']).default('auto'),
});
export type WebEnv = z.infer<typeof WebEnv>;

export function loadWebEnv(source: Record<string, string | undefined> = process.env): WebEnv {
  const env = parseEnv(WebEnv, source);
  if (env.SLUICE_CONNECTOR_RUNNER === 'workflow' && !env.REDIS_URL) {
    throw new Error('SLUICE_CONNECTOR_RUNNER: `workflow` needs REDIS_URL');
  }
  return env;
}
