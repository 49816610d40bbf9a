import * as z from 'zod';

// The definitions of well_known_types.yaml, which stream json_schemas reference by
// `$ref: WellKnownTypes.json#/definitions/<Name>`. Their names (String, Number, Date, ...) would
// shadow globals, so each is exported with a `WellKnown` prefix and collected in `WellKnownTypes`
// under its YAML name. Patterns are compiled with the `u` flag, as JSON Schema validators do.

const SPECIAL_NUMBERS = z.enum(['Infinity', '-Infinity', 'NaN']);

export const WellKnownString = z.string();
export type WellKnownString = z.infer<typeof WellKnownString>;

/** Base64 (standard alphabet, padded). */
export const WellKnownBinaryData = z
  .string()
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/u);
export type WellKnownBinaryData = z.infer<typeof WellKnownBinaryData>;

/** `2022-01-23`, `2022-01-23 BC`. */
export const WellKnownDate = z.string().regex(/^\d{4}-\d{2}-\d{2}( BC)?$/u);
export type WellKnownDate = z.infer<typeof WellKnownDate>;

/** `2022-01-23T01:23:45.678-11:30 BC`; never a Unix epoch. */
export const WellKnownTimestampWithTimezone = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{1,2}:\d{2})( BC)?$/u);
export type WellKnownTimestampWithTimezone = z.infer<typeof WellKnownTimestampWithTimezone>;

/** `2022-01-23T01:23:45.678 BC`. */
export const WellKnownTimestampWithoutTimezone = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?( BC)?$/u);
export type WellKnownTimestampWithoutTimezone = z.infer<typeof WellKnownTimestampWithoutTimezone>;

/** `01:23:45.678-11:30`. */
export const WellKnownTimeWithTimezone = z
  .string()
  .regex(/^\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{1,2}:\d{2})$/u);
export type WellKnownTimeWithTimezone = z.infer<typeof WellKnownTimeWithTimezone>;

/** `01:23:45.678`. */
export const WellKnownTimeWithoutTimezone = z.string().regex(/^\d{2}:\d{2}:\d{2}(\.\d+)?$/u);
export type WellKnownTimeWithoutTimezone = z.infer<typeof WellKnownTimeWithoutTimezone>;

/**
 * A decimal number as a string, or Infinity, -Infinity, NaN. The YAML's pattern is unanchored, so
 * any string containing a digit matches it; the YAML wins over intent here. The two branches of the
 * YAML's `oneOf` never overlap (the special values hold no digit), so a union is exact.
 */
export const WellKnownNumber = z.union([z.string().regex(/-?(0|[0-9]\d*)(\.\d+)?/u), SPECIAL_NUMBERS]);
export type WellKnownNumber = z.infer<typeof WellKnownNumber>;

/** An integer as a string, or Infinity, -Infinity, NaN. Unanchored like `WellKnownNumber`. */
export const WellKnownInteger = z.union([z.string().regex(/-?(0|[0-9]\d*)/u), SPECIAL_NUMBERS]);
export type WellKnownInteger = z.infer<typeof WellKnownInteger>;

/** A JSON boolean, not a string. */
export const WellKnownBoolean = z.boolean();
export type WellKnownBoolean = z.infer<typeof WellKnownBoolean>;

/** Every definition of well_known_types.yaml, by its YAML name. */
export const WellKnownTypes = {
  String: WellKnownString,
  BinaryData: WellKnownBinaryData,
  Date: WellKnownDate,
  TimestampWithTimezone: WellKnownTimestampWithTimezone,
  TimestampWithoutTimezone: WellKnownTimestampWithoutTimezone,
  TimeWithTimezone: WellKnownTimeWithTimezone,
  TimeWithoutTimezone: WellKnownTimeWithoutTimezone,
  Number: WellKnownNumber,
  Integer: WellKnownInteger,
  Boolean: WellKnownBoolean,
} as const;
export type WellKnownTypeName = keyof typeof WellKnownTypes;
