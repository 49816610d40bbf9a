import type { Logger } from '@sluice/shared';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { type FleetMember, type FleetMemberInfo, type FleetMembership, joinFleet, listFleet } from './fleet';
import { DataplaneGroup, MAX_PRIORITY, MIN_PRIORITY, WorkloadId } from './types';

export * from './fleet';

/**
 * Dispatch: how workloads reach launchers. One BullMQ queue per dataplane group
 * (`workload-<group>`), job id = workload id (adding twice is a no-op), payload = the id only;
 * launchers claim in Postgres and read everything else through the Workload API. The queue is
 * a hint, Postgres the truth: a lost job is re-added by `WorkloadService.requeuePending`, and
 * a job whose workload is no longer pending is simply dropped by the launcher.
 *
 * This module never touches the database, so launchers import it (`@sluice/workload/queue`).
 */

export type RedisConnection = string | RedisOptions;

export const DEFAULT_QUEUE_PREFIX = 'sluice';
export const WORKLOAD_JOB_NAME = 'workload';
/** Retries of a launcher's handler that threw (API unreachable…); after the last one the job is
 * dropped and the reconciler re-adds it while the workload is still pending. */
export const WORKLOAD_JOB_ATTEMPTS = 5;
export const WORKLOAD_JOB_BACKOFF_MS = 1000;

export const WorkloadQueuePayload = z.object({ workloadId: WorkloadId });
export type WorkloadQueuePayload = z.infer<typeof WorkloadQueuePayload>;

export function workloadQueueName(group: string): string {
  return `workload-${DataplaneGroup.parse(group)}`;
}

/**
 * Set by a wake that found the workload's job being handled: the handler, once it has put the
 * job back to wait, takes the mark and lets it go at once (the wake would be lost otherwise).
 */
export function workloadWakeKey(prefix: string, id: string): string {
  return `${prefix}:workload-wake:${id}`;
}
const WAKE_MARK_TTL_S = 120;

export function workloadEventsChannel(prefix: string, group: string): string {
  return `${prefix}:workload-events:${DataplaneGroup.parse(group)}`;
}

/** BullMQ runs lower numbers first (1 is the highest); workloads run higher priorities first. */
export function bullPriority(priority: number): number {
  const p = Math.min(MAX_PRIORITY, Math.max(MIN_PRIORITY, Math.trunc(priority)));
  return 1 + (MAX_PRIORITY - p);
}

/** Published to `workloadEventsChannel(prefix, group)` after the change committed. */
export const WorkloadEvent = z.object({
  type: z.literal('cancelled'),
  workloadId: WorkloadId,
  dataplaneGroup: DataplaneGroup,
  /** The launcher that claimed it (null when it was never claimed). */
  claimedBy: z.string().nullable(),
  reason: z.string(),
});
export type WorkloadEvent = z.infer<typeof WorkloadEvent>;

export interface DispatchTarget {
  id: string;
  dataplaneGroup: string;
  priority: number;
}

/** What the service needs from dispatch; `WorkloadQueue` is the BullMQ implementation. */
export interface WorkloadDispatch {
  /** Adds the workload's queue job unless it exists. */
  enqueue(w: DispatchTarget): Promise<void>;
  /** Makes a waiting launcher look at the workload now (promotes its delayed job, or adds it). */
  wake(w: DispatchTarget): Promise<void>;
  /** Removes the queue job if no launcher holds it (best effort). */
  remove(w: DispatchTarget): Promise<void>;
  publish(event: WorkloadEvent): Promise<void>;
  /** The workers and launchers that reported in recently (see fleet.ts); absent: not known. */
  listFleet?(): Promise<FleetMember[]>;
}

function connect(connection: RedisConnection, overrides: RedisOptions = {}): Redis {
  return typeof connection === 'string'
    ? new Redis(connection, overrides)
    : new Redis({ ...connection, ...overrides });
}

export interface WorkloadQueueOptions {
  connection: RedisConnection;
  /** Key prefix of every queue and channel; tests use a unique one. */
  prefix?: string;
  logger?: Logger;
}

export class WorkloadQueue implements WorkloadDispatch {
  readonly prefix: string;
  readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly options: WorkloadQueueOptions) {
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    // Producer side: a command fails instead of waiting forever when Redis is down, so an API
    // call is not held hostage; the reconciler re-adds what was missed.
    this.redis = connect(options.connection, { maxRetriesPerRequest: 2 });
    this.redis.on('error', (err) => options.logger?.warn({ err: err.message }, 'workload queue redis error'));
  }

  queue(group: string): Queue {
    let q = this.queues.get(group);
    if (!q) {
      q = new Queue(workloadQueueName(group), { connection: this.redis, prefix: this.prefix });
      q.on('error', (err) => this.options.logger?.warn({ err: err.message, group }, 'workload queue error'));
      this.queues.set(group, q);
    }
    return q;
  }

  async enqueue(w: DispatchTarget): Promise<void> {
    await this.queue(w.dataplaneGroup).add(
      WORKLOAD_JOB_NAME,
      { workloadId: w.id } satisfies WorkloadQueuePayload,
      {
        jobId: w.id,
        priority: bullPriority(w.priority),
        attempts: WORKLOAD_JOB_ATTEMPTS,
        backoff: { type: 'exponential', delay: WORKLOAD_JOB_BACKOFF_MS },
        // Removed once handled so the id can be added again (a blocked workload woken later).
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async wake(w: DispatchTarget): Promise<void> {
    const q = this.queue(w.dataplaneGroup);
    let state = await q.getJobState(w.id);
    if (state === 'active') {
      // A launcher is handling it and may be about to put it back to wait: leave a mark it
      // looks for after doing so, then look again in case it already had.
      await this.redis.set(workloadWakeKey(this.prefix, w.id), '1', 'EX', WAKE_MARK_TTL_S);
      state = await q.getJobState(w.id);
    }
    if (state === 'delayed') {
      const job = await q.getJob(w.id);
      // It may have been promoted or picked up in between: nothing left to do then.
      await job?.promote().catch(() => {});
    } else if (state === 'unknown') {
      await this.enqueue(w);
    }
  }

  async remove(w: DispatchTarget): Promise<void> {
    // A job a launcher is processing is locked and stays; the launcher's claim then fails.
    await this.queue(w.dataplaneGroup)
      .remove(w.id)
      .catch(() => 0);
  }

  async publish(event: WorkloadEvent): Promise<void> {
    await this.redis.publish(workloadEventsChannel(this.prefix, event.dataplaneGroup), JSON.stringify(event));
  }

  /**
   * Registers this process (a worker, a launcher) in the fleet the API shows, on this queue's
   * Redis connection and prefix; call `leave()` before `close()`.
   */
  joinFleet(info: FleetMemberInfo, opts: { intervalMs?: number } = {}): FleetMembership {
    return joinFleet(this.redis, this.prefix, info, {
      ...opts,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
    });
  }

  listFleet(): Promise<FleetMember[]> {
    return listFleet(this.redis, this.prefix);
  }

  /** Jobs of a group's queue by BullMQ state (waiting, prioritized, delayed, active). */
  async counts(group: string): Promise<Record<string, number>> {
    return this.queue(group).getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => {})));
    this.queues.clear();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** What a launcher's handler decides about one queue job. */
export type WorkloadJobOutcome =
  /** Claimed and launched, or no longer claimable: the job is removed. */
  | { kind: 'done' }
  /** Blocked (mutex) or the launcher is full: look again after `afterMs`. */
  | { kind: 'retry'; afterMs: number };

export interface WorkloadQueueWorkerOptions {
  connection: RedisConnection;
  prefix?: string;
  group: string;
  /** Jobs handled at once (how many workloads this launcher claims concurrently). */
  concurrency?: number;
  logger?: Logger;
  handle(workloadId: string, job: { attemptsMade: number }): Promise<WorkloadJobOutcome>;
}

export interface WorkloadQueueWorker {
  worker: Worker;
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The launcher side of dispatch: parses each job's payload and delegates to `handle`. A handler
 * that throws is retried with backoff (`WORKLOAD_JOB_ATTEMPTS`).
 */
export function createWorkloadQueueWorker(options: WorkloadQueueWorkerOptions): WorkloadQueueWorker {
  // Workers block on Redis: commands must wait for a reconnect rather than fail.
  const redis = connect(options.connection, { maxRetriesPerRequest: null });
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  redis.on('error', (err) => options.logger?.warn({ err: err.message }, 'workload worker redis error'));
  const worker = new Worker(
    workloadQueueName(options.group),
    async (job: Job, token?: string) => {
      const parsed = WorkloadQueuePayload.safeParse(job.data);
      if (!parsed.success) {
        // A malformed job can never succeed: drop it (the reconciler re-adds real workloads).
        options.logger?.error({ jobId: job.id, issues: parsed.error.issues }, 'malformed workload queue job');
        return;
      }
      const outcome = await options.handle(parsed.data.workloadId, { attemptsMade: job.attemptsMade });
      if (outcome.kind === 'retry') {
        await job.moveToDelayed(Date.now() + Math.max(0, outcome.afterMs), token);
        // A wake while this ran (see workloadWakeKey): go again now rather than after afterMs.
        if (await redis.getdel(workloadWakeKey(prefix, String(job.id)))) await job.promote().catch(() => {});
        throw new DelayedError();
      }
    },
    {
      connection: redis,
      prefix,
      concurrency: options.concurrency ?? 1,
    },
  );
  worker.on('error', (err) => options.logger?.warn({ err: err.message }, 'workload worker error'));
  return {
    worker,
    waitUntilReady: async () => {
      await worker.waitUntilReady();
    },
    close: async () => {
      await worker.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export interface WorkloadEventSubscription {
  close(): Promise<void>;
}

/**
 * Launchers subscribe to their group's events to stop a cancelled workload's programs at once
 * (the middleware also learns it from its next heartbeat). Pub/sub is fire-and-forget: a
 * launcher also reconciles with `workload.listActive` periodically.
 */
export async function subscribeWorkloadEvents(options: {
  connection: RedisConnection;
  prefix?: string;
  group: string;
  onEvent: (event: WorkloadEvent) => void;
  logger?: Logger;
}): Promise<WorkloadEventSubscription> {
  const redis = connect(options.connection, { maxRetriesPerRequest: null });
  redis.on('error', (err) => options.logger?.warn({ err: err.message }, 'workload events redis error'));
  const channel = workloadEventsChannel(options.prefix ?? DEFAULT_QUEUE_PREFIX, options.group);
  redis.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let parsed: ReturnType<typeof WorkloadEvent.safeParse>;
    try {
      parsed = WorkloadEvent.safeParse(JSON.parse(message));
    } catch {
      options.logger?.warn({ channel }, 'workload event is not JSON');
      return;
    }
    if (!parsed.success) {
      options.logger?.warn({ channel, issues: parsed.error.issues }, 'malformed workload event');
      return;
    }
    try {
      options.onEvent(parsed.data);
    } catch (err) {
      options.logger?.error({ err }, 'workload event handler failed');
    }
  });
  await redis.subscribe(channel);
  return {
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
