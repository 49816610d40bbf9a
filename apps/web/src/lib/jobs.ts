/** Reading job views (the API's `job.get` / `job.list` items). Pure functions. */

export interface FailureView {
  origin: string | null;
  type: string | null;
  message: string;
}

interface AttemptLike {
  attemptNumber: number;
  status: string;
  failureSummary: Record<string, unknown> | null;
}

export const ACTIVE_JOB_STATUSES: ReadonlySet<string> = new Set(['pending', 'running', 'incomplete']);

export function failuresOf(attempt: AttemptLike): FailureView[] {
  const list = (attempt.failureSummary as { failures?: unknown } | null)?.failures;
  if (!Array.isArray(list)) return [];
  return list
    .filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null)
    .map((f) => ({
      origin: typeof f.failureOrigin === 'string' ? f.failureOrigin : null,
      type: typeof f.failureType === 'string' ? f.failureType : null,
      message:
        typeof f.externalMessage === 'string' && f.externalMessage
          ? f.externalMessage
          : typeof f.internalMessage === 'string' && f.internalMessage
            ? f.internalMessage
            : 'No reason was recorded',
    }));
}

/** The reason a job failed: the first failure of its last attempt that has one. */
export function jobFailure(job: { attempts: AttemptLike[] }): FailureView | null {
  for (const a of [...job.attempts].reverse()) {
    const [first] = failuresOf(a);
    if (first) return first;
  }
  return null;
}

export function describeFailure(f: FailureView): string {
  const where = f.origin ? `${f.origin}` : null;
  const kind = f.type ? f.type.replace(/_/g, ' ') : null;
  const prefix = [where, kind].filter(Boolean).join(', ');
  return prefix ? `${f.message} (${prefix})` : f.message;
}

export interface RateSample {
  t: number;
  records: number;
}

/**
 * Rows per second over the samples of the last `windowMs` (the first sample of the window
 * against the newest); null until two samples apart in time exist.
 */
export function rowsPerSecond(samples: RateSample[], windowMs = 10_000): number | null {
  const last = samples.at(-1);
  if (!last) return null;
  const first = samples.find((s) => last.t - s.t <= windowMs) ?? samples[0]!;
  const dt = last.t - first.t;
  if (dt <= 0) return null;
  return Math.max(0, ((last.records - first.records) * 1000) / dt);
}

/** Share of the estimate done (0–1), or null without an estimate. */
export function estimateProgress(done: number, estimated: number | null | undefined): number | null {
  if (!estimated || estimated <= 0) return null;
  return Math.min(1, done / estimated);
}
