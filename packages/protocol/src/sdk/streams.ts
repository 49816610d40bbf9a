import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import {
  type AirbyteRecordMessage,
  type ConfiguredAirbyteCatalog,
  type ConfiguredAirbyteStream,
  formatZodError,
} from '../schema';
import { ConfigError, ConnectorError } from './errors';

/** A map key for a stream descriptor; an absent namespace differs from an empty one. */
export function streamKey(name: string, namespace?: string | null): string {
  return namespace === undefined || namespace === null ? `\u0000${name}` : `${namespace}\u0001${name}`;
}

/** `namespace.name`, or `name`, for messages. */
export function streamLabel(name: string, namespace?: string | null): string {
  return namespace === undefined || namespace === null ? name : `${namespace}.${name}`;
}

/** Configured streams by (name, namespace), with a one-entry cache for runs of one stream. */
export class CatalogIndex {
  private readonly byKey = new Map<string, ConfiguredAirbyteStream>();
  private lastName: string | undefined;
  private lastNamespace: string | undefined;
  private last: ConfiguredAirbyteStream | undefined;

  constructor(readonly catalog: ConfiguredAirbyteCatalog) {
    for (const s of catalog.streams) {
      const key = streamKey(s.stream.name, s.stream.namespace);
      if (this.byKey.has(key)) {
        throw new ConfigError(
          `the catalog lists stream "${streamLabel(s.stream.name, s.stream.namespace)}" twice`,
        );
      }
      this.byKey.set(key, s);
    }
  }

  get(name: string, namespace?: string): ConfiguredAirbyteStream | undefined {
    if (name === this.lastName && namespace === this.lastNamespace && this.last) return this.last;
    const s = this.byKey.get(streamKey(name, namespace));
    if (s) {
      this.lastName = name;
      this.lastNamespace = namespace;
      this.last = s;
    }
    return s;
  }

  labels(): string[] {
    return this.catalog.streams.map((s) => streamLabel(s.stream.name, s.stream.namespace));
  }
}

/**
 * Fails with a config error naming every configured stream the source does not have.
 * `known` are the source's streams: names (any namespace) or exact descriptors.
 */
export function assertKnownStreams(
  catalog: ConfiguredAirbyteCatalog,
  known: ReadonlyArray<string | { name: string; namespace?: string }>,
): void {
  const keys = new Set(
    known.map((k) => (typeof k === 'string' ? streamKey(k) : streamKey(k.name, k.namespace))),
  );
  // A plain name matches that stream in any namespace; a descriptor must match exactly.
  const names = new Set(known.filter((k) => typeof k === 'string'));
  const unknown = catalog.streams.filter(
    (s) => !keys.has(streamKey(s.stream.name, s.stream.namespace)) && !names.has(s.stream.name),
  );
  if (unknown.length === 0) return;
  const list = unknown.map((s) => `"${streamLabel(s.stream.name, s.stream.namespace)}"`).join(', ');
  const available = known
    .map((k) => (typeof k === 'string' ? k : streamLabel(k.name, k.namespace)))
    .join(', ');
  throw new ConfigError(
    `the catalog names stream${unknown.length > 1 ? 's' : ''} ${list} that this source does not have; available streams: ${available}`,
  );
}

export const StreamMappingDescriptor = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
});
export type StreamMappingDescriptor = z.infer<typeof StreamMappingDescriptor>;

export const StreamMappingEntry = z.object({
  /** The stream as the source names it. */
  source: StreamMappingDescriptor,
  /** The stream the destination writes; namespace absent means the destination's default. */
  destination: StreamMappingDescriptor,
  /** Top-level fields to keep; absent keeps every field. */
  selectedFields: z.array(z.string()).optional(),
});
export type StreamMappingEntry = z.infer<typeof StreamMappingEntry>;

/**
 * The file named by `SLUICE_STREAM_MAPPING`: how source streams become destination streams
 * (namespace mapping, prefixes) and which fields are kept. In socket mode the platform never
 * sees records, so the destination SDK applies this before the write handler.
 */
export const StreamMappingFile = z.object({
  streams: z.array(StreamMappingEntry),
});
export type StreamMappingFile = z.infer<typeof StreamMappingFile>;

/** Where a source stream goes: the destination's name and namespace, and the fields kept. */
export interface StreamTarget {
  readonly name: string;
  readonly namespace: string | undefined;
  /** The top-level fields kept, or undefined for all of them. */
  readonly fields: readonly string[] | undefined;
}

type CompiledEntry = StreamTarget;

/** Applies a {@link StreamMappingFile} to records, in place. */
export class StreamMapper {
  private readonly byKey = new Map<string, CompiledEntry>();
  private lastName: string | undefined;
  private lastNamespace: string | undefined;
  private last: CompiledEntry | undefined;

  constructor(mapping: StreamMappingFile) {
    for (const e of mapping.streams) {
      const key = streamKey(e.source.name, e.source.namespace);
      if (this.byKey.has(key)) {
        throw new ConfigError(
          `the stream mapping lists source stream "${streamLabel(e.source.name, e.source.namespace)}" twice`,
        );
      }
      this.byKey.set(key, {
        name: e.destination.name,
        namespace: e.destination.namespace,
        fields: e.selectedFields,
      });
    }
  }

  static async load(path: string): Promise<StreamMapper> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConnectorError(`could not read the stream mapping file "${path}": ${(err as Error).message}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ConnectorError(
        `the stream mapping file "${path}" is not valid JSON: ${(err as Error).message}`,
      );
    }
    const parsed = StreamMappingFile.safeParse(value);
    if (!parsed.success) {
      throw new ConnectorError(
        `the stream mapping file "${path}" is invalid: ${formatZodError(parsed.error, value)}`,
      );
    }
    return new StreamMapper(parsed.data);
  }

  /**
   * The destination's descriptor of a source stream (for stream statuses), or undefined when the
   * mapping does not list it.
   */
  mapDescriptor(d: {
    name: string;
    namespace?: string | undefined;
  }): { name: string; namespace?: string } | undefined {
    const entry = this.byKey.get(streamKey(d.name, d.namespace));
    if (!entry) return undefined;
    return entry.namespace === undefined
      ? { name: entry.name }
      : { name: entry.name, namespace: entry.namespace };
  }

  /** Where the mapping sends a source stream, or undefined when it does not list it. */
  target(name: string, namespace: string | undefined): StreamTarget | undefined {
    return this.byKey.get(streamKey(name, namespace));
  }

  /** Renames the record's stream/namespace and drops unselected fields; throws for unmapped streams. */
  map(record: AirbyteRecordMessage): AirbyteRecordMessage {
    let entry: CompiledEntry | undefined;
    if (record.stream === this.lastName && record.namespace === this.lastNamespace) entry = this.last;
    else {
      entry = this.byKey.get(streamKey(record.stream, record.namespace));
      this.lastName = record.stream;
      this.lastNamespace = record.namespace;
      this.last = entry;
    }
    if (!entry) {
      throw new ConnectorError(
        `received a record for stream "${streamLabel(record.stream, record.namespace)}", which the stream mapping does not list`,
      );
    }
    record.stream = entry.name;
    // Assigned, never deleted: `delete` turns each record into a slow dictionary-mode object.
    // An undefined namespace is absent to JSON.stringify and to every check in the SDK.
    (record as { namespace?: string | undefined }).namespace = entry.namespace;
    if (entry.fields) {
      const data = record.data;
      const kept: Record<string, unknown> = {};
      for (const f of entry.fields) if (Object.hasOwn(data, f)) kept[f] = data[f];
      record.data = kept;
    }
    return record;
  }
}
