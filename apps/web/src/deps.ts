import {
  type ApiDeps,
  type ConnectionOrchestrator,
  type ConnectorRunner,
  LocalConnectorRunner,
  SecretBox,
} from '@sluice/api';
import { createDb, type Db } from '@sluice/db';
import { createPlatformServices, type PlatformServices } from '@sluice/platform';
import { createLogger, type Logger } from '@sluice/shared';
import { loadWorkloadEnv, type WorkloadApiOptions } from '@sluice/workload';
import { loadWebEnv, type WebEnv } from './env';

/** The platform services (`@sluice/platform`) a web server plugs into the API (all optional). */
export interface PlatformParts {
  /** `ApiDeps.connections`: sync now, cancel, reset and lifecycle signals. */
  orchestrator?: ConnectionOrchestrator;
  /** `ApiDeps.runner`: check/discover/spec; replaces the local runner. */
  connectorRunner?: ConnectorRunner;
  /** `ApiDeps.workload`: the workload dispatch queue and completion hook. */
  workload?: WorkloadApiOptions;
}

/**
 * The API's dependencies from a validated environment and the platform parts. Pure wiring,
 * so tests and other servers can build the same thing; `getApiDeps` is the process-wide one.
 */
export function buildApiDeps(
  env: WebEnv,
  parts: PlatformParts = {},
  base: { db?: Db; logger?: Logger } = {},
): ApiDeps {
  const box = new SecretBox(env.SLUICE_SECRET_KEY);
  const runnerKind =
    env.SLUICE_CONNECTOR_RUNNER === 'auto'
      ? parts.connectorRunner
        ? 'workflow'
        : 'local'
      : env.SLUICE_CONNECTOR_RUNNER;
  const runner =
    runnerKind === 'workflow'
      ? parts.connectorRunner
      : runnerKind === 'local'
        ? new LocalConnectorRunner({ box })
        : undefined;
  return {
    db: base.db ?? createDb({ url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX }),
    box,
    logger: base.logger ?? createLogger('web.api'),
    ...(runner ? { runner } : {}),
    ...(parts.orchestrator ? { connections: parts.orchestrator } : {}),
    ...(parts.workload ? { workload: parts.workload } : {}),
  };
}

interface Store {
  deps: ApiDeps;
  platform: PlatformServices | null;
}

// One set per process. Kept on globalThis so `next dev` reloading modules does not open a new
// database pool (and Redis connections) on every edit.
const store = globalThis as typeof globalThis & { __sluiceApi?: Store };

/**
 * The API's dependencies, built on first use from the environment: with REDIS_URL, the
 * platform services (connection orchestrator, workflow-based connector runner, workload
 * dispatch and completion signals; the worker runs the workflows). A missing or malformed variable throws an error naming it, never its value.
 */
export function getApiDeps(): ApiDeps {
  return getStore().deps;
}

export function getStore(): Store {
  if (store.__sluiceApi) return store.__sluiceApi;
  const env = loadWebEnv();
  const workloadEnv = loadWorkloadEnv();
  const logger = createLogger('web.api');
  const db = createDb({ url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX });
  const platform = env.REDIS_URL
    ? createPlatformServices({ db, redis: env.REDIS_URL, prefix: env.SLUICE_QUEUE_PREFIX, logger })
    : null;
  const parts: PlatformParts = platform
    ? {
        orchestrator: platform.orchestrator,
        connectorRunner: platform.connectorRunner,
        workload: { ...platform.workload, timeouts: workloadEnv.timeouts },
      }
    : {};
  store.__sluiceApi = { deps: buildApiDeps(env, parts, { db, logger }), platform };
  return store.__sluiceApi;
}
