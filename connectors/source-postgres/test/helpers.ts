import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectToSockets } from '@sluice/protocol';
import {
  collect,
  createYamlMessageValidator,
  type Message,
  parseProtocolOutput,
  type RunResult,
  runConnector,
  type Scratch,
  socketEnv,
} from '@sluice/protocol/testing';
import pg from 'pg';
import { expect } from 'vitest';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'source-postgres.js');

/** A database of the test file's own on the machine's server (dropped by `drop`). */
export async function ownDatabase(prefix: string) {
  const name = `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: name });
  await client.connect();
  return {
    name,
    client,
    async drop() {
      await client.end().catch(() => {});
      const a = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export const records = (messages: Message[], stream?: string) =>
  messages
    .filter((m) => m.type === 'RECORD')
    .map((m) => m.record)
    .filter((r) => !stream || r.stream === stream);
export const states = (messages: Message[]) => messages.filter((m) => m.type === 'STATE').map((m) => m.state);
export const errors = (messages: Message[]) =>
  messages.filter((m) => m.type === 'TRACE' && m.trace.type === 'ERROR').map((m) => m.trace.error);
/** Every LOG message's text, one per line. */
export const logs = (messages: Message[]) =>
  messages
    .filter((m) => m.type === 'LOG')
    .map((m) => m.log.message)
    .join('\n');
export const lastState = (messages: Message[]) => {
  const s = states(messages);
  return s[s.length - 1];
};

/** A configured catalog over discovered streams (by name), with per-stream settings. */
export function configure(
  discovered: Array<Record<string, unknown>>,
  picks: Array<{
    name: string;
    namespace?: string;
    sync_mode?: 'full_refresh' | 'incremental';
    destination_sync_mode?: string;
    cursor_field?: string[];
    fields?: string[];
    generation_id?: number;
    sync_id?: number;
  }>,
) {
  return {
    streams: picks.map((p) => {
      const stream = discovered.find(
        (s) => s.name === p.name && (p.namespace === undefined || s.namespace === p.namespace),
      );
      if (!stream) throw new Error(`stream ${p.name} not discovered`);
      const copy = structuredClone(stream) as Record<string, unknown> & {
        json_schema: { properties: Record<string, unknown> };
      };
      if (p.fields) {
        const props = copy.json_schema.properties;
        copy.json_schema.properties = Object.fromEntries(p.fields.map((f) => [f, props[f]]));
      }
      const pk = copy.source_defined_primary_key as string[][] | undefined;
      return {
        stream: copy,
        sync_mode: p.sync_mode ?? 'full_refresh',
        destination_sync_mode:
          p.destination_sync_mode ?? (p.sync_mode === 'incremental' ? 'append_dedup' : 'overwrite'),
        ...(p.cursor_field ? { cursor_field: p.cursor_field } : {}),
        ...(pk ? { primary_key: pk } : {}),
        ...(p.generation_id === undefined
          ? {}
          : { generation_id: p.generation_id, minimum_generation_id: 0 }),
        ...(p.sync_id === undefined ? {} : { sync_id: p.sync_id }),
      };
    }),
  };
}

export class Runner {
  constructor(
    readonly files: Scratch,
    readonly config: Record<string, unknown>,
  ) {}

  private n = 0;
  private path(kind: string, value: unknown) {
    return this.files.json(`${kind}-${++this.n}.json`, value);
  }

  args(command: string, catalog?: unknown, state?: unknown, config: unknown = this.config): string[] {
    const a = [command, '--config', this.path('config', config)];
    if (catalog) a.push('--catalog', this.path('catalog', catalog));
    if (state) a.push('--state', this.path('state', state));
    return a;
  }

  async discover(config?: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
    const r = await runConnector(BIN, this.args('discover', undefined, undefined, config ?? this.config));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const catalog = r.messages.find((m) => m.type === 'CATALOG');
    return catalog!.catalog.streams;
  }

  /** `read` to completion; the exit code is checked unless `allowFailure`. */
  async read(catalog: unknown, state?: unknown, options: { allowFailure?: boolean; config?: unknown } = {}) {
    const r = await runConnector(BIN, this.args('read', catalog, state, options.config ?? this.config));
    if (!options.allowFailure) expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0);
    return r;
  }

  /**
   * Starts `read`, takes messages until `stop` says so, then pauses the output (the
   * connector blocks on the full pipe) and kills it with SIGKILL, as a crashed worker would.
   * Returns the messages taken, the last one being the one `stop` accepted.
   */
  async readUntilKilled(
    catalog: unknown,
    state: unknown,
    stop: (m: Message, taken: Message[]) => boolean,
  ): Promise<{ taken: Message[]; signal: NodeJS.Signals | null }> {
    const child = spawn(process.execPath, [BIN, ...this.args('read', catalog, state)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    const validate = createYamlMessageValidator();
    const taken: Message[] = [];
    const lines = createInterface({ input: child.stdout! });
    let stopped = false;
    const done = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        if (stopped || line.trim() === '') return;
        const m = JSON.parse(line) as Message;
        expect(validate(m)).toBeNull();
        taken.push(m);
        if (stop(m, taken)) {
          stopped = true;
          child.stdout!.pause();
          lines.pause();
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => resolve());
    });
    await done;
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
      else child.once('exit', (_code, sig) => resolve(sig));
    });
    lines.close();
    child.stdout!.destroy();
    return { taken, signal };
  }

  /**
   * `read` in socket mode over `n` sockets: a small reader connects to every socket (as a
   * destination would) and takes its lines. Returns stdout's messages and each socket's.
   */
  async readSockets(
    catalog: unknown,
    n: number,
    state?: unknown,
  ): Promise<RunResult & { sockets: Message[][] }> {
    const paths = Array.from({ length: n }, (_, i) => join(this.files.dir, `s${++this.n}-${i}.sock`));
    const child: ChildProcess = spawn(process.execPath, [BIN, ...this.args('read', catalog, state)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', ...socketEnv(paths) },
    });
    const result = collect(child);
    const sockets = await connectToSockets(paths, 20_000);
    const texts = await Promise.all(
      sockets.map(
        (s) =>
          new Promise<string>((resolve, reject) => {
            let text = '';
            s.setEncoding('utf8');
            s.on('data', (d: string) => {
              text += d;
            });
            s.on('end', () => resolve(text));
            s.on('error', reject);
          }),
      ),
    );
    const r = await result;
    expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0);
    return { ...r, sockets: texts.map((t) => parseProtocolOutput(t) as Message[]) };
  }
}

/** Records and states of a socket-mode run, checked for what a destination relies on. */
export function checkSocketOutput(sockets: Message[][]): {
  records: Message['record'][];
  states: Message['state'][];
} {
  const allRecords: Message['record'][] = [];
  const allStates: Message['state'][] = [];
  sockets.forEach((messages, partition) => {
    let since = 0;
    for (const m of messages) {
      if (m.type === 'RECORD') {
        expect(m.record.partition_id).toBe(partition);
        allRecords.push(m.record);
        since++;
      } else if (m.type === 'STATE') {
        expect(m.state.partition_id).toBe(partition);
        expect(m.state.sourceStats.recordCount).toBe(since);
        allStates.push(m.state);
        since = 0;
      } else throw new Error(`unexpected ${m.type} on socket ${partition}`);
    }
    expect(since, `records after the last state on socket ${partition}`).toBe(0);
  });
  allStates.sort((a, b) => a.id - b.id);
  for (let i = 0; i < allStates.length; i++) expect(allStates[i].id).toBe(i + 1);
  return { records: allRecords, states: allStates };
}
