import type { WorkloadStatusName } from './types';

/** Codes match `ApiError`'s, so the router maps them one to one. */
export type WorkloadErrorCode = 'BAD_REQUEST' | 'NOT_FOUND' | 'CONFLICT' | 'PRECONDITION_FAILED';

export interface WorkloadErrorDetails {
  /** Dotted path of the input field at fault. */
  path?: string;
  /** The workload's status when a transition was refused (null: it does not exist). */
  status?: WorkloadStatusName | null;
}

export class WorkloadError extends Error {
  override name = 'WorkloadError';
  constructor(
    readonly code: WorkloadErrorCode,
    message: string,
    readonly details: WorkloadErrorDetails = {},
  ) {
    super(message);
  }
}

export const workloadNotFound = (id: string) =>
  new WorkloadError('NOT_FOUND', `workload ${id} not found`, { status: null });
