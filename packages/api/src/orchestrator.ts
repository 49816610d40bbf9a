import type { StreamDescriptor } from './validation/catalog';

/**
 * Airbyte's connection-manager signals, implemented by the worker (a connection-manager
 * workflow per connection on the BullMQ workflow engine). The API calls them after its
 * database transaction commits; Postgres stays the source of truth, so a worker that missed
 * a lifecycle call rebuilds its schedules from the connections table.
 *
 * Lifecycle calls (`created` … `deleted`) that fail are logged and do not fail the request.
 * Command calls (`syncNow`, `cancel`, `reset`) return what they started or throw; an
 * `ApiError` they throw reaches the caller as is (e.g. CONFLICT "a sync is already running").
 */
export interface ConnectionOrchestrator {
  created(connectionId: string): Promise<void>;
  /** Schedule, catalog or any other setting changed. */
  updated(connectionId: string): Promise<void>;
  enabled(connectionId: string): Promise<void>;
  disabled(connectionId: string): Promise<void>;
  /** The connection is deprecated (soft-deleted): stop its schedule, cancel what runs. */
  deleted(connectionId: string): Promise<void>;
  /** Starts a sync now (or queues one behind the running sync). */
  syncNow(connectionId: string): Promise<{ jobId: string }>;
  /** Cancels the running sync or reset, if any. */
  cancel(connectionId: string): Promise<{ jobId: string | null }>;
  /** Clears state (all streams, or the given ones) and runs a reset job. */
  reset(connectionId: string, streams?: StreamDescriptor[]): Promise<{ jobId: string }>;
}
