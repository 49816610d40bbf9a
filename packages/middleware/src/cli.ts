#!/usr/bin/env node
/**
 * `node dist/cli.js --workdir DIR` with SLUICE_API_URL, SLUICE_DATAPLANE_TOKEN,
 * SLUICE_WORKLOAD_ID and LOG_LEVEL. Exit code: 0 success, 1 failure, 2 cancelled or not started,
 * 3 the middleware could not run at all (bad arguments or environment).
 */
import { createLogger } from '@sluice/shared';
import { loadMiddlewareEnv } from './env';
import { runWorkload } from './workload';

function workdirArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--workdir') return argv[i + 1];
    if (a.startsWith('--workdir=')) return a.slice('--workdir='.length);
  }
  return undefined;
}

async function main(): Promise<number> {
  const workDir = workdirArg(process.argv.slice(2));
  if (!workDir) {
    process.stderr.write('usage: sluice-middleware --workdir DIR\n');
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

main().then(
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
