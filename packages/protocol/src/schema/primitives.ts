import * as z from 'zod';

/**
 * JSON Schema `type: integer`: any number with no fractional part. `z.int()` is not used because it
 * also caps values at Number.MAX_SAFE_INTEGER, which the protocol does not (a 2^60 byte count is a
 * valid integer to every JSON Schema validator), and `multipleOf(1)` tolerates float rounding
 * (4503599627370495.5 would pass).
 */
export const JsonInteger = z.number({ error: 'expected integer' }).check((ctx) => {
  if (!Number.isInteger(ctx.value)) {
    ctx.issues.push({ code: 'invalid_type', expected: 'int', input: ctx.value, continue: false });
  }
});

/**
 * JSON Schema `type: object` with no declared properties (Jackson `JsonNode` blobs: record data,
 * json_schema, state blobs, configs): any JSON object, arrays and null excluded. A loose object
 * keeps every key; zod never copies an own `__proto__` key, which JSON.parse can produce but no
 * connector should emit.
 */
export const JsonObject = z.looseObject({});
export type JsonObject = z.infer<typeof JsonObject>;

/* RFC 3986 `URI` (scheme ":" hier-part ["?" query] ["#" fragment]), the language of JSON Schema's
 * `format: uri` as checked by ajv-formats (which the platform uses for connector configs), so the
 * two never disagree on a connector's documentationUrl. Where ajv-formats is looser than the RFC
 * the pattern follows it: dec-octet may carry leading zeros, an authority may follow a single
 * slash, and path-empty is not accepted (`mailto:` alone). Letters are ASCII only: a Unicode case-insensitive
 * match would let U+017F stand in for `s`. */
const HEX = '[0-9A-Fa-f]';
const UNRESERVED = 'A-Za-z0-9\\-._~';
const SUB_DELIMS = "!$&'()*+,;=";
const PCT_ENCODED = `%${HEX}{2}`;
const PCHAR = `(?:[${UNRESERVED}${SUB_DELIMS}:@]|${PCT_ENCODED})`;
const H16 = `${HEX}{1,4}`;
const DEC_OCTET = '(?:25[0-5]|2[0-4]\\d|[01]?\\d?\\d)';
const IPV4 = `(?:${DEC_OCTET}\\.){3}${DEC_OCTET}`;
const LS32 = `(?:${H16}:${H16}|${IPV4})`;
const h16Colons = (n: number) => `(?:${H16}:){${n}}`;
const h16Prefix = (max: number) => `(?:(?:${H16}:){0,${max}}${H16})?`;
const IPV6 = [
  `${h16Colons(6)}${LS32}`,
  `::${h16Colons(5)}${LS32}`,
  `${h16Prefix(0)}::${h16Colons(4)}${LS32}`,
  `${h16Prefix(1)}::${h16Colons(3)}${LS32}`,
  `${h16Prefix(2)}::${h16Colons(2)}${LS32}`,
  `${h16Prefix(3)}::${H16}:${LS32}`,
  `${h16Prefix(4)}::${LS32}`,
  `${h16Prefix(5)}::${H16}`,
  `${h16Prefix(6)}::`,
]
  .map((alternative) => `(?:${alternative})`)
  .join('|');
const IPVFUTURE = `[vV]${HEX}+\\.[${UNRESERVED}${SUB_DELIMS}:]+`;
const IP_LITERAL = `\\[(?:${IPV6}|${IPVFUTURE})\\]`;
// IPv4address needs no alternative of its own: every one is also a reg-name.
const REG_NAME = `(?:[${UNRESERVED}${SUB_DELIMS}]|${PCT_ENCODED})*`;
const USERINFO = `(?:[${UNRESERVED}${SUB_DELIMS}:]|${PCT_ENCODED})*`;
const AUTHORITY = `(?:${USERINFO}@)?(?:${IP_LITERAL}|${REG_NAME})(?::\\d*)?`;
const SEGMENT = `${PCHAR}*`;
const SEGMENT_NZ = `${PCHAR}+`;
const HIER_PART = [
  `\\/?\\/${AUTHORITY}(?:\\/${SEGMENT})*`,
  `\\/(?:${SEGMENT_NZ}(?:\\/${SEGMENT})*)?`,
  `${SEGMENT_NZ}(?:\\/${SEGMENT})*`,
].join('|');
const QUERY_OR_FRAGMENT = `(?:${PCHAR}|[/?])*`;
const SCHEME = '[A-Za-z][A-Za-z0-9+\\-.]*';

export const URI_PATTERN = new RegExp(
  `^${SCHEME}:(?:${HIER_PART})(?:\\?${QUERY_OR_FRAGMENT})?(?:#${QUERY_OR_FRAGMENT})?$`,
);

/** JSON Schema `format: uri`. */
export const UriString = z.string().regex(URI_PATTERN, { error: 'expected an absolute URI (RFC 3986)' });
