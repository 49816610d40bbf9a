import type { AirbyteCatalog, ConnectorSpecification } from '@sluice/protocol';

/** What a runner needs to know about a connector definition. */
export interface RunnableDefinition {
  /** Null while the definition is not saved yet: a new command definition's spec is fetched first. */
  id: string | null;
  name: string;
  kind: 'source' | 'destination';
  version: string;
  /** Image for container runtimes. */
  image: string;
  /** argv for the process runtime; empty when the definition runs only as an image. */
  command: string[];
  /** The stored spec: tells which config fields are secrets (to keep them out of logs). */
  spec: ConnectorSpecification | null;
  /** How a workload-based runner launches it (the definition's own settings, saved or not). */
  supportsSocket?: boolean;
  network?: 'none' | 'host';
  resources?: Record<string, unknown> | null;
}

/** The job a check or discover runs for: a workload-based runner attaches its workload to it. */
export interface ConnectorRunContext {
  jobId: string;
  attemptId: string;
  workspaceId: string;
  dataplaneGroup: string;
  /** Appends a line to the attempt's log (already scrubbed of the config's secrets). */
  log(line: string): void;
}

export type CheckOutcome =
  | { status: 'succeeded'; message?: string }
  | { status: 'failed'; message: string; failureType?: 'config_error' | 'system_error' | 'transient_error' };

/**
 * Runs a connector's `spec`, `check` and `discover`. The API calls it for check/discover jobs
 * and to fetch a custom definition's spec. `storedConfig` is the config as stored, with its
 * secrets still encrypted: the runner decrypts at the last moment (the local runner into a
 * 0600 file; a workload-based runner hands the sealed config to the launcher).
 *
 * The local implementation (`LocalConnectorRunner`) runs the definition's `command` on this
 * host; the workflow/launcher issues replace it with one that creates check/discover
 * workloads and waits for them. Callers do not change.
 */
export interface ConnectorRunner {
  /** Whether this runner can run the definition at all (e.g. the local runner needs a command). */
  canRun(def: RunnableDefinition): boolean;
  spec(def: RunnableDefinition): Promise<ConnectorSpecification>;
  check(def: RunnableDefinition, storedConfig: unknown, ctx: ConnectorRunContext): Promise<CheckOutcome>;
  discover(def: RunnableDefinition, storedConfig: unknown, ctx: ConnectorRunContext): Promise<AirbyteCatalog>;
}

/**
 * A connector run that did not produce its answer: the process failed, timed out, printed an
 * error trace or no result. `message` is safe to show (scrubbed of the config's secrets).
 */
export class ConnectorRunError extends Error {
  override name = 'ConnectorRunError';
  constructor(
    message: string,
    readonly failureType: 'config_error' | 'system_error' | 'transient_error' = 'system_error',
    readonly failureOrigin: 'source' | 'destination' | 'platform' = 'platform',
    readonly internalMessage?: string,
  ) {
    super(message);
  }
}

/** The runner cannot run this definition (an image-only definition on the local runner). */
export class RunnerUnsupportedError extends Error {
  override name = 'RunnerUnsupportedError';
}
