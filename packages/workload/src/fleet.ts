import { hostname } from 'node:os';
import type { Logger } from '@sluice/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * The fleet registry: every worker and launcher process writes a small record of itself to Redis
 * every few seconds, with a TTL, so the API can show who serves which dataplane group and how
 * busy each is. A process that dies simply stops refreshing its record, which expires.
 *
 * Keys (under the queue prefix): `<prefix>:fleet:member:<kind>:<id>` holds the member's JSON with
 * a TTL; the sorted set `<prefix>:fleet:members` indexes them (score: last seen, ms) so a reader
 * needs no key scan. This module has no database code: launchers import it.
 */

export const FleetMemberKind = z.enum(['worker', 'launcher']);
export type FleetMemberKind = z.infer<typeof FleetMemberKind>;

export const FleetMember = z.object({
  id: z.string().min(1).max(200),
  kind: FleetMemberKind,
  /** Launchers: the group they serve; workers: null (they serve every group). */
  dataplaneGroup: z.string().nullable(),
  /** Launchers: process | docker | kubernetes. */
  runtime: z.string().nullable(),
  host: z.string().nullable(),
  pid: z.number().int().nullable().optional(),
  startedAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime(),
  /** Workloads (launcher) or workflow activations (worker) running now, and the limit. */
  running: z.number().int().nonnegative(),
  capacity: z.number().int().nonnegative().nullable(),
});
export type FleetMember = z.infer<typeof FleetMember>;

export interface FleetMemberInfo {
  kind: FleetMemberKind;
  /** Default: `<host name>-<pid>`. */
  id?: string;
  dataplaneGroup?: string | null;
  runtime?: string | null;
  capacity?: number | null;
  /** Read at every refresh. */
  running?: () => number;
}

export interface FleetMembership {
  readonly id: string;
  /** Refreshes the record now (also done every `intervalMs`). */
  refresh(): Promise<void>;
  /** Stops refreshing and removes the record (a clean shutdown leaves no stale member). */
  leave(): Promise<void>;
}

export const DEFAULT_FLEET_INTERVAL_MS = 5_000;

const indexKey = (prefix: string) => `${prefix}:fleet:members`;
const memberKey = (prefix: string, kind: string, id: string) => `${prefix}:fleet:member:${kind}:${id}`;

/**
 * Registers this process in the fleet and keeps its record fresh every `intervalMs` (default
 * 5 s; the record lives three intervals). Failures are logged, never thrown: the fleet view is
 * informational and Redis may be briefly away.
 */
export function joinFleet(
  redis: Redis,
  prefix: string,
  info: FleetMemberInfo,
  opts: { intervalMs?: number; logger?: Logger } = {},
): FleetMembership {
  const id = info.id ?? `${hostname()}-${process.pid}`;
  const intervalMs = opts.intervalMs ?? DEFAULT_FLEET_INTERVAL_MS;
  const ttlMs = intervalMs * 3;
  const startedAt = new Date().toISOString();
  const key = memberKey(prefix, info.kind, id);
  const indexMember = `${info.kind}:${id}`;
  let left = false;
  let warned = false;

  const refresh = async () => {
    if (left) return;
    const now = new Date();
    const member: FleetMember = {
      id,
      kind: info.kind,
      dataplaneGroup: info.dataplaneGroup ?? null,
      runtime: info.runtime ?? null,
      host: hostname(),
      pid: process.pid,
      startedAt,
      lastSeenAt: now.toISOString(),
      running: Math.max(0, Math.trunc(info.running?.() ?? 0)),
      capacity: info.capacity ?? null,
    };
    try {
      await redis
        .multi()
        .set(key, JSON.stringify(member), 'PX', ttlMs)
        .zadd(indexKey(prefix), now.getTime(), indexMember)
        .exec();
      warned = false;
    } catch (err) {
      if (!warned) opts.logger?.warn({ err: (err as Error).message }, 'could not refresh the fleet record');
      warned = true;
    }
  };

  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  void refresh();
  return {
    id,
    refresh,
    async leave() {
      if (left) return;
      left = true;
      clearInterval(timer);
      await redis
        .multi()
        .del(key)
        .zrem(indexKey(prefix), indexMember)
        .exec()
        .catch(() => {});
    },
  };
}

/** Every live member (its record not expired), workers first, then by group and id. */
export async function listFleet(redis: Redis, prefix: string): Promise<FleetMember[]> {
  const index = await redis.zrange(indexKey(prefix), 0, -1);
  if (index.length === 0) return [];
  const keys = index.map((m) => {
    const i = m.indexOf(':');
    return memberKey(prefix, m.slice(0, i), m.slice(i + 1));
  });
  const values = await redis.mget(...keys);
  const members: FleetMember[] = [];
  const gone: string[] = [];
  values.forEach((v, i) => {
    const parsed = v ? safeJson(v) : undefined;
    const m = parsed === undefined ? undefined : FleetMember.safeParse(parsed);
    if (m?.success) members.push(m.data);
    else gone.push(index[i]!);
  });
  // Expired (or unreadable) records leave the index with their first reader.
  if (gone.length > 0) await redis.zrem(indexKey(prefix), ...gone).catch(() => 0);
  const kindOrder = { worker: 0, launcher: 1 } as const;
  return members.sort(
    (a, b) =>
      kindOrder[a.kind] - kindOrder[b.kind] ||
      (a.dataplaneGroup ?? '').localeCompare(b.dataplaneGroup ?? '') ||
      a.id.localeCompare(b.id),
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
