/**
 * Airbyte types → Postgres column types, and how a column widens when the schema changes.
 * A column's kind decides both its SQL type and how values are checked and encoded for COPY.
 */
export type ColumnKind =
  | 'text'
  | 'bigint'
  | 'numeric'
  | 'boolean'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'time'
  | 'timetz'
  | 'jsonb';

export const SQL_TYPE: Record<ColumnKind, string> = {
  text: 'text',
  bigint: 'bigint',
  numeric: 'numeric',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp without time zone',
  timestamptz: 'timestamp with time zone',
  time: 'time without time zone',
  timetz: 'time with time zone',
  jsonb: 'jsonb',
};

type Schema = Record<string, unknown>;

const WELL_KNOWN: Record<string, ColumnKind> = {
  String: 'text',
  BinaryData: 'text',
  Date: 'date',
  TimestampWithTimezone: 'timestamptz',
  TimestampWithoutTimezone: 'timestamp',
  TimeWithTimezone: 'timetz',
  TimeWithoutTimezone: 'time',
  Number: 'numeric',
  Integer: 'bigint',
  Boolean: 'boolean',
};

function kindOfString(s: Schema): ColumnKind {
  const format = s.format;
  const airbyte = s.airbyte_type;
  if (format === 'date') return 'date';
  if (format === 'date-time') return airbyte === 'timestamp_without_timezone' ? 'timestamp' : 'timestamptz';
  if (format === 'time') return airbyte === 'time_with_timezone' ? 'timetz' : 'time';
  if (airbyte === 'timestamp_without_timezone') return 'timestamp';
  if (airbyte === 'timestamp_with_timezone') return 'timestamptz';
  if (airbyte === 'time_without_timezone') return 'time';
  if (airbyte === 'time_with_timezone') return 'timetz';
  return 'text';
}

/** The kind of one property's JSON schema (Airbyte's type system; unions and unknowns are jsonb). */
export function kindOf(schema: unknown): ColumnKind {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'jsonb';
  const s = schema as Schema;
  if (typeof s.$ref === 'string') {
    const m = /#\/definitions\/(\w+)$/.exec(s.$ref);
    return (m && WELL_KNOWN[m[1]!]) ?? 'jsonb';
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = s[key];
    if (Array.isArray(options)) {
      const nonNull = options.filter(
        (o) => !(typeof o === 'object' && o !== null && (o as Schema).type === 'null'),
      );
      return nonNull.length === 1 ? kindOf(nonNull[0]) : 'jsonb';
    }
  }
  let type = s.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length !== 1) return 'jsonb';
    type = nonNull[0];
  }
  switch (type) {
    case 'string':
      return kindOfString(s);
    case 'integer':
      return 'bigint';
    case 'number':
      return s.airbyte_type === 'integer' ? 'bigint' : 'numeric';
    case 'boolean':
      return 'boolean';
    default:
      // object, array, and schemas without a type
      return 'jsonb';
  }
}

/** A stream's fields in schema order with their kinds. */
export function fieldsOf(jsonSchema: Record<string, unknown>): Array<{ field: string; kind: ColumnKind }> {
  const props = jsonSchema.properties;
  if (typeof props !== 'object' || props === null || Array.isArray(props)) return [];
  return Object.entries(props as Record<string, unknown>).map(([field, s]) => ({ field, kind: kindOf(s) }));
}

/**
 * The kind an existing column has, from Postgres's `format_type`. `constrained` marks types
 * this destination does not write itself (integer, varchar(n), numeric(p,s), real, uuid, …):
 * such a column is converted to the unconstrained kind before it takes new values, so a value
 * that fits the schema can never fail the COPY.
 */
export function kindOfSqlType(formatted: string): { kind: ColumnKind | undefined; constrained: boolean } {
  const t = formatted.toLowerCase();
  const exact: Record<string, ColumnKind> = {
    text: 'text',
    bigint: 'bigint',
    numeric: 'numeric',
    boolean: 'boolean',
    date: 'date',
    'timestamp without time zone': 'timestamp',
    'timestamp with time zone': 'timestamptz',
    'time without time zone': 'time',
    'time with time zone': 'timetz',
    jsonb: 'jsonb',
  };
  const k = exact[t];
  if (k) return { kind: k, constrained: false };
  if (t.startsWith('character')) return { kind: 'text', constrained: true };
  if (t === 'integer' || t === 'smallint') return { kind: 'bigint', constrained: true };
  if (t.startsWith('numeric(') || t === 'real' || t === 'double precision')
    return { kind: 'numeric', constrained: true };
  return { kind: undefined, constrained: true };
}

const TEMPORAL_ORDER: ColumnKind[] = ['date', 'timestamp', 'timestamptz'];

/**
 * The narrowest kind holding both an existing column's values and the schema's new kind:
 * integers widen to numeric, dates to timestamps, times to timetz, anything to jsonb when
 * either side is jsonb, otherwise to text. Never narrower than `existing`.
 */
export function widen(existing: ColumnKind, wanted: ColumnKind): ColumnKind {
  if (existing === wanted) return existing;
  if (existing === 'jsonb' || wanted === 'jsonb') return 'jsonb';
  if (existing === 'text' || wanted === 'text') return 'text';
  const numeric = (k: ColumnKind) => k === 'bigint' || k === 'numeric';
  if (numeric(existing) && numeric(wanted)) return 'numeric';
  const te = TEMPORAL_ORDER.indexOf(existing);
  const tw = TEMPORAL_ORDER.indexOf(wanted);
  if (te >= 0 && tw >= 0) return TEMPORAL_ORDER[Math.max(te, tw)]!;
  if ((existing === 'time' || existing === 'timetz') && (wanted === 'time' || wanted === 'timetz'))
    return 'timetz';
  return 'text';
}

/**
 * For an existing column of SQL type `formatted` that must hold `wanted` values: the kind the
 * column ends up with, and whether it must be altered. User data is never narrowed.
 */
export function evolveColumn(formatted: string, wanted: ColumnKind): { kind: ColumnKind; alter: boolean } {
  const existing = kindOfSqlType(formatted);
  if (existing.kind === undefined) {
    // A type of the user's (uuid, inet, an enum, …): text (or jsonb) holds every value.
    return { kind: wanted === 'jsonb' ? 'jsonb' : 'text', alter: true };
  }
  const kind = widen(existing.kind, wanted);
  return { kind, alter: existing.constrained || kind !== existing.kind };
}

/** The USING expression converting a column to `to`. */
export function conversion(column: string, to: ColumnKind): string {
  if (to === 'jsonb') return `to_jsonb(${column})`;
  return `${column}::${SQL_TYPE[to]}`;
}
