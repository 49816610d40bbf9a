import { SESSION_COOKIE } from './caller';

/** Dashboard sessions last two weeks from login; logout or a disabled user ends them earlier. */
export const SESSION_TTL_MS = 14 * 24 * 60 * 60 * 1000;

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Lax (cross-site POSTs, i.e.
 * tRPC mutations from another origin, do not carry it), Secure on https. The value is an
 * opaque random token; the database holds only its sha256.
 */
export function sessionCookie(token: string, opts: { secure: boolean; maxAgeMs?: number }): string {
  const maxAge = Math.floor((opts.maxAgeMs ?? SESSION_TTL_MS) / 1000);
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${maxAge}`,
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(opts: { secure: boolean }): string {
  return [
    `${SESSION_COOKIE}=`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    'Max-Age=0',
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}
