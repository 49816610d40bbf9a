import { createHash } from 'node:crypto';

/** Postgres keeps identifiers up to NAMEDATALEN - 1 bytes and silently cuts longer ones. */
export const MAX_IDENTIFIER_BYTES = 63;

export const hashOf = (text: string, hexChars = 8): string =>
  createHash('sha256').update(text).digest('hex').slice(0, hexChars);

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return text.slice(0, end);
}

/**
 * The identifier Postgres will store for a name: NUL (which Postgres refuses) becomes `_`, and a
 * name longer than 63 bytes keeps its start and gets `_` plus a hash of the whole name, so two
 * long names that share a prefix stay distinct and the same name always maps to the same table.
 */
export function pgName(name: string): string {
  const clean = name.includes('\u0000') ? name.replaceAll('\u0000', '_') : name;
  if (clean === '') return '_';
  if (Buffer.byteLength(clean) <= MAX_IDENTIFIER_BYTES) return clean;
  return `${cutUtf8(clean, MAX_IDENTIFIER_BYTES - 9)}_${hashOf(name)}`;
}

/** A double-quoted identifier: case, spaces, quotes, unicode and keywords all survive. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."table"`. */
export const qualified = (schema: string, table: string): string =>
  `${quoteIdent(schema)}.${quoteIdent(table)}`;

/** A SQL string literal (standard_conforming_strings is on in every supported version). */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Airbyte's meta columns, first in every final table. */
export const META_COLUMNS = [
  '_airbyte_raw_id',
  '_airbyte_extracted_at',
  '_airbyte_meta',
  '_airbyte_generation_id',
] as const;

/**
 * Column names for a stream's fields, in order: each field gets its `pgName`; a name already
 * taken (a meta column, or two long fields whose cut names collide) gets a numbered suffix.
 */
export function columnNames(fields: readonly string[]): string[] {
  const taken = new Set<string>(META_COLUMNS);
  return fields.map((field) => {
    let name = pgName(field);
    for (let i = 1; taken.has(name); i++) {
      const suffix = `_${i}`;
      name = `${cutUtf8(pgName(field), MAX_IDENTIFIER_BYTES - suffix.length)}${suffix}`;
    }
    taken.add(name);
    return name;
  });
}
