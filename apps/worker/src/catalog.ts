import { buildConfiguredCatalog, type ConnectionCatalog } from '@sluice/api';
import { type StreamGeneration, type StreamRef, streamKey } from '@sluice/platform';
import type { AirbyteCatalog, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream } from '@sluice/protocol';

/** Overwrite-like destination modes start a new generation at every sync (truncate refresh). */
const TRUNCATING = new Set(['overwrite', 'overwrite_dedup']);

/**
 * The generations of a job's streams. A stream keeps its previous generation unless the job
 * truncates it: every full-refresh overwrite sync, and the streams a reset clears; those get
 * generation + 1 with `minimumGenerationId` equal to it (Airbyte's rule). Other streams send
 * minimum 0 (keep everything).
 */
export function nextGenerations(
  streams: StreamRef[],
  modes: Map<string, string>,
  previous: StreamGeneration[],
  reset: Set<string> | 'all' | null,
): StreamGeneration[] {
  const prev = new Map(previous.map((g) => [streamKey(g.stream), g.generationId]));
  return streams.map((stream) => {
    const key = streamKey(stream);
    const current = prev.get(key) ?? 0;
    const truncate = TRUNCATING.has(modes.get(key) ?? '') || reset === 'all' || (reset?.has(key) ?? false);
    const generationId = truncate ? current + 1 : current;
    return { stream, generationId, minimumGenerationId: truncate ? generationId : 0 };
  });
}

export function selectedStreams(
  catalog: ConnectionCatalog,
  reset: StreamRef[] | null | undefined,
): StreamRef[] {
  const wanted = reset ? new Set(reset.map(streamKey)) : null;
  return catalog.streams
    .filter((s) => s.selected && (!wanted || wanted.has(streamKey(s.stream))))
    .map((s) => ({ name: s.stream.name, ...(s.stream.namespace ? { namespace: s.stream.namespace } : {}) }));
}

/**
 * The ConfiguredAirbyteCatalog of one sync attempt, in the source's names (the middleware maps
 * names for the destination): the selected streams (only the reset ones for a reset job) with
 * generation ids and the sync id. The platform's `overwrite_dedup` is sent as `append_dedup`
 * with minimum generation = generation, which is how Airbyte expresses it in the protocol.
 */
export function configuredCatalogFor(args: {
  catalog: ConnectionCatalog;
  discovered: AirbyteCatalog;
  resetStreams: StreamRef[] | null | undefined;
  generations: StreamGeneration[];
  syncId: number;
}): ConfiguredAirbyteCatalog {
  const built = buildConfiguredCatalog(args.catalog, args.discovered);
  const gens = new Map(args.generations.map((g) => [streamKey(g.stream), g]));
  const wanted = args.resetStreams ? new Set(args.resetStreams.map(streamKey)) : null;
  const streams: ConfiguredAirbyteStream[] = [];
  for (const s of built.streams) {
    const key = streamKey(s.stream);
    if (wanted && !wanted.has(key)) continue;
    const g = gens.get(key);
    const mode = s.destination_sync_mode as string;
    streams.push({
      ...s,
      destination_sync_mode: mode === 'overwrite_dedup' ? 'append_dedup' : s.destination_sync_mode,
      generation_id: g?.generationId ?? 0,
      minimum_generation_id: g?.minimumGenerationId ?? 0,
      sync_id: args.syncId,
    });
  }
  return { streams };
}
