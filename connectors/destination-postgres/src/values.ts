/**
 * Cheap checks that a string is a value Postgres accepts for a column type, so COPY never
 * fails on a cast: a value that does not pass is written as NULL and recorded in
 * `_airbyte_meta.changes`. Hand-written scanners, no allocation, no regular expressions.
 */

/** The digit value at s[i], or -1. */
function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/** `n` digits at s[i..], or -1. */
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = digit(s, i + k);
    if (c < 0) return -1;
    v = v * 10 + c;
  }
  return v;
}

function daysIn(month: number, astronomicalYear: number): number {
  if (month === 2) {
    const y = astronomicalYear;
    return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// Set by dateAt for the caller's BC check.
let lastYear = 0;

/** `YYYY-MM-DD` at s[at..at+10) with a real calendar day (BC handled by the caller). */
function dateAt(s: string, at: number, bc: boolean): boolean {
  const year = digits(s, at, 4);
  if (year < 1 || s.charCodeAt(at + 4) !== 45 || s.charCodeAt(at + 7) !== 45) return false;
  const month = digits(s, at + 5, 2);
  const day = digits(s, at + 8, 2);
  if (month < 1 || month > 12 || day < 1) return false;
  lastYear = year;
  return day <= daysIn(month, bc ? 1 - year : year);
}

/** Whether s[start, end) ends with ` BC`. */
const endsWithBc = (s: string, start: number, end: number): boolean =>
  end - start > 3 &&
  s.charCodeAt(end - 3) === 32 &&
  s.charCodeAt(end - 2) === 66 &&
  s.charCodeAt(end - 1) === 67;

/**
 * `YYYY-MM-DD` or `YYYY-MM-DD BC` (Airbyte's Date; BC years within Postgres's range). This and
 * the checks below read s[start, end), so a caller holding a whole line need not cut it up.
 */
export function isDate(s: string, start = 0, end = s.length): boolean {
  if (end - start === 10) return dateAt(s, start, false);
  if (end - start === 13 && endsWithBc(s, start, end)) return dateAt(s, start, true) && lastYear < 4713;
  return false;
}

/** Position after `HH:MM[:SS[.ffff]]` at s[p], or -1. */
function timeAt(s: string, p: number): number {
  const h = digits(s, p, 2);
  if (h < 0 || s.charCodeAt(p + 2) !== 58) return -1;
  const m = digits(s, p + 3, 2);
  if (m < 0 || m > 59) return -1;
  p += 5;
  let sec = 0;
  let fractionNonZero = false;
  if (s.charCodeAt(p) === 58) {
    sec = digits(s, p + 1, 2);
    if (sec < 0 || sec > 59) return -1;
    p += 3;
    if (s.charCodeAt(p) === 46) {
      p++;
      const start = p;
      while (digit(s, p) >= 0) {
        if (s.charCodeAt(p) !== 48) fractionNonZero = true;
        p++;
      }
      if (p === start) return -1;
    }
  }
  if (h > 24 || (h === 24 && (m !== 0 || sec !== 0 || fractionNonZero))) return -1;
  return p;
}

/** Position after a UTC offset (`Z`, `±HH`, `±HHMM`, `±HH:MM`, `±HH:MM:SS`) at s[p], or -1. */
function offsetAt(s: string, p: number): number {
  const c = s.charCodeAt(p);
  if (c === 90 || c === 122) return p + 1; // Z z
  if (c !== 43 && c !== 45) return -1; // + -
  const h = digits(s, p + 1, 2);
  if (h < 0 || h > 15) return -1;
  p += 3;
  for (let part = 0; part < 2; part++) {
    const colon = s.charCodeAt(p) === 58 ? 1 : 0;
    const v = digits(s, p + colon, 2);
    if (v < 0) return colon ? -1 : p;
    if (v > 59) return -1;
    p += colon + 2;
  }
  return p;
}

/**
 * An ISO 8601 timestamp: `YYYY-MM-DD`, then optionally `T` or a space and a time, an optional
 * offset and an optional ` BC`. A timestamp-without-time-zone column ignores an offset, as
 * Postgres does.
 */
export function isTimestamp(s: string, start = 0, stop = s.length): boolean {
  const bc = endsWithBc(s, start, stop);
  const end = bc ? stop - 3 : stop;
  if (end - start < 10 || !dateAt(s, start, bc) || (bc && lastYear >= 4713)) return false;
  let p = start + 10;
  if (p === end) return true;
  const sep = s.charCodeAt(p);
  if (sep !== 84 && sep !== 116 && sep !== 32) return false; // T t space
  p = timeAt(s, p + 1);
  if (p < 0) return false;
  if (p === end) return true;
  if (s.charCodeAt(p) === 32) p++;
  p = offsetAt(s, p);
  return p === end;
}

/** `HH:MM[:SS[.ffff]]` with an optional offset. */
export function isTime(s: string, start = 0, end = s.length): boolean {
  let p = timeAt(s, start);
  if (p < 0 || p > end) return false;
  if (p === end) return true;
  if (s.charCodeAt(p) === 32) p++;
  p = offsetAt(s, p);
  return p === end;
}

const MAX_INT64 = 9223372036854775807n;
const MIN_INT64 = -9223372036854775808n;
/** 2^63 as a double: numbers from -2^63 up to (not including) 2^63 fit a bigint. */
const TWO_POW_63 = 2 ** 63;

/** An integer in bigint's range as COPY text, or undefined. Accepts numbers and digit strings. */
export function bigintText(v: unknown): string | undefined {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < -TWO_POW_63 || v >= TWO_POW_63) return undefined;
    return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  }
  if (typeof v === 'string') {
    const s = v.trim();
    let p = s.charCodeAt(0) === 45 || s.charCodeAt(0) === 43 ? 1 : 0;
    if (p === s.length) return undefined;
    for (; p < s.length; p++) if (digit(s, p) < 0) return undefined;
    if (s.length > 18) {
      const n = BigInt(s);
      if (n > MAX_INT64 || n < MIN_INT64) return undefined;
    }
    return s;
  }
  if (typeof v === 'bigint') return v <= MAX_INT64 && v >= MIN_INT64 ? v.toString() : undefined;
  return undefined;
}

/** A decimal number as COPY text for numeric, or undefined (exponents bounded to keep numeric's limits). */
export function numericText(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === 'NaN' || s === 'Infinity' || s === '-Infinity' || s === '+Infinity') return s;
  let p = s.charCodeAt(0) === 45 || s.charCodeAt(0) === 43 ? 1 : 0;
  let intDigits = 0;
  while (digit(s, p) >= 0) {
    p++;
    intDigits++;
  }
  let fracDigits = 0;
  if (s.charCodeAt(p) === 46) {
    p++;
    while (digit(s, p) >= 0) {
      p++;
      fracDigits++;
    }
  }
  if (intDigits + fracDigits === 0) return undefined;
  if (s.charCodeAt(p) === 101 || s.charCodeAt(p) === 69) {
    p++;
    let sign = 1;
    if (s.charCodeAt(p) === 45) {
      sign = -1;
      p++;
    } else if (s.charCodeAt(p) === 43) p++;
    const start = p;
    let exp = 0;
    while (digit(s, p) >= 0 && p - start < 6) exp = exp * 10 + digit(s, p++);
    if (p === start || digit(s, p) >= 0) return undefined;
    if (sign * exp + intDigits > 100_000 || sign * exp - fracDigits < -16_000) return undefined;
  } else if (intDigits > 100_000 || fracDigits > 16_000) return undefined;
  return p === s.length ? s : undefined;
}

/** true/false (or their names as strings) as COPY text. */
export function booleanText(v: unknown): string | undefined {
  if (v === true) return 't';
  if (v === false) return 'f';
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return 't';
    if (s === 'false') return 'f';
  }
  return undefined;
}
