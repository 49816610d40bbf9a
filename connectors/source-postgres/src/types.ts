/**
 * How a Postgres type is presented: its JSON schema (with Airbyte's `airbyte_type` annotations)
 * and the kind of encoder that turns its text output into JSON.
 */
export type ScalarKind =
  | 'bool'
  | 'int'
  | 'float'
  | 'numeric'
  | 'money'
  | 'string'
  | 'json'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'time'
  | 'timetz'
  | 'bytea';

export type ValueType = { kind: ScalarKind } | { kind: 'array'; element: ScalarKind; delimiter: string };

/** A row of pg_type, the part the mapping needs. */
export interface PgTypeRow {
  oid: number;
  typname: string;
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange */
  typtype: string;
  typcategory: string;
  typbasetype: number;
  typelem: number;
  typdelim: string;
}

/** Built-in type OIDs by what they become. */
const SCALAR_BY_OID: Record<number, ScalarKind> = {
  16: 'bool',
  20: 'int',
  21: 'int',
  23: 'int',
  26: 'int', // oid
  700: 'float',
  701: 'float',
  1700: 'numeric',
  790: 'money',
  114: 'json',
  3802: 'json',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  1083: 'time',
  1266: 'timetz',
  17: 'bytea',
};

/** The kind of a scalar type OID; every type without a closer match is presented as text. */
export function scalarKindOf(oid: number): ScalarKind {
  return SCALAR_BY_OID[oid] ?? 'string';
}

/**
 * Resolves a column type through domains to a value type. `types` holds every pg_type row
 * the resolution may visit (see {@link typesToFetch}).
 */
export function resolveType(oid: number, types: ReadonlyMap<number, PgTypeRow>): ValueType {
  let t = types.get(oid);
  for (let depth = 0; t && t.typtype === 'd' && depth < 16; depth++) t = types.get(t.typbasetype);
  if (!t) return { kind: scalarKindOf(oid) };
  if (t.typcategory === 'A' && t.typelem !== 0) {
    let e = types.get(t.typelem);
    for (let depth = 0; e && e.typtype === 'd' && depth < 16; depth++) e = types.get(e.typbasetype);
    const elementOid = e?.oid ?? t.typelem;
    // Enums, composites and ranges are text inside arrays too.
    const element = e && e.typtype !== 'b' ? 'string' : scalarKindOf(elementOid);
    return { kind: 'array', element, delimiter: e?.typdelim ?? t.typdelim ?? ',' };
  }
  if (t.typtype !== 'b') return { kind: 'string' };
  return { kind: scalarKindOf(t.oid) };
}

/** OIDs a resolution needs next, given the rows known so far (domains' bases, arrays' elements). */
export function typesToFetch(oids: Iterable<number>, known: ReadonlyMap<number, PgTypeRow>): number[] {
  const want = new Set<number>();
  for (const oid of oids) {
    const t = known.get(oid);
    if (!t) {
      want.add(oid);
      continue;
    }
    if (t.typtype === 'd' && t.typbasetype !== 0 && !known.has(t.typbasetype)) want.add(t.typbasetype);
    if (t.typcategory === 'A' && t.typelem !== 0 && !known.has(t.typelem)) want.add(t.typelem);
  }
  return [...want];
}

/** Fills `known` with every pg_type row needed to resolve `oids` (a few small queries). */
export async function loadTypes(
  query: (sql: string, params: unknown[]) => Promise<PgTypeRow[]>,
  oids: Iterable<number>,
  known: Map<number, PgTypeRow> = new Map(),
): Promise<Map<number, PgTypeRow>> {
  let pending = typesToFetch(oids, known);
  for (let round = 0; pending.length > 0 && round < 16; round++) {
    const rows = await query(
      `SELECT oid::int AS oid, typname, typtype, typcategory, typbasetype::int AS typbasetype,
              typelem::int AS typelem, typdelim
         FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])`,
      [pending],
    );
    for (const r of rows) known.set(r.oid, r);
    const next = new Set<number>();
    for (const oid of pending) {
      if (!known.has(oid)) continue; // a type dropped meanwhile: resolves to text
      for (const o of typesToFetch([oid], known)) next.add(o);
    }
    pending = [...next].filter((o) => !known.has(o));
  }
  return known;
}

const JSON_ANY = {
  oneOf: [{ type: 'object' }, { type: 'array' }, { type: 'string' }, { type: 'number' }, { type: 'boolean' }],
};

function scalarSchema(kind: ScalarKind): Record<string, unknown> {
  switch (kind) {
    case 'bool':
      return { type: 'boolean' };
    case 'int':
      return { type: 'number', airbyte_type: 'integer' };
    case 'float':
    case 'numeric':
    case 'money':
      return { type: 'number' };
    case 'json':
      return structuredClone(JSON_ANY);
    case 'date':
      return { type: 'string', format: 'date' };
    case 'timestamp':
      return { type: 'string', format: 'date-time', airbyte_type: 'timestamp_without_timezone' };
    case 'timestamptz':
      return { type: 'string', format: 'date-time', airbyte_type: 'timestamp_with_timezone' };
    case 'time':
      return { type: 'string', airbyte_type: 'time_without_timezone' };
    case 'timetz':
      return { type: 'string', airbyte_type: 'time_with_timezone' };
    case 'bytea':
      return { type: 'string', contentEncoding: 'base64' };
    case 'string':
      return { type: 'string' };
  }
}

/** The JSON schema of a column of this type. */
export function jsonSchemaOf(type: ValueType): Record<string, unknown> {
  if (type.kind === 'array') return { type: 'array', items: scalarSchema(type.element) };
  return scalarSchema(type.kind);
}

/**
 * Whether a column of this type can be an incremental cursor: it needs an ordering (compared in
 * SQL, against the saved value cast back to the column type) that says "later".
 */
export function isCursorCandidate(type: ValueType): boolean {
  return type.kind !== 'array' && type.kind !== 'json' && type.kind !== 'bool' && type.kind !== 'bytea';
}
