import { TRPCClientError } from '@trpc/client';

export interface ErrorView {
  /** A sentence for people. */
  title: string;
  /** The server's message (already free of secrets), when it adds something. */
  detail: string | null;
  code: string | null;
  /** The input field at fault (`config.port`), when the server names one. */
  fieldPath: string | null;
}

const TITLES: Record<string, string> = {
  BAD_REQUEST: 'Some of the input is not valid.',
  UNAUTHORIZED: 'You are signed out. Sign in again to continue.',
  FORBIDDEN: 'Your role in this workspace does not allow this.',
  NOT_FOUND: 'This item does not exist, or it is not in this workspace.',
  CONFLICT: 'This conflicts with the current state.',
  PRECONDITION_FAILED: 'This cannot be done right now.',
  TOO_MANY_REQUESTS: 'Too many attempts. Wait a few minutes and try again.',
  INTERNAL_SERVER_ERROR: 'The server ran into an unexpected problem.',
  TIMEOUT: 'The server took too long to answer.',
};

/** Any thrown value (tRPC error, network failure, bug) as words a user can act on. */
export function describeError(err: unknown): ErrorView {
  if (err instanceof TRPCClientError) {
    const data = (err.data ?? {}) as { code?: string; fieldPath?: string; httpStatus?: number };
    const code = data.code ?? null;
    if (!code && /fetch|network|Failed to fetch|Load failed/i.test(err.message)) {
      return {
        title: 'The server cannot be reached. Check your connection and that Sluice is running.',
        detail: null,
        code: null,
        fieldPath: null,
      };
    }
    if (!code && /JSON|Unexpected token/i.test(err.message)) {
      return {
        title: 'The server sent an answer that is not the API’s (is a proxy in the way?).',
        detail: null,
        code: null,
        fieldPath: null,
      };
    }
    return {
      title: (code && TITLES[code]) ?? 'The request failed.',
      detail: err.message || null,
      code,
      fieldPath: data.fieldPath ?? null,
    };
  }
  if (err instanceof Error) {
    return { title: 'Something went wrong.', detail: err.message, code: null, fieldPath: null };
  }
  return { title: 'Something went wrong.', detail: String(err), code: null, fieldPath: null };
}

export function errorCode(err: unknown): string | null {
  return err instanceof TRPCClientError ? ((err.data as { code?: string } | undefined)?.code ?? null) : null;
}
