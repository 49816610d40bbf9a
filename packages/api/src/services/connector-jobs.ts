import type { ConnectorDefinition, Db, JobType } from '@sluice/db';
import type { AirbyteCatalog } from '@sluice/protocol';
import type { Logger } from '@sluice/shared';
import { ApiError } from '../errors';
import {
  type ConnectorRunContext,
  ConnectorRunError,
  type ConnectorRunner,
  RunnerUnsupportedError,
} from '../runner/types';
import {
  configHash,
  detectSchemaChanges,
  latestCatalog,
  type SchemaChangeOutcome,
  storeDiscoveredCatalog,
} from './catalogs';
import { toRunnable } from './definitions';
import { AttemptLogWriter } from './logs';
import { asJson } from './util';

export interface ConnectorJobDeps {
  db: Db;
  runner: ConnectorRunner | undefined;
  logger: Logger;
}

interface JobTarget {
  workspaceId: string;
  dataplaneGroup: string;
  definition: ConnectorDefinition;
  /** As stored: secrets sealed. */
  storedConfig: unknown;
  sourceId?: string | undefined;
  destinationId?: string | undefined;
}

function requireRunner(deps: ConnectorJobDeps, def: ConnectorDefinition): ConnectorRunner {
  if (!deps.runner) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      'no connector runner is configured on this server: check and discover are unavailable',
    );
  }
  if (!deps.runner.canRun(toRunnable(def))) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      `${def.displayName} cannot run here yet: it has no command and this installation does not run connector images for check/discover`,
    );
  }
  return deps.runner;
}

function failureSummary(err: ConnectorRunError) {
  return {
    failures: [
      {
        failureOrigin: err.failureOrigin,
        failureType: err.failureType,
        externalMessage: err.message,
        ...(err.internalMessage ? { internalMessage: err.internalMessage } : {}),
        timestamp: Date.now(),
      },
    ],
    partialSuccess: false,
  };
}

/**
 * Runs one check or discover as a job with a single attempt: the job row is written first (so
 * it shows up while running), the attempt log grows as the connector prints, and the outcome
 * lands on the attempt. Connector failures are results, not exceptions.
 */
async function runJob<T>(
  deps: ConnectorJobDeps,
  type: Extract<JobType, 'check' | 'discover'>,
  target: JobTarget,
  run: (runner: ConnectorRunner, ctx: ConnectorRunContext) => Promise<T>,
  outputOf: (result: T) => Record<string, unknown>,
): Promise<
  | { jobId: string; ok: true; result: T; durationMs: number }
  | { jobId: string; ok: false; error: ConnectorRunError; durationMs: number }
> {
  const runner = requireRunner(deps, target.definition);
  const def = target.definition;
  const started = new Date();
  const job = await deps.db.job.create({
    data: {
      workspaceId: target.workspaceId,
      type,
      status: 'running',
      startedAt: started,
      sourceId: target.sourceId ?? null,
      destinationId: target.destinationId ?? null,
      config: asJson({
        definitionId: def.id,
        definitionName: def.name,
        version: def.version,
        image: def.image,
        kind: def.kind,
        config: target.storedConfig,
      }),
      attempts: { create: { attemptNumber: 0, status: 'running', logLocation: 'db' } },
    },
    include: { attempts: true },
  });
  const attempt = job.attempts[0]!;
  const log = new AttemptLogWriter(deps.db, attempt.id);
  log.append(`[platform] ${type} of ${def.displayName} (${def.name} ${def.version}) started`);
  const ctx: ConnectorRunContext = {
    jobId: job.id,
    attemptId: attempt.id,
    workspaceId: target.workspaceId,
    dataplaneGroup: target.dataplaneGroup,
    log: (line) => log.append(line),
  };
  let outcome: { ok: true; result: T } | { ok: false; error: ConnectorRunError };
  try {
    outcome = { ok: true, result: await run(runner, ctx) };
  } catch (err) {
    if (err instanceof RunnerUnsupportedError) {
      outcome = { ok: false, error: new ConnectorRunError(err.message, 'system_error', 'platform') };
    } else if (err instanceof ConnectorRunError) {
      outcome = { ok: false, error: err };
    } else {
      // A platform bug: record it on the job (without details) and let the API report it.
      deps.logger.error({ err, jobId: job.id }, `${type} job failed unexpectedly`);
      outcome = { ok: false, error: new ConnectorRunError('internal error while running the connector') };
    }
  }
  const ended = new Date();
  log.append(
    outcome.ok
      ? `[platform] ${type} finished in ${ended.getTime() - started.getTime()} ms`
      : `[platform] ${type} failed: ${outcome.error.message}`,
  );
  const logError = await log.close();
  if (logError) deps.logger.warn({ err: logError, jobId: job.id }, 'could not write the attempt log');
  await deps.db.$transaction([
    deps.db.attempt.update({
      where: { id: attempt.id },
      data: outcome.ok
        ? { status: 'succeeded', endedAt: ended, output: asJson(outputOf(outcome.result)) }
        : { status: 'failed', endedAt: ended, failureSummary: asJson(failureSummary(outcome.error)) },
    }),
    deps.db.job.update({
      where: { id: job.id },
      data: { status: outcome.ok ? 'succeeded' : 'failed', endedAt: ended },
    }),
  ]);
  deps.logger.info(
    {
      jobId: job.id,
      type,
      definition: def.name,
      ok: outcome.ok,
      durationMs: ended.getTime() - started.getTime(),
    },
    `${type} job finished`,
  );
  return { jobId: job.id, durationMs: ended.getTime() - started.getTime(), ...outcome };
}

export interface CheckResult {
  jobId: string;
  /** Whether the connector could connect with this config. */
  status: 'succeeded' | 'failed';
  message: string | null;
  /** `failed` when the connector could not be run to an answer (crash, timeout, no status). */
  jobStatus: 'succeeded' | 'failed';
  failureType: string | null;
  durationMs: number;
}

export async function runCheckJob(deps: ConnectorJobDeps, target: JobTarget): Promise<CheckResult> {
  const r = await runJob(
    deps,
    'check',
    target,
    (runner, ctx) => runner.check(toRunnable(target.definition), target.storedConfig, ctx),
    (outcome) => ({ status: outcome.status, message: outcome.message ?? null }),
  );
  if (r.ok) {
    return {
      jobId: r.jobId,
      status: r.result.status,
      message: r.result.message ?? null,
      jobStatus: 'succeeded',
      failureType: r.result.status === 'failed' ? (r.result.failureType ?? null) : null,
      durationMs: r.durationMs,
    };
  }
  return {
    jobId: r.jobId,
    status: 'failed',
    message: r.error.message,
    jobStatus: 'failed',
    failureType: r.error.failureType,
    durationMs: r.durationMs,
  };
}

export interface DiscoverResult {
  /** Null when the answer came from the cache (same config and connector version). */
  jobId: string | null;
  cached: boolean;
  catalogId: string | null;
  catalog: AirbyteCatalog | null;
  /** Set when discover failed; `catalog` is then null. */
  failure: { message: string; failureType: string } | null;
  /** What happened to the source's connections (schema change review, propagation). */
  schemaChanges: SchemaChangeOutcome[];
}

export async function runDiscoverJob(
  deps: ConnectorJobDeps,
  target: JobTarget & { sourceId: string },
  opts: { disableCache: boolean },
): Promise<DiscoverResult> {
  const hash = configHash(target.storedConfig);
  if (!opts.disableCache) {
    const cached = await latestCatalog(deps.db, target.sourceId, {
      configHash: hash,
      connectorVersion: target.definition.version,
    });
    if (cached) {
      return {
        jobId: null,
        cached: true,
        catalogId: cached.catalogId,
        catalog: cached.catalog,
        failure: null,
        schemaChanges: [],
      };
    }
  }
  let catalogId: string | null = null;
  const r = await runJob(
    deps,
    'discover',
    target,
    async (runner, ctx) => {
      const catalog = await runner.discover(toRunnable(target.definition), target.storedConfig, ctx);
      catalogId = await storeDiscoveredCatalog(deps.db, {
        sourceId: target.sourceId,
        catalog,
        configHash: hash,
        connectorVersion: target.definition.version,
      });
      return catalog;
    },
    (catalog) => ({ catalogId, streams: catalog.streams.length }),
  );
  if (!r.ok) {
    return {
      jobId: r.jobId,
      cached: false,
      catalogId: null,
      catalog: null,
      failure: { message: r.error.message, failureType: r.error.failureType },
      schemaChanges: [],
    };
  }
  const schemaChanges = await detectSchemaChanges(deps.db, target.sourceId, catalogId!, r.result);
  return { jobId: r.jobId, cached: false, catalogId, catalog: r.result, failure: null, schemaChanges };
}
