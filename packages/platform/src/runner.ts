import { randomUUID } from 'node:crypto';
import {
  type CheckOutcome,
  type ConnectorRunContext,
  ConnectorRunError,
  type ConnectorRunner,
  type RunnableDefinition,
} from '@sluice/api';
import type { Db } from '@sluice/db';
import { AirbyteCatalog, AirbyteConnectionStatus, ConnectorSpecification } from '@sluice/protocol';
import { type Engine, WorkflowFailedError } from '@sluice/workflow';
import type { ConnectorInput } from '@sluice/workload';
import { type ConnectorTimeouts, DEFAULT_PLATFORM_CONFIG } from './config';
import type { ConnectorJobInput, ConnectorJobOutput } from './connector-job';
import { type FailureReason, failuresOf } from './failures';
import { CONNECTOR_JOB_WORKFLOW, connectorJobWorkflowId, workloadIdFor } from './ids';

export interface ConnectorRunnerDeps {
  db: Db;
  engine: Engine;
  timeoutsMs?: Partial<ConnectorTimeouts>;
  /** Group of spec runs (they belong to no workspace). */
  defaultDataplaneGroup?: string;
}

type Kind = 'spec' | 'check' | 'discover';
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const errorType = (t: string): ConnectorRunError['failureType'] =>
  t === 'config_error' || t === 'transient_error' ? t : 'system_error';

/**
 * The Config API's `ConnectorRunner` on workflows: spec, check and discover run as workloads
 * (launched where the workspace's dataplane runs) through the `connector-job` workflow; this
 * process only starts it and waits for its result. Results are the workload's output:
 * `{ spec }`, `{ connectionStatus: { status, message? } }`, `{ catalog }`.
 */
export class WorkflowConnectorRunner implements ConnectorRunner {
  private readonly timeouts: ConnectorTimeouts;

  constructor(private readonly deps: ConnectorRunnerDeps) {
    this.timeouts = { ...DEFAULT_PLATFORM_CONFIG.connectorTimeoutsMs, ...deps.timeoutsMs };
  }

  canRun(def: RunnableDefinition): boolean {
    return def.image.length > 0 || def.command.length > 0;
  }

  async spec(def: RunnableDefinition): Promise<ConnectorSpecification> {
    const { output } = await this.run('spec', def, undefined, null);
    const spec = ConnectorSpecification.safeParse(isObject(output) ? output.spec : undefined);
    if (!spec.success)
      throw new ConnectorRunError(
        `${def.name} spec finished without a valid SPEC message`,
        'system_error',
        def.kind,
      );
    return spec.data;
  }

  async check(
    def: RunnableDefinition,
    storedConfig: unknown,
    ctx: ConnectorRunContext,
  ): Promise<CheckOutcome> {
    const { output } = await this.run('check', def, storedConfig, ctx);
    const status = AirbyteConnectionStatus.safeParse(isObject(output) ? output.connectionStatus : undefined);
    if (!status.success) {
      throw new ConnectorRunError(
        `${def.name} check finished without a CONNECTION_STATUS message`,
        'system_error',
        def.kind,
      );
    }
    if (status.data.status === 'SUCCEEDED') {
      return { status: 'succeeded', ...(status.data.message ? { message: status.data.message } : {}) };
    }
    const failureType =
      isObject(output) && typeof output.failureType === 'string' ? errorType(output.failureType) : undefined;
    return {
      status: 'failed',
      message: status.data.message ?? 'the connector reported a failed check',
      ...(failureType ? { failureType } : {}),
    };
  }

  async discover(
    def: RunnableDefinition,
    storedConfig: unknown,
    ctx: ConnectorRunContext,
  ): Promise<AirbyteCatalog> {
    const { output } = await this.run('discover', def, storedConfig, ctx);
    const catalog = AirbyteCatalog.safeParse(isObject(output) ? output.catalog : undefined);
    if (!catalog.success)
      throw new ConnectorRunError(
        `${def.name} discover finished without a valid CATALOG message`,
        'system_error',
        def.kind,
      );
    return catalog.data;
  }

  private async run(
    kind: Kind,
    def: RunnableDefinition,
    storedConfig: unknown,
    ctx: ConnectorRunContext | null,
  ): Promise<{ result: ConnectorJobOutput; output: unknown }> {
    const { db, engine } = this.deps;
    const job = ctx
      ? await db.job.findUnique({ where: { id: ctx.jobId }, select: { sourceId: true, destinationId: true } })
      : null;
    const actorId = def.kind === 'source' ? job?.sourceId : job?.destinationId;
    // Everything comes from `def`: a new definition's spec runs before its row exists.
    const connector: ConnectorInput = {
      actorType: def.kind,
      ...(def.id ? { definitionId: def.id } : {}),
      ...(actorId ? { actorId } : {}),
      image: def.image,
      ...(def.command.length > 0 ? { command: def.command } : {}),
      version: def.version,
      ...(def.supportsSocket !== undefined ? { supportsSocket: def.supportsSocket } : {}),
      ...(def.network ? { network: def.network } : {}),
      ...(def.resources !== undefined ? { resources: def.resources } : {}),
      ...(storedConfig !== undefined ? { config: (storedConfig ?? {}) as Record<string, unknown> } : {}),
    };
    const key = ctx ? ctx.jobId : `spec-${randomUUID()}`;
    const workloadId = ctx ? workloadIdFor(ctx.jobId, 0, kind) : `spec_${randomUUID()}`;
    const timeoutMs = this.timeouts[kind];
    const input: ConnectorJobInput = {
      kind,
      workloadId,
      dataplaneGroup: ctx?.dataplaneGroup ?? this.deps.defaultDataplaneGroup ?? 'default',
      timeoutMs,
      connector,
      ...(ctx ? { jobId: ctx.jobId, attemptId: ctx.attemptId, workspaceId: ctx.workspaceId } : {}),
    };
    const workflowId = connectorJobWorkflowId(key);
    ctx?.log(`[platform] ${kind} runs as workload ${workloadId}`);
    await engine.start(CONNECTOR_JOB_WORKFLOW, workflowId, input);
    let result: ConnectorJobOutput;
    try {
      // The workflow cancels the workload at its own deadline; this margin covers the cancel.
      result = await engine.result<ConnectorJobOutput>(workflowId, { timeoutMs: timeoutMs + 60_000 });
    } catch (err) {
      const why = err instanceof WorkflowFailedError ? err.failure.message : (err as Error).message;
      throw new ConnectorRunError(`${kind} could not run: ${why}`, 'system_error', 'platform');
    }
    const workload = await db.workload.findUnique({ where: { id: workloadId } });
    const output = workload?.output ?? null;
    if (result.status === 'success') return { result, output };
    if (result.timedOut) {
      throw new ConnectorRunError(
        `${kind} did not finish within ${Math.round(timeoutMs / 1000)} s`,
        'transient_error',
        def.kind,
      );
    }
    const failures: FailureReason[] = failuresOf(
      {
        id: workloadId,
        status: result.status,
        terminationReason: result.reason,
        terminationSource: result.source,
      },
      output,
    );
    const first = failures[0]!;
    throw new ConnectorRunError(
      first.externalMessage,
      errorType(first.failureType),
      first.failureOrigin === 'source' || first.failureOrigin === 'destination'
        ? first.failureOrigin
        : 'platform',
      first.internalMessage,
    );
  }
}
