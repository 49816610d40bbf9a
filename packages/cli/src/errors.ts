import { TRPCClientError } from '@trpc/client';

/** An error the user can act on: printed as `sluice: <message>`, exit code `code`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

const HINTS: Record<string, string> = {
  UNAUTHORIZED: 'the token is missing, expired or revoked: run `sluice login --token <token>`',
  FORBIDDEN: 'your role does not allow this',
  NOT_FOUND: 'not found (or not in this workspace)',
  TOO_MANY_REQUESTS: 'too many requests: wait and retry',
};

/** Any failure as one line of words: API errors keep their message and the field at fault. */
export function describeCliError(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (err instanceof TRPCClientError) {
    const data = (err.data ?? {}) as { code?: string; fieldPath?: string };
    if (!data.code) {
      const cause = (err.cause as { message?: string } | undefined)?.message ?? err.message;
      if (/fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|network/i.test(`${err.message} ${cause}`)) {
        return `cannot reach the Sluice server (${cause}): check --url / SLUICE_URL and that the server runs`;
      }
      return `unexpected answer from the server: ${err.message}`;
    }
    const hint = HINTS[data.code];
    const field = data.fieldPath ? ` (field ${data.fieldPath})` : '';
    return `${err.message}${field}${hint && !err.message.toLowerCase().includes(hint.slice(0, 12)) ? ` — ${hint}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export function errorCode(err: unknown): string | null {
  return err instanceof TRPCClientError ? ((err.data as { code?: string } | undefined)?.code ?? null) : null;
}
