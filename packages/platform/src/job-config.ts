import { ConnectionCatalog } from '@sluice/api';
import { z } from 'zod';

export const StreamRef = z.object({ name: z.string().min(1), namespace: z.string().min(1).optional() });
export type StreamRef = z.infer<typeof StreamRef>;

export const streamKey = (s: { name: string; namespace?: string | null | undefined }) =>
  `${s.namespace ?? ''}\u0000${s.name}`;
export const streamLabel = (s: { name: string; namespace?: string | null | undefined }) =>
  s.namespace ? `${s.namespace}.${s.name}` : s.name;

/**
 * A stream's generation, as Airbyte's refreshes define it: records a destination wrote under
 * older generations than `minimumGenerationId` are dropped once the sync succeeds.
 */
export const StreamGeneration = z.object({
  stream: StreamRef,
  generationId: z.number().int().nonnegative(),
  minimumGenerationId: z.number().int().nonnegative(),
});
export type StreamGeneration = z.infer<typeof StreamGeneration>;

const ActorSnapshot = z.object({
  actorId: z.string(),
  name: z.string(),
  definitionId: z.string(),
  definitionName: z.string(),
  version: z.string(),
  image: z.string(),
});

/**
 * What a sync or reset job runs with, frozen when it starts. Connector configs are not copied:
 * every attempt reads the actors' current configs (as Airbyte does), so a token a connector
 * refreshed through a CONTROL message is used by the next attempt.
 */
export const JobSnapshot = z.object({
  connection: z.object({
    id: z.string(),
    name: z.string(),
    workspaceId: z.string(),
    dataplaneGroup: z.string(),
    namespaceDefinition: z.string(),
    namespaceFormat: z.string().nullable(),
    prefix: z.string(),
    resourceOverrides: z.unknown().nullable(),
    nonBreakingChangesPreference: z.string(),
  }),
  source: ActorSnapshot,
  destination: ActorSnapshot,
  catalog: ConnectionCatalog,
  sourceCatalogId: z.string().nullable(),
  /** Airbyte's sync_id (an integer): the job's start time in epoch ms. */
  syncId: z.number().int(),
  /** The generations of this job's streams, and those carried over for every other stream. */
  streamGenerations: z.array(StreamGeneration),
  /** The streams this job syncs (a reset: the streams it clears). */
  streams: z.array(StreamRef),
});
export type JobSnapshot = z.infer<typeof JobSnapshot>;

/**
 * `jobs.config` of sync and reset jobs: written by the API side (`pending` jobs from sync now
 * and reset) and by the connection manager (scheduled jobs, the snapshot when a job starts).
 */
export const JobConfig = z.looseObject({
  trigger: z.enum(['manual', 'scheduled', 'reset']).optional(),
  requestedAt: z.string().optional(),
  scheduledFor: z.string().nullable().optional(),
  /** A reset: the streams to clear; null means all of them. */
  resetStreams: z.array(StreamRef).nullable().optional(),
  snapshot: JobSnapshot.optional(),
});
export type JobConfig = z.infer<typeof JobConfig>;
