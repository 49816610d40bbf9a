import { TRPCError } from '@trpc/server';

/**
 * The one error type services throw. Each code maps to a tRPC error code (and so an HTTP
 * status). `NOT_FOUND` is also what a caller gets for another workspace's object: saying
 * "forbidden" would confirm that the id exists.
 */
export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'TOO_MANY_REQUESTS'
  | 'INTERNAL_SERVER_ERROR';

export interface ApiErrorDetails {
  /** Dotted path of the input field at fault, e.g. `config.tunnel_method.ssh_key`. */
  path?: string;
  [key: string]: unknown;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: ApiErrorDetails = {},
  ) {
    super(message);
  }

  toTRPC(): TRPCError {
    return new TRPCError({ code: this.code, message: this.message, cause: this });
  }
}

export const notFound = (what: string, id?: string) =>
  new ApiError('NOT_FOUND', id ? `${what} ${id} not found` : `${what} not found`);
export const badRequest = (message: string, path?: string) =>
  new ApiError('BAD_REQUEST', message, path ? { path } : {});
export const forbidden = (message: string) => new ApiError('FORBIDDEN', message);
export const conflict = (message: string) => new ApiError('CONFLICT', message);
