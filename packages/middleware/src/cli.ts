#!/usr/bin/env node
/**
 * `node dist/cli.js --workdir DIR` with SLUICE_API_URL, SLUICE_DATAPLANE_TOKEN,
 * SLUICE_WORKLOAD_ID and LOG_LEVEL. Exit code: 0 success, 1 failure, 2 cancelled or not started,
 * 3 the middleware could not run at all (bad arguments or environment).
 *
 * `node dist/cli.js --standby` (process runtime): loads, then waits on stdin for one JSON line
 * `{"workDir", "argv", "env"}` and runs as `--workdir` would with that cwd, argv and environment.
 * Stdin's end before that line (its launcher stopped or died) exits 0 without running anything.
 */
import {
  awaitStandbyHandoff,
  becomeHandedWorkload,
  LaunchPlan,
  removeStandbyDir,
  STANDBY_FLAG,
} from '@sluice/runtime/io';
import { createLogger } from '@sluice/shared';
import { loadMiddlewareEnv } from './env';
import { MiddlewareConfig } from './workdir';
import { runWorkload, warmMessageValidation } from './workload';

function workdirArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--workdir') return argv[i + 1];
    if (a.startsWith('--workdir=')) return a.slice('--workdir='.length);
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const workDir = workdirArg(argv);
  if (!workDir) {
    process.stderr.write('usage: sluice-middleware --workdir DIR | --standby\n');
    return 3;
  }
  let env: ReturnType<typeof loadMiddlewareEnv>;
  try {
    env = loadMiddlewareEnv();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 3;
  }
  const logger = createLogger('middleware', {
    level: env.LOG_LEVEL,
    base: { workloadId: env.SLUICE_WORKLOAD_ID },
  });
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      logger.warn({ signal: sig }, 'stopping');
      stop.abort(`the middleware received ${sig}`);
    });
  }
  const result = await runWorkload({ workDir, env, logger, signal: stop.signal });
  switch (result.status) {
    case 'success':
      return 0;
    case 'failure':
      return 1;
    default:
      return 2;
  }
}

async function standby(): Promise<number> {
  try {
    warmUp();
  } catch {
    // Only a head start: the workload's own start does the same work again if need be.
  }
  const handoff = await awaitStandbyHandoff();
  if (!handoff) {
    removeStandbyDir();
    return 0;
  }
  return main(becomeHandedWorkload(handoff));
}

/**
 * Work every start repeats whatever the workload, done while no one waits: zod compiles a schema
 * on its first parse. Only made-up values: a standby holds nothing of a workload.
 */
function warmUp(): void {
  const workDir = '/standby/w';
  loadMiddlewareEnv({
    SLUICE_API_URL: 'http://127.0.0.1/api/trpc',
    SLUICE_DATAPLANE_TOKEN: 'standby',
    SLUICE_WORKLOAD_ID: 'standby',
  });
  LaunchPlan.safeParse({
    workloadId: 'standby',
    workDir,
    middleware: { command: ['node'], args: ['--workdir', workDir], env: {}, network: 'host' },
    connectors: [{ role: 'connector', command: ['node'], args: [], env: {}, network: 'none', stdin: false }],
  });
  MiddlewareConfig.safeParse({
    workloadId: 'standby',
    type: 'sync',
    runtime: 'process',
    connectorIo: 'spawn',
  });
  warmMessageValidation();
}

const argv = process.argv.slice(2);
(argv[0] === STANDBY_FLAG && argv.length === 1 ? standby() : main(argv)).then(
  (code) => {
    process.exitCode = code;
    // Sockets to the API may keep the loop alive for their keep-alive period.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`middleware crashed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(3);
  },
);
