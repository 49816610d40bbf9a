import path from 'node:path';

/**
 * PATH for programs when the plan does not set one: the directory of the Node.js running us
 * first, so `node` in a plan's command is the same runtime.
 */
export const DEFAULT_PROGRAM_PATH = [
  path.dirname(process.execPath),
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
].join(':');

/**
 * The complete environment of a middleware or connector process: the plan's `env` over a
 * minimal base. Deliberately built from nothing rather than filtered from `process.env`, so
 * the launcher's secret key, database URL and tokens cannot leak into a program (invariant 5).
 * NODE_OPTIONS and anything else exist only when the plan sets them.
 */
export function buildProgramEnv(
  planEnv: Record<string, string>,
  { home }: { home: string },
): Record<string, string> {
  for (const [k, v] of Object.entries(planEnv)) {
    if (!k || k.includes('=') || k.includes('\0'))
      throw new Error(`invalid environment variable name "${k}"`);
    if (v.includes('\0')) throw new Error(`environment variable ${k} contains a NUL byte`);
  }
  return {
    PATH: DEFAULT_PROGRAM_PATH,
    HOME: home,
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    ...planEnv,
  };
}
