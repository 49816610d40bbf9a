import { openConfig, type SecretBox, sealConfig } from '@sluice/api';
import type { Db } from '@sluice/db';
import { createLogger, type Logger } from '@sluice/shared';
import { createEngine, type Engine, type EngineHooks } from '@sluice/workflow';
import { type ConfigSecrets, type WorkloadApiOptions, WorkloadQueue } from '@sluice/workload';
import { type PlatformConfigInput, resolvePlatformConfig } from './config';
import { WorkflowConnectionOrchestrator } from './orchestrator';
import { WorkflowConnectorRunner } from './runner';
import { workloadSignaller } from './signals';

/** The platform's ConfigSecrets (the Workload service seals and opens configs with it). */
export function configSecrets(box: SecretBox): ConfigSecrets {
  return {
    open: (stored) => openConfig(stored, box),
    seal: (spec, config) => sealConfig(spec, config, box),
  };
}

export interface PlatformServicesOptions {
  db: Db;
  /** redis:// URL of the workflow engine and the workload queues. */
  redis: string;
  /** Key prefix shared with the workers and launchers (SLUICE_QUEUE_PREFIX). */
  prefix?: string;
  logger?: Logger;
  /** Connector timeouts and the spec runs' dataplane group (the worker passes its own config). */
  config?: PlatformConfigInput;
  /** Reuse an engine client instead of creating one. */
  engine?: Engine;
  hooks?: EngineHooks;
}

export interface PlatformServices {
  engine: Engine;
  /** `ApiDeps.connections` */
  orchestrator: WorkflowConnectionOrchestrator;
  /** `ApiDeps.runner` */
  connectorRunner: WorkflowConnectorRunner;
  /** `ApiDeps.workload`: the dispatch queue, and the hook that signals workflows when a workload ends. */
  workload: WorkloadApiOptions & { dispatch: WorkloadQueue };
  close(): Promise<void>;
}

/**
 * What a process serving the Config and Workload APIs (the Next.js app, a standalone API, the
 * worker itself) needs from the workflows, without running any:
 *
 *   const platform = createPlatformServices({ db, redis: env.REDIS_URL, prefix, logger });
 *   const deps: ApiDeps = { db, box, logger, runner: platform.connectorRunner,
 *                           connections: platform.orchestrator, workload: platform.workload };
 *
 * The orchestrator writes job rows and signals connection managers; the runner starts
 * check/discover/spec workflows and waits for them; `workload.onTerminal` turns the
 * middleware's success/failure reports into the signals the waiting workflows consume.
 */
export function createPlatformServices(opts: PlatformServicesOptions): PlatformServices {
  const prefix = opts.prefix ?? 'sluice';
  const logger = opts.logger ?? createLogger('platform');
  const config = resolvePlatformConfig(opts.config);
  const ownEngine = !opts.engine;
  const engine =
    opts.engine ??
    createEngine({
      connection: opts.redis,
      prefix,
      logger: logger.child({ component: 'workflow' }),
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
    });
  const dispatch = new WorkloadQueue({ connection: opts.redis, prefix, logger });
  return {
    engine,
    orchestrator: new WorkflowConnectionOrchestrator({
      db: opts.db,
      engine,
      logger: logger.child({ component: 'orchestrator' }),
    }),
    connectorRunner: new WorkflowConnectorRunner({
      db: opts.db,
      engine,
      timeoutsMs: config.connectorTimeoutsMs,
      defaultDataplaneGroup: config.defaultDataplaneGroup,
    }),
    workload: { dispatch, onTerminal: workloadSignaller(engine, logger) },
    async close() {
      await dispatch.close();
      if (ownEngine) await engine.close();
    },
  };
}
