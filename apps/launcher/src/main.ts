#!/usr/bin/env node
// `sluice-launcher`: claims workloads of its dataplane group and launches them on the configured
// runtime (environment: see src/env.ts). SIGTERM/SIGINT stop it gracefully; the workloads it
// started keep running, since they report to the Workload API by themselves.
import { createLogger } from '@sluice/shared';
import { loadLauncherEnv } from './env';
import { launcherOptionsFromEnv, startLauncher } from './launcher';

const log = createLogger('sluice-launcher');

async function main(): Promise<void> {
  const env = loadLauncherEnv();
  const launcher = await startLauncher({ ...launcherOptionsFromEnv(env), logger: log });
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    launcher
      .stop()
      .then(() => process.exit(0))
      .catch((err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: Error) => {
  log.fatal({ err: err.message }, 'launcher failed to start');
  process.exit(1);
});
