import { randomUUID } from 'node:crypto';
import type { AirbyteRecordMessage } from '@sluice/protocol';
import type { ColumnKind } from './types';
import { bigintText, booleanText, isDate, isTime, isTimestamp, numericText } from './values';

/**
 * JSON records → rows of COPY text format. Each stream gets an encoder generated for its
 * columns: one property read per column at its own site (so V8's inline caches stay
 * monomorphic on the records' shape), the common case of each type inlined, everything else
 * in the helpers below. A value a column cannot take becomes NULL plus a change in
 * `_airbyte_meta`; nothing reaching COPY can fail a cast.
 */

export interface Change {
  field: string;
  change: 'NULLED' | 'TRUNCATED';
  reason: string;
}

/** Per-record scratch the generated code reports changes into. */
export class RowContext {
  changes: Change[] | null = null;
  constructor(readonly fields: readonly string[]) {}

  private add(change: Change): void {
    if (this.changes === null) this.changes = [change];
    else this.changes.push(change);
  }

  nulled(i: number, reason = 'DESTINATION_TYPECAST_ERROR'): string {
    this.add({ field: this.fields[i]!, change: 'NULLED', reason });
    return '\\N';
  }

  truncated(i: number, reason: string): void {
    this.add({ field: this.fields[i]!, change: 'TRUNCATED', reason });
  }
}

const COPY_SPECIAL = /[\\\n\r\t\u0000]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escapes a string for COPY text format (backslash, newline, carriage return, tab). */
export function copyEscape(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!) : s;
}

/** Postgres text cannot hold U+0000: such characters are removed and the change recorded. */
function textSlow(s: string, i: number, ctx: RowContext): string {
  if (s.includes('\u0000')) {
    s = s.replaceAll('\u0000', '');
    ctx.truncated(i, 'DESTINATION_SERIALIZATION_ERROR');
  }
  return copyEscape(s);
}

// JSON text holding an escaped NUL or a lone surrogate, which jsonb refuses.
const JSONB_REFUSED =
  /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

function jsonbText(v: unknown, i: number, ctx: RowContext): string {
  const json = JSON.stringify(v);
  if (json === undefined) return ctx.nulled(i, 'DESTINATION_SERIALIZATION_ERROR');
  if (!json.includes('\\')) return json;
  if (json.includes('\\u') && JSONB_REFUSED.test(json))
    return ctx.nulled(i, 'DESTINATION_SERIALIZATION_ERROR');
  return json.replaceAll('\\', '\\\\');
}

/** Slow paths of each kind, called by generated code. */
export const helpers = {
  text(v: unknown, i: number, ctx: RowContext): string {
    if (typeof v === 'string') return textSlow(v, i, ctx);
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    const json = JSON.stringify(v);
    return json === undefined ? ctx.nulled(i, 'DESTINATION_SERIALIZATION_ERROR') : textSlow(json, i, ctx);
  },
  bigint(v: unknown, i: number, ctx: RowContext): string {
    return bigintText(v) ?? ctx.nulled(i);
  },
  numeric(v: unknown, i: number, ctx: RowContext): string {
    return numericText(v) ?? ctx.nulled(i);
  },
  boolean(v: unknown, i: number, ctx: RowContext): string {
    return booleanText(v) ?? ctx.nulled(i);
  },
  date(v: unknown, i: number, ctx: RowContext): string {
    return typeof v === 'string' && isDate(v) ? v : ctx.nulled(i);
  },
  timestamp(v: unknown, i: number, ctx: RowContext): string {
    return typeof v === 'string' && isTimestamp(v) ? v : ctx.nulled(i);
  },
  time(v: unknown, i: number, ctx: RowContext): string {
    return typeof v === 'string' && isTime(v) ? v : ctx.nulled(i);
  },
  jsonb: jsonbText,
  special: COPY_SPECIAL,
};

/** The generated code for one column: appends its COPY text to `o`. */
function columnCode(kind: ColumnKind, i: number, key: string | null): string {
  const read = `v = ${key === null ? 'd' : `d[${key}]`};\n  if (v === undefined || v === null) o += '\\\\N';\n  else `;
  switch (kind) {
    case 'text':
      return `${read}if (typeof v === 'string' && !h.special.test(v)) o += v; else o += h.text(v, ${i}, c);`;
    case 'bigint':
      return `${read}if (typeof v === 'number' && Number.isSafeInteger(v)) o += v; else o += h.bigint(v, ${i}, c);`;
    case 'numeric':
      return `${read}if (typeof v === 'number' && Number.isFinite(v)) o += v; else o += h.numeric(v, ${i}, c);`;
    case 'boolean':
      return `${read}if (v === true) o += 't'; else if (v === false) o += 'f'; else o += h.boolean(v, ${i}, c);`;
    case 'date':
      return `${read}o += h.date(v, ${i}, c);`;
    case 'timestamp':
    case 'timestamptz':
      return `${read}o += h.timestamp(v, ${i}, c);`;
    case 'time':
    case 'timetz':
      return `${read}o += h.time(v, ${i}, c);`;
    case 'jsonb':
      return `${read}o += h.jsonb(v, ${i}, c);`;
  }
}

export type ColumnsEncoder = (data: Record<string, unknown>, ctx: RowContext) => string;

/** Builds the function turning a record's data into its columns' COPY text, tab-separated. */
export function compileColumnsEncoder(columns: ReadonlyArray<EncodedColumn>): ColumnsEncoder {
  if (columns.length === 0) return () => '';
  const body = columns
    .map(
      (col, i) =>
        (i === 0 ? '' : "o += '\\t';\n  ") +
        columnCode(col.kind, i, col.whole ? null : JSON.stringify(col.field)),
    )
    .join('\n  ');
  const factory = new Function(
    'h',
    `return function encodeColumns(d, c) {\n  let v;\n  let o = '';\n  ${body}\n  return o;\n};`,
  );
  return factory(helpers) as ColumnsEncoder;
}

/** A column as the encoder sees it; `whole` columns take the record's whole data. */
export interface EncodedColumn {
  field: string;
  kind: ColumnKind;
  whole?: boolean;
}

export interface RowEncoderOptions {
  columns: ReadonlyArray<EncodedColumn>;
  generationId: number;
  syncId: number | undefined;
  /** Appends a sequence number column (staging tables of dedup streams order arrivals by it). */
  withSequence: boolean;
}

/**
 * A whole COPY row: `_airbyte_raw_id`, `_airbyte_extracted_at`, `_airbyte_meta`,
 * `_airbyte_generation_id`, the stream's columns (and a sequence number for dedup staging).
 */
export class RowEncoder {
  private readonly encodeColumns: ColumnsEncoder;
  private readonly ctx: RowContext;
  readonly plainMeta: string;
  private readonly syncIdJson: string;
  /** `\t<generation id>`: the column after `_airbyte_meta`. */
  readonly tail: string;
  private readonly withSequence: boolean;
  private readonly hasColumns: boolean;
  private stampMs = Number.NaN;
  private stamp = '';
  sequence = 0;

  constructor(o: RowEncoderOptions) {
    this.encodeColumns = compileColumnsEncoder(o.columns);
    this.ctx = new RowContext(o.columns.map((c) => c.field));
    this.syncIdJson = o.syncId === undefined ? 'null' : String(o.syncId);
    this.plainMeta = `{"changes":[],"sync_id":${this.syncIdJson}}`;
    this.tail = `\t${o.generationId}`;
    this.withSequence = o.withSequence;
    this.hasColumns = o.columns.length > 0;
  }

  /** The record as one COPY text line, newline included. */
  encode(record: AirbyteRecordMessage): string {
    const ctx = this.ctx;
    ctx.changes = null;
    const columns = this.encodeColumns(record.data, ctx);
    const ms = record.emitted_at;
    if (ms !== this.stampMs) {
      this.stampMs = ms;
      const d = new Date(ms);
      // A timestamp outside Date's range cannot come from a real clock: use the load time.
      this.stamp = (Number.isNaN(d.getTime()) ? new Date() : d).toISOString();
    }
    const sourceChanges = record.meta?.changes;
    let meta = this.plainMeta;
    if (ctx.changes !== null || (sourceChanges && sourceChanges.length > 0)) {
      const all = [...(sourceChanges ?? []), ...(ctx.changes ?? [])];
      meta = `{"changes":${JSON.stringify(all)},"sync_id":${this.syncIdJson}}`.replaceAll('\\', '\\\\');
    }
    let line = `${randomUUID()}\t${this.stamp}\t${meta}${this.tail}`;
    if (this.hasColumns) line += `\t${columns}`;
    if (this.withSequence) line += `\t${++this.sequence}`;
    return `${line}\n`;
  }
}
