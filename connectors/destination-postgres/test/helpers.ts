import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptOnSockets } from '@sluice/protocol';
import {
  collect,
  type Message,
  type RunResult,
  runConnector,
  type Scratch,
  scratchDir,
  socketEnv,
} from '@sluice/protocol/testing';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'bin', 'destination-postgres.js');

export interface TestDb {
  name: string;
  config: Record<string, unknown>;
  client: pg.Client;
  rows<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

const ADMIN = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };

/** A database of its own for one test file, dropped by close(). */
export async function testDatabase(prefix: string): Promise<TestDb> {
  const name = `dpg_${prefix}_${process.pid}`;
  const admin = new pg.Client(ADMIN);
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ ...ADMIN, database: name });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'");
  return {
    name,
    config: {
      host: '127.0.0.1',
      port: 5432,
      database: name,
      username: 'postgres',
      schema: 'public',
      ssl_mode: { mode: 'disable' },
    },
    client,
    rows: async (sql, params) => (await client.query(sql, params)).rows,
    close: async () => {
      await client.end();
      const a = new pg.Client(ADMIN);
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export interface RecordOptions {
  namespace?: string;
  emittedAt?: number;
  meta?: Record<string, unknown>;
}

export const record = (stream: string, data: Record<string, unknown>, o: RecordOptions = {}): string =>
  JSON.stringify({
    type: 'RECORD',
    record: {
      stream,
      ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
      data,
      emitted_at: o.emittedAt ?? 1_700_000_000_000,
      ...(o.meta ? { meta: o.meta } : {}),
    },
  });

export const state = (stream: string, value: unknown, namespace?: string): string =>
  JSON.stringify({
    type: 'STATE',
    state: {
      type: 'STREAM',
      stream: {
        stream_descriptor: { name: stream, ...(namespace !== undefined ? { namespace } : {}) },
        stream_state: { cursor: value },
      },
    },
  });

export const status = (
  stream: string,
  s: 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE',
  namespace?: string,
) =>
  JSON.stringify({
    type: 'TRACE',
    trace: {
      type: 'STREAM_STATUS',
      emitted_at: 1_700_000_000_000,
      stream_status: {
        stream_descriptor: { name: stream, ...(namespace !== undefined ? { namespace } : {}) },
        status: s,
      },
    },
  });

export interface StreamSpec {
  name: string;
  namespace?: string;
  properties?: Record<string, unknown>;
  /** A schema without `properties` (schemaless). */
  schemaless?: boolean;
  mode: 'overwrite' | 'append' | 'append_dedup';
  pk?: string[];
  cursor?: string;
  generation?: number;
  minGeneration?: number;
  syncId?: number;
}

export function catalogOf(streams: StreamSpec[]) {
  return {
    streams: streams.map((s) => ({
      stream: {
        name: s.name,
        ...(s.namespace !== undefined ? { namespace: s.namespace } : {}),
        json_schema: s.schemaless ? { type: 'object' } : { type: 'object', properties: s.properties ?? {} },
        supported_sync_modes: ['full_refresh', 'incremental'],
      },
      sync_mode: s.mode === 'overwrite' ? 'full_refresh' : 'incremental',
      destination_sync_mode: s.mode,
      ...(s.pk ? { primary_key: s.pk.map((k) => [k]) } : {}),
      ...(s.cursor ? { cursor_field: [s.cursor] } : {}),
      generation_id: s.generation ?? 1,
      minimum_generation_id: s.minGeneration ?? (s.mode === 'overwrite' ? (s.generation ?? 1) : 0),
      sync_id: s.syncId ?? 100,
    })),
  };
}

export const files: Scratch = scratchDir('sluice-dpg-');
let n = 0;

export function writeArgs(
  db: TestDb,
  catalog: object,
  configOverrides: Record<string, unknown> = {},
): string[] {
  n++;
  return [
    'write',
    '--config',
    files.json(`config-${n}.json`, { ...db.config, ...configOverrides }),
    '--catalog',
    files.json(`catalog-${n}.json`, catalog),
  ];
}

const baseEnv = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', ...extra });

/** Runs `write` with the given lines on stdin. */
export function runWrite(
  db: TestDb,
  catalog: object,
  lines: string[],
  options: { env?: Record<string, string>; config?: Record<string, unknown> } = {},
): Promise<RunResult> {
  return runConnector(BIN, writeArgs(db, catalog, options.config), {
    stdin: lines.length > 0 ? `${lines.join('\n')}\n` : '',
    env: baseEnv(options.env),
  });
}

export const statesOf = (r: RunResult): Message[] => r.messages.filter((m) => m.type === 'STATE');
export const errorsOf = (r: RunResult) =>
  r.messages.filter((m) => m.type === 'TRACE' && m.trace.type === 'ERROR').map((m) => m.trace.error);

/** A running destination the test feeds piece by piece, watching its echoes. */
export interface LiveWrite {
  child: ChildProcess;
  send(script: Script): void;
  /** Echoed states so far (their `stream_state`). */
  echoed: unknown[];
  waitForEchoes(count: number, timeoutMs?: number): Promise<void>;
  end(): Promise<RunResult>;
  kill(): Promise<void>;
}

export async function startWrite(
  db: TestDb,
  transport: Transport,
  catalog: object,
  env: Record<string, string> = {},
  sockets = 2,
): Promise<LiveWrite> {
  socketRun++;
  const paths = Array.from({ length: sockets }, (_, i) => join(files.dir, `live${socketRun}-${i}.sock`));
  const accepting = transport === 'socket' ? acceptOnSockets(paths, 20_000) : undefined;
  const child = spawn(process.execPath, [BIN, ...writeArgs(db, catalog)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: baseEnv({ ...(transport === 'socket' ? socketEnv(paths) : {}), ...env }),
  });
  const echoed: unknown[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) {
      const m = JSON.parse(l) as Message;
      if (m.type === 'STATE') echoed.push(m.state.stream.stream_state.cursor);
    }
  });
  child.stdin!.on('error', () => {});
  const result = collect(child);
  const socks = accepting ? await accepting : [];
  for (const s of socks) s.on('error', () => {});
  const renderer = new SocketRenderer(sockets);
  const put = (w: { write(s: string): unknown }, lines: string[]) => {
    if (lines.length > 0) w.write(`${lines.join('\n')}\n`);
  };
  return {
    child,
    echoed,
    send(script) {
      if (transport === 'stdio') {
        put(child.stdin!, script.stdio());
        return;
      }
      const { perSocket, stdin } = renderer.render(script);
      for (const [i, lines] of perSocket.entries()) put(socks[i]!, lines);
      put(child.stdin!, stdin);
    },
    async waitForEchoes(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (echoed.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${echoed.length} of ${count} states echoed`);
        if (child.exitCode !== null) throw new Error(`the destination exited (${child.exitCode})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    end: () => {
      for (const s of socks) s.end();
      child.stdin!.end();
      return result;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await result.catch(() => undefined);
      for (const s of socks) s.destroy();
    },
  };
}

let socketRun = 0;

/**
 * Socket mode: a stand-in source listens on one socket per entry of `perSocket` and writes
 * those lines (records and states carrying partition_id and id, as the SDK's sources do);
 * `stdin` carries what the platform forwards (stream statuses).
 */
export async function runSocketWrite(
  db: TestDb,
  catalog: object,
  perSocket: string[][],
  stdin: string[] = [],
  env: Record<string, string> = {},
  config: Record<string, unknown> = {},
): Promise<RunResult> {
  socketRun++;
  const paths = perSocket.map((_, i) => join(files.dir, `s${socketRun}-${i}.sock`));
  const accepting = acceptOnSockets(paths, 20_000);
  const child = spawn(process.execPath, [BIN, ...writeArgs(db, catalog, config)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: baseEnv({ ...socketEnv(paths), ...env }),
  });
  child.stdin!.on('error', () => {});
  const result = collect(child);
  const sockets = await accepting;
  await Promise.all(
    sockets.map(
      (s, i) =>
        new Promise<void>((resolve) => {
          const lines = perSocket[i]!;
          s.end(lines.length > 0 ? `${lines.join('\n')}\n` : '', () => resolve());
        }),
    ),
  );
  child.stdin!.end(stdin.length > 0 ? `${stdin.join('\n')}\n` : '');
  return result;
}

type Event =
  | { kind: 'record'; stream: string; data: Record<string, unknown>; o: RecordOptions }
  | { kind: 'state'; stream: string; value: unknown; namespace?: string }
  | {
      kind: 'status';
      stream: string;
      status: 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE';
      namespace?: string;
    };

export type Transport = 'stdio' | 'socket';

/**
 * What a source sends, rendered for either transport: in stdio mode as one stream of lines; in
 * socket mode as the SDK's sources send it (records and states on the current socket, each
 * state closing a slice and moving to the next socket, states numbered across sockets with
 * their socket's record count) with stream statuses on stdin, as the platform forwards them.
 */
export class Script {
  private readonly events: Event[] = [];

  rec(stream: string, data: Record<string, unknown>, o: RecordOptions = {}): this {
    this.events.push({ kind: 'record', stream, data, o });
    return this;
  }

  st(stream: string, value: unknown, namespace?: string): this {
    this.events.push({ kind: 'state', stream, value, ...(namespace !== undefined ? { namespace } : {}) });
    return this;
  }

  status(stream: string, s: 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE', namespace?: string): this {
    this.events.push({
      kind: 'status',
      stream,
      status: s,
      ...(namespace !== undefined ? { namespace } : {}),
    });
    return this;
  }

  /** STARTED, then `f`'s events, then COMPLETE. */
  stream(stream: string, f: (s: this) => void, namespace?: string): this {
    this.status(stream, 'STARTED', namespace);
    f(this);
    return this.status(stream, 'COMPLETE', namespace);
  }

  stdio(): string[] {
    return this.events.map((e) =>
      e.kind === 'record'
        ? record(e.stream, e.data, e.o)
        : e.kind === 'state'
          ? state(e.stream, e.value, e.namespace)
          : status(e.stream, e.status, e.namespace),
    );
  }

  socket(partitions: number): { perSocket: string[][]; stdin: string[] } {
    return new SocketRenderer(partitions).render(this);
  }

  get all(): readonly Event[] {
    return this.events;
  }
}

/** Renders scripts for sockets, continuing where the previous script ended (live tests). */
export class SocketRenderer {
  private current = 0;
  private count = 0;
  private id = 1;

  constructor(readonly partitions: number) {}

  render(script: Script): { perSocket: string[][]; stdin: string[] } {
    const perSocket: string[][] = Array.from({ length: this.partitions }, () => []);
    const stdin: string[] = [];
    for (const e of script.all) {
      if (e.kind === 'status') stdin.push(status(e.stream, e.status, e.namespace));
      else if (e.kind === 'record') {
        const line = JSON.parse(record(e.stream, e.data, e.o));
        line.record.partition_id = this.current;
        perSocket[this.current]!.push(JSON.stringify(line));
        this.count++;
      } else {
        const line = JSON.parse(state(e.stream, e.value, e.namespace));
        Object.assign(line.state, {
          id: this.id++,
          partition_id: this.current,
          sourceStats: { recordCount: this.count },
        });
        perSocket[this.current]!.push(JSON.stringify(line));
        this.count = 0;
        this.current = (this.current + 1) % this.partitions;
      }
    }
    return { perSocket, stdin };
  }
}

/** Runs one write of `script` over the transport (socket mode: 2 sockets unless told). */
export function sync(
  db: TestDb,
  transport: Transport,
  catalog: object,
  script: Script,
  options: { env?: Record<string, string>; config?: Record<string, unknown>; sockets?: number } = {},
): Promise<RunResult> {
  if (transport === 'stdio') return runWrite(db, catalog, script.stdio(), options);
  const { perSocket, stdin } = script.socket(options.sockets ?? 2);
  return runSocketWrite(db, catalog, perSocket, stdin, options.env, options.config);
}
