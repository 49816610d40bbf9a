import type { AppRouter } from '@sluice/api';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';

export interface WorkloadApiOptions {
  /** The tRPC endpoint, e.g. http://127.0.0.1:3000/api/trpc. */
  url: string;
  dataplaneToken: string;
  /** Per request; a hung API must not hold a claim forever. Default 30 s. */
  timeoutMs?: number;
}

/** The Workload API (`workload.*`) over HTTP with a dataplane token. */
export function createWorkloadApi(options: WorkloadApiOptions) {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const client = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: options.url,
        headers: () => ({ authorization: `Bearer ${options.dataplaneToken}` }),
        fetch: (input, init) =>
          fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) } as RequestInit),
      }),
    ],
  });
  return client.workload;
}
export type WorkloadApi = ReturnType<typeof createWorkloadApi>;

/** The tRPC error code of a failed call (CONFLICT, NOT_FOUND, …); undefined for network errors. */
export function apiErrorCode(err: unknown): string | undefined {
  if (err instanceof TRPCClientError) {
    const code = (err.data as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Worth retrying: the API was unreachable, timed out or failed on its side. */
export function isTransientApiError(err: unknown): boolean {
  const code = apiErrorCode(err);
  return code === undefined || code === 'INTERNAL_SERVER_ERROR' || code === 'TOO_MANY_REQUESTS';
}

/** Retries transient failures a few times with a short backoff; other errors are thrown at once. */
export async function withApiRetry<T>(fn: () => Promise<T>, attempts = 4, baseDelayMs = 250): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isTransientApiError(err)) throw err;
      await new Promise((r) => setTimeout(r, baseDelayMs * 2 ** (i - 1)));
    }
  }
}
