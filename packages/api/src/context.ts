import { randomUUID } from 'node:crypto';
import type { Db } from '@sluice/db';
import type { Logger } from '@sluice/shared';
import type { WorkloadApiOptions } from '@sluice/workload';
import { type Caller, resolveCaller } from './auth/caller';
import type { ConnectionOrchestrator } from './orchestrator';
import type { ConnectorRunner } from './runner/types';
import type { SecretBox } from './secrets';

/**
 * What every procedure can use. Built once per process (`ApiDeps`) plus a caller per
 * request. Later layers (workflow signals, workload queue) join through `ApiDeps` so the
 * same router runs in the Next.js app, in a standalone server and in tests.
 */
export interface ApiDeps {
  db: Db;
  box: SecretBox;
  logger: Logger;
  /**
   * Runs connector spec/check/discover. Absent: those procedures answer PRECONDITION_FAILED.
   * The apps plug in `LocalConnectorRunner` until the launcher runs them as workloads.
   */
  runner?: ConnectorRunner;
  /**
   * The worker's connection manager. Absent: sync now / cancel / reset answer
   * PRECONDITION_FAILED "no scheduler configured"; lifecycle notifications are skipped (the
   * worker rebuilds schedules from Postgres when it starts).
   */
  connections?: ConnectionOrchestrator;
  /**
   * The Workload API's dispatch queue, completion hook and timeouts (see @sluice/workload).
   * Absent: nothing is enqueued on create (the worker's reconciler enqueues pending
   * workloads) and cancellations are not published to launchers (they still learn of them
   * from heartbeats and `listActive`).
   */
  workload?: WorkloadApiOptions;
}

export interface RequestInfo {
  /** https, directly or behind a proxy that says so: the session cookie is then `Secure`. */
  secure: boolean;
  userAgent: string | null;
  /** From x-forwarded-for / x-real-ip when a proxy sets them; informational only. */
  ip: string | null;
}

export interface Context extends ApiDeps {
  caller: Caller;
  requestId: string;
  /** Response headers a procedure may add to (login sets a cookie). */
  resHeaders: Headers;
  request: RequestInfo;
}

function requestInfo(req: Request): RequestInfo {
  let secure = false;
  try {
    secure = new URL(req.url).protocol === 'https:';
  } catch {
    secure = false;
  }
  const proto = req.headers.get('x-forwarded-proto')?.split(',')[0]?.trim();
  if (proto) secure = proto === 'https';
  const forwarded = req.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
  return {
    secure,
    userAgent: req.headers.get('user-agent')?.slice(0, 400) ?? null,
    ip: (forwarded || req.headers.get('x-real-ip'))?.slice(0, 100) ?? null,
  };
}

export function createContextFactory(deps: ApiDeps) {
  return async ({ req, resHeaders }: { req: Request; resHeaders: Headers }): Promise<Context> => {
    const requestId = req.headers.get('x-request-id') ?? randomUUID();
    const caller = await resolveCaller(deps.db, req.headers);
    return {
      ...deps,
      caller,
      requestId,
      resHeaders,
      request: requestInfo(req),
      logger: deps.logger.child({ requestId }),
    };
  };
}
