import { encoderFor, padMicros, unescapeCopy } from './convert';
import type { ValueType } from './types';

export interface ColumnPlan {
  name: string;
  type: ValueType;
  /** Read (and captured) but not part of the record: a cursor column the catalog deselected. */
  hidden?: boolean;
}

/** Fields a row emitted as null because their value has no JSON form. */
export interface NulledFields {
  /** Index of the row in the batch. */
  row: number;
  fields: string[];
}

/** A batch of encoded rows: JSON object texts, plus the rows that lost values. */
export interface RowBatch {
  rows: string[];
  nulled: NulledFields[];
  /** Raw text of the captured column per row (incremental cursors); null for SQL NULL. */
  captured: Array<string | null>;
}

export const newBatch = (): RowBatch => ({ rows: [], nulled: [], captured: [] });

/**
 * Encodes COPY text-format rows (`COPY (SELECT …) TO STDOUT`) straight into record JSON: one
 * pass over the chunk, fields located with indexOf, no intermediate objects. `suffix` is
 * appended inside every object (the CDC metadata of snapshot rows).
 */
export class CopyRowEncoder {
  /** The compiled per-table loop (see {@link compileEncoder}). */
  private readonly run: EncodeLoop;

  constructor(
    readonly columns: readonly ColumnPlan[],
    suffix = '',
    captureIndex = -1,
  ) {
    this.run = compileEncoder(columns, suffix, captureIndex);
  }

  /** Encodes every row of `text` into `batch`; returns how many. */
  encode(text: string, batch: RowBatch): number {
    const before = batch.rows.length;
    this.run(text, batch, 0, Number.POSITIVE_INFINITY, isClean(text));
    return batch.rows.length - before;
  }

  /**
   * Encodes `text` a few rows at a time, handing each batch to `emit` before building the next
   * (the batch object is reused). A row's JSON is a rope of some fifty small strings until it is
   * written; a whole block's worth of them (thousands of rows) alive at once was copied by every
   * scavenge that struck while it was written out, which cost a source behind a pipe more CPU than
   * its encoding did.
   */
  encodeEach(text: string, rowsPerBatch: number, emit: (batch: RowBatch) => void): void {
    const clean = isClean(text);
    const batch = newBatch();
    let pos = 0;
    while (pos < text.length) {
      batch.rows.length = 0;
      batch.nulled.length = 0;
      batch.captured.length = 0;
      pos = this.run(text, batch, pos, rowsPerBatch, clean);
      emit(batch);
    }
  }
}

/** Rows encoded per batch by the readers: a few dozen KB of strings alive at a time. */
export const ROWS_PER_BATCH = 64;

/** The generated loop: encodes rows of `text` from `pos`, at most `limit`; returns where it stopped. */
type EncodeLoop = (text: string, batch: RowBatch, pos: number, limit: number, clean: boolean) => number;

/**
 * Whether a block is free of quotes, backslashes (COPY's escapes) and control characters: then
 * no field needs unescaping and no string needs JSON escapes. (indexOf finds one character many
 * times faster than a regex finds a class of them.)
 */
function isClean(text: string): boolean {
  return text.indexOf('"') < 0 && text.indexOf('\\') < 0 && !CONTROL.test(text);
}

/** Characters a JSON string must escape. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
/** Control characters other than the tabs and newlines that separate COPY fields and rows. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f]/;

const lit = (s: string): string => JSON.stringify(s);

/**
 * Generates the encoding loop of one table's rows: the fields of a COPY text line found with
 * indexOf, each turned into JSON by code specialised for its column type, appended to the
 * record text. Unrolling the columns lets V8 inline everything; a generic loop over per-column
 * closures is about half as fast. Only column names (as JSON string literals) enter the code.
 */
function compileEncoder(columns: readonly ColumnPlan[], suffix: string, captureIndex: number): EncodeLoop {
  const n = columns.length;
  const firstVisible = columns.findIndex((c) => !c.hidden);
  const close = firstVisible < 0 && suffix.startsWith(',') ? suffix.slice(1) : suffix;
  const encoders = columns.map((c) => encoderFor(c.type));
  const body: string[] = [];
  body.push('let count = 0, e = 0, f = "", v, json, nulled;');
  body.push('const len = text.length, rows = batch.rows, captured = batch.captured;');
  body.push('while (pos < len && count < limit) {');
  body.push('json = "{"; nulled = undefined;');
  if (n === 0) body.push('e = text.indexOf("\\n", pos); pos = e < 0 ? len : e + 1;');
  columns.forEach((c, i) => {
    const key = c.hidden ? '' : `${i === firstVisible ? '' : ','}${JSON.stringify(c.name)}:`;
    const K = lit(key);
    const sep = i === n - 1 ? '"\\n"' : '"\\t"';
    const capture = i === captureIndex;
    body.push(`e = text.indexOf(${sep}, pos);`);
    body.push(
      `if (e < 0) throw new Error("COPY row " + (count + 1) + " of the chunk has fewer than ${n} fields");`,
    );
    body.push('if (e - pos === 2 && text.charCodeAt(pos) === 92 && text.charCodeAt(pos + 1) === 78) {');
    if (!c.hidden) body.push(`json += ${lit(`${key}null`)};`);
    if (capture) body.push('captured.push(null);');
    body.push('} else {');
    const kind = c.type.kind;
    const nullIt = `json += ${lit(`${key}null`)}; (nulled ??= []).push(${lit(c.name)});`;
    if (kind === 'int' && !capture && !c.hidden) {
      body.push(`json += ${K} + text.slice(pos, e);`);
    } else if (kind === 'bool' && !capture && !c.hidden) {
      body.push(`json += ${K} + (text.charCodeAt(pos) === 116 ? "true" : "false");`);
    } else {
      body.push('f = text.slice(pos, e);');
      const mayEscape = !(
        kind === 'int' ||
        kind === 'float' ||
        kind === 'numeric' ||
        kind === 'bool' ||
        kind === 'date'
      );
      if (mayEscape) body.push('if (!clean && f.indexOf("\\\\") >= 0) f = unescapeCopy(f);');
      if (capture) body.push('captured.push(f);');
      if (!c.hidden) {
        if (kind === 'int') body.push(`json += ${K} + f;`);
        else if (kind === 'bool') body.push(`json += ${K} + (f === "t" ? "true" : "false");`);
        else if (kind === 'string') {
          body.push(`json += ${K} + (clean || !NEEDS_ESCAPE.test(f) ? '"' + f + '"' : JSON.stringify(f));`);
        } else if (kind === 'float' || kind === 'numeric') {
          // NaN and ±Infinity end in N or y; no number does.
          body.push('v = f.charCodeAt(f.length - 1);');
          body.push(`if (v === 78 || v === 121) { ${nullIt} } else json += ${K} + f;`);
        } else if (kind === 'date') {
          body.push(
            `if (f.charCodeAt(0) === 105 || f.charCodeAt(1) === 105) { ${nullIt} } else json += ${K} + '"' + f + '"';`,
          );
        } else if (kind === 'timestamptz') {
          // Fast path for the common shape in a UTC session: YYYY-MM-DD HH:MM:SS[.ffffff]+00.
          body.push(
            'if (f.length >= 22 && f.charCodeAt(10) === 32 && f.charCodeAt(f.length - 3) === 43 && f.charCodeAt(f.length - 1) === 48 && f.charCodeAt(f.length - 2) === 48) {',
          );
          body.push(
            `json += ${K} + '"' + f.slice(0, 10) + "T" + padMicros(f.slice(11, f.length - 3)) + 'Z"';`,
          );
          body.push(`} else { v = E[${i}](f); if (v === undefined) { ${nullIt} } else json += ${K} + v; }`);
        } else if (kind === 'timestamp') {
          body.push('if (f.length >= 19 && f.charCodeAt(10) === 32 && f.charCodeAt(f.length - 1) !== 67) {');
          body.push(`json += ${K} + '"' + f.slice(0, 10) + "T" + padMicros(f.slice(11)) + '"';`);
          body.push(`} else { v = E[${i}](f); if (v === undefined) { ${nullIt} } else json += ${K} + v; }`);
        } else {
          body.push(`v = E[${i}](f); if (v === undefined) { ${nullIt} } else json += ${K} + v;`);
        }
      }
    }
    body.push('}');
    body.push('pos = e + 1;');
  });
  body.push(`rows.push(json + ${lit(`${close}}`)});`);
  body.push('if (nulled !== undefined) batch.nulled.push({ row: rows.length - 1, fields: nulled });');
  body.push('count++;');
  body.push('}');
  body.push('return pos;');
  const factory = new Function(
    'E',
    'unescapeCopy',
    'padMicros',
    'NEEDS_ESCAPE',
    `return function encodeRows(text, batch, pos, limit, clean) {\n${body.join('\n')}\n};`,
  );
  return factory(encoders, unescapeCopy, padMicros, NEEDS_ESCAPE) as EncodeLoop;
}

/**
 * Splits a byte stream of COPY output into blocks of whole lines. Lines end with 0x0a,
 * which never occurs inside a UTF-8 multi-byte sequence, so cutting there never splits a
 * character.
 */
export class LineAssembler {
  private rest: Buffer | undefined;

  /** The complete lines in `chunk` (plus what was left over); undefined when it completed none. */
  push(chunk: Buffer): Buffer | undefined {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      this.rest = buf;
      return undefined;
    }
    this.rest = last === buf.length - 1 ? undefined : buf.subarray(last + 1);
    return buf.subarray(0, last + 1);
  }

  /** Bytes after the last newline (a complete COPY stream leaves none). */
  get pending(): number {
    return this.rest?.length ?? 0;
  }
}
