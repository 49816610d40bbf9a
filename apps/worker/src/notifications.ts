import type { SecretBox } from '@sluice/api';
import type { Db, NotificationEvent } from '@sluice/db';
import { NOTIFY_WORKFLOW, notifyWorkflowId } from '@sluice/platform';
import { type Engine, NonRetryableError } from '@sluice/workflow';
import { z } from 'zod';

/** What a webhook receives (HTTP POST, JSON). `text` makes Slack-style incoming webhooks work as is. */
export interface NotificationPayload {
  id: string;
  event: NotificationEvent;
  occurredAt: string;
  text: string;
  workspace: { id: string; name: string };
  connection?: { id: string; name: string; status: string };
  source?: { id: string; name: string };
  destination?: { id: string; name: string };
  job?: {
    id: string;
    type: string;
    status: string;
    createdAt: string;
    startedAt: string | null;
    endedAt: string | null;
    durationMs: number | null;
    attempts: number;
    recordsEmitted: number;
    bytesEmitted: number;
    recordsCommitted: number;
    bytesCommitted: number;
    failure: { origin: string; type: string; message: string } | null;
  };
  /** Why: the failure, the disable rule, the schema change. */
  reason?: string;
  schemaChange?: unknown;
}

export const NotifyInput = z.object({
  eventId: z.string().min(1),
  workspaceId: z.uuid(),
  event: z.enum([
    'sync_success',
    'sync_failure',
    'sync_disabled',
    'sync_disabled_warning',
    'non_breaking_schema_change',
    'breaking_schema_change',
  ]),
  payload: z.record(z.string(), z.unknown()),
});
export type NotifyInput = z.infer<typeof NotifyInput>;

export async function subscribedWebhooks(
  db: Db,
  workspaceId: string,
  event: NotificationEvent,
): Promise<string[]> {
  const rows = await db.notificationWebhook.findMany({
    where: { workspaceId, enabled: true, events: { has: event } },
    select: { id: true },
    orderBy: { createdAt: 'asc' },
  });
  return rows.map((r) => r.id);
}

/**
 * Starts the delivery workflow of an event (idempotent by event id) when the workspace has a
 * webhook for it. Called from workflow steps, so it may run twice: the id makes that harmless.
 */
export async function notify(
  deps: { db: Db; engine: Engine },
  event: { eventId: string; workspaceId: string; event: NotificationEvent; payload: NotificationPayload },
): Promise<boolean> {
  const hooks = await subscribedWebhooks(deps.db, event.workspaceId, event.event);
  if (hooks.length === 0) return false;
  await deps.engine.start(NOTIFY_WORKFLOW, notifyWorkflowId(event.eventId), {
    eventId: event.eventId,
    workspaceId: event.workspaceId,
    event: event.event,
    payload: event.payload as unknown as Record<string, unknown>,
  } satisfies NotifyInput);
  return true;
}

/** Raised for an answer that retrying cannot change (4xx other than 408/429). */
export class WebhookRejectedError extends NonRetryableError {
  override name = 'WebhookRejectedError';
}

/**
 * One delivery: POST the event as JSON with the webhook's secret header (opened at the last
 * moment, never logged). A 2xx is delivered; a network error, timeout, 408, 429 or 5xx throws a
 * retryable error; any other answer a non-retryable one.
 */
export async function deliverWebhook(
  deps: { db: Db; box: SecretBox },
  webhookId: string,
  input: NotifyInput,
  opts: { timeoutMs: number; signal?: AbortSignal; attempt?: number },
): Promise<{ status: number } | { skipped: string }> {
  const hook = await deps.db.notificationWebhook.findUnique({ where: { id: webhookId } });
  if (!hook?.enabled || hook.workspaceId !== input.workspaceId)
    return { skipped: 'webhook removed or disabled' };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'sluice-worker',
    'x-sluice-event': input.event,
    'x-sluice-delivery': `${input.eventId}:${webhookId}`,
  };
  if (opts.attempt !== undefined) headers['x-sluice-attempt'] = String(opts.attempt);
  if (hook.secretHeaderName && hook.secretHeaderValue) {
    const value = deps.box.open(hook.secretHeaderValue);
    headers[hook.secretHeaderName.toLowerCase()] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(input.payload),
      signal,
      redirect: 'manual',
    });
  } catch (err) {
    const why = timeout.aborted ? `no answer within ${opts.timeoutMs} ms` : (err as Error).message;
    // The URL may carry a token: name the host only.
    throw new Error(`webhook ${hook.name} (${safeHost(hook.url)}): ${why}`);
  }
  await res.body?.cancel().catch(() => {});
  if (res.ok) return { status: res.status };
  const message = `webhook ${hook.name} (${safeHost(hook.url)}) answered HTTP ${res.status}`;
  if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(message);
  throw new WebhookRejectedError(message);
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid url';
  }
}

/** The payload of a job event (success, failure, auto-disable), read fresh from Postgres. */
export async function jobEventPayload(
  db: Db,
  args: {
    eventId: string;
    event: NotificationEvent;
    job: import('./jobs').JobSummary;
    reason?: string;
  },
): Promise<NotificationPayload | null> {
  const { job } = args;
  if (!job.connectionId) return null;
  const c = await db.connection.findUnique({
    where: { id: job.connectionId },
    include: { workspace: true, source: true, destination: true },
  });
  if (!c) return null;
  const failure = job.failure
    ? {
        origin: job.failure.failureOrigin,
        type: job.failure.failureType,
        message: job.failure.externalMessage,
      }
    : null;
  const started = job.startedAt ? Date.parse(job.startedAt) : null;
  const ended = job.endedAt ? Date.parse(job.endedAt) : null;
  const route = `${c.source.name} → ${c.destination.name}`;
  const text =
    args.event === 'sync_success'
      ? `Sync succeeded for connection ${c.name} (${route}): ${job.totals.recordsCommitted} records committed.`
      : args.event === 'sync_failure'
        ? `Sync failed for connection ${c.name} (${route}): ${failure?.message ?? 'unknown failure'}`
        : args.event === 'sync_disabled'
          ? `Connection ${c.name} (${route}) was disabled: ${args.reason ?? ''}`.trim()
          : `Connection ${c.name} (${route}) will be disabled if its syncs keep failing: ${args.reason ?? ''}`.trim();
  return {
    id: args.eventId,
    event: args.event,
    occurredAt: new Date().toISOString(),
    text,
    workspace: { id: c.workspace.id, name: c.workspace.name },
    connection: { id: c.id, name: c.name, status: c.status },
    source: { id: c.source.id, name: c.source.name },
    destination: { id: c.destination.id, name: c.destination.name },
    job: {
      id: job.jobId,
      type: job.type,
      status: job.status,
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      endedAt: job.endedAt,
      durationMs: started !== null && ended !== null ? ended - started : null,
      attempts: job.attempts,
      recordsEmitted: job.totals.recordsEmitted,
      bytesEmitted: job.totals.bytesEmitted,
      recordsCommitted: job.totals.recordsCommitted,
      bytesCommitted: job.totals.bytesCommitted,
      failure,
    },
    ...(args.reason ? { reason: args.reason } : {}),
  };
}

/** The payload of a schema-change event. */
export async function schemaEventPayload(
  db: Db,
  args: {
    eventId: string;
    event: NotificationEvent;
    connectionId: string;
    reason: string;
    schemaChange: unknown;
  },
): Promise<NotificationPayload | null> {
  const c = await db.connection.findUnique({
    where: { id: args.connectionId },
    include: { workspace: true, source: true, destination: true },
  });
  if (!c) return null;
  return {
    id: args.eventId,
    event: args.event,
    occurredAt: new Date().toISOString(),
    text: `Source schema changed for connection ${c.name} (${c.source.name} → ${c.destination.name}): ${args.reason}`,
    workspace: { id: c.workspace.id, name: c.workspace.name },
    connection: { id: c.id, name: c.name, status: c.status },
    source: { id: c.source.id, name: c.source.name },
    destination: { id: c.destination.id, name: c.destination.name },
    reason: args.reason,
    schemaChange: args.schemaChange,
  };
}
