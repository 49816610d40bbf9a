import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { socketModeEnv } from '../sdk/socket';

/**
 * Test helpers: validate connector output against the official Airbyte protocol YAML with
 * ajv (independently of this package's zod schemas). Not for production code.
 */

/** `<repo root>/../shared`, found from this file's location (the repo root holds turbo.json). */
export function sharedDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'turbo.json'))) return resolve(dir, '..', 'shared');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('could not find the repository root (turbo.json) above this file');
    dir = parent;
  }
}

export function protocolYamlPath(): string {
  return join(sharedDir(), 'airbyte-protocol', 'airbyte_protocol.yaml');
}

let cached: ValidateFunction | undefined;

/** Returns a function giving the ajv errors of one message (parsed JSON), or null when valid. */
export function createYamlMessageValidator(): (message: unknown) => string | null {
  if (!cached) {
    const doc = parseYaml(readFileSync(protocolYamlPath(), 'utf8')) as Record<string, unknown>;
    const { $schema: _s, $id: _i, ...rest } = doc;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ ...rest, $id: 'airbyte_protocol' });
    const v = ajv.getSchema('airbyte_protocol#/definitions/AirbyteMessage');
    if (!v) throw new Error('AirbyteMessage definition not found in the protocol YAML');
    cached = v;
  }
  const validate = cached;
  return (message) => (validate(message) ? null : JSON.stringify(validate.errors?.slice(0, 3)));
}

/** Parses connector stdout into messages, failing on any line that is not a valid message. */
export function parseProtocolOutput(stdout: string): Array<Record<string, unknown> & { type: string }> {
  const validate = createYamlMessageValidator();
  const out: Array<Record<string, unknown> & { type: string }> = [];
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`stdout line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
    }
    const problem = validate(value);
    if (problem)
      throw new Error(
        `stdout line ${i + 1} is not a valid AirbyteMessage: ${problem}\n${line.slice(0, 300)}`,
      );
    out.push(value as Record<string, unknown> & { type: string });
  }
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary message shapes
export type Message = Record<string, any> & { type: string };

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, every line checked against the protocol YAML. */
  messages: Message[];
}

/** Collects a spawned connector's output; rejects if any stdout line is not a valid message. */
export function collect(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolvePromise({ code, stdout, stderr, messages: parseProtocolOutput(stdout) as Message[] });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\nstderr: ${stderr}`));
      }
    });
  });
}

export interface RunOptions {
  stdin?: string | Buffer;
  /** The whole environment of the child (PATH is added). */
  env?: Record<string, string>;
}

/** Runs a connector script (`node script args…`) to completion. */
export function runConnector(script: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...options.env },
  });
  child.stdin?.on('error', () => {}); // the connector may exit before reading all of stdin
  child.stdin?.end(options.stdin ?? '');
  return collect(child);
}

export interface Scratch {
  dir: string;
  /** Writes `value` (JSON-encoded unless a string) to `dir/name` and returns the path. */
  json(name: string, value: unknown): string;
  remove(): void;
}

export function scratchDir(prefix = 'sluice-test-'): Scratch {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    json(name, value) {
      const path = join(dir, name);
      writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A configured catalog over the named streams (incremental, append unless told otherwise). */
export function configuredCatalog(
  names: string[],
  options: {
    namespace?: string;
    syncMode?: 'full_refresh' | 'incremental';
    destinationSyncMode?: string;
    generationId?: number;
  } = {},
) {
  return {
    streams: names.map((name) => ({
      stream: {
        name,
        ...(options.namespace ? { namespace: options.namespace } : {}),
        json_schema: {},
        supported_sync_modes: ['full_refresh', 'incremental'],
      },
      sync_mode: options.syncMode ?? 'incremental',
      destination_sync_mode: options.destinationSyncMode ?? 'append',
      ...(options.generationId === undefined ? {} : { generation_id: options.generationId }),
    })),
  };
}

export const byType = (messages: Message[], type: string): Message[] =>
  messages.filter((m) => m.type === type);

export const traceErrors = (messages: Message[]) =>
  messages.filter((m) => m.type === 'TRACE' && m.trace.type === 'ERROR').map((m) => m.trace.error);

/** The environment that puts a connector in socket mode over `paths`. */
export function socketEnv(paths: string[], extra: Record<string, string> = {}): Record<string, string> {
  return { ...socketModeEnv(paths), ...extra };
}
