import type { Job } from './client';

export const ACTIVE = new Set(['pending', 'running', 'incomplete']);

/** The first failure of the job's last attempt that has one, as one line. */
export function failureReason(job: Pick<Job, 'attempts'>): string | null {
  for (const a of [...job.attempts].reverse()) {
    const failures = (a.failureSummary as { failures?: unknown } | null)?.failures;
    if (!Array.isArray(failures)) continue;
    for (const f of failures) {
      if (typeof f !== 'object' || f === null) continue;
      const r = f as Record<string, unknown>;
      const message =
        (typeof r.externalMessage === 'string' && r.externalMessage) ||
        (typeof r.internalMessage === 'string' && r.internalMessage) ||
        'no reason recorded';
      const origin = [
        r.failureOrigin,
        typeof r.failureType === 'string' ? r.failureType.replace(/_/g, ' ') : null,
      ]
        .filter((x) => typeof x === 'string' && x)
        .join(', ');
      return origin ? `${message} (${origin})` : message;
    }
  }
  return null;
}

export function recordsOf(job: Pick<Job, 'totals'>): number {
  const t = job.totals;
  return t ? Math.max(t.recordsCommitted, t.recordsEmitted) : 0;
}
