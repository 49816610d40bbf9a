/** Check / discover / spec deadlines: how long a runner waits for the workload before cancelling it. */
export interface ConnectorTimeouts {
  spec: number;
  check: number;
  discover: number;
}

/** What the API side of the workflows is configured with; the worker's config extends it. */
export interface PlatformConfig {
  connectorTimeoutsMs: ConnectorTimeouts;
  /** Dataplane group of spec runs, which belong to no workspace. */
  defaultDataplaneGroup: string;
}

export const DEFAULT_PLATFORM_CONFIG: PlatformConfig = {
  // Queue wait included: a launcher may be busy with syncs.
  connectorTimeoutsMs: { spec: 5 * 60_000, check: 10 * 60_000, discover: 30 * 60_000 },
  defaultDataplaneGroup: 'default',
};

export interface PlatformConfigInput {
  connectorTimeoutsMs?: Partial<ConnectorTimeouts>;
  defaultDataplaneGroup?: string;
}

export function resolvePlatformConfig(input: PlatformConfigInput = {}): PlatformConfig {
  return {
    connectorTimeoutsMs: { ...DEFAULT_PLATFORM_CONFIG.connectorTimeoutsMs, ...input.connectorTimeoutsMs },
    defaultDataplaneGroup: input.defaultDataplaneGroup ?? DEFAULT_PLATFORM_CONFIG.defaultDataplaneGroup,
  };
}
