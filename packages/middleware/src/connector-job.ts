/**
 * spec, check and discover workloads: one connector command, its answer (SPEC, CONNECTION_STATUS,
 * CATALOG) reported as the workload's output, its logs to the attempt log, a TRACE ERROR or a bad
 * exit as the failure.
 */
import type { AirbyteMessage } from '@sluice/protocol';
import type { Logger } from 'pino';
import type { WorkloadApi } from './api';
import { startConnector } from './connectors';
import { type AttemptLog, type FailureReason, failure, MessageHandler } from './messages';
import { type ConnectorJobOutput, type JobOutcome, reasonOf } from './output';
import { OutputReader, TextLines } from './output-reader';
import { withRetry } from './retry';
import type { Workdir } from './workdir';

export interface ConnectorJobOptions {
  workdir: Workdir;
  api: WorkloadApi;
  log: AttemptLog;
  logger: Logger;
  signal: AbortSignal;
}

const EXPECTED = { spec: 'SPEC', check: 'CONNECTION_STATUS', discover: 'CATALOG' } as const;

export async function runConnectorJob(o: ConnectorJobOptions): Promise<JobOutcome> {
  const type = o.workdir.config.type as 'spec' | 'check' | 'discover';
  const program = o.workdir.connector('connector')!;
  const updates: Promise<void>[] = [];
  const origin = o.workdir.config.actorType ?? 'source';
  const messages = new MessageHandler('connector', {
    log: o.log,
    origin,
    onControl: (config) => updates.push(persistControl(o, config)),
  });
  let answer: AirbyteMessage | undefined;
  const reader = new OutputReader({
    messages,
    onOther: (m) => {
      if (m.type !== EXPECTED[type]) return false;
      answer = m;
      return true;
    },
  });
  o.log.platform('INFO', `running ${type}`);
  const conn = startConnector(program, { workDir: o.workdir.dir, connectorIo: o.workdir.config.connectorIo });
  const graceMs = o.workdir.config.stopGraceMs ?? 10_000;
  const onAbort = () => conn.stop(graceMs);
  o.signal.addEventListener('abort', onAbort, { once: true });
  const stderrTail: string[] = [];
  const stderr = new TextLines((t) => {
    messages.stderr(t);
    stderrTail.push(t);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  conn.io.stderr.on('data', (c: Buffer) => stderr.push(c));
  conn.io.stderr.on('end', () => stderr.end());
  conn.io.stderr.on('error', () => {});
  let readFailure: Error | undefined;
  const stdoutDone = new Promise<void>((resolve) => {
    const out = conn.io.stdout;
    out.on('data', (c: Buffer) => {
      if (readFailure) return;
      try {
        reader.push(c);
      } catch (err) {
        readFailure = err as Error;
        conn.stop(graceMs);
      }
    });
    const end = () => {
      if (!readFailure) {
        try {
          reader.end();
        } catch (err) {
          readFailure = err as Error;
        }
      }
      resolve();
    };
    out.once('end', end);
    out.once('close', end);
    out.once('error', end);
  });
  const exit = await conn.exit;
  await Promise.race([stdoutDone, new Promise((r) => setTimeout(r, 5_000))]);
  o.signal.removeEventListener('abort', onAbort);
  await Promise.allSettled(updates);
  o.log.platform('INFO', `${type} exited with code ${exit.code}`);

  if (o.signal.aborted) {
    const reason = String(o.signal.reason ?? 'cancelled');
    return {
      kind: 'cancelled',
      reason,
      output: { type, failures: [failure('platform', 'manual_cancellation', reason)] },
    };
  }
  const traceErrors = messages.errors;
  if (type === 'check') {
    if (answer?.connectionStatus) {
      const s = answer.connectionStatus;
      const output: ConnectorJobOutput = {
        type,
        connectionStatus: { status: s.status, ...(s.message ? { message: s.message } : {}) },
      };
      return { kind: 'success', output };
    }
    // A connector that cannot even try (bad config) reports an error trace instead of a status.
    const first = traceErrors[0];
    if (first) {
      const output: ConnectorJobOutput = {
        type,
        connectionStatus: { status: 'FAILED', message: first.externalMessage },
        failureType: first.failureType,
      };
      return { kind: 'success', output };
    }
  } else if (answer && exit.code === 0 && !readFailure) {
    const output: ConnectorJobOutput =
      type === 'spec' ? { type, spec: answer.spec } : { type: 'discover', catalog: answer.catalog };
    return { kind: 'success', output };
  }

  const failures: FailureReason[] = [...traceErrors];
  if (readFailure)
    failures.push(
      failure('platform', 'system_error', `reading the connector's output failed: ${readFailure.message}`),
    );
  if (exit.code !== 0 && traceErrors.length === 0) {
    const tail = stderrTail.slice(-5).join('\n');
    failures.push(
      failure(
        origin,
        'system_error',
        exit.error ?? `${type} exited with code ${exit.code}`,
        tail ? { internalMessage: tail } : {},
      ),
    );
  }
  if (failures.length === 0) {
    failures.push(
      failure(
        origin,
        'system_error',
        `${type} printed no ${EXPECTED[type]} message${messages.invalidLines ? ` (${messages.invalidLines} invalid lines)` : ''}`,
      ),
    );
  }
  return { kind: 'failure', reason: reasonOf(failures), output: { type, failures } };
}

/** A CONTROL config update from a check/discover connector: persisted on its saved actor. */
async function persistControl(o: ConnectorJobOptions, config: Record<string, unknown>): Promise<void> {
  try {
    const actorType =
      o.workdir.config.actorType ??
      (
        (await withRetry(() => o.api.input(), { maxElapsedMs: 30_000 })).connector as
          | { actorType?: unknown }
          | undefined
      )?.actorType;
    if (actorType !== 'source' && actorType !== 'destination')
      throw new Error('the workload input names no connector type');
    await withRetry(() => o.api.updateConnectorConfig(actorType, config), { maxElapsedMs: 60_000 });
    o.log.platform('INFO', `the connector's updated config was validated and persisted`);
  } catch (err) {
    o.log.platform('WARN', `the connector's updated config was not persisted: ${(err as Error).message}`);
  }
}
