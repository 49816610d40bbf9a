/** BullMQ job name of the ticks of `engine.schedule()`; workflow names may not start with "__". */
export const SCHEDULE_JOB = '__schedule';

/**
 * Redis layout. Everything lives under BullMQ's own `<prefix>:<queue>:` namespace so that
 * a hash-tagged prefix (e.g. `{sluice}`) keeps the engine's keys and the queue's keys in
 * one cluster slot, which the fencing script (it reads the job's lock) needs.
 */
export class Keys {
  readonly queuePrefix: string;
  readonly base: string;

  constructor(
    readonly prefix: string,
    readonly queue: string,
  ) {
    this.queuePrefix = `${prefix}:${queue}:`;
    this.base = `${prefix}:${queue}:wf:`;
  }

  /** Workflow record (hash): status, runId, input, state, output, error, timestamps. */
  rec(workflowId: string): string {
    return `${this.base}rec:${workflowId}`;
  }

  /** History of one run (hash seq → JSON entry); deleted by continue-as-new. */
  hist(runId: string): string {
    return `${this.base}hist:${runId}`;
  }

  get histPrefix(): string {
    return `${this.base}hist:`;
  }

  /** Pending signals of a workflow (list of `name\njson`), shared by all its runs. */
  sig(workflowId: string): string {
    return `${this.base}sig:${workflowId}`;
  }

  /** Non-terminal workflows (zset id → startedAt), for reconcilers. */
  get active(): string {
    return `${this.base}active`;
  }

  /** Hash status → count: gauges for non-terminal statuses, totals for terminal ones. */
  get counts(): string {
    return `${this.base}counts`;
  }

  /** Hash scheduleId → id of the workflow its last tick started. */
  get schedules(): string {
    return `${this.base}schedules`;
  }

  /** Pub/sub channel carrying cancel/terminate notices to every worker. */
  get control(): string {
    return `${this.base}control`;
  }

  /** Pub/sub channel announcing that a workflow reached a terminal status. */
  done(workflowId: string): string {
    return `${this.base}done:${workflowId}`;
  }

  get donePrefix(): string {
    return `${this.base}done:`;
  }

  /** BullMQ's lock key for a job; the fencing token of an activation. */
  lock(jobId: string): string {
    return `${this.queuePrefix}${jobId}:lock`;
  }
}
