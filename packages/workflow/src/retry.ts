import { DEFAULT_RETRY, RetryPolicy } from './types';

export function resolveRetry(...layers: (Partial<RetryPolicy> | undefined)[]): RetryPolicy {
  const merged: RetryPolicy = { ...DEFAULT_RETRY };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    }
  }
  const parsed = RetryPolicy.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new TypeError(`invalid retry policy: ${problems}`);
  }
  return parsed.data;
}

/** Delay before attempt `attempt + 1`, after `attempt` failed. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const base = Math.min(
    policy.initialIntervalMs * policy.backoffCoefficient ** Math.max(0, attempt - 1),
    policy.maxIntervalMs,
  );
  if (policy.jitter === 0) return Math.round(base);
  const spread = base * policy.jitter * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}
