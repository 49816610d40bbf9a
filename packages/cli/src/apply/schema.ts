import { z } from 'zod';

/** `sluice.yaml`: sources, destinations and connections, matched to existing objects by name. */

const Name = z.string().trim().min(1).max(200);

export const ActorSpec = z
  .object({
    name: Name,
    /** The connector definition's name (`source-faker`) or display name. */
    connector: z.string().min(1),
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type ActorSpec = z.infer<typeof ActorSpec>;

const FieldPath = z.union([
  z
    .string()
    .min(1)
    .transform((s) => s.split('.')),
  z.array(z.string().min(1)).min(1),
]);

export const StreamSpec = z
  .object({
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    syncMode: z.enum(['full_refresh', 'incremental']).optional(),
    destinationSyncMode: z.enum(['append', 'overwrite', 'append_dedup', 'update', 'soft_delete']).optional(),
    /** `updated_at` or `[meta, updated_at]`. */
    cursorField: FieldPath.optional(),
    /** `id`, `[id, region]` (two fields) or `[[id], [region]]`. */
    primaryKey: z
      .union([
        z
          .string()
          .min(1)
          .transform((s) => [s.split('.')]),
        z
          .array(
            z.union([
              z
                .string()
                .min(1)
                .transform((s) => s.split('.')),
              z.array(z.string().min(1)).min(1),
            ]),
          )
          .min(1),
      ])
      .optional(),
    selectedFields: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
export type StreamSpec = z.infer<typeof StreamSpec>;

export const ScheduleSpec = z.union([
  z.literal('manual').transform(() => ({ type: 'manual' as const })),
  z.object({ type: z.literal('manual') }).strict(),
  z
    .object({
      type: z.literal('basic'),
      units: z.int().min(1),
      timeUnit: z.enum(['minutes', 'hours', 'days', 'weeks', 'months']),
    })
    .strict(),
  z
    .object({
      type: z.literal('cron'),
      expression: z.string().min(1),
      timeZone: z.string().min(1).default('UTC'),
    })
    .strict(),
]);
export type ScheduleSpec = z.infer<typeof ScheduleSpec>;

export const ConnectionSpec = z
  .object({
    name: Name,
    source: Name,
    destination: Name,
    schedule: ScheduleSpec.default({ type: 'manual' }),
    status: z.enum(['active', 'inactive']).default('active'),
    namespaceDefinition: z.enum(['source', 'destination', 'customformat']).optional(),
    namespaceFormat: z.string().max(200).optional(),
    prefix: z.string().max(100).optional(),
    nonBreakingChangesPreference: z
      .enum(['ignore', 'disable', 'propagate_columns', 'propagate_fully'])
      .optional(),
    /** The streams to sync; absent: every stream with Airbyte's defaults (on create), unchanged (on update). */
    streams: z.array(StreamSpec).optional(),
  })
  .strict();
export type ConnectionSpec = z.infer<typeof ConnectionSpec>;

export const SluiceFile = z
  .object({
    /** Workspace name, slug or id (else --workspace / the login's). */
    workspace: z.string().min(1).optional(),
    sources: z.array(ActorSpec).default([]),
    destinations: z.array(ActorSpec).default([]),
    connections: z.array(ConnectionSpec).default([]),
  })
  .strict();
export type SluiceFile = z.infer<typeof SluiceFile>;
