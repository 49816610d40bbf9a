/** A double-quoted identifier: any name (quotes, spaces, unicode, keywords) is safe. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`. */
export function qualified(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

/**
 * A string literal for statements that cannot take parameters (COPY, replication commands).
 * Connections run with standard_conforming_strings=on, so only quotes need doubling; Postgres
 * text never contains NUL.
 */
export function literal(value: string): string {
  if (value.includes('\u0000')) throw new Error('a SQL literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

/** A literal cast to a column type, for comparisons that must use the column's own ordering. */
export function typedLiteral(value: string, sqlType: string): string {
  return `${literal(value)}::${sqlType}`;
}

/** A list of identifiers or expressions as a row constructor when there is more than one. */
export function row(items: string[]): string {
  return items.length === 1 ? items[0]! : `(${items.join(', ')})`;
}
