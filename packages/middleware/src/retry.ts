/** tRPC error codes that a retry may cure (the API restarting, overloaded, a proxy in between). */
const TRANSIENT_CODES = new Set([
  'INTERNAL_SERVER_ERROR',
  'TIMEOUT',
  'TOO_MANY_REQUESTS',
  'SERVICE_UNAVAILABLE',
  'BAD_GATEWAY',
  'GATEWAY_TIMEOUT',
  'CLIENT_CLOSED_REQUEST',
]);

interface TrpcLikeError {
  data?: { code?: unknown; httpStatus?: unknown } | null;
  meta?: { response?: { status?: unknown } };
  cause?: unknown;
}

/** The tRPC error code of an API error (`CONFLICT`, `BAD_REQUEST`, …), if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as TrpcLikeError | undefined)?.data?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether an API call failure is worth retrying: no answer at all (connection refused or reset,
 * timeout), a 5xx, or an answer that was not the API's (a proxy's error page). An answer from the
 * API refusing the call (CONFLICT, BAD_REQUEST, UNAUTHORIZED, …) is final.
 */
export function isTransientError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & TrpcLikeError;
  const code = errorCode(err);
  if (code) return TRANSIENT_CODES.has(code);
  const status = e.data?.httpStatus ?? e.meta?.response?.status;
  if (typeof status === 'number') return status >= 500 || status === 408 || status === 429;
  // No tRPC error body: the request never got an answer from the API.
  return true;
}

export interface RetryOptions {
  /** Give up after this long (the last error is thrown). Default 60 s. */
  maxElapsedMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  isTransient?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const maxElapsed = opts.maxElapsedMs ?? 60_000;
  const transient = opts.isTransient ?? isTransientError;
  const started = Date.now();
  let delay = opts.initialDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const elapsed = Date.now() - started;
      if (!transient(err) || elapsed + delay > maxElapsed || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(opts.maxDelayMs ?? 5_000, delay * 2);
    }
  }
}
