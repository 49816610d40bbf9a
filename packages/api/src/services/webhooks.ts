import type { DbOrTx, NotificationWebhook } from '@sluice/db';
import { z } from 'zod';
import { ApiError, notFound } from '../errors';
import { SECRET_MASK, type SecretBox } from '../secrets';
import { iso } from './util';

export const NotificationEventInput = z.enum([
  'sync_success',
  'sync_failure',
  'sync_disabled',
  'sync_disabled_warning',
  'non_breaking_schema_change',
  'breaking_schema_change',
]);

export const WebhookUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000);

/** An HTTP header name (RFC 9110 token). */
export const HeaderName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');

export const WebhookFields = z.object({
  name: z.string().trim().min(1).max(200),
  url: WebhookUrl,
  events: z.array(NotificationEventInput).min(1),
  /** e.g. `Authorization`; its value is encrypted at rest and masked in answers. */
  secretHeaderName: HeaderName.nullable(),
  secretHeaderValue: z.string().min(1).max(4000).nullable(),
  enabled: z.boolean(),
});

export function presentWebhook(w: NotificationWebhook) {
  return {
    id: w.id,
    workspaceId: w.workspaceId,
    name: w.name,
    url: w.url,
    events: w.events,
    secretHeaderName: w.secretHeaderName,
    secretHeaderValue: w.secretHeaderValue ? SECRET_MASK : null,
    enabled: w.enabled,
    createdAt: iso(w.createdAt)!,
    updatedAt: iso(w.updatedAt)!,
  };
}

/**
 * The stored form of the header value: sealed with the platform key (the notifier opens it
 * with `box.open(value)`, which gives the string back). The mask keeps the stored value.
 */
function sealedHeader(
  box: SecretBox,
  incoming: string | null | undefined,
  stored: string | null,
): string | null | undefined {
  if (incoming === undefined) return undefined;
  if (incoming === null) return null;
  if (incoming === SECRET_MASK) {
    if (!stored) {
      throw new ApiError(
        'BAD_REQUEST',
        'secretHeaderValue: the masked value was sent back but no secret is stored',
        {
          path: 'secretHeaderValue',
        },
      );
    }
    return stored;
  }
  return box.seal(incoming);
}

function checkHeaderPair(name: string | null, value: string | null) {
  if ((name === null) !== (value === null)) {
    throw new ApiError('BAD_REQUEST', 'secretHeaderName and secretHeaderValue go together', {
      path: name === null ? 'secretHeaderName' : 'secretHeaderValue',
    });
  }
}

export async function listWebhooks(db: DbOrTx, workspaceId: string) {
  const rows = await db.notificationWebhook.findMany({
    where: { workspaceId },
    orderBy: { createdAt: 'asc' },
  });
  return rows.map(presentWebhook);
}

export async function getWebhook(db: DbOrTx, id: string) {
  const w = await db.notificationWebhook.findUnique({ where: { id } });
  if (!w) throw notFound('webhook', id);
  return w;
}

export async function createWebhook(
  db: DbOrTx,
  box: SecretBox,
  workspaceId: string,
  input: z.infer<typeof WebhookFields>,
) {
  const value = sealedHeader(box, input.secretHeaderValue, null) ?? null;
  checkHeaderPair(input.secretHeaderName, value);
  const w = await db.notificationWebhook.create({
    data: {
      workspaceId,
      name: input.name,
      url: input.url,
      events: input.events,
      secretHeaderName: input.secretHeaderName,
      secretHeaderValue: value,
      enabled: input.enabled,
    },
  });
  return presentWebhook(w);
}

export async function updateWebhook(
  db: DbOrTx,
  box: SecretBox,
  id: string,
  patch: Partial<z.infer<typeof WebhookFields>>,
) {
  const current = await getWebhook(db, id);
  const value = sealedHeader(box, patch.secretHeaderValue, current.secretHeaderValue);
  const name = patch.secretHeaderName !== undefined ? patch.secretHeaderName : current.secretHeaderName;
  checkHeaderPair(name, value !== undefined ? value : current.secretHeaderValue);
  const w = await db.notificationWebhook.update({
    where: { id },
    data: {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.events !== undefined ? { events: patch.events } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.secretHeaderName !== undefined ? { secretHeaderName: patch.secretHeaderName } : {}),
      ...(value !== undefined ? { secretHeaderValue: value } : {}),
    },
  });
  return presentWebhook(w);
}

export async function deleteWebhook(db: DbOrTx, id: string) {
  await db.notificationWebhook.delete({ where: { id } });
  return { id, deleted: true as const };
}
