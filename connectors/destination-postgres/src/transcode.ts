import { randomFillSync } from 'node:crypto';
import {
  type AirbyteRecordMessage,
  type ReadRecord,
  type StreamMapper,
  type StreamName,
  type StreamTarget,
  streamKey,
} from '@sluice/protocol';
import type { RowEncoder } from './encode';
import type { ColumnKind } from './types';
import { isDate, isTime, isTimestamp } from './values';

/**
 * RECORD lines → COPY rows without JSON.parse. A flat record is read straight from its bytes
 * into the row its stream's {@link RowEncoder} would have built from the parsed message: one
 * pass, no strings or objects per value, no garbage. On the pg-to-pg benchmark's rows it takes
 * about 70% of the time of JSON.parse plus the encoder (JavaScript reads bytes one at a time,
 * V8's parser does not), and the destination's CPU per row fell by a fifth.
 *
 * It is a fast path, never a second set of rules: it takes a line only when the encoder would
 * write the same bytes (strings, booleans, nulls, numbers as JavaScript would print them, valid
 * dates and times, nested JSON for jsonb columns; no `meta`), and leaves every other line to the
 * SDK's parse and the encoder. A line it leaves costs one aborted scan.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const TAB = 0x09;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const WORDS = ['true', 'false', 'null'];
/** Nesting deeper than this is left to the encoder. */
const MAX_DEPTH = 64;

enum Kind {
  Text,
  Bigint,
  Numeric,
  Boolean,
  Date,
  Timestamp,
  Time,
  Jsonb,
}

const KINDS: Record<ColumnKind, Kind> = {
  text: Kind.Text,
  bigint: Kind.Bigint,
  numeric: Kind.Numeric,
  boolean: Kind.Boolean,
  date: Kind.Date,
  timestamp: Kind.Timestamp,
  timestamptz: Kind.Timestamp,
  time: Kind.Time,
  timetz: Kind.Time,
  jsonb: Kind.Jsonb,
};

/** A stream's columns as the transcoder reads them. */
export interface TranscodedColumn {
  field: string;
  kind: ColumnKind;
  whole?: boolean;
}

/** What the transcoder needs of a stream: its columns and the encoder whose rows it writes. */
export interface TranscodedStream {
  columns: readonly TranscodedColumn[];
  encoder: RowEncoder;
}

/** One stream's compiled layout, for one set of kept fields. */
class Layout {
  readonly kinds: Kind[];
  /** Each column's key as compact JSON, `"name":`; undefined for a field the mapping drops. */
  readonly keys: Array<Buffer | undefined>;
  readonly byName = new Map<string, number>();
  /** `\t<meta>\t<generation>`: what follows the timestamp in every row of the stream. */
  readonly afterStamp: Buffer;
  /** The column whose key came first in the last record, and after each column's key, the next. */
  first = 0;
  readonly follows: Int32Array;
  /** Where each column's value was written in the row being read (-1: not yet). */
  readonly starts: Int32Array;
  readonly ends: Int32Array;

  constructor(
    readonly stream: TranscodedStream,
    fields: readonly string[] | undefined,
  ) {
    const kept = fields ? new Set(fields) : undefined;
    this.kinds = stream.columns.map((c) => KINDS[c.kind]);
    // A field the mapping drops is absent to the encoder: its key is skipped, its column NULL.
    this.keys = stream.columns.map((c, i) => {
      if (kept && !kept.has(c.field)) return undefined;
      this.byName.set(c.field, i);
      return Buffer.from(`${JSON.stringify(c.field)}:`);
    });
    const n = stream.columns.length;
    this.follows = Int32Array.from({ length: n }, (_, i) => i + 1);
    this.starts = new Int32Array(n);
    this.ends = new Int32Array(n);
    this.afterStamp = Buffer.from(`\t${stream.encoder.plainMeta}${stream.encoder.tail}`, 'latin1');
  }
}

/** Where a source stream's records go: the destination's names and the layout. */
interface Route {
  srcName: Buffer;
  srcNamespace: Buffer | undefined;
  source: StreamName;
  name: string;
  namespace: string | undefined;
  fields: readonly string[] | undefined;
  layout: Layout;
}

/** A record read by the transcoder: its COPY row (no newline) and, on demand, its data. */
export class TranscodedRecord {
  private parsed: Record<string, unknown> | undefined;

  constructor(
    readonly stream: string,
    readonly namespace: string | undefined,
    readonly emitted_at: number,
    readonly row: Buffer,
    readonly rowStart: number,
    readonly rowEnd: number,
    private readonly line: Buffer,
    private readonly lineStart: number,
    private readonly lineEnd: number,
    private readonly fields: readonly string[] | undefined,
  ) {}

  /** The record's data (with the mapping's fields kept), parsed from its line when asked for. */
  get data(): Record<string, unknown> {
    if (!this.parsed) {
      const data = JSON.parse(this.line.toString('utf8', this.lineStart, this.lineEnd)).record.data;
      if (this.fields) {
        const kept: Record<string, unknown> = {};
        for (const f of this.fields) if (Object.hasOwn(data, f)) kept[f] = data[f];
        this.parsed = kept;
      } else this.parsed = data;
    }
    return this.parsed as Record<string, unknown>;
  }
}

const ARENA_BYTES = 1 << 20;
/** `<uuid>\t<timestamp>`: 36 + 1 + 24 bytes, the timestamp written once `emitted_at` is read. */
const STAMP_AT = 37;
const STAMP_LEN = 24;

const HEX = Buffer.from('0123456789abcdef');

/** Random version-4 UUIDs as text, from a pool of random bytes filled a few hundred at a time. */
class UuidWriter {
  private readonly pool = Buffer.allocUnsafe(16 * 256);
  private at = this.pool.length;

  write(out: Buffer, p: number): void {
    if (this.at === this.pool.length) {
      randomFillSync(this.pool);
      this.at = 0;
    }
    const r = this.pool;
    let i = this.at;
    this.at += 16;
    for (let k = 0; k < 16; k++, i++) {
      if (k === 4 || k === 6 || k === 8 || k === 10) out[p++] = MINUS;
      let b = r[i]!;
      if (k === 6) b = (b & 0x0f) | 0x40;
      else if (k === 8) b = (b & 0x3f) | 0x80;
      out[p++] = HEX[b >> 4]!;
      out[p++] = HEX[b & 15]!;
    }
  }
}

/**
 * Reads RECORD lines into COPY rows (see the top of this file). `read` is the SDK's line reader:
 * it returns a {@link TranscodedRecord} or undefined to leave the line to the SDK.
 */
export class RecordTranscoder {
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private used = 0;
  private readonly uuids = new UuidWriter();
  private readonly routes = new Map<string, Route | null>();
  private last: Route | undefined;
  /** The line being read, and its text once a check needs it. */
  private lineStart = 0;
  private lineText: string | undefined;
  private stampMs = Number.NaN;
  private readonly stamp = Buffer.alloc(STAMP_LEN);
  // Scratch of the number scanner (see number()).
  private numEnd = 0;
  private numCut = 0;
  private numFlags = 0;

  /** Columns of the widest stream: bounds the room a row may need. */
  private readonly widest: number;

  constructor(
    private readonly streams: ReadonlyMap<string, TranscodedStream>,
    private readonly mapping: StreamMapper | undefined,
  ) {
    this.widest = Math.max(0, ...[...streams.values()].map((s) => s.columns.length));
  }

  read = (buf: Buffer, start: number, end: number): ReadRecord | undefined => {
    // Room for the longest row this line can give: twice its bytes (an escaped backslash in a
    // jsonb value becomes four), the row's fixed columns, and `\t\N` for each absent column.
    const need = 2 * (end - start) + 256 + 3 * this.widest;
    if (this.used + need > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, need));
      this.used = 0;
    }
    const rowStart = this.used;
    const record = this.scan(buf, start, end, rowStart);
    if (!record) return undefined;
    this.used = record.rowEnd;
    return {
      message: { type: 'RECORD', record: record as unknown as AirbyteRecordMessage },
      source: this.last!.source,
    };
  };

  /** The whole envelope: `{"type":"RECORD","record":{...}}`, keys in any order. */
  private scan(buf: Buffer, start: number, end: number, rowStart: number): TranscodedRecord | undefined {
    this.lineStart = start;
    this.lineText = undefined;
    let p = ws(buf, start, end);
    if (buf[p] !== LBRACE) return undefined;
    let sawType = false;
    let record: TranscodedRecord | undefined;
    p = ws(buf, p + 1, end);
    for (;;) {
      const colon = keyColon(buf, p, end);
      if (colon < 0) return undefined;
      if (isKey(buf, p, colon, 'type') && !sawType) {
        const v = ws(buf, colon + 1, end);
        if (!isString(buf, v, end, 'RECORD')) return undefined;
        sawType = true;
        p = v + 8;
      } else if (isKey(buf, p, colon, 'record') && !record) {
        record = this.record(buf, ws(buf, colon + 1, end), start, end, rowStart);
        if (!record) return undefined;
        p = this.numEnd;
      } else return undefined;
      p = ws(buf, p, end);
      if (buf[p] === COMMA) {
        p = ws(buf, p + 1, end);
        continue;
      }
      if (buf[p] !== RBRACE) return undefined;
      p = ws(buf, p + 1, end);
      return p === end && sawType ? record : undefined;
    }
  }

  /** The record object; sets numEnd past it. */
  private record(
    buf: Buffer,
    p: number,
    lineStart: number,
    end: number,
    rowStart: number,
  ): TranscodedRecord | undefined {
    if (buf[p] !== LBRACE) return undefined;
    p = ws(buf, p + 1, end);
    let nameStart = -1;
    let nameEnd = -1;
    let nsStart = -1;
    let nsEnd = -1;
    let route: Route | undefined;
    let rowEnd = -1;
    let emittedAt = -1;
    let partition = false;
    for (;;) {
      const colon = keyColon(buf, p, end);
      if (colon < 0) return undefined;
      const v = ws(buf, colon + 1, end);
      if (isKey(buf, p, colon, 'stream') && nameStart < 0 && !route) {
        nameEnd = stringEnd(buf, v, end);
        if (nameEnd < 0) return undefined;
        nameStart = v + 1;
        p = nameEnd + 1;
      } else if (isKey(buf, p, colon, 'namespace') && nsStart < 0 && !route) {
        nsEnd = stringEnd(buf, v, end);
        if (nsEnd < 0) return undefined;
        nsStart = v + 1;
        p = nsEnd + 1;
      } else if (isKey(buf, p, colon, 'data') && nameStart >= 0 && !route) {
        route = this.route(buf, nameStart, nameEnd, nsStart, nsEnd);
        if (!route) return undefined;
        rowEnd = this.data(buf, v, end, route.layout, rowStart);
        if (rowEnd < 0) return undefined;
        p = this.numEnd;
      } else if (isKey(buf, p, colon, 'emitted_at') && emittedAt < 0) {
        emittedAt = this.integer(buf, v, end);
        if (emittedAt < 0) return undefined;
        p = this.numEnd;
      } else if (isKey(buf, p, colon, 'partition_id') && !partition) {
        // The socket a record came over (a number or a string); the destination has no use for it.
        const c = buf[v];
        if (c !== QUOTE && c !== MINUS && !(c !== undefined && c >= ZERO && c <= NINE)) return undefined;
        if (this.json(buf, v, end, undefined, 0, 0) < 0) return undefined;
        partition = true;
        p = this.numEnd;
      } else return undefined;
      p = ws(buf, p, end);
      if (buf[p] === COMMA) {
        p = ws(buf, p + 1, end);
        continue;
      }
      if (buf[p] !== RBRACE || !route || emittedAt < 0) return undefined;
      this.numEnd = p + 1;
      break;
    }
    if (!this.writeStamp(emittedAt)) return undefined;
    const out = this.arena;
    this.uuids.write(out, rowStart);
    out[rowStart + 36] = TAB;
    copyRange(this.stamp, 0, STAMP_LEN, out, rowStart + STAMP_AT);
    return new TranscodedRecord(
      route.name,
      route.namespace,
      emittedAt,
      out,
      rowStart,
      rowEnd,
      buf,
      lineStart,
      end,
      route.fields,
    );
  }

  /** `_airbyte_extracted_at` of the row, as the encoder writes it; false for a date out of range. */
  private writeStamp(ms: number): boolean {
    if (ms !== this.stampMs) {
      const d = new Date(ms);
      if (Number.isNaN(d.getTime())) return false;
      const iso = d.toISOString();
      if (iso.length !== STAMP_LEN) return false;
      this.stamp.write(iso, 0, 'latin1');
      this.stampMs = ms;
    }
    return true;
  }

  /** The route of a stream named by the bytes at [ns, ne) / [ss, se); undefined to leave it. */
  private route(buf: Buffer, ns: number, ne: number, ss: number, se: number): Route | undefined {
    const last = this.last;
    if (
      last &&
      equalBytes(last.srcName, buf, ns, ne) &&
      (ss < 0
        ? last.srcNamespace === undefined
        : !!last.srcNamespace && equalBytes(last.srcNamespace, buf, ss, se))
    ) {
      return last;
    }
    const name = buf.toString('utf8', ns, ne);
    const namespace = ss < 0 ? undefined : buf.toString('utf8', ss, se);
    const key = streamKey(name, namespace);
    let route = this.routes.get(key);
    if (route === undefined) {
      route = this.newRoute(name, namespace);
      this.routes.set(key, route);
    }
    if (route) this.last = route;
    return route ?? undefined;
  }

  private newRoute(name: string, namespace: string | undefined): Route | null {
    const target: StreamTarget | undefined = this.mapping
      ? this.mapping.target(name, namespace)
      : { name, namespace, fields: undefined };
    if (!target) return null;
    const stream = this.streams.get(streamKey(target.name, target.namespace));
    if (!stream || stream.columns.some((c) => c.whole)) return null;
    return {
      srcName: Buffer.from(name),
      srcNamespace: namespace === undefined ? undefined : Buffer.from(namespace),
      source: { name, namespace },
      name: target.name,
      namespace: target.namespace,
      fields: target.fields,
      layout: new Layout(stream, target.fields),
    };
  }

  /**
   * The data object at `p` into the row at `rowStart`, past the fixed columns; returns the
   * row's end, or -1 to leave the line. Sets numEnd past the object.
   */
  private data(buf: Buffer, p: number, end: number, layout: Layout, rowStart: number): number {
    if (buf[p] !== LBRACE) return -1;
    const out = this.arena;
    let o = rowStart + STAMP_AT + STAMP_LEN;
    o = copyRange(layout.afterStamp, 0, layout.afterStamp.length, out, o);
    const { kinds, keys, follows, starts, ends } = layout;
    const n = kinds.length;
    starts.fill(-1);
    const valuesStart = o;
    // Values are written as their keys come. While the keys follow the columns' order the row
    // is built in place (absent columns NULL as they are passed); otherwise each value's place
    // is noted and the row is put in column order at the end.
    let ordered = true;
    let highest = -1;
    let prev = -1;
    p = ws(buf, p + 1, end);
    if (buf[p] === RBRACE) p++;
    else {
      for (;;) {
        // Records of a stream list their keys in one order: guess the key after the last one,
        // and match it with its quotes and colon at once.
        const guess = prev < 0 ? layout.first : follows[prev]!;
        const expected = guess < n ? keys[guess] : undefined;
        let col: number;
        if (expected !== undefined && startsWith(buf, p, end, expected)) {
          col = guess;
          p = ws(buf, p + expected.length, end);
        } else {
          if (buf[p] !== QUOTE) return -1;
          const ke = stringEnd(buf, p, end);
          if (ke < 0) return -1;
          const i = layout.byName.get(buf.toString('utf8', p + 1, ke));
          col = i === undefined ? -1 : i;
          p = ws(buf, ke + 1, end);
          if (buf[p] !== COLON) return -1;
          p = ws(buf, p + 1, end);
        }
        if (col === -1) {
          // Not a column (or dropped by the mapping): skipped, as the encoder never reads it.
          p = this.skip(buf, p, end);
          if (p < 0) return -1;
        } else {
          if (prev < 0) layout.first = col;
          else follows[prev] = col;
          prev = col;
          // A repeated key is left to the encoder (JSON.parse keeps the last).
          if (starts[col]! >= 0) return -1;
          if (col < highest) ordered = false;
          else if (ordered) {
            for (let k = highest + 1; k < col; k++) {
              out[o++] = TAB;
              out[o++] = BACKSLASH;
              out[o++] = 0x4e; // N
            }
            highest = col;
          }
          out[o++] = TAB;
          starts[col] = o;
          o = this.value(buf, p, end, kinds[col]!, out, o);
          if (o < 0) return -1;
          ends[col] = o;
          p = this.numEnd;
        }
        p = ws(buf, p, end);
        if (buf[p] === COMMA) {
          p = ws(buf, p + 1, end);
          continue;
        }
        if (buf[p] !== RBRACE) return -1;
        p++;
        break;
      }
    }
    if (ordered) {
      for (let k = highest + 1; k < n; k++) {
        out[o++] = TAB;
        out[o++] = BACKSLASH;
        out[o++] = 0x4e;
      }
    } else o = this.reorder(layout, valuesStart, o);
    this.numEnd = p;
    return o;
  }

  private scratch = Buffer.allocUnsafe(64 * 1024);

  /** Puts the values written at [from, to) of the arena in column order; returns the row's end. */
  private reorder(layout: Layout, from: number, to: number): number {
    const out = this.arena;
    if (this.scratch.length < to - from) this.scratch = Buffer.allocUnsafe(2 * (to - from));
    const scratch = this.scratch;
    out.copy(scratch, 0, from, to);
    let o = from;
    const { starts, ends } = layout;
    for (let k = 0; k < starts.length; k++) {
      out[o++] = TAB;
      const s = starts[k]!;
      if (s < 0) {
        out[o++] = BACKSLASH;
        out[o++] = 0x4e;
      } else o += scratch.copy(out, o, s - from, ends[k]! - from);
    }
    return o;
  }

  /** One value as COPY text at out[o]; returns the new end or -1. Sets numEnd past the value. */
  private value(buf: Buffer, p: number, end: number, kind: Kind, out: Buffer, o: number): number {
    const c = buf[p];
    if (c === 0x6e) {
      // null
      if (!isWord(buf, p, end, 'null')) return -1;
      this.numEnd = p + 4;
      out[o++] = BACKSLASH;
      out[o++] = 0x4e;
      return o;
    }
    switch (kind) {
      case Kind.Text:
        return c === QUOTE ? this.string(buf, p, end, out, o, false) : -1;
      case Kind.Bigint:
      case Kind.Numeric: {
        if (!this.number(buf, p, end)) return -1;
        const f = this.numFlags;
        if (f & NUM_NOT_SHORTEST || (kind === Kind.Bigint && f & NUM_FRACTION)) return -1;
        return copyRange(buf, p, this.numCut, out, o);
      }
      case Kind.Boolean:
        if (c === 0x74 && isWord(buf, p, end, 'true')) {
          out[o++] = 0x74;
          this.numEnd = p + 4;
          return o;
        }
        if (c === 0x66 && isWord(buf, p, end, 'false')) {
          out[o++] = 0x66;
          this.numEnd = p + 5;
          return o;
        }
        return -1;
      case Kind.Date:
      case Kind.Timestamp:
      case Kind.Time: {
        if (c !== QUOTE) return -1;
        const e = stringEnd(buf, p, end);
        if (e < 0) return -1;
        // The checks read the line as latin1 text, made once per line (bytes at their offsets;
        // any byte of a multi-byte character fails them as it should).
        this.lineText ??= buf.toString('latin1', this.lineStart, end);
        const s = p + 1 - this.lineStart;
        const t = e - this.lineStart;
        const text = this.lineText;
        if (
          !(kind === Kind.Date
            ? isDate(text, s, t)
            : kind === Kind.Time
              ? isTime(text, s, t)
              : isTimestamp(text, s, t))
        )
          return -1;
        this.numEnd = e + 1;
        return copyRange(buf, p + 1, e, out, o);
      }
      case Kind.Jsonb:
        return this.json(buf, p, end, out, o, 0);
    }
  }

  /**
   * A JSON number at `p` (exponents left to the encoder). Sets numEnd past it, numCut to the end
   * of its shortest text (trailing fraction zeros and a bare point dropped, as JavaScript prints
   * the number), and numFlags.
   */
  private number(buf: Buffer, p: number, end: number): boolean {
    let q = p;
    let flags = 0;
    if (buf[q] === MINUS) {
      flags |= NUM_NEGATIVE;
      q++;
    }
    const intStart = q;
    const first = buf[q];
    if (first === ZERO) q++;
    else if (first !== undefined && first > ZERO && first <= NINE) {
      while (q < end && buf[q]! >= ZERO && buf[q]! <= NINE) q++;
    } else return false;
    const intDigits = q - intStart;
    let cut = q;
    // Significant digits of the shortest text: the integer part's (unless it is 0) and the
    // fraction's up to its last non-zero digit.
    let significant = first === ZERO ? 0 : intDigits;
    let leadingZeros = 0;
    if (buf[q] === DOT) {
      q++;
      const fracStart = q;
      let seenNonZero = false;
      while (q < end && buf[q]! >= ZERO && buf[q]! <= NINE) {
        if (buf[q] !== ZERO) {
          cut = q + 1;
          seenNonZero = true;
        } else if (!seenNonZero) leadingZeros++;
        q++;
      }
      if (q === fracStart) return false;
      if (cut > intStart + intDigits) {
        flags |= NUM_FRACTION;
        significant += first === ZERO ? cut - fracStart - leadingZeros : cut - fracStart;
      }
    }
    const c = buf[q];
    if (c === 0x65 || c === 0x45) return false; // e E
    // JavaScript prints -0 as 0, and below 1e-6 in exponent form; beyond 15 significant digits a
    // double may not print as written.
    const zero = first === ZERO && !(flags & NUM_FRACTION);
    if (
      significant > 15 ||
      intDigits > 15 ||
      (zero && flags & NUM_NEGATIVE) ||
      (first === ZERO && flags & NUM_FRACTION && leadingZeros > 5)
    ) {
      flags |= NUM_NOT_SHORTEST;
    }
    this.numEnd = q;
    this.numCut = cut;
    this.numFlags = flags;
    return true;
  }

  /**
   * The string opening at `p`, unescaped, as COPY text at out[o] (only checked when `out` is
   * undefined): its characters (`json` false: a text column), or its JSON as JSON.stringify
   * writes it (`json` true: a jsonb value). Returns the new end or -1 for what the encoder
   * treats apart (U+0000, lone surrogates) or what is not JSON; sets numEnd past the string.
   */
  private string(
    buf: Buffer,
    p: number,
    end: number,
    out: Buffer | undefined,
    o: number,
    json: boolean,
  ): number {
    let q = p + 1;
    if (out) {
      // The plain run up to the first quote, backslash or control character, copied as read.
      if (json) out[o++] = QUOTE;
      for (; q < end; q++) {
        const c = buf[q]!;
        if (c === QUOTE || c === BACKSLASH || c < 0x20) break;
        out[o++] = c;
      }
      if (buf[q] === QUOTE) {
        if (json) out[o++] = QUOTE;
        this.numEnd = q + 1;
        return o;
      }
    }
    for (; q < end; q++) {
      let c = buf[q]!;
      if (c === QUOTE) {
        if (json && out) out[o++] = QUOTE;
        this.numEnd = q + 1;
        return o;
      }
      if (c < 0x20) return -1;
      if (c !== BACKSLASH) {
        if (out) out[o++] = c;
        continue;
      }
      // An escape: the character it stands for, then written as the column needs it.
      c = buf[++q]!;
      let cp: number;
      if (c === 0x75) {
        cp = hex4(buf, q + 1, end);
        q += 4;
        if (cp >= 0xd800 && cp <= 0xdfff) {
          // Only a high surrogate followed by an escaped low one makes a character.
          if (cp >= 0xdc00 || buf[q + 1] !== BACKSLASH || buf[q + 2] !== 0x75) return -1;
          const low = hex4(buf, q + 3, end);
          if (low < 0xdc00 || low > 0xdfff) return -1;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          q += 6;
        }
        if (cp <= 0) return -1;
      } else {
        cp = SIMPLE_ESCAPES[c] ?? -1;
        if (cp < 0) return -1;
      }
      if (!out) continue;
      if (cp >= 0x80) o = utf8(cp, out, o);
      else if (json) {
        const e = JSON_ESCAPES[cp];
        if (e === undefined) out[o++] = cp;
        else {
          // JSON's escape, its backslash doubled for COPY.
          out[o++] = BACKSLASH;
          o += out.write(e, o, 'latin1');
        }
      } else {
        const e = COPY_ESCAPES[cp];
        if (e === undefined) out[o++] = cp;
        else {
          out[o++] = BACKSLASH;
          out[o++] = e;
        }
      }
    }
    return -1;
  }

  /** A non-negative integer of at most 15 digits (emitted_at); -1 otherwise. Sets numEnd. */
  private integer(buf: Buffer, p: number, end: number): number {
    if (!this.number(buf, p, end)) return -1;
    const f = this.numFlags;
    if (f & (NUM_FRACTION | NUM_NEGATIVE | NUM_NOT_SHORTEST) || this.numCut !== this.numEnd) return -1;
    let v = 0;
    for (let i = p; i < this.numEnd; i++) v = v * 10 + (buf[i]! - ZERO);
    return v;
  }

  /** Past a value that is not a column's (checked all the same: the line must be JSON); -1 to leave the line. */
  private skip(buf: Buffer, p: number, end: number): number {
    return this.json(buf, p, end, undefined, 0, 0) < 0 ? -1 : this.numEnd;
  }

  /**
   * Any JSON value at `p` as JSON.stringify writes the parsed value (no whitespace, numbers as
   * JavaScript prints them) at out[o], or only checked when `out` is undefined. Returns the new
   * end or -1; sets numEnd past the value. Keys keep their order and repeats, which a jsonb
   * column normalises exactly as JSON.parse does (the last of a repeated key wins).
   */
  private json(
    buf: Buffer,
    p: number,
    end: number,
    out: Buffer | undefined,
    o: number,
    depth: number,
  ): number {
    const c = buf[p];
    if (c === QUOTE) return this.string(buf, p, end, out, o, true);
    if (c === LBRACE || c === LBRACKET) {
      if (depth >= MAX_DEPTH) return -1;
      const close = c === LBRACE ? RBRACE : RBRACKET;
      if (out) out[o++] = c;
      p = ws(buf, p + 1, end);
      if (buf[p] !== close) {
        for (;;) {
          if (c === LBRACE) {
            const colon = keyColon(buf, p, end);
            if (colon < 0) return -1;
            if (out) {
              o += buf.copy(out, o, p, stringEnd(buf, p, end) + 1);
              out[o++] = COLON;
            }
            p = ws(buf, colon + 1, end);
          }
          o = this.json(buf, p, end, out, o, depth + 1);
          if (o < 0) return -1;
          p = ws(buf, this.numEnd, end);
          if (buf[p] !== COMMA) break;
          if (out) out[o++] = COMMA;
          p = ws(buf, p + 1, end);
        }
        if (buf[p] !== close) return -1;
      }
      if (out) out[o++] = close;
      this.numEnd = p + 1;
      return o;
    }
    for (const word of WORDS) {
      if (c === word.charCodeAt(0)) {
        if (!isWord(buf, p, end, word)) return -1;
        this.numEnd = p + word.length;
        return out ? o + buf.copy(out, o, p, p + word.length) : o;
      }
    }
    if (!this.number(buf, p, end) || this.numFlags & NUM_NOT_SHORTEST) return -1;
    return out ? copyRange(buf, p, this.numCut, out, o) : o;
  }
}

const NUM_NEGATIVE = 1;
const NUM_FRACTION = 2;
const NUM_NOT_SHORTEST = 8;

/** What a JSON escape's letter stands for (\u aside). */
const SIMPLE_ESCAPES: Record<number, number> = {
  34: 0x22, // "
  92: 0x5c, // \
  47: 0x2f, // /
  98: 0x08, // b
  102: 0x0c, // f
  110: 0x0a, // n
  114: 0x0d, // r
  116: 0x09, // t
};

/** ASCII characters COPY text escapes (backslash, newline, return, tab): the letter after the backslash. */
const COPY_ESCAPES: Array<number | undefined> = [];
COPY_ESCAPES[0x5c] = 0x5c;
COPY_ESCAPES[0x0a] = 0x6e;
COPY_ESCAPES[0x0d] = 0x72;
COPY_ESCAPES[0x09] = 0x74;

/** ASCII characters JSON.stringify escapes, as their escape after the backslash (itself escaped for COPY). */
const JSON_ESCAPES: Array<string | undefined> = [];
for (let c = 0; c < 0x20; c++) JSON_ESCAPES[c] = `\\u${c.toString(16).padStart(4, '0')}`;
JSON_ESCAPES[0x08] = '\\b';
JSON_ESCAPES[0x09] = '\\t';
JSON_ESCAPES[0x0a] = '\\n';
JSON_ESCAPES[0x0c] = '\\f';
JSON_ESCAPES[0x0d] = '\\r';
JSON_ESCAPES[0x22] = '\\"';
JSON_ESCAPES[0x5c] = '\\\\\\';

/** A code point (U+0080 and above) as UTF-8 at out[o]; returns the new end. */
function utf8(cp: number, out: Buffer, o: number): number {
  if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
  }
  out[o++] = 0x80 | (cp & 0x3f);
  return o;
}

/** Four hex digits at `p` as a number, or -1. */
function hex4(buf: Buffer, p: number, end: number): number {
  if (p + 4 > end) return -1;
  let v = 0;
  for (let i = p; i < p + 4; i++) {
    const c = buf[i]!;
    const d =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x61 && c <= 0x66
          ? c - 0x57
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : -1;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Past spaces, tabs and carriage returns. */
function ws(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = buf[p]!;
    if (c !== 0x20 && c !== TAB && c !== 0x0d) break;
    p++;
  }
  return p;
}

/**
 * The closing quote of a string opening at `p`, or -1 when it holds an escape or a control
 * character (escapes are the encoder's; a raw control character is not JSON).
 */
function stringEnd(buf: Buffer, p: number, end: number): number {
  if (buf[p] !== QUOTE) return -1;
  for (let q = p + 1; q < end; q++) {
    const c = buf[q]!;
    if (c === QUOTE) return q;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/** The colon after a plain key (no escapes) whose opening quote is at `p`, or -1. */
function keyColon(buf: Buffer, p: number, end: number): number {
  const q = stringEnd(buf, p, end);
  if (q < 0) return -1;
  const colon = ws(buf, q + 1, end);
  return buf[colon] === COLON ? colon : -1;
}

/** Whether the key whose opening quote is at `p` (colon at `colon`) is `name`. */
function isKey(buf: Buffer, p: number, colon: number, name: string): boolean {
  const e = p + 1 + name.length;
  if (buf[e] !== QUOTE) return false;
  for (let i = 0; i < name.length; i++) if (buf[p + 1 + i] !== name.charCodeAt(i)) return false;
  return ws(buf, e + 1, colon) === colon;
}

function isString(buf: Buffer, p: number, end: number, value: string): boolean {
  if (p + value.length + 2 > end || buf[p] !== QUOTE || buf[p + value.length + 1] !== QUOTE) return false;
  for (let i = 0; i < value.length; i++) if (buf[p + 1 + i] !== value.charCodeAt(i)) return false;
  return true;
}

/** A literal (true, false, null) at `p`, not followed by more of a token. */
function isWord(buf: Buffer, p: number, end: number, word: string): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (buf[p + i] !== word.charCodeAt(i)) return false;
  const after = buf[p + word.length];
  return after === undefined || after === COMMA || after === RBRACE || after === 0x5d || after <= 0x20;
}

/** Whether buf[p, end) starts with the bytes of `a`. */
function startsWith(buf: Buffer, p: number, end: number, a: Buffer): boolean {
  const n = a.length;
  if (p + n > end) return false;
  for (let i = 0; i < n; i++) if (a[i] !== buf[p + i]) return false;
  return true;
}

function equalBytes(a: Buffer, buf: Buffer, s: number, e: number): boolean {
  const n = a.length;
  if (e - s !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== buf[s + i]) return false;
  return true;
}

function copyRange(buf: Buffer, s: number, e: number, out: Buffer, o: number): number {
  for (let i = s; i < e; i++) out[o++] = buf[i]!;
  return o;
}
