import { readFile } from 'node:fs/promises';
import {
  AirbyteStateMessage,
  type ConfiguredAirbyteCatalog,
  formatZodError,
  parseConfiguredAirbyteCatalog,
} from '../schema';
import { ConfigError } from './errors';

/** Reads and parses a JSON file named on the command line; errors name the option and file. */
export async function readJsonFile(path: string, option: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(`could not read the ${option} file "${path}": ${why}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the ${option} file "${path}" is not valid JSON: ${(err as Error).message}`);
  }
}

export async function loadCatalog(path: string): Promise<ConfiguredAirbyteCatalog> {
  const value = await readJsonFile(path, '--catalog');
  const parsed = parseConfiguredAirbyteCatalog(value);
  if (!parsed.success) {
    throw new ConfigError(
      `the --catalog file "${path}" is not a ConfiguredAirbyteCatalog: ${formatZodError(parsed.error, value)}`,
    );
  }
  return value as ConfiguredAirbyteCatalog;
}

/**
 * Reads --state in any of Airbyte's shapes: an array of state messages (per-stream or
 * global), a single state message, or a legacy blob (wrapped as one LEGACY state).
 */
export async function loadState(path: string | undefined): Promise<AirbyteStateMessage[]> {
  if (path === undefined) return [];
  const value = await readJsonFile(path, '--state');
  if (value === null) return [];
  const list = Array.isArray(value) ? value : isStateMessage(value) ? [value] : undefined;
  if (!list) {
    if (typeof value !== 'object')
      throw new ConfigError(`the --state file "${path}" must hold a JSON array or object`);
    return Object.keys(value as object).length === 0
      ? []
      : [{ type: 'LEGACY', data: value as Record<string, unknown> }];
  }
  return list.map((entry, i) => {
    const parsed = AirbyteStateMessage.safeParse(entry);
    if (!parsed.success) {
      throw new ConfigError(
        `the --state file "${path}": entry [${i}] is not a state message: ${formatZodError(parsed.error, entry)}`,
      );
    }
    return entry as AirbyteStateMessage;
  });
}

function isStateMessage(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const t = (v as { type?: unknown }).type;
  return t === 'STREAM' || t === 'GLOBAL' || (t === 'LEGACY' && 'data' in v);
}

/** The stream_state of one stream from a state list (STREAM, GLOBAL or LEGACY keyed by name). */
export function findStreamState(
  states: readonly AirbyteStateMessage[],
  name: string,
  namespace?: string,
): Record<string, unknown> | undefined {
  for (const s of states) {
    if (s.type === 'STREAM' && s.stream) {
      const d = s.stream.stream_descriptor;
      if (d.name === name && (d.namespace ?? undefined) === namespace) return s.stream.stream_state;
    } else if (s.type === 'GLOBAL' && s.global) {
      for (const ss of s.global.stream_states) {
        const d = ss.stream_descriptor;
        if (d.name === name && (d.namespace ?? undefined) === namespace) return ss.stream_state;
      }
    } else if ((s.type === 'LEGACY' || s.type === undefined) && s.data) {
      const v = s.data[name];
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    }
  }
  return undefined;
}
