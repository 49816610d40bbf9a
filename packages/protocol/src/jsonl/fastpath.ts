/**
 * Record fast path: reads the top-level `type` and `record.stream` / `record.namespace` of
 * one JSONL line without building `data`. The whole line is still scanned and validated as
 * JSON, so the answer agrees with `JSON.parse(line)` for any key order, whitespace and
 * escapes; lines it does not fully understand (invalid JSON, duplicate relevant keys,
 * non-string values) give `null`, and the caller falls back to `JSON.parse`.
 */

/** Byte range [start, end) inside the scanned buffer. */
export interface ByteSpan {
  start: number;
  end: number;
}

export interface RecordEnvelope {
  /** Top-level `type`, or undefined when the line has none. */
  type: string | undefined;
  /** `record.stream`, or undefined when there is no record or no stream in it. */
  stream: string | undefined;
  /** `record.namespace`: undefined when absent, null when written as null. */
  namespace: string | null | undefined;
  /** The `record` object, braces included. */
  record: ByteSpan | undefined;
  /** The stream value token, quotes included: splice a new JSON string here. */
  streamValue: ByteSpan | undefined;
  /** The namespace value token (a string with its quotes, or `null`). */
  namespaceValue: ByteSpan | undefined;
  /** The whole `"namespace": value` member, key quote to value end. */
  namespaceMember: ByteSpan | undefined;
  /** Offset of the comma before the namespace member inside the record, or -1. */
  namespaceCommaBefore: number;
  /** The `record.data` value token, and the `record.emitted_at` one. */
  data: ByteSpan | undefined;
  emittedAt: ByteSpan | undefined;
  /**
   * Whether the line holds only `type` and `record`, and the record only `stream`, `namespace`,
   * `data`, `emitted_at` and `partition_id`, each once: what the SDK checks by hand (anything
   * else goes through the protocol's schema).
   */
  plain: boolean;
}

// The scanner passes (buffer, position, end) explicitly and returns the next position, or -1
// for invalid JSON: locals stay in registers, which matters in loops over every byte of `data`.
// `end` bounds every read, since the buffer usually holds more lines after this one.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether the string scanned last had escapes. */
const ESCAPED = 1;
let stringFlags = 0;

const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;
/** Bytes allowed after a backslash, `u` excepted. */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

function skipWs(b: Uint8Array, p: number, e: number): number {
  while (p < e) {
    const c = b[p]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
    else break;
  }
  return p;
}

/** Bytes that may appear in a string as they are: not a quote, a backslash or a control character. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 256; c++) PLAIN[c] = c === QUOTE || c === BACKSLASH ? 0 : 1;

/** At an opening quote; returns the position after the closing quote and sets stringFlags. */
function scanString(b: Uint8Array, p: number, e: number): number {
  let flags = 0;
  p++;
  for (;;) {
    while (p < e && PLAIN[b[p]!]) p++;
    if (p >= e) return -1;
    const c = b[p]!;
    if (c === QUOTE) {
      stringFlags = flags;
      return p + 1;
    }
    if (c !== BACKSLASH) return -1; // a raw control character
    flags = ESCAPED;
    if (p + 1 >= e) return -1;
    const x = b[p + 1]!;
    if (x === 0x75 /* u */) {
      if (p + 5 >= e || !HEX[b[p + 2]!] || !HEX[b[p + 3]!] || !HEX[b[p + 4]!] || !HEX[b[p + 5]!]) return -1;
      p += 6;
    } else if (SIMPLE_ESCAPE[x]) p += 2;
    else return -1;
  }
}

function skipDigits(b: Uint8Array, p: number, e: number): number {
  while (p < e) {
    const c = b[p]!;
    if (c < 0x30 || c > 0x39) break;
    p++;
  }
  return p;
}

function isDigitAt(b: Uint8Array, p: number, e: number): boolean {
  if (p >= e) return false;
  const c = b[p]!;
  return c >= 0x30 && c <= 0x39;
}

/** JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function skipNumber(b: Uint8Array, p: number, e: number): number {
  if (b[p] === 0x2d) p++;
  if (p >= e) return -1;
  if (b[p] === 0x30) p++;
  else if (isDigitAt(b, p, e)) p = skipDigits(b, p + 1, e);
  else return -1;
  if (p < e && b[p] === 0x2e) {
    if (!isDigitAt(b, p + 1, e)) return -1;
    p = skipDigits(b, p + 2, e);
  }
  if (p < e && (b[p] === 0x65 || b[p] === 0x45)) {
    p++;
    if (p < e && (b[p] === 0x2b || b[p] === 0x2d)) p++;
    if (!isDigitAt(b, p, e)) return -1;
    p = skipDigits(b, p + 1, e);
  }
  return p;
}

function skipLiteral(b: Uint8Array, p: number, e: number, word: string): number {
  if (p + word.length > e) return -1;
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word.charCodeAt(i)) return -1;
  return p + word.length;
}

/** End of the key token read by the last scanKey(). */
let keyEnd = 0;

/** At a key's opening quote: reads `"key" :`, returns the position after the colon. */
function scanKey(b: Uint8Array, p: number, e: number): number {
  if (p >= e || b[p] !== QUOTE) return -1;
  p = scanString(b, p, e);
  if (p < 0) return -1;
  keyEnd = p;
  p = skipWs(b, p, e);
  if (p >= e || b[p] !== 0x3a) return -1;
  return p + 1;
}

// Container stack for skipValue: deep nesting must not overflow the JS call stack.
let stack = new Uint8Array(64);
const OBJ = 1;
const ARR = 2;

/** Skips and validates one JSON value at p (whitespace allowed before it). */
function skipValue(b: Uint8Array, p: number, e: number): number {
  let depth = 0;
  for (;;) {
    // A value starts here.
    p = skipWs(b, p, e);
    if (p >= e) return -1;
    const c = b[p]!;
    if (c === QUOTE) {
      p = scanString(b, p, e);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      p = skipWs(b, p + 1, e);
      if (p >= e) return -1;
      if (b[p] === (c === 0x7b ? 0x7d : 0x5d)) {
        p++;
      } else {
        if (depth === stack.length) {
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[depth++] = c === 0x7b ? OBJ : ARR;
        if (c === 0x7b) {
          p = scanKey(b, p, e);
          if (p < 0) return -1;
        }
        continue;
      }
    } else if (c === 0x74) p = skipLiteral(b, p, e, 'true');
    else if (c === 0x66) p = skipLiteral(b, p, e, 'false');
    else if (c === 0x6e) p = skipLiteral(b, p, e, 'null');
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) p = skipNumber(b, p, e);
    else return -1;
    if (p < 0) return -1;
    // After a value: close containers, or go on to the next element.
    for (;;) {
      if (depth === 0) return p;
      p = skipWs(b, p, e);
      if (p >= e) return -1;
      const d = b[p]!;
      const top = stack[depth - 1];
      if (d === 0x2c /* , */) {
        p++;
        if (top === OBJ) {
          p = scanKey(b, skipWs(b, p, e), e);
          if (p < 0) return -1;
        }
        break;
      }
      if ((top === OBJ && d === 0x7d) || (top === ARR && d === 0x5d)) {
        p++;
        depth--;
        continue;
      }
      return -1;
    }
  }
}

/**
 * Skips one value at p without validating it: strings are found with the native byte search
 * (`Buffer#indexOf`), containers by counting brackets outside strings. About five times
 * faster than {@link skipValue} on record data, which is almost all string bytes. Invalid JSON
 * inside the value goes unnoticed here; whoever parses the value (the destination) rejects it.
 */
function skipValueStructural(b: Buffer, p: number, e: number): number {
  p = skipWs(b, p, e);
  let depth = 0;
  while (p < e) {
    const c = b[p]!;
    if (c === QUOTE) {
      let q = b.indexOf(QUOTE, p + 1);
      for (;;) {
        if (q < 0 || q >= e) return -1;
        let backslashes = 0;
        while (b[q - 1 - backslashes] === BACKSLASH) backslashes++;
        if ((backslashes & 1) === 0) break;
        q = b.indexOf(QUOTE, q + 1);
      }
      p = q + 1;
      if (depth === 0) return p;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      p++;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return p; // the end of the enclosing object: a scalar ended before it
      depth--;
      p++;
      if (depth === 0) return p;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) {
      return p; // a scalar (number or literal) ends here
    } else p++;
  }
  return depth === 0 ? p : -1;
}

export interface PeekOptions {
  /**
   * `full` (default): the whole line is checked as JSON, so the answer agrees with
   * `JSON.parse`. `structure`: values other than `type`, `stream` and `namespace` are only
   * skipped (strings and brackets), for routers that forward `data` untouched and leave its
   * validation to the destination.
   */
  validate?: 'full' | 'structure';
}

let skipOther: (b: Buffer, p: number, e: number) => number = skipValue;

/** Whether the key token [start, end) (quotes included, no escapes) spells `word`. */
function tokenIs(b: Uint8Array, start: number, end: number, word: string): boolean {
  if (end - start - 2 !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[start + 1 + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Decodes a string token known to be valid; escaped ones go through JSON.parse. */
function tokenText(b: Uint8Array, start: number, end: number, flags: number): string {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (flags & ESCAPED) return JSON.parse(buf.toString('utf8', start, end)) as string;
  return buf.toString('utf8', start + 1, end - 1);
}

/** Whether a key token names `word`, decoding it only when it has escapes. */
function keyIs(b: Uint8Array, start: number, end: number, flags: number, word: string): boolean {
  return flags & ESCAPED ? tokenText(b, start, end, flags) === word : tokenIs(b, start, end, word);
}

const TYPES = ['RECORD', 'STATE', 'LOG', 'TRACE', 'CONTROL'];

function typeText(b: Uint8Array, start: number, end: number, flags: number): string {
  if (flags === 0) for (const t of TYPES) if (tokenIs(b, start, end, t)) return t;
  return tokenText(b, start, end, flags);
}

// A one-entry cache: consecutive records usually name the same stream.
let lastStreamBytes = new Uint8Array(0);
let lastStream = '';

function streamText(b: Uint8Array, start: number, end: number, flags: number): string {
  const len = end - start;
  if (flags === 0 && len === lastStreamBytes.length) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (b[start + i] !== lastStreamBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastStream;
  }
  const text = tokenText(b, start, end, flags);
  if (flags === 0 && len <= 256) {
    lastStreamBytes = b.slice(start, end);
    lastStream = text;
  }
  return text;
}

/**
 * Scans `buf[start, end)`, one JSON line, and returns its record envelope, or `null` when the
 * line is not valid JSON, not an object, has duplicate `type`/`record`/`stream`/`namespace`
 * keys, or has a non-string `type`, `stream` or `namespace` (namespace may be null).
 */
export function peekRecordEnvelope(
  buf: Uint8Array,
  start = 0,
  end = buf.length,
  options: PeekOptions = {},
): RecordEnvelope | null {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  skipOther = options.validate === 'structure' ? skipValueStructural : skipValue;
  const e = end;
  const env: RecordEnvelope = {
    type: undefined,
    stream: undefined,
    namespace: undefined,
    record: undefined,
    streamValue: undefined,
    namespaceValue: undefined,
    namespaceMember: undefined,
    namespaceCommaBefore: -1,
    data: undefined,
    emittedAt: undefined,
    plain: true,
  };
  let p = skipWs(b, start, e);
  if (p >= e || b[p] !== 0x7b) return null;
  p = skipWs(b, p + 1, e);
  let seenType = false;
  let seenRecord = false;
  if (p < e && b[p] === 0x7d) {
    p++;
  } else {
    for (;;) {
      const ks = p;
      p = scanKey(b, p, e);
      if (p < 0) return null;
      const ke = keyEnd;
      const kflags = stringFlags;
      p = skipWs(b, p, e);
      if (p >= e) return null;
      if (keyIs(b, ks, ke, kflags, 'type')) {
        if (seenType || b[p] !== QUOTE) return null;
        seenType = true;
        const vs = p;
        p = scanString(b, p, e);
        if (p < 0) return null;
        env.type = typeText(b, vs, p, stringFlags);
      } else if (keyIs(b, ks, ke, kflags, 'record')) {
        if (seenRecord || b[p] !== 0x7b) return null;
        seenRecord = true;
        p = scanRecord(b, p, e, env);
      } else {
        env.plain = false;
        p = skipOther(b, p, e);
      }
      if (p < 0) return null;
      p = skipWs(b, p, e);
      if (p >= e) return null;
      const c = b[p++];
      if (c === 0x2c) {
        p = skipWs(b, p, e);
        continue;
      }
      if (c === 0x7d) break;
      return null;
    }
  }
  return skipWs(b, p, e) === e ? env : null;
}

/** At the record's `{`: fills stream/namespace into env, returns the position after `}`. */
function scanRecord(b: Buffer, p: number, e: number, env: RecordEnvelope): number {
  const recStart = p;
  p = skipWs(b, p + 1, e);
  if (p >= e) return -1;
  if (b[p] === 0x7d) {
    env.record = { start: recStart, end: p + 1 };
    return p + 1;
  }
  let seenStream = false;
  let seenNamespace = false;
  let seenPartition = false;
  let commaBefore = -1;
  for (;;) {
    const ks = p;
    p = scanKey(b, p, e);
    if (p < 0) return -1;
    const ke = keyEnd;
    const kflags = stringFlags;
    p = skipWs(b, p, e);
    if (p >= e) return -1;
    if (keyIs(b, ks, ke, kflags, 'stream')) {
      if (seenStream || b[p] !== QUOTE) return -1;
      seenStream = true;
      const vs = p;
      p = scanString(b, p, e);
      if (p < 0) return -1;
      env.stream = streamText(b, vs, p, stringFlags);
      env.streamValue = { start: vs, end: p };
    } else if (keyIs(b, ks, ke, kflags, 'namespace')) {
      if (seenNamespace) return -1;
      seenNamespace = true;
      const vs = p;
      if (b[p] === QUOTE) {
        p = scanString(b, p, e);
        if (p < 0) return -1;
        env.namespace = tokenText(b, vs, p, stringFlags);
      } else {
        p = skipLiteral(b, p, e, 'null');
        if (p < 0) return -1;
        env.namespace = null;
      }
      env.namespaceValue = { start: vs, end: p };
      env.namespaceMember = { start: ks, end: p };
      env.namespaceCommaBefore = commaBefore;
    } else {
      const vs = p;
      p = skipOther(b, p, e);
      if (p < 0) return -1;
      if (keyIs(b, ks, ke, kflags, 'data')) {
        if (env.data) env.plain = false;
        env.data = { start: vs, end: p };
      } else if (keyIs(b, ks, ke, kflags, 'emitted_at')) {
        if (env.emittedAt) env.plain = false;
        env.emittedAt = { start: vs, end: p };
      } else if (!keyIs(b, ks, ke, kflags, 'partition_id') || seenPartition) env.plain = false;
      else seenPartition = true;
    }
    p = skipWs(b, p, e);
    if (p >= e) return -1;
    const c = b[p];
    if (c === 0x2c) {
      commaBefore = p;
      p = skipWs(b, p + 1, e);
      continue;
    }
    if (c === 0x7d) {
      env.record = { start: recStart, end: p + 1 };
      return p + 1;
    }
    return -1;
  }
}

export interface EnvelopeChange {
  /** New stream name. */
  stream?: string;
  /** New namespace; `null` removes the namespace member. Undefined leaves it alone. */
  namespace?: string | null;
}

/**
 * Splices a new stream and/or namespace into a line scanned by {@link peekRecordEnvelope},
 * copying everything else byte for byte. The envelope must come from this same buffer.
 */
export function rewriteRecordEnvelope(
  line: Buffer,
  env: RecordEnvelope,
  change: EnvelopeChange,
  start = 0,
  end = line.length,
): Buffer {
  if (!env.record) throw new Error('line has no record object to rewrite');
  const edits: Array<{ from: number; to: number; text: string }> = [];
  const recordOpen = env.record.start + 1;
  const emptyRecord = isEmptyObject(line, env.record);
  let inserted = '';
  if (change.stream !== undefined) {
    const text = JSON.stringify(change.stream);
    if (env.streamValue) edits.push({ from: env.streamValue.start, to: env.streamValue.end, text });
    else inserted += `"stream":${text}`;
  }
  if (change.namespace !== undefined) {
    if (change.namespace === null) {
      const member = env.namespaceMember;
      if (member) {
        let q = member.end;
        while (q < env.record.end && isWs(line[q])) q++;
        if (line[q] === 0x2c) edits.push({ from: member.start, to: q + 1, text: '' });
        else if (env.namespaceCommaBefore >= 0)
          edits.push({ from: env.namespaceCommaBefore, to: member.end, text: '' });
        else edits.push({ from: member.start, to: member.end, text: '' });
      }
    } else {
      const text = JSON.stringify(change.namespace);
      if (env.namespaceValue)
        edits.push({ from: env.namespaceValue.start, to: env.namespaceValue.end, text });
      else inserted += `${inserted ? ',' : ''}"namespace":${text}`;
    }
  }
  if (inserted) {
    edits.push({ from: recordOpen, to: recordOpen, text: emptyRecord ? inserted : `${inserted},` });
  }
  // By position; at a tie an insertion goes before the removal that starts there.
  edits.sort((a, b) => a.from - b.from || a.to - a.from - (b.to - b.from));
  const parts: Buffer[] = [];
  let pos = start;
  for (const e of edits) {
    parts.push(line.subarray(pos, e.from));
    if (e.text) parts.push(Buffer.from(e.text));
    pos = e.to;
  }
  parts.push(line.subarray(pos, end));
  return Buffer.concat(parts);
}

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isEmptyObject(line: Buffer, span: ByteSpan): boolean {
  for (let i = span.start + 1; i < span.end - 1; i++) if (!isWs(line[i])) return false;
  return true;
}

/**
 * Rewrites the stream/namespace of one RECORD line: by splicing when the fast path
 * understands the line, otherwise by `JSON.parse` + `JSON.stringify`. Throws when the line
 * is not JSON or not a record.
 */
export function rewriteRecordLine(line: Buffer, change: EnvelopeChange): Buffer {
  const env = peekRecordEnvelope(line);
  if (env?.record && env.type === 'RECORD') return rewriteRecordEnvelope(line, env, change);
  const msg = JSON.parse(line.toString('utf8')) as { type?: unknown; record?: Record<string, unknown> };
  if (msg.type !== 'RECORD' || typeof msg.record !== 'object' || msg.record === null) {
    throw new Error('not a RECORD message');
  }
  if (change.stream !== undefined) msg.record.stream = change.stream;
  if (change.namespace === null) delete msg.record.namespace;
  else if (change.namespace !== undefined) msg.record.namespace = change.namespace;
  return Buffer.from(JSON.stringify(msg));
}
