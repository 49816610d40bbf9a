import { randomBytes } from 'node:crypto';
import { hashToken } from '@sluice/db';
import { DATAPLANE_TOKEN_PREFIX } from '@sluice/workload/types';

/**
 * Token kinds are told apart by prefix, so a leaked token in a log or a ticket says what it
 * is, and a dataplane token can never be mistaken for a user token.
 */
export const TOKEN_PREFIX = {
  user: 'sluice_pat_',
  dataplane: DATAPLANE_TOKEN_PREFIX,
  session: 'sluice_ses_',
} as const;
export type TokenKind = keyof typeof TOKEN_PREFIX;

export interface IssuedToken {
  /** Shown once, to whoever created it. */
  token: string;
  /** What the database stores. */
  hash: string;
  /** Enough to recognise the token in a listing, never enough to use it. */
  displayPrefix: string;
}

export function issueToken(kind: TokenKind): IssuedToken {
  const token = TOKEN_PREFIX[kind] + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token), displayPrefix: token.slice(0, TOKEN_PREFIX[kind].length + 6) };
}

export function tokenKind(token: string): TokenKind | null {
  for (const [kind, prefix] of Object.entries(TOKEN_PREFIX))
    if (token.startsWith(prefix)) return kind as TokenKind;
  return null;
}
