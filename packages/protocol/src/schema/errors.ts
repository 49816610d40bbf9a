import type * as z from 'zod';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

export interface FormatZodErrorOptions {
  /** Issues to describe before summarising the rest as "(+N more)". Default 3. */
  maxIssues?: number;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_ECHO = 40;

/**
 * One line describing why a value failed a schema, each issue led by its path:
 * `record.stream: expected string, got number; record.emitted_at: missing required integer`.
 * Pass the value that was parsed to get the received type and to tell missing fields from wrong
 * ones. Values are never echoed (configs and records may hold secrets), except a rejected enum
 * value, shortened.
 */
export function formatZodError(
  error: { readonly issues: readonly Issue[] },
  input?: unknown,
  options: FormatZodErrorOptions = {},
): string {
  const maxIssues = Math.max(1, options.maxIssues ?? 3);
  const hasInput = input !== undefined;
  const parts = error.issues
    .slice(0, maxIssues)
    .map((issue) => `${formatPath(issue.path)}: ${describeIssue(issue, hasInput, input)}`);
  const rest = error.issues.length - maxIssues;
  if (rest > 0) parts.push(`(+${rest} more)`);
  return parts.join('; ');
}

/** `record.meta.changes[0].field`; `(root)` for the value itself. */
export function formatPath(path: readonly PathKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function describeIssue(issue: Issue, hasInput: boolean, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = expectedName(issue);
      if (!hasInput) return `expected ${expected}`;
      const at = valueAt(input, issue.path);
      if (!at.found) return `missing required ${expected}`;
      return `expected ${expected}, got ${jsonTypeOf(at.value)}`;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((value) => JSON.stringify(value)).join(', ');
      const expected = issue.values.length === 1 ? allowed : `one of ${allowed}`;
      if (!hasInput) return `expected ${expected}`;
      const at = valueAt(input, issue.path);
      if (!at.found) return `missing required value (${expected})`;
      return `expected ${expected}, got ${echo(at.value)}`;
    }
    case 'invalid_format':
      // A custom message (e.g. the URI check's) says more than the raw pattern.
      if (issue.format === 'regex' && issue.message.startsWith('Invalid')) {
        return `does not match the pattern ${issue.pattern ?? ''}`.trimEnd();
      }
      return issue.message;
    case 'too_small':
      if (issue.origin === 'array') {
        return `expected at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}`;
      }
      return issue.message;
    case 'invalid_union': {
      const expected = issue.errors.map((branch) => {
        const first = branch[0];
        return first?.code === 'invalid_type' && first.path.length === 0 ? expectedName(first) : undefined;
      });
      if (expected.every((name) => name !== undefined)) {
        const list = [...new Set(expected)].join(' or ');
        if (!hasInput) return `expected ${list}`;
        const at = valueAt(input, issue.path);
        return at.found ? `expected ${list}, got ${jsonTypeOf(at.value)}` : `missing required ${list}`;
      }
      return 'matches none of the allowed forms';
    }
    default:
      return issue.message;
  }
}

const CUSTOM_EXPECTED = /^expected ([a-z]+)$/;

/** The expected type's JSON Schema name; a schema may name it in its own message (JsonInteger does). */
function expectedName(issue: z.core.$ZodIssueInvalidType): string {
  const custom = CUSTOM_EXPECTED.exec(issue.message)?.[1];
  if (custom) return custom;
  return issue.expected === 'int' ? 'integer' : issue.expected;
}

/** The JSON Schema type name of a value, as the protocol's schema would name it. */
function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function echo(value: unknown): string {
  if (typeof value !== 'string') return jsonTypeOf(value);
  return JSON.stringify(value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}…` : value);
}

function valueAt(root: unknown, path: readonly PathKey[]): { found: boolean; value?: unknown } {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return { found: false };
    if (!Object.hasOwn(current, key)) return { found: false };
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current === undefined ? { found: false } : { found: true, value: current };
}
