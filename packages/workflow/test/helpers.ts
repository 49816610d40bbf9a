import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createEngine, type Engine, type EngineOptions } from '../src';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export function uniquePrefix(tag: string): string {
  return `wft-${tag}-${randomBytes(4).toString('hex')}`;
}

export const quietLogger = pino({ level: 'silent' });

export function testEngine(prefix: string, extra: Partial<EngineOptions> = {}): Engine {
  return createEngine({ connection: REDIS_URL, prefix, logger: quietLogger, ...extra });
}

/** Deletes every key under a test prefix. */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function countKeys(prefix: string, pattern = '*'): Promise<number> {
  const r = new Redis(REDIS_URL);
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:${pattern}`, 'COUNT', 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
    return n;
  } finally {
    r.disconnect();
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface Proc {
  child: ChildProcess;
  pid: number;
  lines: string[];
  ready: Promise<void>;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** Runs test/fixtures/proc.ts in its own Node process (through tsx). */
export function spawnProc(config: Record<string, unknown>): Proc {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures/proc.ts'), JSON.stringify(config)],
    {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let err = '';
  let buf = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      if (line.startsWith('ready')) onReady();
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, pid: child.pid!, lines, ready, exited, stderr: () => err };
}

export async function killAll(procs: Iterable<Proc>): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      waits.push(p.exited);
    }
  }
  await Promise.all(waits);
}
