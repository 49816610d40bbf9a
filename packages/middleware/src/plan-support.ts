/**
 * What the launcher and the middleware must agree on about a sync's working directory, as pure
 * functions: file names, socket paths and the socket-mode environment, the stream mapping
 * (namespace definition, prefix, field selection). The launcher writes with these; the
 * middleware reads with the same ones.
 */
import path from 'node:path';
import type { ConfiguredAirbyteCatalog, StreamMappingEntry, StreamMappingFile } from '@sluice/protocol';
import * as z from 'zod';

export const SOCKETS_DIR = 'sockets';
/** The stream mapping, relative to the working directory (StreamMappingFile of @sluice/protocol). */
export const STREAM_MAPPING_FILE = 'destination/streamMapping.json';
export const MIDDLEWARE_CONFIG_FILE = 'middleware.json';
export const PLAN_FILE = 'plan.json';

/** Linux's sockaddr_un holds 108 bytes, the terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;
export const DEFAULT_SOCKET_COUNT = 2;
export const MAX_SOCKET_COUNT = 16;

/** `<workDir>/sockets/socket-<i>.sock` for i < count. */
export function socketPaths(workDir: string, count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SOCKET_COUNT) {
    throw new RangeError(`a socket count is an integer from 1 to ${MAX_SOCKET_COUNT}, got ${count}`);
  }
  return Array.from({ length: count }, (_, i) => path.join(workDir, SOCKETS_DIR, `socket-${i}.sock`));
}

/** Whether Unix sockets can be bound at these paths (sockaddr_un length). */
export function socketPathsFit(paths: readonly string[]): boolean {
  return paths.every((p) => Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES);
}

/**
 * How many sockets a socket-mode sync uses: one per whole core of the smaller CPU limit of the two
 * connectors (the source writes one socket per core it may use), at least 1; 2 when neither
 * connector has a CPU limit.
 */
export function socketCountFor(cpuLimits: ReadonlyArray<number | undefined>): number {
  const limits = cpuLimits.filter((c): c is number => typeof c === 'number' && c > 0);
  if (limits.length === 0) return DEFAULT_SOCKET_COUNT;
  return Math.max(1, Math.min(MAX_SOCKET_COUNT, Math.floor(Math.min(...limits))));
}

/**
 * The environment both connectors get in socket mode (Airbyte's names). The destination also
 * gets `SLUICE_STREAM_MAPPING` (see `destinationMappingEnv`) when the mapping is not the identity.
 */
export function socketModeEnv(paths: readonly string[]): Record<string, string> {
  return {
    DATA_CHANNEL_MEDIUM: 'SOCKET',
    DATA_CHANNEL_FORMAT: 'JSONL',
    DATA_CHANNEL_SOCKET_PATHS: paths.join(','),
  };
}

export function destinationMappingEnv(workDir: string): Record<string, string> {
  return { SLUICE_STREAM_MAPPING: path.join(workDir, STREAM_MAPPING_FILE) };
}

/** Airbyte's placeholder in a custom namespace format. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Airbyte's placeholder, not a template
export const SOURCE_NAMESPACE_PLACEHOLDER = '${SOURCE_NAMESPACE}';

export const NamespaceDefinition = z.enum(['source', 'destination', 'customformat']);
export type NamespaceDefinition = z.infer<typeof NamespaceDefinition>;

export const MappingOptions = z.object({
  namespaceDefinition: NamespaceDefinition.default('destination'),
  /** For `customformat`: `${SOURCE_NAMESPACE}` is replaced by the source namespace. */
  namespaceFormat: z.string().nullish(),
  /** Prepended to every stream name. */
  prefix: z.string().default(''),
});
export type MappingOptions = z.input<typeof MappingOptions>;

/**
 * Where a source stream lands, as Airbyte maps it: `source` keeps the source namespace,
 * `destination` leaves it to the destination's default (no namespace), `customformat` formats
 * it (an empty result means the destination's default); the prefix goes before the name.
 */
export function destinationDescriptor(
  source: { name: string; namespace?: string | null | undefined },
  options: MappingOptions = {},
): { name: string; namespace?: string } {
  const o = MappingOptions.parse(options);
  const name = `${o.prefix}${source.name}`;
  let namespace: string | undefined;
  if (o.namespaceDefinition === 'source') namespace = source.namespace ?? undefined;
  else if (o.namespaceDefinition === 'customformat') {
    const formatted = (o.namespaceFormat ?? '')
      .replaceAll(SOURCE_NAMESPACE_PLACEHOLDER, source.namespace ?? '')
      .trim();
    namespace = formatted === '' ? undefined : formatted;
  }
  return namespace === undefined ? { name } : { name, namespace };
}

/**
 * The stream mapping of a sync: each stream of the source's configured catalog, where it lands,
 * and the top-level fields kept (`selectedFields`, keyed by `namespace\u0000name` or by name).
 */
export function buildStreamMapping(
  sourceCatalog: ConfiguredAirbyteCatalog,
  options: MappingOptions = {},
  selectedFields: ReadonlyMap<string, readonly string[]> = new Map(),
): StreamMappingFile {
  const streams: StreamMappingEntry[] = sourceCatalog.streams.map((s) => {
    const source = {
      name: s.stream.name,
      ...(s.stream.namespace !== undefined ? { namespace: s.stream.namespace } : {}),
    };
    const fields =
      selectedFields.get(`${s.stream.namespace ?? ''}\u0000${s.stream.name}`) ??
      selectedFields.get(s.stream.name);
    return {
      source,
      destination: destinationDescriptor(source, options),
      ...(fields ? { selectedFields: [...fields] } : {}),
    };
  });
  return { streams };
}

/** The destination's catalog: the source's configured catalog under the mapped names. */
export function mapConfiguredCatalog(
  sourceCatalog: ConfiguredAirbyteCatalog,
  mapping: StreamMappingFile,
): ConfiguredAirbyteCatalog {
  const byKey = new Map(mapping.streams.map((e) => [`${e.source.namespace ?? ''}\u0000${e.source.name}`, e]));
  return {
    ...sourceCatalog,
    streams: sourceCatalog.streams.map((s) => {
      const e = byKey.get(`${s.stream.namespace ?? ''}\u0000${s.stream.name}`);
      if (!e) return s;
      const { namespace: _dropped, ...rest } = s.stream;
      return {
        ...s,
        stream: {
          ...rest,
          name: e.destination.name,
          ...(e.destination.namespace !== undefined ? { namespace: e.destination.namespace } : {}),
        },
      };
    }),
  };
}

/** Whether a mapping changes nothing (same names, no field selection): the destination needs none. */
export function isIdentityMapping(mapping: StreamMappingFile): boolean {
  return mapping.streams.every(
    (e) =>
      !e.selectedFields &&
      e.source.name === e.destination.name &&
      (e.source.namespace ?? undefined) === (e.destination.namespace ?? undefined),
  );
}
