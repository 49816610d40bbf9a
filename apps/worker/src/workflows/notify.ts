import { NOTIFY_WORKFLOW } from '@sluice/platform';
import { defineWorkflow, type WorkflowContext } from '@sluice/workflow';
import { step, type WorkflowDeps } from '../deps';
import { deliverWebhook, NotifyInput, subscribedWebhooks } from '../notifications';

export type DeliveryResult =
  | { webhookId: string; status: number }
  | { webhookId: string; skipped: string }
  | { webhookId: string; failed: string };

/**
 * Delivers one event to every webhook of its workspace subscribed to it. Each delivery is its
 * own step, retried with backoff (the worker's `webhook.retry` policy) until it gets a 2xx; one
 * webhook failing for good does not stop the others.
 */
export function notifyWorkflow(deps: WorkflowDeps) {
  return defineWorkflow(
    NOTIFY_WORKFLOW,
    NotifyInput,
    async (ctx: WorkflowContext, input): Promise<DeliveryResult[]> => {
      const hooks = await step(ctx, deps, 'load-webhooks', () =>
        subscribedWebhooks(deps.db, input.workspaceId, input.event),
      );
      const results: DeliveryResult[] = [];
      for (const webhookId of hooks) {
        try {
          const r = await step(
            ctx,
            deps,
            'deliver',
            (s) =>
              deliverWebhook(deps, webhookId, input, {
                timeoutMs: deps.config.webhook.timeoutMs,
                signal: s.signal,
                attempt: s.attempt,
              }),
            { retry: deps.config.webhook.retry },
          );
          results.push({ webhookId, ...r });
        } catch (err) {
          const cause = (err as { cause?: Error }).cause ?? (err as Error);
          ctx.log.warn(
            { webhookId, event: input.event, err: cause.message },
            'webhook delivery failed for good',
          );
          results.push({ webhookId, failed: cause.message });
        }
      }
      return results;
    },
  );
}
