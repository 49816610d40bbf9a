import type { ConfiguredAirbyteCatalog, EnvelopeChange, StreamMappingFile } from '@sluice/protocol';
import { streamKey, streamLabel } from '@sluice/protocol';

/** A configured source stream and where its records go. */
export interface Route {
  /** Source descriptor (as the connection's catalog names it). */
  name: string;
  namespace: string | undefined;
  label: string;
  /** Destination descriptor. */
  destName: string;
  destNamespace: string | undefined;
  /** Top-level fields kept, or undefined for all. Records of such streams take the slow path. */
  fields: string[] | undefined;
  /** The envelope change for records that carry the source namespace exactly (most records). */
  change: EnvelopeChange | undefined;
}

type Descriptor = { name: string; namespace?: string | null | undefined };

/**
 * Routing of source records: which configured stream a record belongs to, and how its envelope
 * changes. Streams absent from the source's configured catalog have no route (they are dropped).
 * Lookups of a run of one stream hit a one-entry cache.
 */
export class StreamRoutes {
  private readonly byKey = new Map<string, Route>();
  private readonly byDestKey = new Map<string, Route>();
  private lastName: string | undefined;
  private lastNamespace: string | null | undefined;
  private last: Route | undefined;
  readonly identity: boolean;

  constructor(catalog: ConfiguredAirbyteCatalog, mapping?: StreamMappingFile) {
    const entries = new Map(
      (mapping?.streams ?? []).map((e) => [streamKey(e.source.name, e.source.namespace), e] as const),
    );
    let identity = true;
    for (const s of catalog.streams) {
      const name = s.stream.name;
      const namespace = s.stream.namespace;
      const key = streamKey(name, namespace);
      const e = entries.get(key);
      const destName = e?.destination.name ?? name;
      const destNamespace = e ? e.destination.namespace : namespace;
      const fields = e?.selectedFields;
      const change: EnvelopeChange = {};
      if (destName !== name) change.stream = destName;
      if (destNamespace !== namespace) change.namespace = destNamespace ?? null;
      const route: Route = {
        name,
        namespace,
        label: streamLabel(name, namespace),
        destName,
        destNamespace,
        fields,
        change: Object.keys(change).length > 0 ? change : undefined,
      };
      if (route.change || route.fields) identity = false;
      this.byKey.set(key, route);
      this.byDestKey.set(streamKey(destName, destNamespace), route);
    }
    this.identity = identity;
  }

  get routes(): Route[] {
    return [...this.byKey.values()];
  }

  /** The route of a record's stream; a `null` namespace counts as none. */
  resolve(name: string, namespace: string | null | undefined): Route | undefined {
    if (name === this.lastName && namespace === this.lastNamespace && this.last) return this.last;
    const route = this.byKey.get(streamKey(name, namespace ?? undefined));
    this.lastName = name;
    this.lastNamespace = namespace;
    this.last = route;
    return route;
  }

  /**
   * The envelope change of one record. Only a record whose namespace token differs from the
   * route's (written as `null`) needs more than the route's precomputed change.
   */
  changeFor(route: Route, namespace: string | null | undefined): EnvelopeChange | undefined {
    if (namespace !== null) return route.change;
    // `"namespace": null` is not a valid record namespace: drop it unless the mapping sets one.
    return { ...route.change, namespace: route.destNamespace ?? null };
  }

  /** A source descriptor as the destination knows it (for states and stream statuses). */
  toDestination<D extends Descriptor>(d: D): D {
    const r = this.byKey.get(streamKey(d.name, d.namespace ?? undefined));
    if (!r || (!r.change && !r.fields)) return d;
    const { namespace: _ns, ...rest } = d;
    return (
      r.destNamespace === undefined
        ? { ...rest, name: r.destName }
        : { ...rest, name: r.destName, namespace: r.destNamespace }
    ) as D;
  }

  /** A destination descriptor back to the source's (echoed states are persisted in source terms). */
  toSource<D extends Descriptor>(d: D): D {
    const r = this.byDestKey.get(streamKey(d.name, d.namespace ?? undefined));
    if (!r || (!r.change && !r.fields)) return d;
    const { namespace: _ns, ...rest } = d;
    return (
      r.namespace === undefined
        ? { ...rest, name: r.name }
        : { ...rest, name: r.name, namespace: r.namespace }
    ) as D;
  }
}

/** Keeps the selected top-level fields of `data` (in the selection's order). */
export function selectFields(
  data: Record<string, unknown>,
  fields: readonly string[],
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const f of fields) if (Object.hasOwn(data, f)) kept[f] = data[f];
  return kept;
}
