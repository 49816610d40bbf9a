import type { ScalarKind, ValueType } from './types';

/**
 * Turns one value's Postgres text output (the session settings of connect.ts are assumed) into
 * JSON text. `undefined` means the value has no JSON form (NaN, infinite dates): the field is
 * emitted as null and the record says so in `meta.changes`, as Airbyte's sources do.
 */
export type Encoder = (text: string) => string | undefined;

const quote = (s: string): string => `"${s}"`;

/** Fractional seconds padded to microseconds: Airbyte's sources always print six digits. */
export function padMicros(time: string): string {
  const dot = time.indexOf('.');
  if (dot < 0) return `${time}.000000`;
  const digits = time.length - dot - 1;
  return digits >= 6 ? time : time + '000000'.slice(digits);
}

/** `+00` → `Z`, `+05` → `+05:00`, `-03:30` unchanged. */
export function formatOffset(offset: string): string {
  if (offset === '+00' || offset === '-00') return 'Z';
  return offset.length === 3 ? `${offset}:00` : offset;
}

/** Index where a time's zone offset starts (its last sign), or -1. */
function offsetStart(time: string): number {
  const plus = time.lastIndexOf('+');
  return plus >= 0 ? plus : time.lastIndexOf('-');
}

/** `2023-01-02 03:04:05.5+00` → `"2023-01-02T03:04:05.500000Z"`, ` BC` kept at the end. */
export function encodeTimestamp(text: string, withZone: boolean): string | undefined {
  if (text === 'infinity' || text === '-infinity') return undefined;
  let s = text;
  let era = '';
  if (s.endsWith(' BC')) {
    era = ' BC';
    s = s.slice(0, -3);
  }
  const sp = s.indexOf(' ');
  if (sp < 0) return quote(s + era);
  let time = s.slice(sp + 1);
  let zone = '';
  if (withZone) {
    const k = offsetStart(time);
    if (k > 0) {
      zone = formatOffset(time.slice(k));
      time = time.slice(0, k);
    }
  }
  return `"${s.slice(0, sp)}T${padMicros(time)}${zone}${era}"`;
}

export function encodeTime(text: string, withZone: boolean): string {
  if (!withZone) return quote(padMicros(text));
  const k = offsetStart(text);
  if (k <= 0) return quote(padMicros(text));
  return quote(padMicros(text.slice(0, k)) + formatOffset(text.slice(k)));
}

function encodeDate(text: string): string | undefined {
  if (text === 'infinity' || text === '-infinity') return undefined;
  return quote(text);
}

function encodeFloat(text: string): string | undefined {
  // JSON has no NaN or infinities; Airbyte's Postgres source nulls them too.
  const c = text.charCodeAt(text.length - 1);
  if (c === 78 /* N */ || c === 121 /* y */) return undefined;
  return text;
}

/** `-$1,234.50` (lc_monetary=C) → `-1234.50`. */
export function encodeMoney(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || c === 46 || c === 45) out += text[i];
    else if (c === 40) out += '-'; // accounting style "($1.00)"
  }
  return out === '' || out === '-' ? undefined : out;
}

/** `\xDEADBEEF` → base64 (Airbyte's BinaryData). */
export function encodeBytea(text: string): string {
  const hex = text.charCodeAt(0) === 92 && text.charCodeAt(1) === 120 ? text.slice(2) : text;
  return quote(Buffer.from(hex, 'hex').toString('base64'));
}

/** json keeps its input text, which may span lines; a JSONL record must not. */
function encodeJson(text: string): string {
  // A raw line break can only sit between tokens (inside strings JSON requires escapes).
  if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) return text.replace(/[\r\n]/g, ' ');
  return text;
}

const encodeString = (text: string): string => JSON.stringify(text);
const encodeBool = (text: string): string => (text === 't' ? 'true' : 'false');
const identity = (text: string): string => text;

export function scalarEncoder(kind: ScalarKind): Encoder {
  switch (kind) {
    case 'bool':
      return encodeBool;
    case 'int':
      return identity;
    case 'float':
    case 'numeric':
      return encodeFloat;
    case 'money':
      return encodeMoney;
    case 'string':
      return encodeString;
    case 'json':
      return encodeJson;
    case 'date':
      return encodeDate;
    case 'timestamp':
      return (t) => encodeTimestamp(t, false);
    case 'timestamptz':
      return (t) => encodeTimestamp(t, true);
    case 'time':
      return (t) => encodeTime(t, false);
    case 'timetz':
      return (t) => encodeTime(t, true);
    case 'bytea':
      return encodeBytea;
  }
}

/** An array literal's elements: nested arrays of strings, null for NULL. */
export type ArrayItem = string | null | ArrayItem[];

/**
 * Parses Postgres array text output: `{1,NULL,"a \"b\""}`, nested `{{1,2},{3,4}}`, with an
 * optional bounds prefix `[0:1]={…}`. `delimiter` is the element type's (`;` for box).
 */
export function parseArray(text: string, delimiter = ','): ArrayItem[] {
  let i = 0;
  if (text.charCodeAt(0) === 91 /* [ */) {
    const eq = text.indexOf('=');
    if (eq < 0) throw new Error(`malformed array literal: ${text.slice(0, 40)}`);
    i = eq + 1;
  }
  const d = delimiter.charCodeAt(0);
  const parseLevel = (): ArrayItem[] => {
    if (text.charCodeAt(i) !== 123 /* { */) throw new Error(`malformed array literal: ${text.slice(0, 40)}`);
    i++;
    const items: ArrayItem[] = [];
    if (text.charCodeAt(i) === 125 /* } */) {
      i++;
      return items;
    }
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 123) items.push(parseLevel());
      else if (c === 34 /* " */) {
        i++;
        let s = '';
        let start = i;
        for (;;) {
          const q = text.charCodeAt(i);
          if (Number.isNaN(q)) throw new Error('unterminated quoted array element');
          if (q === 92 /* \ */) {
            s += text.slice(start, i);
            s += text[i + 1] ?? '';
            i += 2;
            start = i;
          } else if (q === 34) {
            s += text.slice(start, i);
            i++;
            break;
          } else i++;
        }
        items.push(s);
      } else {
        const start = i;
        while (i < text.length) {
          const q = text.charCodeAt(i);
          if (q === d || q === 125) break;
          i++;
        }
        const raw = text.slice(start, i);
        items.push(raw === 'NULL' ? null : raw);
      }
      const next = text.charCodeAt(i);
      if (next === d) i++;
      else if (next === 125) {
        i++;
        return items;
      } else throw new Error(`malformed array literal: ${text.slice(0, 40)}`);
    }
  };
  return parseLevel();
}

/** Encodes an array: elements through the element encoder; unencodable elements become null. */
export function arrayEncoder(element: ScalarKind, delimiter: string): Encoder {
  const enc = scalarEncoder(element);
  let lost = false;
  const write = (items: ArrayItem[]): string => {
    let out = '[';
    for (let k = 0; k < items.length; k++) {
      if (k > 0) out += ',';
      const item = items[k]!;
      if (item === null) out += 'null';
      else if (typeof item === 'string') {
        const v = enc(item);
        if (v === undefined) {
          lost = true;
          out += 'null';
        } else out += v;
      } else out += write(item);
    }
    return `${out}]`;
  };
  return (text) => {
    lost = false;
    const json = write(parseArray(text, delimiter));
    // A partly nulled array is still emitted; the record reports the field as changed.
    return lost ? undefined : json;
  };
}

export function encoderFor(type: ValueType): Encoder {
  return type.kind === 'array' ? arrayEncoder(type.element, type.delimiter) : scalarEncoder(type.kind);
}

/** Undoes COPY text-format escaping (`\\`, `\t`, `\n`, octal and hex escapes). */
export function unescapeCopy(field: string): string {
  let out = '';
  let start = 0;
  let i = field.indexOf('\\');
  while (i >= 0) {
    out += field.slice(start, i);
    const c = field[i + 1];
    let next = i + 2;
    switch (c) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(field.slice(i + 2, i + 4));
        if (m) {
          out += String.fromCharCode(Number.parseInt(m[0], 16));
          next = i + 2 + m[0].length;
        } else out += 'x';
        break;
      }
      default:
        if (c !== undefined && c >= '0' && c <= '7') {
          const m = /^[0-7]{1,3}/.exec(field.slice(i + 1, i + 4))!;
          out += String.fromCharCode(Number.parseInt(m[0], 8));
          next = i + 1 + m[0].length;
        } else out += c ?? '';
    }
    start = next;
    i = field.indexOf('\\', next);
  }
  return out + field.slice(start);
}
