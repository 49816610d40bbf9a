/**
 * The part of a workload's input (`workload.input`, configs decrypted) the launcher relies on,
 * parsed at the boundary so a bad input is a readable launch failure, never a crash.
 */
import { AirbyteStateMessage, ConfiguredAirbyteCatalog, formatZodError } from '@sluice/protocol';
import { z } from 'zod';
import { NamespaceDefinition } from './mapping';

export const WorkloadType = z.enum(['spec', 'check', 'discover', 'sync']);
export type WorkloadType = z.infer<typeof WorkloadType>;

/** A definition's resources; other keys (e.g. an orchestrator's) are ignored. */
export const ConnectorResources = z
  .looseObject({
    cpuLimit: z.number().positive().max(512).optional(),
    memoryLimitMb: z.number().int().min(6).optional(),
  })
  .transform(({ cpuLimit, memoryLimitMb }) => ({
    ...(cpuLimit !== undefined ? { cpuLimit } : {}),
    ...(memoryLimitMb !== undefined ? { memoryLimitMb } : {}),
  }));
export type ConnectorResources = z.infer<typeof ConnectorResources>;

export const LaunchConnector = z.looseObject({
  actorType: z.enum(['source', 'destination']),
  /** Container runtimes. */
  image: z.string().min(1).optional(),
  /** Process runtime: the argv prefix, e.g. ["node", "/abs/bin/source-faker.js"]. */
  command: z.array(z.string().min(1)).min(1).optional(),
  supportsSocket: z.boolean().optional(),
  network: z.enum(['none', 'host']).optional(),
  resources: ConnectorResources.nullish(),
  config: z.record(z.string(), z.unknown()).optional(),
});
export type LaunchConnector = z.infer<typeof LaunchConnector>;

export const LaunchInput = z.looseObject({
  jobId: z.string().optional(),
  attemptNumber: z.number().int().nonnegative().optional(),
  connectionId: z.string().optional(),
  source: LaunchConnector.optional(),
  destination: LaunchConnector.optional(),
  connector: LaunchConnector.optional(),
  /** Sync: the ConfiguredAirbyteCatalog with the source's stream names (streams may carry
   * Sluice's `selected` / `selectedFields`). */
  catalog: ConfiguredAirbyteCatalog.optional(),
  /** Sync: the connection's committed state (added by `workload.input`). */
  state: z.array(AirbyteStateMessage).optional(),
  stateGeneration: z.number().int().nonnegative().optional(),
  namespaceDefinition: NamespaceDefinition.optional(),
  namespaceFormat: z.string().nullish(),
  prefix: z.string().nullish(),
});
export type LaunchInput = z.infer<typeof LaunchInput>;

export class InputError extends Error {
  override name = 'InputError';
}

/** Parses the input and checks what the workload's type needs. */
export function parseLaunchInput(type: WorkloadType, raw: unknown): LaunchInput {
  const parsed = LaunchInput.safeParse(raw);
  if (!parsed.success) throw new InputError(`invalid workload input: ${formatZodError(parsed.error, raw)}`);
  const input = parsed.data;
  const need = (ok: unknown, what: string) => {
    if (!ok) throw new InputError(`invalid workload input: a ${type} workload needs ${what}`);
  };
  if (type === 'sync') {
    need(input.source, 'input.source');
    need(input.destination, 'input.destination');
    need(input.catalog, 'input.catalog (a configured catalog)');
    need(input.source?.config, 'input.source.config');
    need(input.destination?.config, 'input.destination.config');
    if (input.source?.actorType !== 'source')
      throw new InputError('invalid workload input: source.actorType must be "source"');
    if (input.destination?.actorType !== 'destination')
      throw new InputError('invalid workload input: destination.actorType must be "destination"');
  } else {
    need(input.connector, 'input.connector');
    if (type !== 'spec') need(input.connector?.config, 'input.connector.config');
  }
  return input;
}
